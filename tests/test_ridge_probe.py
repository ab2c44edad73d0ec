"""The dual ridge classifier, its nested penalty search, the calibrate-to-a-voice curve and the report."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import RidgeClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from speechemo.models import classical
from speechemo.protocol import evaluation as ev
from speechemo.analysis import probe
from speechemo.foundations import profiles
from speechemo.deployment import report
from speechemo.foundations.numeric import fit_temperature, softmax
from speechemo.models.ridge import DualRidgeClassifier


def _data(n=240, d=600, classes=4, seed=0):
    """Wide data (d > n) with class structure and a per-speaker offset, 24 speakers."""
    rng = np.random.default_rng(seed)
    actors = np.repeat(np.arange(1, 25), n // 24)
    y = np.array([f"c{i % classes}" for i in range(n)])
    centres = rng.standard_normal((classes, d))
    voice = 3 * rng.standard_normal((25, d))
    X = centres[np.searchsorted(np.unique(y), y)] + voice[actors] + 2 * rng.standard_normal((n, d))
    return X, y, actors


def test_equals_scikit_learn_ridge_for_a_fixed_penalty():
    X, y, _ = _data()
    w = compute_sample_weight("balanced", y[:150])
    ours = DualRidgeClassifier(alphas=(50.0,), single=False).fit(X[:150], y[:150])
    sc = StandardScaler().fit(X[:150])
    ref = RidgeClassifier(alpha=50.0).fit(sc.transform(X[:150]), y[:150], sample_weight=w)
    np.testing.assert_allclose(ours.decision_function(X[150:]), ref.decision_function(sc.transform(X[150:])),
                               atol=1e-8)


def _rings(n=240, seed=0):
    """Two classes on concentric rings in two of five columns: no hyperplane separates them."""
    rng = np.random.default_rng(seed)
    y = np.array(["inner", "outer"] * (n // 2))
    radius = np.where(y == "inner", 1.0, 2.5) + 0.2 * rng.standard_normal(n)
    angle = rng.uniform(0, 2 * np.pi, n)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle), rng.standard_normal((n, 3))])
    return X, y, np.repeat(np.arange(1, 13), n // 12)


def test_gaussian_kernel_separates_what_no_hyperplane_can():
    X, y, actors = _rings()
    tr, te = actors <= 8, actors > 8
    ua = {k: ev.balanced_accuracy(y[te], DualRidgeClassifier(kernel=k).fit(X[tr], y[tr], actors[tr] % 3).predict(X[te]))
          for k in ("linear", "rbf")}
    assert ua["rbf"] > 0.95 and ua["linear"] < 0.75, ua
    with pytest.raises(ValueError, match="unknown kernel"):
        DualRidgeClassifier(kernel="poly").fit(X[tr], y[tr])


def test_gaussian_kernel_predicts_as_textbook_kernel_ridge():
    """Scores of new rows equal kernel ridge written out: standardise with the training rows,
    kernel width the median squared distance between distinct training rows, kernel centred on
    the training rows, intercept the mean target (equal classes: every weight 1)."""
    X, y, _ = _rings(n=160, seed=4)
    tr, te = np.arange(120), np.arange(120, 160)
    m = DualRidgeClassifier(alphas=(0.5,), kernel="rbf", single=False).fit(X[tr], y[tr])
    mu, sd = X[tr].mean(0), X[tr].std(0)
    Z, Zt = (X[tr] - mu) / sd, (X[te] - mu) / sd
    D = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    w = np.median(D[np.triu_indices(len(Z), 1)])
    K, Kt = np.exp(-D / w), np.exp(-((Zt[:, None] - Z[None]) ** 2).sum(-1) / w)
    H = np.eye(len(Z)) - 1 / len(Z)
    Y = np.where(y[tr][:, None] == np.unique(y)[None], 1.0, -1.0)
    dual = np.linalg.solve(H @ K @ H + 0.5 * np.eye(len(Z)), Y - Y.mean(0))
    Kt_c = Kt - Kt.mean(1, keepdims=True) - K.mean(0)[None] + K.mean()
    np.testing.assert_allclose(m.decision_function(X[te]), Kt_c @ dual + Y.mean(0), atol=1e-8)
    assert classical.make_model("ridge_rbf", profiles.get("quick").training).kernel == "rbf"


def test_single_precision_gives_double_precisions_answers():
    """The default solves in float32 (half the time): same penalty, temperature, answers, and scores
    equal to double precision's to a few parts in 10^5 of their spread."""
    from speechemo.models import ridge as ridge_mod

    X, y, actors = _data(n=480, d=900, classes=5, seed=3)
    tr, te = actors <= 18, actors > 18
    fits = [DualRidgeClassifier(alphas=(30.0, 300.0, 3000.0), single=s).fit(X[tr], y[tr], actors[tr] % 3)
            for s in (True, False)]
    assert ridge_mod._Gram(X[tr]).G.dtype == np.float32 and ridge_mod._Gram(X[tr], dtype=np.float64).G.dtype == np.float64
    assert fits[0].alpha_ == fits[1].alpha_ and np.isclose(fits[0].temperature_, fits[1].temperature_, rtol=1e-3)
    single, double = (f.decision_function(X[te]) for f in fits)
    assert np.abs(single - double).max() < 1e-4 * double.std()
    assert (fits[0].predict(X[te]) == fits[1].predict(X[te])).all()
    with pytest.raises(np.linalg.LinAlgError, match="single=False"):  # a singular system names the fix
        ridge_mod._solve(-np.eye(3, dtype=np.float32), 0.5, np.ones((3, 1)))


def test_penalty_is_chosen_on_training_groups_only(monkeypatch):
    """The nested search sees only the rows given to fit: a spy records every solver's rows."""
    from speechemo.models import ridge as ridge_mod

    X, y, actors = _data()
    seen, shapes = [], []
    real_gram, real_solve = ridge_mod._Gram.__init__, ridge_mod._Gram.solve

    def spy_gram(self, Xs, *args):
        shapes.append(Xs.shape[0])
        real_gram(self, Xs, *args)

    def spy_solve(self, rows, Y, w, alphas):
        seen.append(len(rows))
        return real_solve(self, rows, Y, w, alphas)

    monkeypatch.setattr(ridge_mod._Gram, "__init__", spy_gram)
    monkeypatch.setattr(ridge_mod._Gram, "solve", spy_solve)
    tr = actors <= 18
    m = DualRidgeClassifier(alphas=(1.0, 100.0, 10000.0), inner_folds=3).fit(X[tr], y[tr], groups=actors[tr] % 3)
    assert shapes == [tr.sum()]  # the Gram of the training rows only
    assert len(seen) == 4 and seen[-1] == tr.sum() and all(s < tr.sum() for s in seen[:3])
    assert m.alpha_ in (1.0, 100.0, 10000.0) and m.cv_ua_.shape == (3,)
    assert 0.01 <= m.temperature_ <= 10


def test_blocks_weight_each_block_equally():
    m = DualRidgeClassifier(blocks=(90, 10))
    scale = m._scale(100)
    assert np.isclose((scale[:90] ** 2).sum(), (scale[90:] ** 2).sum())
    with pytest.raises(ValueError, match="do not add up"):
        m._scale(99)


def test_temperature_lowers_the_log_loss():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 500)
    scores = rng.standard_normal((500, 3)) + 8 * np.eye(3)[y] * (rng.random(500) < 0.6)[:, None]
    t = fit_temperature(scores, y)
    nll = lambda T: -np.mean(np.log(softmax(scores / T)[np.arange(500), y]))  # noqa: E731
    assert nll(t) <= nll(1.0) and t > 1  # overconfident scores are softened


def test_ridge_through_the_classical_interface_learns():
    X, y, actors = _data()
    budget = profiles.get("quick").training
    res = ev.cross_validate(classical.fit_predict_fn("ridge", X, y, actors, budget), y,
                            ev.speaker_folds(actors), sorted(set(y)))
    assert res.summary()["ua"] > 0.6  # chance is 0.25


def test_speaker_adaptation_curve_ends_match_the_two_models():
    X, y, actors = _data(n=480, d=80, seed=1)
    fitter = probe.model_fitter("ridge", profiles.get("quick").training)
    curve = probe.speaker_adaptation_curve(X, y, actors, "emotion", fitter, fitter, ks=[0, 4, "all"], repeats=2,
                                    progress=False)
    assert set(curve.k) == {"0", "4", "all"}
    assert len(curve[curve.k == "4"]) == 2 * len(ev.speaker_folds(actors))
    # K = all is exactly the speaker-normalised protocol, K = 0 the single-clip one
    Xn = ev.speaker_normalise(X, actors)
    for k, M in (("all", Xn), ("0", X)):
        res = ev.cross_validate(lambda tr, te, f, M=M: fitter(M[tr], y[tr], actors[tr])(M[te]), y,
                                ev.speaker_folds(actors), sorted(set(y)))
        np.testing.assert_allclose(curve[curve.k == k].sort_values("fold").ua.to_numpy(), res.folds.ua.to_numpy())
    # removing the speaker offsets helps here; four clips recover part of it
    s = probe.curve_summary(curve).loc["mean and std"]
    assert list(s.index) == ["0", "4", "all"] and s.ua["all"] > s.ua["0"]
    # centring only: the model is trained on centred speakers, tested with K-clip means
    centred = probe.speaker_adaptation_curve(X, y, actors, "emotion", fitter, fitter, ks=["all"], progress=False, scale=False)
    Xc = ev.speaker_normalise(X, actors, scale=False)
    assert np.allclose(Xc[actors == 1].mean(axis=0), 0) and set(centred.statistics) == {"mean only"}
    res = ev.cross_validate(lambda tr, te, f: fitter(Xc[tr], y[tr], actors[tr])(Xc[te]), y,
                            ev.speaker_folds(actors), sorted(set(y)))
    np.testing.assert_allclose(centred.sort_values("fold").ua.to_numpy(), res.folds.ua.to_numpy())


def test_report_table_from_summary(tmp_path):
    rows = []
    for ds, ua in (("ravdess", 0.7), ("synthetic", 0.99)):
        for model, norm, u in (("ridge", "none", ua), ("ridge", "speaker", ua + 0.05), ("logreg", "none", ua - 0.1)):
            rows.append({"dataset": ds, "task": "emotion", "features": "whisper_base", "model": model,
                         "protocol": "speaker_independent", "normalisation": norm, "wa": u, "wa_std": 0.01,
                         "ua": u, "ua_std": 0.02, "macro_f1": u, "macro_f1_std": 0.0, "n_folds": 6,
                         "n_utterances": 1440, "fit_seconds": 1, "profile": "full", "notebook": "06",
                         "params": "{}", "commit": "abc", "created": "2026-11-22T05:00:00+00:00"})
    md = report.results_markdown(pd.DataFrame(rows), "ravdess")
    assert "| emotion (8) | ridge | whisper_base | yes | **75.0 ± 2.0** |" in md
    assert "| emotion (8) | logreg | whisper_base | no | 60.0 ± 2.0 |" in md
    assert "99.0" not in md and "dataset **ravdess**" in md
    assert "emotion ridge / whisper_base UA 70.0 ± 2.0" in md  # best single-clip model
    assert "EmoBox Whisper-large-v3 (6 folds) 75.3" in md           # published, from reference
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.START}\nstale table\n{report.END}\nafter\n")
    report.update_readme(readme, md)
    text = readme.read_text()
    assert "stale table" not in text and text.startswith("intro\n") and text.endswith("after\n") and "**75.0" in text


def test_protocol_table_from_summary():
    base = {"dataset": "ravdess+cremad", "task": "emotion", "features": "whisper_base", "wa": 0.5, "wa_std": 0.0,
            "ua_std": 0.01, "profile": "full", "notebook": "06", "commit": "abc", "created": "2026-11-28T07:00:00+00:00"}
    rows = [dict(base, model=m, protocol=p, train_corpora=tr, test_corpora=te, normalisation="none", ua=u)
            for m, p, tr, te, u in (("ridge", "within:ravdess", "ravdess", "ravdess", 0.766),
                                    ("logreg", "within:ravdess", "ravdess", "ravdess", 0.70),
                                    ("ridge", "speaker_independent", "cremad+ravdess", "cremad+ravdess", 0.73),
                                    ("ridge", "loco:cremad", "ravdess", "cremad", 0.359),
                                    ("ridge", "pooled:cremad", "cremad+ravdess", "cremad", 0.751),
                                    ("ridge", "random_split", "cremad+ravdess", "cremad+ravdess", 0.99))]
    rows += [dict(rows[0], task="gender", normalisation=n, ua=u) for n, u in (("speaker", 0.51), ("voice", 1.0))]
    rows += [dict(rows[0], task="gender_emotion", model="lstm", protocol="speaker_independent", ua=0.528)]  # first corpus only
    md = report.protocols_markdown(pd.DataFrame(rows), "ravdess+cremad")
    header = md.splitlines()[0]
    assert header == "| task | normalisation | within ravdess | pooled | pooled → cremad | ravdess → cremad |"
    assert ("| emotion | none (one clip) | 76.6 ± 1.0 (ridge / whisper_base) | 73.0 ± 1.0 (ridge / whisper_base) | "
            "75.1 ± 1.0 (ridge / whisper_base) | 35.9 ± 1.0") in md
    assert "99.0" not in md and "dataset **ravdess+cremad**" in md
    assert "| gender | voice (one answer per voice, from all its clips) | 100.0 ± 1.0" in md
    assert "51.0" not in md                                    # gender z-scored within each voice: not shown
    assert "| gender_emotion | none (one clip) | 52.8 ± 1.0 (lstm / whisper_base) | — | — | — |" in md
    assert "Chosen without looking at the test folds" not in md  # no nested_choice rows: no second table
    with pytest.raises(LookupError):
        report.protocols_markdown(pd.DataFrame(rows).assign(protocol="speaker_independent"), "ravdess+cremad")


def test_cross_corpus_table_shows_real_targets_beside_the_training_corpus():
    base = {"task": "emotion", "features": "whisper_base", "model": "ridge", "normalisation": "none", "wa": 0.45,
            "wa_std": 0.0, "ua_std": 0.0, "n_utterances": 7441, "profile": "full", "notebook": "08_cross_corpus",
            "commit": "abc", "created": "2026-12-07T18:00:00+00:00"}
    ran = '{"approach": "(b) retrained", "trained_on": "ravdess"}'
    rows = [dict(base, dataset="cremad", protocol="cross_corpus", ua=0.44, params=ran),
            dict(base, dataset="cremad", protocol="cross_corpus", task="gender", ua=0.91, params=ran.replace("(b)", "(d)")),
            dict(base, dataset="emodb-synthetic", protocol="cross_corpus", ua=0.99, params=ran.replace("ravdess", "synthetic")),
            dict(base, dataset="cremad-target", protocol="cross_corpus", ua=0.98, params=ran.replace("ravdess", "ravdess+cremad")),
            dict(base, dataset="ravdess", protocol="speaker_independent", ua=0.766, params="{}")]
    md = report.cross_corpus_markdown(pd.DataFrame(rows))
    assert ("| ravdess | cremad | (b) retrained | emotion | ridge | whisper_base | none | 44.0 | 45.0 | 7441 | 76.6 |"
            in md)
    assert "| ravdess | cremad | (d) retrained | gender | ridge | whisper_base | none | 91.0 | 45.0 | 7441 | — |" in md
    assert "99.0" not in md and "98.0" not in md  # a synthetic training set, a target the models trained on
    for without in (rows[2:], rows[4:]):  # only synthetic or own-corpus targets; no notebook-08 row at all
        with pytest.raises(LookupError):
            report.cross_corpus_markdown(pd.DataFrame(without))


def test_protocol_table_shows_the_nested_choice_apart_from_the_best_rows():
    base = {"dataset": "ravdess+cremad", "task": "emotion", "features": "whisper_base", "wa": 0.5, "wa_std": 0.0,
            "ua_std": 0.01, "profile": "full", "commit": "abc", "created": "2026-11-28T07:00:00+00:00", "normalisation": "none"}
    rows = [dict(base, model=m, features=f, notebook=nb, protocol=p, train_corpora=tr, test_corpora=te, ua=u)
            for m, f, nb, p, tr, te, u in (
                ("ridge", "whisper_base", "06", "within:cremad", "cremad", "cremad", 0.748),
                ("nested_choice", "chosen_per_fold@06", "06", "within:cremad", "cremad", "cremad", 0.9),  # never a best row
                ("nested_choice", "chosen_per_fold@06", "06", "loco:ravdess", "cremad", "ravdess", 0.655),
                ("nested_choice", "chosen_per_fold@03", "03", "within:cremad", "cremad", "cremad", 0.612))]
    md = report.protocols_markdown(pd.DataFrame(rows), "ravdess+cremad")
    best, nested = md.split("Chosen without looking at the test folds")
    assert "| emotion | none (one clip) | 74.8 ± 1.0 (ridge / whisper_base) | — |" in best and "90.0" not in best
    assert "| emotion | none (one clip) | 03 | 61.2 ± 1.0 | — |" in nested
    assert "| emotion | none (one clip) | 06 | 90.0 ± 1.0 | 65.5 ± 1.0 |" in nested
    single = report.results_markdown(pd.DataFrame(rows).assign(dataset="ravdess", protocol="speaker_independent"), "ravdess")
    assert "| nested_choice | chosen_per_fold@03 | no | 61.2 ± 1.0 | 50.0 ± 0.0 | 03 |" in single  # one per notebook


def test_times_table_from_executed_notebooks(tmp_path):
    notebooks, runs = tmp_path / "notebooks", tmp_path / "runs"
    notebooks.mkdir(), runs.mkdir()
    for name, start, seconds in (("03_classical_baselines", "2026-11-30T09:00:00", 500.0),   # an older run
                                 ("00_download", "2026-12-01T02:00:00", 6.0),
                                 ("03_classical_baselines", "2026-12-01T02:01:00", 725.0),
                                 ("04_lstm", "2026-12-01T02:15:00", None)):                   # did not finish
        meta = {"papermill": {"duration": seconds, "start_time": start, "parameters": {"profile": "full"}}}
        (notebooks / f"{name}.ipynb").write_text(json.dumps({"metadata": meta, "cells": []}))
        (runs / f"{name}-{start}.json").write_text(json.dumps(
            {"notebook": name, "dataset": "ravdess", "parameters": {"profile": "full"}, "started": start}))
    (runs / "03_classical_baselines-old.json").write_text(json.dumps(
        {"notebook": "03_classical_baselines", "dataset": "cremad", "started": "2026-11-30T09:00:00"}))
    times = report.notebook_times(notebooks, runs)
    assert list(times.notebook) == ["00_download", "03_classical_baselines"]
    md = report.times_markdown(times, "ravdess")
    assert "| `03_classical_baselines` | 12.1 min |" in md and "| **all of them** | **12 min** |" in md
    assert "dataset **ravdess**" in md and "profile(s) full" in md and "2026-12-01 02:00" in md
    with pytest.raises(LookupError):
        report.times_markdown(times, "cremad")


def _executed(folder, dataset: str, notebooks: list[tuple[str, str, float]], boot: str | None = "b1"):
    """Executed notebooks (papermill's record) and run records of one run, in an outputs/ layout
    (``boot``: the machine's boot id in the records; None: records from before machines were kept)."""
    (folder / "notebooks").mkdir(parents=True), (folder / "results" / "runs").mkdir(parents=True)
    machine = {"cpu": "AMD EPYC", "cores": 2, "memory_gib": 24, "boot_id": boot} if boot else None
    for name, start, seconds in notebooks:
        meta = {"papermill": {"duration": seconds, "start_time": start}}
        (folder / "notebooks" / f"{name}.ipynb").write_text(json.dumps({"metadata": meta, "cells": []}))
        (folder / "results" / "runs" / f"{name}-{start}.json").write_text(json.dumps(
            {"notebook": name, "dataset": dataset, "parameters": {"profile": "full"}, "started": start,
             **({"machine": machine} if machine else {})}))
    return report.outputs_times(folder / "notebooks")


def test_union_times_beside_a_one_corpus_run(tmp_path):
    base = _executed(tmp_path / "rav", "ravdess", [("00_download", "2026-12-06T04:00:00", 6.0),
                                                   ("03_classical_baselines", "2026-12-06T04:01:00", 600.0)])
    union = _executed(tmp_path / "uni", "ravdess+cremad", [("00_download", "2026-12-06T02:00:00", 12.0),
                                                           ("03_classical_baselines", "2026-12-06T02:01:00", 900.0),
                                                           ("04_lstm", "2026-12-06T02:20:00", 900.0)])
    md = report.union_times_markdown(base, union)
    assert "| notebook | ravdess | ravdess+cremad | ratio |" in md
    assert "| `03_classical_baselines` | 10.0 min | 15.0 min | 1.50 × |" in md
    assert "| `04_lstm` | — | 15.0 min | — |" in md                      # timed in one run only: not in the total
    assert "| **notebooks both timed (2)** | **10 min** | **15 min** | **1.50 ×** |" in md
    assert "overlapped" not in md and "2026-12-06 02:00–02:35 UTC" in md
    assert "both on one machine (AMD EPYC, 2 cores, 24 GiB)" in md
    later = _executed(tmp_path / "rav3", "ravdess", [("00_download", "2026-12-07T04:00:00", 6.0)], boot="b2")
    assert "on two machines (or with a reboot between them)" in report.union_times_markdown(later, union)
    older = _executed(tmp_path / "rav4", "ravdess", [("00_download", "2026-12-07T04:00:00", 6.0)], boot=None)
    assert "do not name the machine" in report.union_times_markdown(older, union)
    shared = _executed(tmp_path / "rav2", "ravdess", [("00_download", "2026-12-06T02:30:00", 6.0)])
    assert "overlapped in time" in report.union_times_markdown(shared, union)
    between = _executed(tmp_path / "rav5", "ravdess", [("00_download", "2026-12-06T02:00:30", 6.0)])  # in a gap
    assert "overlapped" not in report.union_times_markdown(between, union)
    assert "re-run" not in md
    retimed = _executed(tmp_path / "uni2", "ravdess+cremad", [("00_download", "2026-12-06T02:00:00", 12.0),
                                                              ("02_features", "2026-12-06T05:00:00", 60.0),
                                                              ("03_classical_baselines", "2026-12-06T02:01:00", 900.0)])
    assert "(`02_features` re-run on its own at 05:00)" in report.union_times_markdown(base, retimed)
    assert "parts" not in md and "parts" not in report.union_times_markdown(base, retimed)  # a re-run is not a part
    twice = _executed(tmp_path / "uni3", "ravdess+cremad", [("00_download", "2026-12-06T02:00:00", 12.0),
                                                            ("03_classical_baselines", "2026-12-06T02:01:00", 900.0),
                                                            ("04_lstm", "2026-12-06T03:00:00", 900.0)])
    assert ("UTC in 2 parts (`00_download`–`03_classical_baselines` 02:00–02:16, `04_lstm` 03:00–03:15)"
            in report.union_times_markdown(base, twice))              # started again 44 min after 03 ended
    with pytest.raises(LookupError):                                     # the runs the wrong way round
        report.union_times_markdown(union, base)


def test_run_records_name_the_machine(tmp_path):
    from speechemo.foundations import profiles
    from speechemo.foundations.paths import Layout
    from speechemo.workbook import steps

    lay = Layout(tmp_path, tmp_path / "data", tmp_path / "outputs")
    lay.runs.mkdir(parents=True)
    record = json.loads((lay.results / steps.write_run(lay, "03_x", {}, profiles.get("quick"), "ravdess")).read_text())
    m = record["machine"]
    assert m["cores"] >= 1 and m["cpu"] and set(m) == {"cpu", "vector", "cores", "memory_gib", "boot_id"}
    nb = lay.outputs / "notebooks"
    nb.mkdir()
    (nb / "03_x.ipynb").write_text(json.dumps({"metadata": {"papermill": {
        "duration": 5.0, "start_time": record["started"]}}, "cells": []}))
    times = report.outputs_times(nb)
    assert times.machine.iloc[0].startswith(m["cpu"]) and f"{m['cores']} cores" in times.machine.iloc[0]


def test_primal_gives_the_duals_answers_when_rows_outnumber_columns():
    """More clips than columns: ``auto`` solves in the primal, with the same penalty, temperature and
    scores as the dual (single precision: a few parts in 10^5 of their spread; double: equal)."""
    X, y, actors = _data(n=480, d=60, classes=5, seed=5)
    tr, te = actors <= 18, actors > 18
    fit = lambda solver, single=True: DualRidgeClassifier(alphas=(3.0, 30.0, 300.0), solver=solver,  # noqa: E731
                                                          single=single).fit(X[tr], y[tr], actors[tr] % 3)
    auto, dual = fit("auto"), fit("dual")
    assert (auto.solver_, dual.solver_) == ("primal", "dual")
    np.testing.assert_allclose(auto.cv_ua_, dual.cv_ua_)
    assert auto.alpha_ == dual.alpha_ and np.isclose(auto.temperature_, dual.temperature_, rtol=1e-3)
    scores = [m.decision_function(X[te]) for m in (auto, dual)]
    assert np.abs(scores[0] - scores[1]).max() < 1e-4 * scores[1].std()
    np.testing.assert_allclose(fit("primal", False).decision_function(X[te]),
                               fit("dual", False).decision_function(X[te]), atol=1e-8)
    assert DualRidgeClassifier().fit(X[:100, :200].repeat(3, 1), y[:100]).solver_ == "dual"  # wide: the dual
    with pytest.raises(ValueError, match="dual only"):
        DualRidgeClassifier(kernel="rbf", solver="primal").fit(X[tr], y[tr])
    with pytest.raises(ValueError, match="unknown solver"):
        DualRidgeClassifier(solver="qr").fit(X[tr], y[tr])


def test_solver_is_the_one_with_fewer_multiply_adds():
    """The primal only where it is cheaper: a union's pooled fit on the encoder's means or upper layers,
    not RAVDESS's 1,150 clips on one layer's 1,024 columns (the dual's inner systems are smaller)."""
    from speechemo.models.ridge import solve_costs

    def pick(n, d):
        costs = solve_costs(n, d, 5, 3)
        return min(costs, key=costs.get)

    assert pick(6200, 3584) == pick(6200, 2048) == pick(1150, 199) == "primal"
    assert pick(1150, 1024) == pick(1150, 3584) == pick(6200, 7168) == "dual"
    costs = solve_costs(6200, 3584, 5, 3)
    assert 1.2 < costs["dual"] / costs["primal"] < 1.6  # measured: 1.36 x faster in the primal


def test_rows_name_the_code_s_commit_wherever_the_run_writes(tmp_path, monkeypatch):
    """A run whose outputs (the notebooks' working folder) lie outside the project still records the
    commit of the code that ran, not ``unknown``."""
    from speechemo.foundations import reproducibility

    here = reproducibility.git_commit(Path(reproducibility.__file__).resolve().parents[3])
    if here == "unknown":
        pytest.skip("this copy of the code is not a git checkout")
    monkeypatch.chdir(tmp_path)
    assert reproducibility.git_commit() == here
