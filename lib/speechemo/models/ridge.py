"""A ridge classifier for wide embeddings (thousands of columns, about a thousand clips), with its
penalty chosen by nested, actor-grouped cross-validation on the training data only.

With fewer clips than columns, the ridge solution lies in the span of the training rows, so it
is solved in the dual: the Gram matrix of the training rows is computed once per ``fit`` and
shared by the nested search (each inner split is a block of it, re-centred) and the final fit;
each penalty of the grid costs one Cholesky factorisation. With more clips than columns (a union
of corpora on a few thousand columns) the same weighted, centred system is solved in the primal,
on each split's scatter matrix of the columns, one Cholesky factorisation per penalty too
(``solver="auto"`` picks the one with fewer multiply-adds; both give the same answers, which
``tests/test_ridge_probe.py`` checks). Targets are one-vs-all +-1 (as scikit-learn's
``RidgeClassifier``), clips are weighted so that every class counts the same (with ``strata``, the
corpus of each clip: every corpus x class cell, and the penalty is then chosen by the mean of each
corpus's inner UA, so that a corpus of 1,440 clips counts as much as one of 7,442), and columns are
standardised with the statistics of the training rows given to ``fit`` (labels unused).
``decision_function`` gives one score per class; ``predict_proba`` a softmax of the scores divided
by a temperature fitted by nested CV on the training data only (see ``numeric.fit_temperature``).

``kernel="rbf"`` turns it into kernel ridge with a Gaussian kernel ``exp(-|z - z'|^2 / w)`` on the
standardised rows, ``w`` the median squared distance between training rows (the textbook median
heuristic, a fixed rule, not tuned): the same dual system with the kernel in place of the Gram
matrix, its penalty from ``RBF_ALPHAS`` by the same nested CV. It is not linear in the columns, so
prediction keeps the standardised training rows (about 200 MB for 7,000 clips of 7,168 columns):
an evaluation model, not one the bundle deploys (``deployment.export.DEPLOYABLE_MODELS``).

The Gram (or scatter) matrix and the factorisations are computed in single precision
(``single=True``): they are the whole cost of a fit, and single precision halved a lone fit on
6,211 clips (16.4 -> 8.5 s, one machine, one after the other; less with two fits at a time);
``tests/test_ridge_probe.py`` keeps the answers equal to double precision's. The smallest penalty
of the grid keeps every system far from singular (a factorisation that fails says so and how to
ask for double precision). The means, scales, targets, weights and the final weights are kept in
double precision.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupKFold
from speechemo.foundations.numeric import cell_weights, fit_temperature, softmax, stratum_balanced_accuracy

DEFAULT_ALPHAS = (300.0, 1000.0, 3000.0, 10000.0, 30000.0)
RBF_ALPHAS = (0.1, 0.3, 1.0, 3.0)  # a Gaussian kernel's entries are at most 1: penalties on its scale
KERNELS = ("linear", "rbf")
SOLVERS = ("auto", "dual", "primal")  # auto: the one with fewer multiply-adds (solve_costs)
MEDIAN_ROWS = 1500  # rows whose pairwise distances give the kernel width (evenly spaced, deterministic)


class _Standardised:
    """The rows of one training set standardised with their own statistics (training rows only,
    labels unused), each column then weighted by ``scale``."""

    def __init__(self, X: np.ndarray, scale: np.ndarray | None = None, dtype=np.float32):
        self.mu = X.mean(axis=0)
        sd = X.std(axis=0)
        self.sd = np.where(sd > 1e-12, sd, 1.0) / (1.0 if scale is None else scale)
        self.Z = ((X - self.mu) / self.sd).astype(dtype, copy=False)

    def raw(self, W: np.ndarray, zbar: np.ndarray, ybar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights ``W`` (columns x classes) of scores ``(z - zbar) W + ybar`` on standardised rows,
        as weights and intercept on the raw columns."""
        coef = (W / self.sd[:, None]).T
        return coef, ybar - coef @ (self.mu + zbar * self.sd)


class _Scatter(_Standardised):
    """The primal solver: per split, the weighted and centred scatter matrix of the columns
    (n_columns x n_columns), cheaper than the rows' Gram matrix when there are more rows than columns."""

    def solve(self, rows: np.ndarray, Y: np.ndarray, w: np.ndarray, alphas) -> "_PrimalSolution":
        """Weighted, centred ridge on ``rows`` for every penalty: one Cholesky factorisation of the
        (n_columns, n_columns) system per penalty, the same answers as ``_Gram.solve``."""
        wn = w / w.sum()
        zbar = (wn @ self.Z[rows]).astype(self.Z.dtype)  # the weighted mean row
        ybar = wn @ Y
        d = np.sqrt(w)[:, None]
        Zc = (self.Z[rows] - zbar) * d.astype(self.Z.dtype)  # centred and weighted (an n x d matrix per split)
        A = Zc.T @ Zc
        R = Zc.T @ (d * (Y - ybar)).astype(self.Z.dtype)
        return _PrimalSolution(self, zbar.astype(np.float64), ybar, [_solve(A, alpha, R) for alpha in alphas])


class _PrimalSolution:
    """Weights on the standardised columns of one weighted, centred fit, per penalty."""

    def __init__(self, scatter: _Scatter, zbar: np.ndarray, ybar: np.ndarray, weights: list[np.ndarray]):
        self.scatter, self.zbar, self.ybar, self.weights = scatter, zbar, ybar, weights

    def scores(self, other: np.ndarray) -> list[np.ndarray]:
        """Decision scores of the training rows ``other`` for every penalty."""
        Zc = self.scatter.Z[other].astype(np.float64) - self.zbar
        return [Zc @ W + self.ybar for W in self.weights]

    def primal(self, i: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Weights and intercept on the raw columns for penalty ``i``."""
        return self.scatter.raw(self.weights[i], self.zbar, self.ybar)


class _Gram(_Standardised):
    """The dual solver: the standardised rows of one training set and their Gram matrix, computed
    once and shared by every inner split and penalty."""

    def __init__(self, X: np.ndarray, scale: np.ndarray | None = None, dtype=np.float32, kernel: str = "linear"):
        if kernel not in KERNELS:
            raise ValueError(f"unknown kernel {kernel!r}; choose from {KERNELS}")
        super().__init__(X, scale, dtype)
        self.G = self.Z @ self.Z.T
        self.width = self.sq = None
        if kernel == "rbf":  # the Gaussian kernel from the Gram matrix, in place
            self.sq = sq = np.diag(self.G).copy()  # squared norms of the training rows, kept for prediction
            self.G *= -2
            self.G += sq[:, None]
            self.G += sq[None, :]
            np.maximum(self.G, 0, out=self.G)
            self.width = median_distance(self.G)
            self.G /= -self.width
            np.exp(self.G, out=self.G)

    def rbf_to(self, Zx: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The Gaussian kernel between standardised new rows ``Zx`` and the training rows ``rows``."""
        Zx = Zx.astype(self.Z.dtype, copy=False)
        D = Zx @ self.Z[rows].T
        D *= -2
        D += (Zx * Zx).sum(axis=1)[:, None]
        D += self.sq[rows][None, :]
        np.maximum(D, 0, out=D)
        return np.exp(-D / self.width)

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


def solve_costs(n_rows: int, n_columns: int, n_alphas: int, inner_folds: int) -> dict[str, float]:
    """Multiply-adds of one linear fit with its nested search (``inner_folds`` splits, 0: none) in
    the dual -- the Gram matrix once (n^2 d / 2), one Cholesky factorisation per penalty and inner
    split (n_split^3 / 3), one for the final fit -- and in the primal -- each split's scatter matrix
    (n_split d^2 / 2) and one factorisation of d^3 / 3 per penalty and split. They track the
    measured times (6,200 clips of 3,584 columns: 1.37 x fewer in the primal, 1.36 x faster)."""
    n, d, k = float(n_rows), float(n_columns), inner_folds
    inner = (k - 1) / k * n if k else 0.0  # rows of one inner training split
    dual = n * n * d / 2 + k * n_alphas * inner ** 3 / 3 + n ** 3 / 3
    primal = (k * inner + n) * d * d / 2 + (k * n_alphas + 1) * d ** 3 / 3
    return {"dual": dual, "primal": primal}


def median_distance(D: np.ndarray, rows: int = MEDIAN_ROWS) -> float:
    """The median squared distance between distinct training rows (of at most ``rows`` evenly
    spaced ones), from their matrix of squared distances ``D``."""
    pick = np.unique(np.linspace(0, len(D) - 1, min(rows, len(D))).astype(int))
    sub = D[np.ix_(pick, pick)]
    med = float(np.median(sub[np.triu_indices(len(pick), 1)])) if len(pick) > 1 else 0.0
    return med if med > 0 else 1.0


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
        return self.scores_from(self.gram.G[np.ix_(other, self.rows)])

    def scores_from(self, Gx: np.ndarray) -> list[np.ndarray]:
        """Decision scores for every penalty from the kernel ``Gx`` of some rows with ``self.rows``."""
        Kx = Gx - (Gx @ self.wn)[:, None] - self.g[None, :] + self.s
        return [Kx @ dual + self.ybar for dual in self.duals]

    def primal(self, i: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Weights and intercept on the raw columns for penalty ``i`` (no training data needed)."""
        gm, dual = self.gram, self.duals[i]
        Zr = gm.Z[self.rows]
        zbar = self.wn @ Zr
        return gm.raw(Zr.T @ dual - np.outer(zbar, dual.sum(axis=0)), zbar, self.ybar)


class DualRidgeClassifier(ClassifierMixin, BaseEstimator):
    """Ridge classifier; ``alpha`` chosen by nested CV over groups (actors) from ``alphas``
    (default: ``DEFAULT_ALPHAS`` for the linear kernel, ``RBF_ALPHAS`` for ``kernel="rbf"``), solved
    in the dual or the primal (``solver``; the one used is ``solver_`` after ``fit``). After a
    nested search, ``inner_ua_`` is the chosen penalty's UA averaged over the inner actor folds
    (as scikit-learn's ``GridSearchCV.best_score_``), what a choice among heads compares. ``fit``'s
    ``strata`` (each row's corpus, two or more): weights and inner UA give every corpus the same say
    (``numeric.cell_weights``, ``numeric.stratum_balanced_accuracy``)."""

    def __init__(self, alphas: tuple[float, ...] | None = None, inner_folds: int = 3,
                 balanced: bool = True, blocks: tuple[int, ...] | None = None, single: bool = True,
                 kernel: str = "linear", solver: str = "auto"):
        self.alphas = alphas
        self.inner_folds = inner_folds
        self.balanced = balanced
        self.blocks = blocks
        self.single = single
        self.kernel = kernel
        self.solver = solver

    def _solver(self, n_rows: int, n_columns: int, n_alphas: int, inner_folds: int) -> str:
        """``dual`` or ``primal``: the cheaper of the two (``solve_costs``; a kernel has only the dual)."""
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown solver {self.solver!r}; choose from {SOLVERS}")
        if self.kernel != "linear" and self.solver == "primal":
            raise ValueError(f"kernel {self.kernel!r} is solved in the dual only: use solver='auto' or 'dual'")
        if self.solver != "auto":
            return self.solver
        if self.kernel != "linear":
            return "dual"
        costs = solve_costs(n_rows, n_columns, n_alphas, inner_folds)
        return "primal" if costs["primal"] < costs["dual"] else "dual"

    def _alphas(self) -> tuple[float, ...]:
        if self.alphas is not None:
            return tuple(self.alphas)
        return RBF_ALPHAS if self.kernel == "rbf" else DEFAULT_ALPHAS

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

    def _weights(self, y: np.ndarray, strata: np.ndarray | None = None) -> np.ndarray:
        return cell_weights(y, strata) if self.balanced else np.ones(len(y))

    def _ua(self, y: np.ndarray, scores: np.ndarray, strata: np.ndarray | None, rows=slice(None)) -> float:
        """UA of decision ``scores`` on ``rows`` (with ``strata``: the mean of each corpus's own UA)."""
        return stratum_balanced_accuracy(y[rows], self.classes_[scores[rows].argmax(1)],
                                         None if strata is None else strata[rows])

    def inner_scores(self, gram: _Gram | _Scatter, y: np.ndarray, groups: np.ndarray,
                     strata: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold decision scores for every alpha: ``(alphas, n, classes)``, and the rows'
        fold ids -- all fitted on the other groups of the training data only."""
        n_groups = len(np.unique(groups))
        alphas = self._alphas()
        out = np.zeros((len(alphas), len(y), len(self.classes_)))
        fold_id = np.zeros(len(y), int)
        splits = GroupKFold(n_splits=min(self.inner_folds, n_groups)).split(np.zeros(len(y)), y, groups)
        for k, (tr, va) in enumerate(splits):
            sol = gram.solve(tr, self._targets(y[tr]), self._weights(y[tr], None if strata is None else strata[tr]), alphas)
            for i, sc in enumerate(sol.scores(va)):
                out[i, va] = sc
            fold_id[va] = k
        return out, fold_id

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None, strata: np.ndarray | None = None):
        X = np.asarray(X, np.float64)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        alphas = self._alphas()
        n_groups = len(np.unique(groups)) if groups is not None else 0
        searched = len(alphas) > 1 and n_groups > 1  # the nested search runs
        self.solver_ = self._solver(*X.shape, len(alphas), min(self.inner_folds, n_groups) if searched else 0)
        dtype, scale = np.float32 if self.single else np.float64, self._scale(X.shape[1])
        gram = _Scatter(X, scale, dtype) if self.solver_ == "primal" else _Gram(X, scale, dtype, self.kernel)
        strata = None if strata is None else np.asarray(strata)  # one stratum: the same as none
        if searched:
            oof, fold_id = self.inner_scores(gram, y, np.asarray(groups), strata)
            self.cv_ua_ = np.array([self._ua(y, o, strata) for o in oof])
            best = int(np.argmax(self.cv_ua_))
            self.alpha_ = float(alphas[best])
            self.inner_ua_ = float(np.mean([self._ua(y, oof[best], strata, fold_id == k) for k in np.unique(fold_id)]))
            self.temperature_ = fit_temperature(oof[best], np.searchsorted(self.classes_, y))
        else:
            self.alpha_ = float(alphas[0])
            self.inner_ua_ = None
            self.temperature_ = 1.0
        everything = np.arange(len(y))
        sol = gram.solve(everything, self._targets(y), self._weights(y, strata), (self.alpha_,))
        if self.kernel == "linear":
            self.coef_, self.intercept_ = sol.primal()  # prediction needs no training data
        else:  # prediction needs the standardised training rows; the Gram matrix is let go
            gram.G = None
            self.solution_ = sol
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        if self.kernel == "linear":
            return np.asarray(X, np.float64) @ self.coef_.T + self.intercept_
        sol = self.solution_
        Zx = (np.asarray(X, np.float64) - sol.gram.mu) / sol.gram.sd
        return sol.scores_from(sol.gram.rbf_to(Zx, sol.rows))[0]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(1)]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(self.decision_function(X) / self.temperature_)
