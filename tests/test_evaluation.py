import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from speechemo.models import classical
from speechemo.protocol import evaluation as ev
from speechemo.foundations import profiles
from speechemo.data.ravdess import ALL_ACTORS, EMOBOX_FOLDS


def _toy(n_per_actor=6, seed=0):
    rng = np.random.default_rng(seed)
    actors = np.repeat(np.array(ALL_ACTORS), n_per_actor)
    y = np.tile(np.array(["a", "b", "c"]), len(actors) // 3)
    X = rng.normal(size=(len(actors), 4)) + (y == "a")[:, None] + actors[:, None] * 0.01
    return X, y, actors


def test_speaker_folds_disjoint_and_cover_all_actors():
    _, _, actors = _toy()
    folds = ev.speaker_folds(actors)
    assert len(folds) == 6
    tested = []
    for (tr, te), fold in zip(folds, sorted(EMOBOX_FOLDS)):
        assert set(actors[tr]).isdisjoint(actors[te])
        assert set(actors[te]) == set(EMOBOX_FOLDS[fold])
        assert len(tr) + len(te) == len(actors)
        tested += list(actors[te])
    assert sorted(set(tested)) == list(ALL_ACTORS) and len(tested) == len(actors)


def test_random_split_mixes_actors():
    _, y, actors = _toy()
    tr, te = ev.random_folds(y, 6)[0]
    assert set(actors[tr]) & set(actors[te])


class SpyScaler:
    """Stands in for the pipeline's scaler and remembers which actors it was fitted on."""
    seen: list = []

    def __init__(self):
        pass

    def fit(self, X, y=None):
        SpyScaler.seen.append(set(X[:, -1].astype(int)))
        self.mean_, self.scale_ = X.mean(0), X.std(0) + 1e-9
        return self

    def transform(self, X):
        return (X - self.mean_) / self.scale_

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)

    def get_params(self, deep=True):
        return {}

    def set_params(self, **p):
        return self


@pytest.mark.parametrize("model", ["logreg", "svm_rbf", "xgboost"])
def test_no_test_actor_reaches_a_fitted_scaler(monkeypatch, model):
    X, y, actors = _toy()
    X = np.column_stack([X, actors])  # last column carries the actor id, so the spy can see it
    SpyScaler.seen = []
    monkeypatch.setattr(classical, "StandardScaler", SpyScaler)
    splits = ev.speaker_folds(actors)
    fp = classical.fit_predict_fn(model, X, y, actors, profiles.get("quick").training)
    ev.cross_validate(fp, y, splits, ["a", "b", "c"])
    _assert_no_leak(SpyScaler.seen, splits, actors)


def _assert_no_leak(seen_sets, splits, actors):
    """Every fit (outer, and the nested search's inner ones) saw training actors of one split only."""
    assert len(seen_sets) >= len(splits), "the spy was not fitted once per fold"
    train_sets = [set(actors[tr]) for tr, _ in splits]
    for seen in seen_sets:
        assert any(seen <= t for t in train_sets), f"a test actor reached the scaler: {sorted(seen)}"


def test_leak_would_be_caught():
    """The check is not vacuous: a fit_predict that scales with train + test rows is flagged."""
    X, y, actors = _toy()
    X = np.column_stack([X, actors])
    SpyScaler.seen = []

    def leaky(tr, te, fold):
        SpyScaler().fit(np.vstack([X[tr], X[te]]))  # the classic mistake
        return y[te]

    splits = ev.speaker_folds(actors)
    ev.cross_validate(leaky, y, splits, ["a", "b", "c"])
    with pytest.raises(AssertionError, match="test actor reached"):
        _assert_no_leak(SpyScaler.seen, splits, actors)


def test_metrics_equal_sklearn():
    y_true = np.array(["a", "a", "a", "b", "b", "c", "c", "c", "c", "c"])
    y_pred = np.array(["a", "b", "a", "b", "c", "c", "c", "a", "c", "c"])
    s = ev.scores(y_true, y_pred, ["a", "b", "c"])
    assert s["wa"] == pytest.approx(accuracy_score(y_true, y_pred)) == pytest.approx(0.7)
    assert s["ua"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert s["ua"] == pytest.approx((2 / 3 + 1 / 2 + 4 / 5) / 3)
    assert s["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))


def test_speaker_normalise_uses_each_speakers_own_rows():
    X = np.array([[1.0], [3.0], [10.0], [30.0]])
    out = ev.speaker_normalise(X, np.array([1, 1, 2, 2]))
    np.testing.assert_allclose(out.ravel(), [-1, 1, -1, 1])


def test_results_table_schema_and_upsert(tmp_path):
    X, y, actors = _toy()
    fp = classical.fit_predict_fn("logreg", X, y, actors, profiles.get("quick").training)
    res = ev.cross_validate(fp, y, ev.speaker_folds(actors), ["a", "b", "c"], files=[f"f{i}" for i in range(len(y))])
    row = ev.result_row(res, dataset="synthetic", task="emotion", features="toy", model="logreg",
                        protocol=ev.SPEAKER_INDEPENDENT, normalisation="none", profile="quick", notebook="t")
    row = dict(row, commit="6e54267", run="runs/t-20261201T000000.json")  # a commit that looks like a number
    ev.record(tmp_path, row, res)
    ev.record(tmp_path, dict(row, features="toy2"), res)  # a second row: the first is read back and rewritten
    ev.record(tmp_path, row, res)  # a re-run replaces, never duplicates
    summary = ev.load_summary(tmp_path)
    assert list(summary.columns) == ev.SUMMARY_COLUMNS and len(summary) == 2
    assert set(summary.commit) == {"6e54267"} and set(summary.run) == {"runs/t-20261201T000000.json"}
    summary = summary[summary.features == "toy"].reset_index(drop=True)
    for col in ("dataset", "task", "features", "model", "protocol", "normalisation", "wa", "wa_std",
                "ua", "ua_std", "macro_f1", "n_folds", "fit_seconds", "commit", "created"):
        assert col in summary.columns
    assert summary.loc[0, "n_folds"] == 6 and summary.loc[0, "dataset"] == "synthetic"
    assert summary.loc[0, "ua"] == pytest.approx(res.folds.ua.mean())
    folds = pd.read_csv(tmp_path / "folds.csv")
    assert len(folds) == 12
    preds = list((tmp_path / "predictions").glob("*toy__*.csv"))
    assert len(preds) == 1 and len(pd.read_csv(preds[0])) == len(y)
    assert res.confusion.sum() == len(y)


def test_inner_groups_hold_both_genders():
    from speechemo.protocol.evaluation import inner_groups, speaker_folds

    for actors in (np.repeat(np.arange(1, 25), 3), np.repeat([1, 2, 3, 4, 6, 8], 3)):  # RAVDESS; the quick corpus
      for tr, _ in speaker_folds(actors):
        for n in (2, 3):
            present = set(actors[tr].tolist())
            if min(sum(a % 2 == p for a in present) for p in (0, 1)) < n:
                continue  # fewer actors of a gender than groups: no dealing can help
            g = inner_groups(actors[tr], n)
            assert len(set(g)) == n
            for k in range(n):
                assert {a % 2 for a in actors[tr][g == k]} == {0, 1}, (n, k)
            # an actor is never split across groups
            assert all(len(set(g[actors[tr] == a])) == 1 for a in set(actors[tr]))


def test_forget_removes_one_notebooks_rows_for_one_dataset(tmp_path):
    import pandas as pd

    from speechemo.protocol import evaluation as ev

    rows = [{k: "x" for k in ev.SUMMARY_COLUMNS} | {"notebook": nb, "dataset": ds, "model": m}
            for nb, ds, m in (("08_x", "emodb", "a"), ("08_x", "tess", "b"), ("03_y", "emodb", "c"))]
    pd.DataFrame(rows)[ev.SUMMARY_COLUMNS].to_csv(tmp_path / "summary.csv", index=False)
    (tmp_path / "predictions").mkdir()
    pred = tmp_path / "predictions" / ("__".join(str(rows[0][k]) for k in ev.KEY) + ".csv")
    pred.write_text("file,fold,true,pred\n")
    assert ev.forget(tmp_path, "08_x", "emodb") == 1
    left = pd.read_csv(tmp_path / "summary.csv")
    assert sorted(left.model) == ["b", "c"] and not pred.exists()
    assert ev.forget(tmp_path, "08_x", "emodb") == 0


def test_inner_splits_never_train_on_one_class():
    """Five training actors, a single man: the split that leaves him out would train on women only."""
    from speechemo.models.classical import inner_splits

    actors = np.repeat([2, 3, 4, 6, 8], 10)  # actor 3 is the only man (RAVDESS: odd actors are men)
    y = np.where(actors == 3, "male", "female")
    splits = inner_splits(y, actors, 2)
    assert splits and all(set(y[tr]) == {"female", "male"} for tr, _ in splits)
    for tr, va in splits:
        assert not set(actors[tr]) & set(actors[va])
    # enough speakers of each class: every split is kept
    many = np.repeat([1, 2, 3, 4, 5, 6], 10)
    assert len(inner_splits(np.where(many % 2, "male", "female"), many, 2)) == 2


def test_per_voice_gives_every_clip_its_voices_majority_answer():
    files = [f"c{i}.wav" for i in range(8)]
    speakers = pd.Series(["A", "A", "A", "B", "B", "C", "C", "A"], index=files)
    true = ["female"] * 3 + ["male"] * 2 + ["female"] * 2 + ["male"]   # c7: voice A in another fold
    pred = ["female", "male", "female", "male", "male", "male", "female", "female"]
    folds = [1, 1, 1, 1, 1, 1, 1, 2]
    res = ev.CVResult(["female", "male"], pd.DataFrame(), pd.DataFrame(
        {"file": files, "fold": folds, "true": true, "pred": pred}), 3.0)
    v = ev.per_voice(res, speakers)
    # A (fold 1): 2 of 3 female -> all female; B: male; C: a tie -> the class listed first; A in fold 2 alone
    assert list(v.predictions.pred) == ["female"] * 3 + ["male"] * 2 + ["female"] * 2 + ["female"]
    assert v.folds.wa.tolist() == [1.0, 0.0] and v.fit_seconds == 0.0
    assert list(res.predictions.pred) == pred                                # the single-clip result is untouched
    with pytest.raises(KeyError, match="c0.wav"):
        ev.per_voice(res, speakers.drop("c0.wav"))


def test_gender_is_never_z_scored_within_a_voice():
    assert ev.removes_the_target("gender", "speaker")
    assert not ev.removes_the_target("emotion", "speaker") and not ev.removes_the_target("gender", "corpus")
