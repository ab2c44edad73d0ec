"""The deployed heads scored on a corpus they never saw (``deployment.unseen_corpus``): trained on
the other corpora only, scored on every clip of the held one over the shared classes, with the
augmentation rows of the training speakers only."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from speechemo.deployment import unseen_corpus
from speechemo.models import calibration
from speechemo.foundations import profiles


def _two_corpora(seed: int = 0):
    """Corpus a (6 RAVDESS actor ids, classes x/y/z) and corpus b (4 CREMA-D ids, x/y) in which the sign of
    column 0 means the opposite class: a head trained on a alone gets every clip of b wrong."""
    rng = np.random.default_rng(seed)
    rows = []
    for corpus, speakers, classes, sign in (("a", range(1, 7), "xyz", 1.0), ("b", range(1001, 1005), "xy", -1.0)):
        for s in speakers:
            for c in classes:
                for _ in range(5):
                    centre = {"x": 2.0, "y": -2.0, "z": 0.0}[c] * sign
                    rows.append((corpus, s, c, centre + 0.1 * rng.normal(), 4.0 * (c == "z") + 0.1 * rng.normal()))
    corpus, actors, y, c0, c1 = map(np.array, zip(*rows))
    return np.column_stack([c0, c1, rng.normal(size=len(y))]), y, actors, corpus


def test_held_out_corpus_is_never_trained_on_and_scored_on_shared_classes():
    X, y, actors, corpus = _two_corpora()
    budget = profiles.get("quick").training
    out = unseen_corpus.held_out_scores("ridge", X, y, actors, corpus, budget)
    assert set(out) == {"a", "b"}
    assert out["b"]["clips"] == (corpus == "b").sum()  # every clip of b, all of its classes shared
    assert out["a"]["clips"] == ((corpus == "a") & (y != "z")).sum()  # a's z has no counterpart in b
    assert set(k for k in out["b"] if k.startswith("recall_")) == {"recall_x", "recall_y"}
    assert out["b"]["wa"] == 0.0 and out["a"]["wa"] == 0.0  # the mapping flips: trained on the other side only


def test_augmentation_rows_of_the_training_speakers_only():
    X, y, actors, corpus = _two_corpora()
    budget = profiles.get("quick").training
    # copies of b's clips with a's mapping: if they leaked into training for held-out b, b would score well
    b = corpus == "b"
    extra = (X[b] * np.array([-1.0, 1.0, 1.0]), y[b], actors[b])
    out = unseen_corpus.held_out_scores("ridge", X, y, actors, corpus, budget, extra=extra)
    assert out["b"]["wa"] == 0.0
    assert unseen_corpus.held_out_scores("ridge", X, y, actors, None, budget) == {}  # one corpus: nothing held out
    t = unseen_corpus.table({"gender": out})
    assert list(t.columns[:2]) == ["head", "held_out"] and len(t) == 2


def test_trained_on_every_clip_of_the_other_corpora_as_the_deployed_head(monkeypatch):
    """The cross-validation cap (``max_train``) is not applied: the shipped head's final fit uses every
    clip, so the figure reported for it must too."""
    X, y, actors, corpus = _two_corpora()
    seen = []
    real = calibration.fit_head

    def spy(name, Xtr, ytr, *args, **kwargs):
        seen.append(len(ytr))
        return real(name, Xtr, ytr, *args, **kwargs)

    monkeypatch.setattr(calibration, "fit_head", spy)
    budget = replace(profiles.get("quick").training, max_train=8)
    unseen_corpus.held_out_scores("ridge", X, y, actors, corpus, budget)
    # held a: all 40 clips of b; held b: all 60 of a's x and y (a's z is not shared) -- not 8
    assert sorted(seen[:2]) == [(corpus == "b").sum(), ((corpus == "a") & (y != "z")).sum()] == [40, 60]


def test_the_suite_scores_each_recipe_on_the_unseen_corpus_with_its_own_training():
    """``robustness.unseen_corpus_predictions``: each candidate fitted clean and with its augmentation
    rows on the other corpus (at most ``max_train`` clips), every clip of the held one predicted. The
    copies of a's clips here carry b's mapping, so only the augmented recipe gets anything of b right
    -- the clean recipe's figure (what notebook 06 reports) says nothing about the augmented one."""
    import pandas as pd
    from speechemo.deployment import robustness

    X, y, actors, corpus = _two_corpora()
    names = {"x": "happy", "y": "sad", "z": "angry"}
    files = [f"{c}/{i}.wav" for i, c in enumerate(corpus)]
    meta = pd.DataFrame({"actor": actors, "emotion": [names[v] for v in y], "gender": "female"}, index=files)
    tables = {"whisper_base": pd.DataFrame(X, index=files)}
    a = corpus == "a"
    copies = pd.DataFrame(X[a] * np.array([-1.0, 1.0, 1.0]), index=[f"copy/{f}" for f in np.array(files)[a]])
    atable = pd.DataFrame({"file": copies.index, "source": np.array(files)[a]})
    cands = pd.DataFrame([{"task": "emotion", "model": "ridge", "features": "whisper_base", "normalisation": "none"}])
    budget = replace(profiles.get("quick").training, max_train=1000)
    pred = robustness.unseen_corpus_predictions(cands, tables, meta, corpus, budget, 1, False,
                                                augment=({"whisper_base": copies}, atable))
    assert set(pred.training) == {"clean", "augmented"}
    per = pred.groupby(["training", "held_out"]).file.nunique()
    assert per["clean", "b"] == per["augmented", "b"] == (~a).sum()  # every clip of b, once per recipe
    assert per["clean", "a"] == (a & (y != "z")).sum()
    t = robustness.unseen_corpus_table(pred).set_index("training")
    assert t.loc["clean", "loco_b"] == 0.0 and t.loc["augmented", "loco_b"] > 0.4
    assert t.loc["clean", "ua_loco"] == min(t.loc["clean", "loco_a"], t.loc["clean", "loco_b"])
    assert robustness.unseen_corpus_predictions(cands, tables, meta, None, budget, 1, False).empty


def test_the_suite_fits_each_recipe_on_every_clip_as_deployed(monkeypatch):
    """Not capped like the suite's fold fits: on the real union a 2,000-clip cap cost the clean
    whisper_base ridge 15 points CREMA-D -> RAVDESS and reordered the recipes."""
    import pandas as pd
    from speechemo.deployment import robustness

    X, y, actors, corpus = _two_corpora()
    seen = []
    real = calibration.fit_head
    monkeypatch.setattr(calibration, "fit_head", lambda name, Xtr, ytr, *a, **k: seen.append(len(ytr)) or
                        real(name, Xtr, ytr, *a, **k))
    files = [f"{c}/{i}.wav" for i, c in enumerate(corpus)]
    meta = pd.DataFrame({"actor": actors, "emotion": [{"x": "happy", "y": "sad", "z": "angry"}[v] for v in y],
                         "gender": "female"}, index=files)
    cands = pd.DataFrame([{"task": "emotion", "model": "ridge", "features": "whisper_base", "normalisation": "none"}])
    budget = replace(profiles.get("quick").training, max_train=8)
    robustness.unseen_corpus_predictions(cands, {"whisper_base": pd.DataFrame(X, index=files)}, meta, corpus, budget,
                                         1, False)
    assert sorted(seen[:2]) == [40, 60]  # every clip of b (held a), every shared clip of a (held b) -- not 8


def test_the_deployed_heads_as_deployed_score_is_the_suites_fit_of_its_recipe():
    """Notebook 07 reads a deployed single-clip head's as-deployed score from the suite's predictions
    of its recipe instead of fitting it again: the two must agree, per corpus and class."""
    import pandas as pd
    from speechemo.deployment import robustness
    from speechemo.protocol import evaluation as ev

    X, y, actors, corpus = _two_corpora()
    files = [f"{c}/{i}.wav" for i, c in enumerate(corpus)]
    meta = pd.DataFrame({"actor": actors, "emotion": [{"x": "happy", "y": "sad", "z": "angry"}[v] for v in y],
                         "gender": "female"}, index=files)
    row = pd.Series({"task": "emotion", "model": "ridge", "features": "whisper_base", "normalisation": "none"})
    budget = profiles.get("quick").training
    pred = robustness.unseen_corpus_predictions(pd.DataFrame([row]), {"whisper_base": pd.DataFrame(X, index=files)},
                                                meta, corpus, budget, 1, False)
    fitted = unseen_corpus.held_out_scores("ridge", X, ev.labels_for(meta, "emotion"), actors, corpus, budget, n_jobs=1)
    assert robustness.recipe_unseen_scores(pred, row) == fitted and set(fitted) == {"a", "b"}
    speaker = row.copy()
    speaker["normalisation"] = "speaker"  # not a recipe the suite scores: the notebook fits it itself
    assert robustness.recipe_unseen_scores(pred, speaker) == {}


def test_speaker_heads_are_scored_on_the_unseen_corpus_with_each_statistic():
    """``robustness.speaker_unseen_predictions``: each planned speaker head fitted on the other corpus
    with every voice normalised by its own clips, once per statistic (z-scored; only centred); the
    deployed statistic's scores are read from them (``head_unseen_scores``), not fitted again."""
    import pandas as pd
    from speechemo.analysis.probe import STATISTICS
    from speechemo.deployment import robustness
    from speechemo.protocol import evaluation as ev

    X, y, actors, corpus = _two_corpora()
    X = X * np.where(corpus == "b", 3.0, 1.0)[:, None] + np.where(corpus == "b", 5.0, 0.0)[:, None]  # b louder, offset
    files = [f"{c}/{i}.wav" for i, c in enumerate(corpus)]
    meta = pd.DataFrame({"actor": actors, "emotion": [{"x": "happy", "y": "sad", "z": "angry"}[v] for v in y],
                         "gender": "female"}, index=files)
    row = pd.Series({"task": "emotion", "model": "ridge", "features": "whisper_base", "normalisation": "speaker"})
    plan = [{"name": "emotion_speaker", "task": "emotion", "normalisation": "speaker", "row": row},
            {"name": "emotion", "task": "emotion", "normalisation": "none", "row": row.replace("speaker", "none")}]
    tables = {"whisper_base": pd.DataFrame(X, index=files)}
    budget = profiles.get("quick").training
    pred = robustness.speaker_unseen_predictions(plan, tables, meta, corpus, budget, 1, False)
    assert set(pred["head"]) == {"emotion_speaker"} and set(pred.statistic) == set(STATISTICS)
    assert (pred.groupby(["statistic", "held_out"]).file.nunique()["mean only", "b"]) == (corpus == "b").sum()
    labels = ev.labels_for(meta, "emotion")
    for stat, scale in STATISTICS.items():
        direct = unseen_corpus.held_out_scores("ridge", ev.speaker_normalise(X, actors, scale=scale), labels, actors,
                                               corpus, budget, n_jobs=1)
        assert robustness.head_unseen_scores({**plan[0], "statistic": stat}, pd.DataFrame(), pred) == direct
    assert robustness.speaker_unseen_predictions(plan, tables, meta, None, budget, 1, False).empty
    assert robustness.speaker_unseen_predictions(plan[1:], tables, meta, corpus, budget, 1, False).empty
    worst = unseen_corpus.worst_ua(pred, "statistic")
    assert set(worst) == set(STATISTICS) and all(0.0 <= v <= 1.0 for v in worst.values())


def test_one_answer_per_voice_is_the_argmax_of_its_clips_mean_probabilities():
    """As the app's overall answer for several clips of one voice: two clips narrowly female and one
    surely male make a male voice (a vote on the labels would say female)."""
    import pandas as pd
    from speechemo.protocol import evaluation as ev

    proba = pd.DataFrame({"female": [0.55, 0.55, 0.01, 0.9, 0.8], "male": [0.45, 0.45, 0.99, 0.1, 0.2]})
    out = ev.voice_scores(proba, np.array(["male", "male", "male", "female", "female"]), np.array([7, 7, 7, 8, 8]))
    assert out == {"voice_accuracy": 1.0, "voices": 2, "voice_recall_female": 1.0, "voice_recall_male": 1.0}


def test_the_deployed_gender_head_is_also_scored_per_voice_on_the_unseen_corpus():
    """``scores_by_corpus`` adds one answer per voice (mean probabilities) when every voice has one
    label, counted over voices; a task whose labels vary within a voice gets none."""
    import pandas as pd

    rows = []  # held-out corpus b: voice 1 (female) wrong on one clip of three, voice 2 (male) wrong on average
    for actor, truth, p_female in ((1, "female", (0.9, 0.8, 0.3)), (2, "male", (0.6, 0.7, 0.2))):
        rows += [{"held_out": "b", "actor": actor, "true": truth, "pred": "female" if p > 0.5 else "male",
                  "p_female": p, "p_male": 1 - p} for p in p_female]
    pred = pd.DataFrame(rows)
    out = unseen_corpus.scores_by_corpus(pred)["b"]
    assert out["wa"] == 3 / 6 and out["voices"] == 2
    assert out["voice_accuracy"] == 0.5 and out["voice_recall_female"] == 1.0 and out["voice_recall_male"] == 0.0
    emotion = pred.assign(true=["x", "y", "x", "y", "x", "y"])  # labels vary within a voice: no voice answer
    assert "voice_accuracy" not in unseen_corpus.scores_by_corpus(emotion)["b"]


def test_held_out_predictions_carry_each_clips_voice_and_calibrated_probabilities():
    X, y, actors, corpus = _two_corpora()
    gender = np.where(actors % 2 == 0, "female", "male")  # one label per voice
    pred = unseen_corpus.held_out_predictions("ridge", X, gender, actors, corpus, profiles.get("quick").training)
    assert {"actor", "p_female", "p_male"} <= set(pred.columns)
    assert np.allclose(pred[["p_female", "p_male"]].sum(axis=1), 1.0)
    assert (pred.actor.to_numpy() == actors[pred.row.to_numpy(int)]).all()
    out = unseen_corpus.scores_by_corpus(pred)
    assert out["b"]["voices"] == 4 and out["a"]["voices"] == 6
