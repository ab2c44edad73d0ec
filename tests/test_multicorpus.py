"""Several corpora: CREMA-D's reader, folds and download manifest; the union dataset of notebook
00; the within / pooled / leave-one-corpus-out protocols; the per-speaker training cap.
Everything runs on synthetic files in CREMA-D's layout (no real corpus is needed)."""
from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from speechemo.data import cremad, datasets
from speechemo.protocol import evaluation as ev
from speechemo.data.download import DownloadError
from speechemo.data.speakers import fold_of, gender_of
from speechemo.data.synthetic import generate_cremad
from speechemo.foundations.labels import CorpusNameError


def test_names_levels_and_errors():
    c = cremad.parse_name("1040_ITH_SAD_X.wav")
    assert (c.actor, c.sentence, c.emotion, c.level) == (1040, "ITH", "sad", "unspecified")
    assert cremad.parse_name("1063_IEO_ANG_HI.wav").level == "high"
    for bad in ("1001_DFA_XYZ_XX.wav", "01_DFA_ANG_XX.wav", "1001-DFA-ANG-XX.wav"):
        with pytest.raises(CorpusNameError, match="not a CREMA-D name"):
            cremad.parse_name(bad)


def test_shipped_folds_follow_the_recipe_and_balance_gender_and_age():
    demo = cremad.demographics()
    built = cremad.build_folds(demo)
    shipped = cremad.folds()
    pd.testing.assert_frame_equal(built.reset_index(drop=True), shipped, check_dtype=False)
    assert shipped.actor.is_unique and len(shipped) == 91 and set(shipped.fold) == set(range(1, 7))
    per_fold = shipped.groupby("fold").agg(n=("actor", "size"), women=("gender", lambda g: (g == "female").sum()),
                                           age=("age", "median"))
    assert per_fold.n.max() - per_fold.n.min() <= 1
    assert per_fold.women.between(7, 8).all() and (per_fold.n - per_fold.women).between(8, 9).all()
    assert per_fold.age.max() - per_fold.age.min() <= 6
    assert all(fold_of(a) == k for a, k in zip(shipped.actor, shipped.fold))
    assert gender_of(1001) == "male" and gender_of(1002) == "female" and gender_of(1) == "male"


def test_inner_groups_hold_both_genders_for_cremad_actors():
    actors = cremad.folds().actor.to_numpy()[:30]
    groups = ev.inner_groups(actors, 3)
    for g in range(3):
        assert {gender_of(a) for a in actors[groups == g]} == {"female", "male"}


def test_reader_names_odd_files_and_never_crashes(tmp_path):
    audio_dir = generate_cremad(tmp_path / "c", actors=4)
    files = sorted(audio_dir.glob("*.wav"))
    files[0].rename(files[0].with_name(files[0].name.replace("_XX.wav", "_X.wav")))      # level X: read
    sf.write(audio_dir / f"{files[1].name[:4]}_MTI_SAD_XX.wav", np.zeros(41600, "int16"), 16000)  # silence: left out
    sf.write(audio_dir / "1091_DFA_ANG_XX.wav", np.ones(16000) * 0.1, 16000)            # no demographics row
    (audio_dir / "1001_DFA_ANGRY.wav").write_bytes(b"RIFF")                              # misnamed
    table, report = cremad.build_metadata(audio_dir, progress=False)
    assert len(table) == len(files) and report.used == len(files)
    assert report.odd_level == [files[0].name.replace("_XX.wav", "_X.wav")]
    assert len(report.silent) == 1 and "digital silence" in report.silent[0]
    assert report.no_demographics == ["1091_DFA_ANG_XX.wav"] and len(report.misnamed) == 1
    assert table.file.str.startswith("cremad/").all() and table.corpus.eq("cremad").all()
    assert (table.gender == table.actor.map(gender_of)).all() and (table.fold == table.actor.map(fold_of)).all()
    assert "1091_DFA_ANG_XX.wav" in str(report)


class _Server:
    """Files by name over HTTP on 127.0.0.1 (a stand-in for the official LFS media)."""

    def __init__(self, files: dict[str, bytes]):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = files.get(self.path.rsplit("/", 1)[-1])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/media/AudioWAV/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _manifest(files: dict[str, bytes]) -> pd.DataFrame:
    return pd.DataFrame([{"file": n, "bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in files.items()])


def test_manifest_download_checks_every_file_and_resumes(tmp_path):
    audio_dir = generate_cremad(tmp_path / "src", actors=1)
    files = {p.name: p.read_bytes() for p in sorted(audio_dir.glob("*.wav"))[:4]}
    manifest = _manifest(files)
    served = dict(files)
    bad = next(iter(files))
    served[bad] = files[bad][:-10] + b"0123456789"  # same size, other content
    server = _Server(served)
    try:
        with pytest.raises(DownloadError, match=f"1 CREMA-D files.*{bad}.*sha256"):
            cremad.download(tmp_path / "AudioWAV", server.url, manifest, progress=False)
        assert not (tmp_path / "AudioWAV" / bad).exists()          # the wrong file is not kept
        assert not list((tmp_path / "AudioWAV").glob("*.part"))
        assert len(list((tmp_path / "AudioWAV").glob("*.wav"))) == 3
        served[bad] = files[bad]                                    # fixed upstream: the rerun resumes
        cremad.download(tmp_path / "AudioWAV", server.url, manifest, progress=False)
        assert {p.name: p.read_bytes() for p in (tmp_path / "AudioWAV").glob("*.wav")} == files
    finally:
        server.close()
    assert cremad.verify(tmp_path / "AudioWAV", manifest, progress=False) == []
    (tmp_path / "AudioWAV" / bad).rename(tmp_path / "AudioWAV" / bad.replace("_XX", "_X"))
    assert cremad.verify(tmp_path / "AudioWAV", manifest, progress=False) == [
        f"renamed (content of {bad}, kept): {bad.replace('_XX', '_X')}"]


def test_shipped_manifest_is_the_official_distribution():
    m = cremad.manifest()
    assert len(m) == 7442 and m.file.is_unique and m.sha256.str.fullmatch("[0-9a-f]{64}").all()
    row = m.set_index("file").loc["1063_IEO_ANG_HI.wav"]
    assert row.bytes == 70514 and row.sha256.startswith("804af0fd") and row.sha256.endswith("1578")


@functools.cache
def _union(tmp: str) -> tuple:
    info = datasets.acquire("synthetic+synthetic-cremad", None, tmp, synthetic_actors=6, progress=False)
    return info, datasets.build_metadata(info, synthetic_actors=6, progress=False)[0]


@pytest.fixture(scope="module")
def union(tmp_path_factory):
    return _union(str(tmp_path_factory.mktemp("union")))


def test_union_dataset_has_corpus_and_fold_columns(union, tmp_path):
    info, meta = union
    assert info.kind == "synthetic+synthetic-cremad" and info.is_synthetic
    assert [p.kind for p in info.members()] == ["synthetic", "synthetic-cremad"]
    info.save(tmp_path / "d.json")
    assert type(info).load(tmp_path / "d.json").members()[1].root == info.members()[1].root
    assert list(meta.columns) == datasets.COLUMNS and meta.file.is_unique
    assert meta.groupby("corpus").actor.nunique().to_dict() == {"synthetic": 6, "synthetic-cremad": 6}
    assert (meta.fold == meta.actor.map(fold_of)).all() and set(meta.fold) == set(range(1, 7))
    assert not set(meta[meta.corpus == "synthetic-cremad"].emotion) & {"calm", "surprised"}


def test_dataset_names_and_sources():
    assert datasets.parts_of("ravdess+cremad") == ["ravdess", "cremad"]
    with pytest.raises(ValueError, match="each part must be one of"):
        datasets.parts_of("ravdess+emodb")
    assert datasets.sources_for(["ravdess", "cremad"], "ravdess=/a,cremad=/b") == {"ravdess": "/a", "cremad": "/b"}
    assert datasets.sources_for(["ravdess", "cremad"], "/x.zip") == {"ravdess": "/x.zip", "cremad": None}
    with pytest.raises(ValueError, match="not parts of the dataset"):
        datasets.sources_for(["ravdess"], "cremad=/b")


def test_protocols_within_pooled_and_leave_one_corpus_out(union):
    _, meta = union
    y, actors, corpus = ev.labels_for(meta, "emotion"), meta.actor.to_numpy(), meta.corpus.to_numpy()
    assert ev.protocols(corpus) == ["speaker_independent", "within:synthetic", "within:synthetic-cremad",
                                    "loco:synthetic", "loco:synthetic-cremad"]
    pooled = ev.folds_for("speaker_independent", y, actors, 0, corpus)
    for tr, te in pooled:  # fold k of the union = fold k of each corpus: no actor on both sides
        assert not set(actors[tr]) & set(actors[te])
        assert {fold_of(a) for a in actors[te]} == {fold_of(actors[te][0])}
    within = ev.folds_for("within:synthetic-cremad", y, actors, 0, corpus)
    assert len(within) == 6 and all((corpus[np.r_[tr, te]] == "synthetic-cremad").all() for tr, te in within)
    (tr, te), = ev.folds_for("loco:synthetic-cremad", y, actors, 0, corpus)
    assert (corpus[tr] == "synthetic").all() and (corpus[te] == "synthetic-cremad").all()
    assert set(y[tr]) == set(y[te]) == {"neutral", "happy", "sad", "angry", "fearful", "disgust"}
    assert len(te) == (corpus == "synthetic-cremad").sum()
    (tr, te), = ev.folds_for("loco:synthetic", ev.labels_for(meta, "gender"), actors, 0, corpus)
    assert len(te) == (corpus == "synthetic").sum()  # gender: every clip of the held corpus
    assert ev.corpora_of("loco:synthetic", corpus, "x") == ("synthetic-cremad", "synthetic")
    assert ev.corpora_of("speaker_independent", corpus, "x") == ("synthetic+synthetic-cremad",) * 2
    assert ev.protocols(np.array(["ravdess"] * 3)) == ["speaker_independent"]
    with pytest.raises(ValueError, match="unknown protocol"):
        ev.folds_for("loco:cremad", y, actors, 0, corpus)


def test_pooled_folds_are_scored_on_each_corpus_alone_over_its_own_classes():
    files = [f"r{i}" for i in range(6)] + [f"c{i}" for i in range(6)]
    corpus = pd.Series(["ravdess"] * 6 + ["cremad"] * 6, index=files)
    true = ["calm", "calm", "happy", "happy", "sad", "sad"] + ["happy", "happy", "sad", "sad", "angry", "angry"]
    pred = ["calm", "happy", "happy", "happy", "sad", "calm"] + ["happy", "calm", "sad", "sad", "angry", "happy"]
    fold = [1, 2, 1, 2, 1, 2] * 2
    classes = ["calm", "happy", "sad", "angry"]
    p = pd.DataFrame({"file": files, "fold": fold, "true": true, "pred": pred})
    res = ev.CVResult(classes, ev.fold_scores(p, classes), p, 12.0)
    seen = ev.per_corpus(res, corpus)
    assert set(seen) == {"pooled:ravdess", "pooled:cremad"}
    c = seen["pooled:cremad"]
    assert list(c.predictions.file) == files[6:]
    assert c.confusion.sum() == 6 and c.confusion[0].sum() == 0 and c.confusion[:, 0].sum() == 1  # a clip called calm
    assert c.fit_seconds == 0.0 and list(c.folds.fold) == [1, 2]
    # fold 1: happy, sad, angry all right (UA 1); fold 2: happy called calm (an error), sad right, angry called happy
    assert c.folds.ua.tolist() == pytest.approx([1.0, 1 / 3])
    assert c.folds.wa.tolist() == pytest.approx([1.0, 1 / 3])
    r = seen["pooled:ravdess"]
    assert r.folds.ua.tolist() == pytest.approx([1.0, 1 / 3])  # over calm, happy and sad: no angry clip there
    assert ev.per_corpus(res, pd.Series("ravdess", index=files)) == {}  # one corpus: nothing to add
    with pytest.raises(KeyError, match="no corpus for 6"):
        ev.per_corpus(res, corpus.iloc[:6])
    assert ev.corpora_of("pooled:cremad", np.array(["ravdess", "cremad"]), "x") == ("cremad+ravdess", "cremad")
    with pytest.raises(ValueError, match="is not run"):
        ev.folds_for("pooled:cremad", np.array(true), np.arange(12), 0, corpus.to_numpy())


def test_cap_per_speaker_keeps_every_voice():
    actors = np.repeat([1, 2, 1001, 1002], [60, 60, 80, 80])
    y = np.tile(["a", "b", "c", "d"], 70)
    tr = np.arange(280)
    assert ev.cap_per_speaker(tr, actors, y, None) is tr and ev.cap_per_speaker(tr, actors, y, 500) is tr
    kept = ev.cap_per_speaker(tr, actors, y, 100, seed=1)
    assert len(kept) == 100 and set(kept) <= set(tr) and len(set(kept)) == 100
    assert pd.Series(actors[kept]).value_counts().eq(25).all()
    for a in (1, 1001):  # labels dealt round-robin: balanced within each voice
        assert pd.Series(y[kept][actors[kept] == a]).value_counts().between(6, 7).all()


def test_runner_makes_local_sources_absolute(tmp_path, monkeypatch):
    from speechemo.workbook.runner import absolute_sources

    monkeypatch.chdir(tmp_path)
    assert absolute_sources("ravdess=r,cremad=/c") == f"ravdess={tmp_path / 'r'},cremad=/c"
    assert absolute_sources("x.zip") == str(tmp_path / "x.zip")
    url = "https://zenodo.org/records/1188976/files/a.zip?download=1"
    assert absolute_sources(url) == url and absolute_sources("") == ""


def test_notebook_00_builds_a_union(tmp_path, monkeypatch):
    """Notebook 00 itself on the synthetic union: both reports, corpus and fold columns, checks pass."""
    import papermill as pm

    from speechemo.foundations.paths import project_root

    root = project_root()
    monkeypatch.setenv("SPEECHEMO_ROOT", str(root))  # the kernel runs in tmp_path
    pm.execute_notebook(str(root / "notebooks" / "00_download.ipynb"), str(tmp_path / "00.ipynb"),
                        parameters={"dataset": "synthetic+synthetic-cremad", "synthetic_actors": 2,
                                    "data_dir": str(tmp_path / "data"), "outputs_dir": str(tmp_path / "out")},
                        cwd=str(tmp_path), kernel_name="python3", progress_bar=False)
    meta = pd.read_csv(tmp_path / "data" / "metadata.csv")
    assert meta.groupby("corpus").actor.nunique().to_dict() == {"synthetic": 2, "synthetic-cremad": 2}
    text = (tmp_path / "00.ipynb").read_text()
    assert "== synthetic-cremad" in text and "dataset = synthetic+synthetic-cremad" in text


def test_corpus_normalisation_uses_each_corpus_alone():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(5, 2, (30, 4)), rng.normal(-3, 1, (20, 4))])
    corpus = np.array(["a"] * 30 + ["b"] * 20)
    Z = ev.normalise(X, "corpus", np.arange(50), corpus)
    assert np.allclose(Z[:30].mean(0), 0) and np.allclose(Z[30:].std(0), 1)
    assert ev.normalise(X, "none", np.arange(50)) is X
    assert ev.normalisations_for(corpus, ["none", "speaker"]) == ["none", "speaker", "corpus"]
    assert ev.normalisations_for(np.array(["a"] * 5), ["none"]) == ["none"]
    with pytest.raises(ValueError, match="unknown normalisation"):
        ev.normalise(X, "global", np.arange(50))


def test_published_ravdess_figures_are_drawn_beside_ravdess_results_only():
    """EmoBox's figures are UA on RAVDESS's folds: a union's or another corpus's plot draws none."""
    from speechemo.foundations import reference

    assert reference.emotion_references("emotion", "ravdess") == reference.PUBLISHED_EMOTION_UA
    for dataset in ("ravdess+cremad", "cremad", "synthetic"):
        assert reference.emotion_references("emotion", dataset) is None
    assert reference.emotion_references("sentiment", "ravdess") is None


def test_whisper_large_figure_is_on_these_folds_only_on_ravdess_alone():
    """06's closing sentence calls EmoBox's 75.3 % "on these folds" only when the test set is RAVDESS alone."""
    from speechemo.foundations import reference

    assert reference.largest_encoder_sentence("ravdess").endswith("75.3 % on these folds.")
    for dataset in ("ravdess+cremad", "cremad", "synthetic"):
        sentence = reference.largest_encoder_sentence(dataset)
        assert "these folds" not in sentence and f"({dataset})" in sentence


def test_comparison_bars_name_a_smaller_test_set():
    """On a union, a row tested on RAVDESS alone (04/05 by budget) is labelled so beside the pooled rows."""
    from speechemo.workbook.steps import comparison_labels

    rows = pd.DataFrame({"model": ["ridge", "lstm"], "features": ["whisper_base", "sequence"],
                         "normalisation": ["none", "speaker"], "test_corpora": ["cremad+ravdess", "ravdess"]})
    assert list(comparison_labels(rows, "ravdess+cremad")) == [
        "ridge / whisper_base / norm=none", "lstm / sequence / norm=speaker (tested on ravdess only)"]
    assert list(comparison_labels(rows.iloc[[1]], "ravdess")) == ["lstm / sequence / norm=speaker"]


def test_a_held_out_corpus_trains_on_every_clip_and_six_folds_on_the_cap(union, tmp_path):
    from dataclasses import replace

    from speechemo.foundations import profiles
    from speechemo.foundations.paths import Layout
    from speechemo.models import classical
    from speechemo.workbook import steps

    info, meta = union
    meta = meta.set_index("file", drop=False)
    budget = replace(profiles.get("quick").training, max_train=24)
    assert ev.budget_for(budget, "loco:synthetic").max_train is None
    assert ev.budget_for(budget, "within:synthetic") is budget is ev.budget_for(budget, ev.SPEAKER_INDEPENDENT)
    assert ev.budget_for(budget.capped(12), "loco:synthetic").max_train == 12  # a notebook's own cap holds for all
    X = np.random.default_rng(0).normal(size=(len(meta), 5))
    actors = meta.actor.to_numpy()

    def fit_predict(task, model, fs, norm, run_budget, keep):  # the notebooks' fold function, its fitted models kept
        return classical.fit_predict_fn("logreg", X, ev.labels_for(meta, task), actors, run_budget, keep=keep)

    lay = Layout(tmp_path, tmp_path / "data", tmp_path / "outputs")
    lay.results.mkdir(parents=True)
    runs = [("gender", "logreg", "x", "none", p) for p in ("speaker_independent", "within:synthetic", "loco:synthetic")]
    _, kept = steps.evaluate_grid(steps.Context(lay, info, "quick", profiles.get("quick")), runs, meta, notebook="t",
                                  budget=budget, fit_predict=fit_predict, keep_for=lambda run: True)
    # the scaler of each fitted model saw its training rows
    rows = {run[4]: [est[0].n_samples_seen_ for _, est, _, _ in k] for run, k in kept.items()}
    assert len(rows["speaker_independent"]) == len(rows["within:synthetic"]) == 6
    assert max(rows["speaker_independent"] + rows["within:synthetic"]) <= 24 < len(meta) * 5 // 12
    assert rows["loco:synthetic"] == [(meta.corpus != "synthetic").sum()]  # every clip of the other corpus
    recorded = ev.load_summary(lay.results).query("normalisation == 'none'").set_index("protocol").params
    assert "max_train=None" in recorded["loco:synthetic"]  # each row records the budget it trained with
    assert "max_train=24" in recorded["within:synthetic"]


def test_the_grid_records_the_heads_chosen_by_the_training_actors_under_every_protocol(union, tmp_path):
    from speechemo.foundations import profiles
    from speechemo.foundations.paths import Layout
    from speechemo.models import classical
    from speechemo.protocol import choice
    from speechemo.workbook import steps

    info, meta = union
    meta = meta.set_index("file", drop=False)
    rng = np.random.default_rng(0)
    y = ev.labels_for(meta, "gender")
    X = rng.normal(size=(len(meta), 6)) + 0.7 * (y == "female")[:, None]
    lay = Layout(tmp_path, tmp_path / "data", tmp_path / "outputs")
    lay.results.mkdir(parents=True)
    protocols = ("speaker_independent", "within:synthetic", "loco:synthetic")
    runs = [("gender", m, "x", "none", p) for m in ("ridge", "svm_rbf", "logreg") for p in protocols]
    results, _ = steps.evaluate_grid(
        steps.Context(lay, info, "quick", profiles.get("quick")), runs, meta, notebook="t", budget=profiles.get("quick").training,
        fit_predict=lambda t, m, fs, n, b: classical.fit_predict_fn(m, X, ev.labels_for(meta, t), meta.actor.to_numpy(), b))
    summary = ev.load_summary(lay.results)
    nested = summary[summary.model == choice.NESTED].set_index(["protocol", "normalisation"])
    views = ("pooled:synthetic", "pooled:synthetic-cremad")  # the pooled folds seen from each corpus
    assert set(nested.index) == {(p, n) for p in protocols + views for n in ("none", ev.VOICE)}  # its voice rows too
    pooled = results[("gender", "ridge", "x", "none", "speaker_independent")].predictions
    for v in views:
        seen = results[("gender", "ridge", "x", "none", v)].predictions
        assert set(meta.corpus[seen.file]) == {v.split(":")[1]}
        assert len(seen) == (meta.corpus[pooled.file] == v.split(":")[1]).sum()  # every test clip of that corpus
    assert sum(len(results[("gender", "ridge", "x", "none", v)].predictions) for v in views) == len(pooled)
    rows = summary[summary.protocol.isin(views)].set_index(["model", "protocol", "normalisation"])
    assert (rows.fit_seconds == 0).all() and (rows.train_corpora == "synthetic+synthetic-cremad").all()
    assert rows.loc[("ridge", "pooled:synthetic", "none")].test_corpora == "synthetic"
    for p in protocols:
        res = results[("gender", choice.NESTED, choice.features_for("t"), "none", p)]
        assert set(res.folds.chosen.str.split(" / ").str[0]) <= {"ridge", "svm_rbf"}   # logreg searched nothing
        assert len(res.predictions) == len(results[("gender", "ridge", "x", "none", p)].predictions)
        assert '"candidates": ["ridge / x", "svm_rbf / x"]' in nested.loc[(p, "none")].params
    fitted = summary[(summary.model == "ridge") & (summary.normalisation == "none") & summary.protocol.isin(protocols)]
    assert (fitted.fit_seconds > 0).all() and (nested.fit_seconds == 0).all()  # the choice fits nothing
