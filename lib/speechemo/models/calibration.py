"""Confidence that means what it says: linear heads with a softmax temperature fitted by nested CV
on training actors only, expected calibration error (ECE) and reliability tables.

A deployed head is linear on the pooled features (ridge or logistic regression, standardisation
folded into the weights): ``logits = X @ W.T + b``; probabilities are ``softmax(logits / T)``.
``T`` is fitted on out-of-fold logits of the *training* actors (inner groups), never on the
speakers the head is scored on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from speechemo.models import classical
from speechemo.protocol import evaluation as ev
from speechemo.foundations.numeric import fit_temperature, softmax

ECE_BINS = 15


def linear_map(est) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)`` of a fitted linear pipeline (scaler + logistic regression, or the dual ridge) on
    the raw columns, one row per class of ``est.classes_`` order (binary: ``[0, z]``)."""
    est = getattr(est, "best_estimator_", est)
    steps = dict(est.steps) if hasattr(est, "steps") else {"model": est}
    model = steps["model"]
    W, b = np.atleast_2d(np.asarray(model.coef_, np.float64)), np.atleast_1d(np.asarray(model.intercept_, np.float64))
    if "scale" in steps:  # z = (x - mean) / scale  ->  fold into the weights
        sc = steps["scale"]
        W = W / sc.scale_[None, :]
        b = b - W @ sc.mean_
    if W.shape[0] == 1:  # binary logistic regression: softmax([0, z]) == sigmoid(z)
        W = np.vstack([np.zeros_like(W), W])
        b = np.concatenate([[0.0], b])
    return W, b


@dataclass
class LinearHead:
    """A fitted, calibrated head: classes in the task's order, weights on raw columns, temperature."""

    classes: list[str]
    W: np.ndarray
    b: np.ndarray
    temperature: float = 1.0

    def logits(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, np.float64) @ self.W.T + self.b

    def proba(self, X: np.ndarray, calibrated: bool = True) -> np.ndarray:
        return softmax(self.logits(X) / (self.temperature if calibrated else 1.0))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes)[self.logits(X).argmax(1)]


def _fit_linear(name: str, X: np.ndarray, y: np.ndarray, actors: np.ndarray, budget, order: list[str],
                params: dict | None, n_jobs: int) -> tuple[LinearHead, object]:
    est, enc = classical.fit(name, X, y, actors, budget, n_jobs=n_jobs, params=params)
    W, b = linear_map(est)
    classes = [c for c in order if c in set(enc.classes_)]
    idx = [list(enc.classes_).index(c) for c in classes]
    return LinearHead(classes, W[idx], b[idx]), est


def with_extra(X: np.ndarray, y: np.ndarray, actors: np.ndarray, extra: tuple | None):
    """These rows plus the augmentation rows ``extra = (X, y, actors)`` of the same actors only."""
    if extra is None:
        return X, y, actors
    keep = np.isin(extra[2], actors)
    return (np.vstack([X, extra[0][keep]]), np.concatenate([y, extra[1][keep]]),
            np.concatenate([actors, extra[2][keep]]))


def fit_head(name: str, X: np.ndarray, y: np.ndarray, actors: np.ndarray, budget, order: list[str],
             params: dict | None = None, n_jobs: int = 2, extra: tuple | None = None) -> LinearHead:
    """Fit ``name`` (``ridge``, ``logreg``, ``logreg_cv``) on these rows and its temperature on
    out-of-fold logits over groups of these actors (the ridge already fits it that way inside).
    ``extra``: augmentation rows (perturbed copies), of which those of these actors are added."""
    X, y, actors = with_extra(X, y, actors, extra)
    head, est = _fit_linear(name, X, y, actors, budget, order, params, n_jobs)
    model = getattr(est, "best_estimator_", est)
    model = dict(model.steps)["model"] if hasattr(model, "steps") else model
    if hasattr(model, "temperature_"):
        head.temperature = float(model.temperature_)
        return head
    groups = ev.inner_groups(actors, budget.inner_folds)
    logits = np.zeros((len(y), len(head.classes)))
    covered = np.zeros(len(y), bool)
    for g in np.unique(groups):
        tr, va = groups != g, groups == g
        if len(np.unique(y[tr])) < 2:  # e.g. two actors of one gender: nothing to learn there
            continue
        inner, _ = _fit_linear(name, X[tr], y[tr], actors[tr], budget, head.classes, params, n_jobs)
        cols = [head.classes.index(c) for c in inner.classes]
        logits[np.ix_(va, cols)] = inner.logits(X[va])
        logits[np.ix_(va, [i for i in range(len(head.classes)) if i not in cols])] = -1e9
        covered |= va
    if covered.any():  # else no inner split can be fitted: the temperature stays 1
        y_idx = np.array([head.classes.index(c) for c in y[covered]])
        head.temperature = fit_temperature(logits[covered], y_idx)
    return head


def out_of_fold(name: str, X: np.ndarray, y: np.ndarray, actors: np.ndarray, budget, order: list[str],
                params: dict | None = None, n_jobs: int = 2, progress: bool = True, extra: tuple | None = None
                ) -> tuple[pd.DataFrame, list[tuple[np.ndarray, LinearHead]]]:
    """The six speaker-independent folds: per test clip its fold, true class and probabilities
    before (T = 1) and after calibration; and each fold's (test rows, head) for re-scoring. Each
    fold trains on at most ``budget.max_train`` clips (``evaluation.cap_per_speaker``)."""
    from tqdm import tqdm

    rows, heads = [], []
    for fold, (tr, te) in enumerate(tqdm(ev.speaker_folds(actors), desc=f"calibration {name}",
                                         disable=not progress), 1):
        tr = ev.cap_per_speaker(tr, actors, y, budget.max_train)
        head = fit_head(name, X[tr], y[tr], actors[tr], budget, order, params, n_jobs, extra)
        heads.append((te, head))
        raw, cal = head.proba(X[te], calibrated=False), head.proba(X[te])
        for i, r in enumerate(te):
            rows.append({"row": int(r), "fold": fold, "true": y[r], "temperature": head.temperature,
                         **{f"raw_{c}": raw[i, j] for j, c in enumerate(head.classes)},
                         **{f"cal_{c}": cal[i, j] for j, c in enumerate(head.classes)}})
    return pd.DataFrame(rows), heads


def probabilities(oof: pd.DataFrame, classes: list[str], which: str) -> np.ndarray:
    """The ``raw`` or ``cal`` probability matrix of an ``out_of_fold`` table (missing classes 0)."""
    return np.stack([oof[f"{which}_{c}"].to_numpy() if f"{which}_{c}" in oof else np.zeros(len(oof))
                     for c in classes], axis=1)


def reliability(probs: np.ndarray, y_idx: np.ndarray, bins: int = ECE_BINS) -> pd.DataFrame:
    """Per confidence bin (equal width on [0, 1]): clips, mean confidence, accuracy."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    for k in range(bins):
        m = which == k
        rows.append({"bin": k, "lo": edges[k], "hi": edges[k + 1], "n": int(m.sum()),
                     "confidence": float(conf[m].mean()) if m.any() else np.nan,
                     "accuracy": float((pred[m] == y_idx[m]).mean()) if m.any() else np.nan})
    return pd.DataFrame(rows)


def ece(probs: np.ndarray, y_idx: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: the clip-weighted mean |accuracy - confidence| over bins."""
    t = reliability(probs, y_idx, bins).dropna()
    return float((t.n * (t.accuracy - t.confidence).abs()).sum() / max(1, t.n.sum()))


def ece_table(oof: pd.DataFrame, classes: list[str], bins: int = ECE_BINS) -> dict[str, float]:
    """ECE before and after calibration on the out-of-fold clips, and the fold std of each."""
    y_idx = np.array([classes.index(c) for c in oof["true"]])
    out = {}
    for which, label in (("raw", "before"), ("cal", "after")):
        p = probabilities(oof, classes, which)
        per_fold = [ece(p[(oof.fold == f).to_numpy()], y_idx[(oof.fold == f).to_numpy()], bins)
                    for f in sorted(oof.fold.unique())]
        out[f"ece_{label}"] = ece(p, y_idx, bins)
        out[f"ece_{label}_std"] = float(np.std(per_fold))
    return out
