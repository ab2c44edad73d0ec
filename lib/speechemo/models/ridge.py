"""A ridge classifier for wide embeddings (thousands of columns, about a thousand clips), with its
penalty chosen by nested, actor-grouped cross-validation on the training data only.

With fewer clips than columns, the ridge solution lies in the span of the training rows, so it
is solved in the dual. The Gram matrix of the training rows is computed once per ``fit`` and shared
by the nested search (each inner split is a block of it, re-centred) and the final fit; each
penalty of the grid costs one Cholesky factorisation. Targets are one-vs-all +-1 (as
scikit-learn's ``RidgeClassifier``), clips are weighted so that every class counts the same, and
columns are standardised with the statistics of the training rows given to ``fit`` (labels unused).
``decision_function`` gives
one score per class; ``predict_proba`` a softmax of the scores divided by a temperature fitted by
nested CV on the training data only (see ``numeric.fit_temperature``).

The Gram matrix and the factorisations are computed in single precision (``single=True``): they are
the whole cost of a fit, and single precision halved a lone fit on 6,211 clips (16.4 -> 8.5 s, one
machine, one after the other; less with two fits at a time); ``tests/test_ridge_probe.py`` keeps the
answers equal to double precision's. The smallest penalty of the grid keeps every system far from
singular (a factorisation that fails says so and how to ask for double precision). The means,
scales, targets, weights and the final weights are kept in double precision.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupKFold
from sklearn.utils.class_weight import compute_sample_weight

from speechemo.foundations.numeric import balanced_accuracy, fit_temperature, softmax

DEFAULT_ALPHAS = (300.0, 1000.0, 3000.0, 10000.0, 30000.0)


class _Gram:
    """The standardised rows of one training set and their Gram matrix, computed once and shared
    by every inner split and penalty (columns are standardised with the statistics of all the
    rows given to ``fit``: training rows only, labels unused)."""

    def __init__(self, X: np.ndarray, scale: np.ndarray | None = None, dtype=np.float32):
        self.mu = X.mean(axis=0)
        sd = X.std(axis=0)
        self.sd = np.where(sd > 1e-12, sd, 1.0) / (1.0 if scale is None else scale)
        self.Z = ((X - self.mu) / self.sd).astype(dtype, copy=False)
        self.G = self.Z @ self.Z.T

    def solve(self, rows: np.ndarray, Y: np.ndarray, w: np.ndarray, alphas) -> "_Solution":
        """Weighted, centred ridge on ``rows`` for every penalty: one Cholesky factorisation of
        the (n_rows, n_rows) system per penalty (cheaper than an eigendecomposition for a few)."""
        wn = w / w.sum()
        Gs = self.G[np.ix_(rows, rows)]
        g = Gs @ wn.astype(Gs.dtype)     # each row's product with the weighted mean row
        s = float(wn @ g)                # the weighted mean row's squared norm
        d = np.sqrt(w).astype(Gs.dtype)
        A = Gs - g[:, None]              # centred and weighted in place (an n x n matrix per split)
        A -= g[None, :]
        A += Gs.dtype.type(s)
        A *= d[:, None]
        A *= d[None, :]
        ybar = wn @ Y
        R = d[:, None] * (Y - ybar)
        return _Solution(self, rows, wn, g, s, ybar, [d[:, None] * _solve(A, alpha, R) for alpha in alphas])


def _solve(A: np.ndarray, alpha: float, R: np.ndarray) -> np.ndarray:
    """``(A + alpha I)^-1 R`` by Cholesky, in ``A``'s precision, returned in double."""
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    M = A.copy()  # A is shared by every penalty
    M[np.diag_indices_from(M)] += alpha
    try:
        factor = cho_factor(M, overwrite_a=True, check_finite=False)
    except LinAlgError as e:
        raise LinAlgError(f"ridge system with penalty {alpha} is not positive definite in {A.dtype}: use larger "
                          "penalties, or DualRidgeClassifier(single=False) for double precision") from e
    return cho_solve(factor, R.astype(A.dtype), check_finite=False).astype(np.float64)


class _Solution:
    """Dual coefficients of one weighted, centred fit, per penalty, and how to score new rows."""

    def __init__(self, gram: _Gram, rows, wn, g, s, ybar, duals):
        self.gram, self.rows, self.wn, self.g, self.s, self.ybar, self.duals = gram, rows, wn, g, s, ybar, duals

    def scores(self, other: np.ndarray) -> list[np.ndarray]:
        """Decision scores of the gram's rows ``other`` for every penalty."""
        Gx = self.gram.G[np.ix_(other, self.rows)]
        Kx = Gx - (Gx @ self.wn)[:, None] - self.g[None, :] + self.s
        return [Kx @ dual + self.ybar for dual in self.duals]

    def primal(self, i: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Weights and intercept on the raw columns for penalty ``i`` (no training data needed)."""
        gm, dual = self.gram, self.duals[i]
        Zr = gm.Z[self.rows]
        zbar = self.wn @ Zr
        coef = ((Zr.T @ dual - np.outer(zbar, dual.sum(axis=0))) / gm.sd[:, None]).T
        return coef, self.ybar - coef @ (gm.mu + zbar * gm.sd)


class DualRidgeClassifier(ClassifierMixin, BaseEstimator):
    """Ridge classifier; ``alpha`` chosen by nested CV over groups (actors) from ``alphas``."""

    def __init__(self, alphas: tuple[float, ...] = DEFAULT_ALPHAS, inner_folds: int = 3,
                 balanced: bool = True, blocks: tuple[int, ...] | None = None, single: bool = True):
        self.alphas = alphas
        self.inner_folds = inner_folds
        self.balanced = balanced
        self.blocks = blocks
        self.single = single

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

    def inner_scores(self, gram: _Gram, y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold decision scores for every alpha: ``(alphas, n, classes)``, and the rows'
        fold ids -- all fitted on the other groups of the training data only."""
        n_groups = len(np.unique(groups))
        out = np.zeros((len(self.alphas), len(y), len(self.classes_)))
        fold_id = np.zeros(len(y), int)
        splits = GroupKFold(n_splits=min(self.inner_folds, n_groups)).split(np.zeros(len(y)), y, groups)
        for k, (tr, va) in enumerate(splits):
            sol = gram.solve(tr, self._targets(y[tr]), self._weights(y[tr]), self.alphas)
            for i, sc in enumerate(sol.scores(va)):
                out[i, va] = sc
            fold_id[va] = k
        return out, fold_id

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None):
        X = np.asarray(X, np.float64)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        gram = _Gram(X, self._scale(X.shape[1]), np.float32 if self.single else np.float64)
        if len(self.alphas) > 1 and groups is not None and len(np.unique(groups)) > 1:
            oof, _ = self.inner_scores(gram, y, np.asarray(groups))
            self.cv_ua_ = np.array([balanced_accuracy(y, self.classes_[o.argmax(1)]) for o in oof])
            best = int(np.argmax(self.cv_ua_))
            self.alpha_ = float(self.alphas[best])
            self.temperature_ = fit_temperature(oof[best], np.searchsorted(self.classes_, y))
        else:
            self.alpha_ = float(self.alphas[0])
            self.temperature_ = 1.0
        everything = np.arange(len(y))
        sol = gram.solve(everything, self._targets(y), self._weights(y), (self.alpha_,))
        self.coef_, self.intercept_ = sol.primal()  # prediction needs no training data
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, np.float64) @ self.coef_.T + self.intercept_

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(1)]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(self.decision_function(X) / self.temperature_)
