"""Calibration: linear maps equal the fitted pipelines, ECE by hand, temperature from training actors."""
from __future__ import annotations

import numpy as np
import pytest

from speechemo.models import calibration, classical
from speechemo.foundations import profiles


def _data(k: int, n: int = 240, d: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.array([f"c{i}" for i in rng.integers(0, k, n)])
    X = rng.normal(size=(n, d)) + 1.5 * np.eye(max(k, d))[[int(c[1:]) for c in y], :d]
    actors = np.repeat(np.arange(1, 9), n // 8)
    return X * 3 + 5, y, actors


@pytest.mark.parametrize("name, k", [("logreg", 2), ("logreg", 4), ("ridge", 3)])
def test_linear_map_reproduces_the_fitted_model(name, k):
    X, y, actors = _data(k)
    est, enc = classical.fit(name, X, y, actors, profiles.get("quick").training, n_jobs=1)
    W, b = calibration.linear_map(est)
    logits = X @ W.T + b
    assert (enc.inverse_transform(logits.argmax(1)) == enc.inverse_transform(est.predict(X))).all()
    if name == "logreg":
        np.testing.assert_allclose(calibration.softmax(logits), est.predict_proba(X), atol=1e-8)


def test_ece_by_hand():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.45, 0.55]])
    y = np.array([0, 1, 1, 1])
    # bins of width 1/15: 0.9 (right), 0.8 (wrong), 0.7 (right), 0.55 (right) each alone
    expected = (abs(1 - 0.9) + abs(0 - 0.8) + abs(1 - 0.7) + abs(1 - 0.55)) / 4
    assert calibration.ece(probs, y) == pytest.approx(expected)
    assert calibration.ece(np.eye(3)[[0, 1, 2]], np.array([0, 1, 2])) == pytest.approx(0.0)


def test_temperature_cools_an_overconfident_head_and_lowers_ece():
    X, y, actors = _data(4, n=480, d=40, seed=1)
    X = X + np.random.default_rng(2).normal(scale=4, size=X.shape)  # noisy: plain LR is overconfident
    oof, heads = calibration.out_of_fold("logreg", X, y, actors, profiles.get("quick").training,
                                         ["c0", "c1", "c2", "c3"], n_jobs=1, progress=False)
    assert len(heads) == 6 and sorted(oof.row) == list(range(len(y)))
    e = calibration.ece_table(oof, ["c0", "c1", "c2", "c3"])
    assert e["ece_after"] < e["ece_before"]
    assert all(h.temperature > 1 for _, h in heads)  # fitted on the training actors, each fold its own


def test_augmentation_rows_only_of_the_training_actors():
    X, y, a = np.zeros((4, 2)), np.array(["x", "y", "x", "y"]), np.array([1, 1, 2, 2])
    extra = (np.ones((3, 2)), np.array(["x", "y", "x"]), np.array([1, 3, 2]))
    Xa, ya, aa = calibration.with_extra(X, y, a, extra)
    assert len(Xa) == 6 and aa.tolist() == [1, 1, 2, 2, 1, 2] and ya[-2:].tolist() == ["x", "x"]
    assert calibration.with_extra(X, y, a, None)[0] is X
