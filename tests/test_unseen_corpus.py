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
