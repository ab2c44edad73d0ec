"""Classical models (the seed's LR, RF and XGBoost, plus an RBF SVM) and the ridge (linear, or with a
Gaussian kernel) behind one interface."""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.svm import SVC

from speechemo.protocol.evaluation import cap_per_speaker, inner_groups
from speechemo.foundations.labels import (EMOTION_NAMES, GENDER_EMOTION_NAMES, GENDER_NAMES,
    gender_emotion_from_heads)
from speechemo.data.speakers import corpora_of
from speechemo.foundations.numeric import balanced_accuracy, cell_weights
from speechemo.foundations.profiles import Budget
from speechemo.models.ridge import DualRidgeClassifier
from speechemo.models.search import GroupedSearch

MODELS = ("logreg", "random_forest", "xgboost", "svm_rbf", "logreg_cv", "ridge", "ridge_rbf")
RIDGES = {"ridge": "linear", "ridge_rbf": "rbf"}  # model name -> kernel of the dual ridge


def search_grid(name: str, budget: Budget) -> dict[str, list[float]] | None:
    """The hyper-parameters a model chooses by nested, actor-grouped CV (None: fixed)."""
    return {"svm_rbf": {"model__C": list(budget.svm_grid)},
            "logreg_cv": {"model__C": list(budget.logreg_grid)}}.get(name)


def make_model(name: str, budget: Budget, seed: int = 0, threads: int = 2):
    """An unfitted estimator; balanced classes through class weights (XGBoost, and every model on
    several corpora: sample weights, see ``fit``).
    ``threads``: the thread budget of the worker it runs in (``executor.Executor.threads``)."""
    if name in ("logreg", "logreg_cv"):
        return LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced")
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=budget.trees, class_weight="balanced_subsample",
                                      min_samples_leaf=1, n_jobs=threads, random_state=seed)
    if name == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(n_estimators=budget.xgb_rounds, max_depth=4, learning_rate=0.1,
                             subsample=0.8, colsample_bytree=0.5, tree_method="hist", n_jobs=threads,
                             random_state=seed, verbosity=0)
    if name == "svm_rbf":
        return SVC(kernel="rbf", C=1.0, gamma="scale", class_weight="balanced")
    if name in RIDGES:
        return DualRidgeClassifier(inner_folds=budget.inner_folds, kernel=RIDGES[name])
    raise ValueError(f"unknown model {name!r}; choose from {MODELS}")


def pipeline(name: str, budget: Budget, seed: int = 0, threads: int = 2) -> Pipeline:
    if name in RIDGES:  # standardises inside, on the rows of each (inner) fit
        return Pipeline([("model", make_model(name, budget, seed, threads))])
    return Pipeline([("scale", StandardScaler()), ("model", make_model(name, budget, seed, threads))])


def inner_splits(y: np.ndarray, actors: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Actor-grouped inner (train, validation) splits of a training set for a nested search,
    keeping only those whose training part holds every class: with a single speaker of one gender
    among the training actors, the split that leaves that speaker out would train on one class
    (the SVM cannot, and sklearn would score it NaN with a warning). If no split qualifies, the
    first one is kept (the search then reports the failure rather than hiding it)."""
    groups = inner_groups(actors, n)
    splits = list(GroupKFold(n_splits=min(n, len(np.unique(groups)))).split(y, y, groups))
    whole = len(np.unique(y))
    kept = [(tr, va) for tr, va in splits if len(np.unique(y[tr])) == whole]
    return kept or splits[:1]


def fit(name: str, X: np.ndarray, y: np.ndarray, actors: np.ndarray, budget: Budget, seed: int = 0,
        n_jobs: int = 2, params: dict | None = None):
    """Fit the pipeline on training data only. The SVM's C is chosen by a nested search whose
    validation folds are groups of training actors (``logreg_cv`` likewise; ``search.GroupedSearch``).
    Training speakers of two or more corpora (``speakers.corpora_of``) weight every corpus x class
    cell the same (``numeric.cell_weights``: a small corpus counts as much as a large one) instead of
    every class, and every nested search (the ridge's penalty, the SVM's C) scores the mean of each
    corpus's inner UA. Returns (fitted estimator, label encoder)."""
    enc = LabelEncoder().fit(y)
    yi = enc.transform(y)
    est = pipeline(name, budget, seed, n_jobs)
    if params:
        est.set_params(**{f"model__{k}": v for k, v in params.items()})
    strata = corpora_of(actors)
    weighted = {}  # sample weights in place of the estimator's class weights
    if name == "xgboost" or (strata is not None and name not in RIDGES):
        if name != "xgboost":
            est.set_params(model__class_weight=None)
        weighted = {"model__sample_weight": cell_weights(yi, strata)}
    grid = search_grid(name, budget)
    if grid:
        cv = inner_splits(yi, actors, budget.inner_folds)
        est = GroupedSearch(est, grid, cv, n_jobs=n_jobs)
        est.fit(X, yi, sample_weight=weighted.get("model__sample_weight"), strata=strata)
    elif name in RIDGES:  # penalty and temperature chosen by nested CV over training actors
        est.fit(X, yi, model__groups=inner_groups(actors, budget.inner_folds), model__strata=strata)
    else:
        est.fit(X, yi, **weighted)
    return est, enc


def inner_choice(est) -> dict:
    """What a fitted model's nested search chose on its training actors and that choice's UA over
    the inner actor folds (``inner_ua``, labels of the training actors only); ``{}`` for a model
    with nothing searched (fixed settings). ``choice.nested_choices`` compares heads by it."""
    if isinstance(est, GroupedSearch):
        return {"inner_ua": float(est.best_score_),
                "chosen": ", ".join(f"{k.removeprefix('model__')}={v}" for k, v in est.best_params_.items())}
    model = est.named_steps["model"] if isinstance(est, Pipeline) else est
    if isinstance(model, DualRidgeClassifier) and getattr(model, "inner_ua_", None) is not None:
        return {"inner_ua": model.inner_ua_, "chosen": f"alpha={model.alpha_:g}"}
    return {}


def fit_predict_fn(name: str, X: np.ndarray, y: np.ndarray, actors: np.ndarray, budget: Budget,
                   seed: int = 0, keep: list | None = None, params: dict | None = None, n_jobs: int = 2):
    """A ``fit_predict(train, test, fold)`` for ``evaluation.cross_validate`` (``params``: model
    parameters, e.g. the ridge's column ``blocks``; ``n_jobs``: the worker's thread budget). A model
    with a nested search returns its predictions with ``inner_choice`` (recorded per fold)."""

    def fit_predict(tr: np.ndarray, te: np.ndarray, fold: int):
        tr = cap_per_speaker(tr, actors, y, budget.max_train, seed)
        est, enc = fit(name, X[tr], y[tr], actors[tr], budget, seed, n_jobs=n_jobs, params=params)
        if keep is not None:
            keep.append((fold, est, enc, te))
        pred = enc.inverse_transform(est.predict(X[te]))
        info = inner_choice(est)
        return (pred, info) if info else pred

    return fit_predict


def group_permutation_importance(est, enc, X: np.ndarray, y: np.ndarray, groups: dict[str, list[int]],
                                 repeats: int = 3, seed: int = 0) -> dict[str, float]:
    """Drop in balanced accuracy when all columns of a feature family are shuffled together
    (on held-out data: call it with a test fold)."""
    rng = np.random.default_rng(seed)
    yi = enc.transform(y)
    base = balanced_accuracy(yi, est.predict(X))
    out = {}
    for g, cols in groups.items():
        drops = []
        for _ in range(repeats):
            Xp = X.copy()
            perm = rng.permutation(len(X))
            Xp[:, cols] = X[perm][:, cols]
            drops.append(base - balanced_accuracy(yi, est.predict(Xp)))
        out[g] = float(np.mean(drops))
    return out


def product_of_heads_fn(X_gender: np.ndarray, X_emotion: np.ndarray, genders: np.ndarray, emotions: np.ndarray,
                        actors: np.ndarray, budget: Budget, name: str = "ridge", seed: int = 0, n_jobs: int = 2):
    """A ``fit_predict`` for gender x emotion (16 classes) from two heads: p(gender) * p(emotion),
    each head fitted on the training actors only (each on its own matrix, e.g. the gender head on
    unnormalised and the emotion head on speaker-normalised features)."""

    def probs(X, y, tr, te, names):
        est, enc = fit(name, X[tr], y[tr], actors[tr], budget, seed, n_jobs=n_jobs)
        p = np.zeros((len(te), len(names)))
        p[:, [names.index(c) for c in enc.classes_]] = est.predict_proba(X[te])
        return p

    def fit_predict(tr: np.ndarray, te: np.ndarray, fold: int) -> np.ndarray:
        tr = cap_per_speaker(tr, actors, emotions, budget.max_train, seed)
        joint = gender_emotion_from_heads(probs(X_gender, genders, tr, te, GENDER_NAMES),
                                          probs(X_emotion, emotions, tr, te, EMOTION_NAMES))
        return np.array(GENDER_EMOTION_NAMES)[joint.argmax(1)]

    return fit_predict
