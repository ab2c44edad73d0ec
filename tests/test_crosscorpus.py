"""Cross-corpus scoring: restricted predictions against scikit-learn, target-side normalisation,
and ``evaluate-bundle`` on a synthetic corpus in EmoDB's layout."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score

from speechemo.analysis import crosscorpus
from speechemo.foundations import profiles
from speechemo.foundations.labels import EMOTION_NAMES
from speechemo.data.synthetic import write_corpus_layout


def test_score_restricts_and_matches_sklearn():
    rng = np.random.default_rng(0)
    shared = ["neutral", "happy", "sad", "angry"]
    true = rng.choice(shared, 200)
    probs = rng.random((200, 8))
    out = crosscorpus.shared_class_scores(true, probs, EMOTION_NAMES, shared)
    pred = np.array(shared)[probs[:, [EMOTION_NAMES.index(c) for c in shared]].argmax(1)]
    assert set(out["pred"]) <= set(shared) and (out["pred"] == pred).all()
    assert out["ua"] == pytest.approx(balanced_accuracy_score(true, pred))
    assert out["wa"] == pytest.approx(accuracy_score(true, pred))
    assert list(out["recall"].values()) == pytest.approx(list(recall_score(true, pred, labels=shared, average=None)))
    assert np.array(out["confusion"]).sum() == 200


def test_target_normalisation_is_per_speaker():
    X = np.random.default_rng(1).normal(3, 2, size=(40, 5))
    spk = np.repeat(["a", "b"], 20)
    Z = crosscorpus.normalise_target(X, spk)
    assert np.allclose(Z[:20].mean(0), 0) and np.allclose(Z[20:].std(0), 1)
    assert np.allclose(crosscorpus.normalise_target(X, None).mean(0), 0)


def test_evaluate_bundle_cli(bundle_dir, tmp_path, capsys):
    root = write_corpus_layout("emodb", tmp_path / "emodb")
    crosscorpus.evaluate_cli(["--corpus", "emodb", str(root), "--bundle", str(bundle_dir)])
    out = json.loads(capsys.readouterr().out)
    assert out["shared_classes"] == ["neutral", "happy", "sad", "angry", "fearful", "disgust"]
    assert any("unreadable" in line for line in out["integrity"]) and any("boredom" in line for line in out["integrity"])
    assert out["emotion"]["n"] == 4 * 6 - 1  # 4 speakers x 6 shared emotions, one corrupt file
    assert 0 <= out["emotion"]["ua"] <= 1 and len(out["emotion"]["confusion"]) == 6
    assert out["gender"]["n"] == out["emotion"]["n"] and out["bundle_dataset"] == "synthetic"
    with pytest.raises(SystemExit) as ex:
        crosscorpus.evaluate_cli(["--corpus", "emodb", str(tmp_path / "missing"), "--bundle", str(bundle_dir)])
    assert ex.value.code == 2 and "no such folder" in json.loads(capsys.readouterr().out)["error"]


def test_class_scores_for_binary_and_multiclass_models():
    from sklearn.preprocessing import LabelEncoder

    from speechemo.models import classical

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    actors = np.repeat(np.arange(1, 9), 10)
    for name, labels in (("svm_rbf", ["female", "male"]), ("logreg", ["happy", "sad", "angry"])):
        y = np.array(labels)[np.arange(80) % len(labels)]
        est, enc = classical.fit(name, X + (np.arange(80) % len(labels))[:, None], y, actors,
                                 profiles.get("quick").training, n_jobs=1)
        s = crosscorpus.class_scores(est, enc, X[:5], ["female", "male"] if len(labels) == 2 else EMOTION_NAMES)
        assert s.shape == (5, len(labels) if len(labels) == 2 else 8) and np.isfinite(s).sum() == 5 * len(labels)
        assert isinstance(enc, LabelEncoder)


def test_gender_on_a_one_gender_corpus_is_scored_over_both_classes(tmp_path, monkeypatch):
    """TESS is all female: a gender head that calls 3 of its clips male must score WA < 1 (the
    argmax is never restricted to the genders present, as it is for shared emotions)."""
    import pandas as pd

    from speechemo.serving import inference

    root = write_corpus_layout("tess", tmp_path / "tess")

    class FakeBundle:  # the two heads' probabilities, fixed per clip: no encoder needed
        dataset = "synthetic"
        spec = {"tasks": {"emotion": {"single": "e"}}}
        heads = {"e": {"labels": list(EMOTION_NAMES)}}

        def __init__(self, _dir):
            pass

    def fake_predictions(bundle, table, progress=False):
        n = len(table)
        male = np.arange(n) < 3  # three clips called male
        rows = {f"emotion_{c}": np.full(n, 1 / 8) for c in EMOTION_NAMES}
        rows.update(gender_female=np.where(male, 0.2, 0.9), gender_male=np.where(male, 0.8, 0.1))
        return pd.DataFrame(rows, index=pd.Index(table["file"], name="file")), []

    monkeypatch.setattr(inference, "Bundle", FakeBundle)
    monkeypatch.setattr(crosscorpus, "bundle_predictions", fake_predictions)
    out = crosscorpus.evaluate_bundle("unused", "tess", str(root))
    n = out["gender"]["n"]
    assert n > 3 and out["gender"]["wa"] == pytest.approx((n - 3) / n)
    assert out["gender"]["confusion"] == [[n - 3, 3], [0, 0]]  # both classes, female row only


def test_scored_classes_rule():
    assert crosscorpus.scored_classes("gender", ["female", "male"], ["female"]) == ["female", "male"]
    assert crosscorpus.scored_classes("emotion", EMOTION_NAMES, ["sad", "angry"]) == ["sad", "angry"]


def test_target_rows_say_what_trained_them():
    assert crosscorpus.target_name("emodb", "ravdess", False) == "emodb"
    assert crosscorpus.target_name("emodb", "ravdess+cremad", False) == "emodb"  # a real union is real
    assert crosscorpus.target_name("emodb", "synthetic", True) == "emodb-synthetic"
    assert crosscorpus.target_name("cremad", "ravdess+cremad", False) == "cremad-target"  # its speakers trained it


def test_models_to_retrain_are_models_never_a_choice_per_fold():
    import pandas as pd

    base = {"dataset": "ravdess", "protocol": "speaker_independent", "normalisation": "none", "notebook": "06_x"}
    summary = pd.DataFrame([dict(base, task="emotion", model="nested_choice", features="chosen_per_fold@06", ua=0.80),
                            dict(base, task="emotion", model="ridge", features="whisper_base", ua=0.77),
                            dict(base, task="emotion", model="ridge", features="whisper_base_mean", ua=0.76),
                            dict(base, task="emotion", model="ridge", features="whisper_base", ua=0.90, normalisation="speaker"),
                            dict(base, task="gender", model="ridge", features="whisper_base", ua=0.99, notebook="03_y"),
                            dict(base, task="sentiment", model="ridge", features="whisper_base", ua=0.85)])
    chosen = crosscorpus.models_to_retrain(summary, "ravdess", ["06_x", "03_y"])
    assert sorted(zip(chosen.task, chosen.model, chosen.features)) == [("emotion", "ridge", "whisper_base"),
                                                                       ("gender", "ridge", "whisper_base")]
    assert crosscorpus.models_to_retrain(summary, "ravdess", ["06_x"]).task.tolist() == ["emotion"]


def test_target_rows_name_the_training_and_the_tested_corpora(tmp_path):
    """A row of notebook 08 says which corpora trained it (the workbook's dataset) and which tested it
    (the target), not the target on both sides."""
    from speechemo.data.download import DatasetInfo
    from speechemo.foundations.paths import Layout
    from speechemo.protocol import evaluation as ev
    from speechemo.workbook import steps

    lay = Layout(tmp_path, tmp_path / "data", tmp_path / "outputs")
    lay.results.mkdir(parents=True)
    ctx = steps.Context(lay, DatasetInfo("ravdess", str(tmp_path), "here"), "quick", profiles.get("quick"))
    true = np.array(["sad", "angry", "sad", "happy"])
    probs = np.eye(8)[[EMOTION_NAMES.index(c) for c in ("sad", "angry", "happy", "happy")]]
    scored = crosscorpus.score_approach(crosscorpus.Approach("(b) retrained", "emotion", "ridge", "x"), true, probs,
                                        EMOTION_NAMES, ["happy", "sad", "angry"], ["a", "b", "c", "d"])
    steps.record_cross_corpus(ctx, [scored], "cremad", "08_cross_corpus")
    row = ev.load_summary(lay.results).iloc[0]
    assert (row.dataset, row.train_corpora, row.test_corpora) == ("cremad", "ravdess", "cremad")
    assert row.protocol == crosscorpus.PROTOCOL and row.ua == pytest.approx((0.5 + 1 + 1) / 3)
