"""A grid of settings chosen by nested, actor-grouped cross-validation on the training data only,
scored as the ridge scores its penalties: UA over the inner validation folds, or, given each
row's corpus (``strata``), the mean of each corpus's own UA, so that a corpus of 1,440 clips counts
as much as one of 7,442 in the choice as well as in the weights (``numeric.stratum_balanced_accuracy``).

``GroupedSearch`` stands where scikit-learn's ``GridSearchCV`` stood (whose scorer sees no corpus):
with one corpus it makes the same choice with the same score (``tests/test_grouped_search.py``),
and it keeps the same attributes (``best_params_``, ``best_score_``, ``best_estimator_``).
"""
from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import ParameterGrid
from sklearn.utils.metaestimators import available_if

from speechemo.foundations.numeric import stratum_balanced_accuracy


def _split_score(est, params: dict, X: np.ndarray, y: np.ndarray, tr: np.ndarray, va: np.ndarray,
                 weight_key: str | None, weights: np.ndarray | None, strata: np.ndarray | None) -> float:
    """Fit a clone with ``params`` on rows ``tr`` (their sample weights, if any) and score it on ``va``."""
    model = clone(est).set_params(**params)
    fit_params = {weight_key: weights[tr]} if weight_key else {}
    model.fit(X[tr], y[tr], **fit_params)
    return stratum_balanced_accuracy(y[va], model.predict(X[va]), None if strata is None else strata[va])


def _has(method: str):
    """Whether the (fitted, else the unfitted) estimator has ``method``: an SVC without
    probabilities has no ``predict_proba``, and neither has its search (as with ``GridSearchCV``)."""
    return lambda self: hasattr(getattr(self, "best_estimator_", self.estimator), method)


class GroupedSearch(ClassifierMixin, BaseEstimator):
    """The setting of ``grid`` (parameter -> values) whose mean score over ``splits`` (inner
    (train, validation) row indices, groups of training actors) is best, refitted on every row.
    ``weight_key``: the fit parameter that takes sample weights (e.g. ``model__sample_weight``)."""

    def __init__(self, estimator, grid: dict, splits: list, n_jobs: int = 1,
                 weight_key: str = "model__sample_weight"):
        self.estimator = estimator
        self.grid = grid
        self.splits = splits
        self.n_jobs = n_jobs
        self.weight_key = weight_key

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None,
            strata: np.ndarray | None = None):
        """Score every setting on every split (fitted on its training rows only), keep the best
        (the first of equals, as ``GridSearchCV``), refit it on all rows."""
        X, y = np.asarray(X), np.asarray(y)
        strata = None if strata is None else np.asarray(strata)
        key = self.weight_key if sample_weight is not None else None
        weights = None if sample_weight is None else np.asarray(sample_weight)
        settings = list(ParameterGrid(self.grid))
        scores = Parallel(n_jobs=self.n_jobs)(
            delayed(_split_score)(self.estimator, p, X, y, tr, va, key, weights, strata)
            for p in settings for tr, va in self.splits)
        self.cv_scores_ = np.asarray(scores, float).reshape(len(settings), len(self.splits))
        mean = self.cv_scores_.mean(axis=1)
        best = int(np.argmax(mean))
        self.best_params_, self.best_score_ = settings[best], float(mean[best])
        self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_)
        self.best_estimator_.fit(X, y, **({key: weights} if key else {}))
        self.classes_ = self.best_estimator_.classes_
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.best_estimator_.predict(X)

    @available_if(_has("predict_proba"))
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.best_estimator_.predict_proba(X)

    @available_if(_has("decision_function"))
    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.best_estimator_.decision_function(X)
