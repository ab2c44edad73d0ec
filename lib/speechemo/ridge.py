"""A ridge classifier for wide embeddings (thousands of columns, about a thousand clips), with its
penalty chosen by nested, actor-grouped cross-validation on the training data only.

With fewer clips than columns, the ridge solution lies in the span of the training rows, so it
is solved in the dual: one eigendecomposition of the (weighted, centred) Gram matrix serves every
penalty of the grid at once. Targets are one-vs-all +-1 (as scikit-learn's ``RidgeClassifier``),
clips are weighted so that every class counts the same, and columns are standardised with the
statistics of the rows being fitted (inside each inner split too). ``decision_function`` gives
one score per class; ``predict_proba`` a softmax of the scores divided by a temperature fitted by
nested CV on the training data only (see ``fit_temperature``).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupKFold
from sklearn.utils.class_weight import compute_sample_weight

DEFAULT_ALPHAS = (300.0, 1000.0, 3000.0, 10000.0, 30000.0)


def _balanced_ua(y: np.ndarray, pred: np.ndarray) -> float:
    classes = np.unique(y)
    return float(np.mean([(pred[y == c] == c).mean() for c in classes]))


class _DualSolver:
    """Standardise, centre (weighted) and eigendecompose the Gram matrix of one training set."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, w: np.ndarray, scale: np.ndarray | None = None):
        self.mu = X.mean(axis=0)
        sd = X.std(axis=0)
        self.sd = np.where(sd > 1e-12, sd, 1.0) / (1.0 if scale is None else scale)
        Z = (X - self.mu) / self.sd
        self.w = w / w.sum()
        self.zbar = self.w @ Z
        self.ybar = self.w @ Y
        self.Zc = Z - self.zbar
        d = np.sqrt(w)
        self.d = d
        K = (self.Zc @ self.Zc.T) * d[:, None] * d[None, :]
        self.lam, self.Q = np.linalg.eigh(K)
        self.lam = np.maximum(self.lam, 0.0)
        self.R = self.Q.T @ (d[:, None] * (Y - self.ybar))

    def dual(self, alpha: float) -> np.ndarray:
        """Dual coefficients ``(n, classes)`` for penalty ``alpha``."""
        return self.d[:, None] * (self.Q @ (self.R / (self.lam + alpha)[:, None]))

    def project(self, X: np.ndarray) -> np.ndarray:
        """Gram rows between new data and the (centred) training rows."""
        return (((X - self.mu) / self.sd) - self.zbar) @ self.Zc.T

    def scores(self, Kx: np.ndarray, alpha: float) -> np.ndarray:
        return Kx @ self.dual(alpha) + self.ybar


class DualRidgeClassifier(ClassifierMixin, BaseEstimator):
    """Ridge classifier; ``alpha`` chosen by nested CV over groups (actors) from ``alphas``."""

    def __init__(self, alphas: tuple[float, ...] = DEFAULT_ALPHAS, inner_folds: int = 3,
                 balanced: bool = True, blocks: tuple[int, ...] | None = None):
        self.alphas = alphas
        self.inner_folds = inner_folds
        self.balanced = balanced
        self.blocks = blocks

    def _scale(self, n_columns: int) -> np.ndarray | None:
        """Column weights that give every block (e.g. encoder columns, prosodic functionals) the
        same total variance after standardisation, whatever its width (a fixed rule, not tuned)."""
        if not self.blocks:
            return None
        if sum(self.blocks) != n_columns:
            raise ValueError(f"blocks {self.blocks} do not add up to the {n_columns} columns")
        return np.concatenate([np.full(b, np.sqrt(n_columns / (len(self.blocks) * b))) for b in self.blocks])

    def _targets(self, y: np.ndarray) -> np.ndarray:
        Y = -np.ones((len(y), len(self.classes_)))
        Y[np.arange(len(y)), np.searchsorted(self.classes_, y)] = 1.0
        return Y

    def _weights(self, y: np.ndarray) -> np.ndarray:
        return compute_sample_weight("balanced", y) if self.balanced else np.ones(len(y))

    def inner_scores(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold decision scores for every alpha: ``(alphas, n, classes)``, and the rows'
        fold ids -- all fitted on the other groups of the training data only."""
        n_groups = len(np.unique(groups))
        out = np.zeros((len(self.alphas), len(y), len(self.classes_)))
        fold_id = np.zeros(len(y), int)
        for k, (tr, va) in enumerate(GroupKFold(n_splits=min(self.inner_folds, n_groups)).split(X, y, groups)):
            s = _DualSolver(X[tr], self._targets(y[tr]), self._weights(y[tr]), self._scale(X.shape[1]))
            Kx = s.project(X[va])
            for i, a in enumerate(self.alphas):
                out[i, va] = s.scores(Kx, a)
            fold_id[va] = k
        return out, fold_id

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None):
        X = np.asarray(X, np.float64)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.alphas) > 1 and groups is not None and len(np.unique(groups)) > 1:
            oof, _ = self.inner_scores(X, y, np.asarray(groups))
            self.cv_ua_ = np.array([_balanced_ua(y, self.classes_[o.argmax(1)]) for o in oof])
            best = int(np.argmax(self.cv_ua_))
            self.alpha_ = float(self.alphas[best])
            self.temperature_ = fit_temperature(oof[best], np.searchsorted(self.classes_, y))
        else:
            self.alpha_ = float(self.alphas[0])
            self.temperature_ = 1.0
        s = _DualSolver(X, self._targets(y), self._weights(y), self._scale(X.shape[1]))
        # primal weights, so prediction needs no training data: w = Zc^T dual / sd
        self.coef_ = ((s.Zc.T @ s.dual(self.alpha_)) / s.sd[:, None]).T
        self.intercept_ = s.ybar - self.coef_ @ (s.mu + s.zbar * s.sd)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, np.float64) @ self.coef_.T + self.intercept_

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(1)]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(self.decision_function(X) / self.temperature_)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, y_idx: np.ndarray, grid: np.ndarray | None = None) -> float:
    """The temperature T minimising the log-loss of ``softmax(scores / T)`` on held-out scores."""
    grid = np.exp(np.linspace(np.log(0.01), np.log(10.0), 121)) if grid is None else grid
    losses = [-np.mean(np.log(softmax(scores / t)[np.arange(len(y_idx)), y_idx] + 1e-12)) for t in grid]
    return float(grid[int(np.argmin(losses))])
