"""The nested search of the SVM's (and logreg_cv's) C: scikit-learn's choice with one corpus, the
mean of each corpus's inner UA with several, fitted on the inner training rows only."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from speechemo.data.speakers import corpora_of
from speechemo.foundations import profiles
from speechemo.foundations.numeric import balanced_accuracy, cell_weights, stratum_balanced_accuracy
from speechemo.models import classical
from speechemo.models.search import GroupedSearch

GRID = {"model__C": [0.01, 0.3, 10.0]}


def _data(seed=0):
    """Two corpora (RAVDESS and CREMA-D speaker ids), three classes, the small corpus noisier."""
    rng = np.random.default_rng(seed)
    actors = np.repeat(np.r_[1:7, 1001:1019], 9)
    y = np.tile(np.array(["a", "b", "c"]), len(actors) // 3)
    centre = {"a": [1.0, 0, 0, 0], "b": [0, 1.0, 0, 0], "c": [0, 0, 1.0, 0]}
    X = np.array([centre[c] for c in y]) + rng.standard_normal((len(y), 4)) * np.where(actors < 1000, 1.4, 0.7)[:, None]
    return X, y, actors


def _svm(class_weight="balanced"):
    return Pipeline([("scale", StandardScaler()), ("model", SVC(class_weight=class_weight))])


@pytest.mark.parametrize("weighted", [False, True])
def test_one_corpus_makes_scikit_learns_choice_with_its_score(weighted):
    X, y, actors = _data()
    splits = classical.inner_splits(y, actors, 3)
    w = cell_weights(y) if weighted else None
    ours = GroupedSearch(_svm(), GRID, splits).fit(X, y, sample_weight=w)
    fit_params = {"model__sample_weight": w} if weighted else {}
    theirs = GridSearchCV(_svm(), GRID, scoring=make_scorer(balanced_accuracy), cv=splits).fit(X, y, **fit_params)
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == pytest.approx(theirs.best_score_)
    np.testing.assert_allclose(ours.cv_scores_.mean(axis=1), theirs.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_several_corpora_score_the_mean_of_each_corpus_inner_ua():
    X, y, actors = _data()
    strata = corpora_of(actors)
    splits = classical.inner_splits(y, actors, 3)
    w = cell_weights(y, strata)
    search = GroupedSearch(_svm(None), GRID, splits).fit(X, y, sample_weight=w, strata=strata)
    by_hand, pooled = [], []
    for C in GRID["model__C"]:
        per_corpus, whole = [], []
        for tr, va in splits:  # fitted on the inner training rows only, with their weights
            m = clone(_svm(None)).set_params(model__C=C).fit(X[tr], y[tr], model__sample_weight=w[tr])
            per_corpus.append(stratum_balanced_accuracy(y[va], m.predict(X[va]), strata[va]))
            whole.append(balanced_accuracy(y[va], m.predict(X[va])))
        by_hand.append(np.mean(per_corpus))
        pooled.append(np.mean(whole))
    np.testing.assert_allclose(search.cv_scores_.mean(axis=1), by_hand)
    assert not np.allclose(by_hand, pooled)  # the criterion is not the pooled UA
    assert search.best_score_ == pytest.approx(max(by_hand))
    assert search.best_params_ == {"model__C": GRID["model__C"][int(np.argmax(by_hand))]}


def test_classical_fit_searches_the_svm_by_corpus_on_several_corpora_only():
    X, y, actors = _data()
    budget = profiles.get("quick").training
    est, enc = classical.fit("svm_rbf", X, y, actors, budget)
    yi = enc.transform(y)
    splits = classical.inner_splits(yi, actors, budget.inner_folds)
    grid = classical.search_grid("svm_rbf", budget)
    expected = GroupedSearch(_svm(None), grid, splits).fit(
        X, yi, sample_weight=cell_weights(yi, corpora_of(actors)), strata=corpora_of(actors))
    assert est.best_score_ == pytest.approx(expected.best_score_)
    assert classical.inner_choice(est)["inner_ua"] == pytest.approx(expected.best_score_)
    one = actors < 1000  # RAVDESS alone: class weights, plain UA
    est1, enc1 = classical.fit("svm_rbf", X[one], y[one], actors[one], budget)
    yi1 = enc1.transform(y[one])
    plain = GridSearchCV(_svm(), grid, scoring=make_scorer(balanced_accuracy),
                         cv=classical.inner_splits(yi1, actors[one], budget.inner_folds)).fit(X[one], yi1)
    assert est1.best_score_ == pytest.approx(plain.best_score_) and est1.best_params_ == plain.best_params_


def test_probabilities_only_when_the_estimator_has_them():
    X, y, actors = _data()
    splits = classical.inner_splits(y, actors, 3)
    assert not hasattr(GroupedSearch(_svm(), GRID, splits).fit(X, y), "predict_proba")
    logreg = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=500))])
    search = GroupedSearch(logreg, GRID, splits).fit(X, y)
    assert search.predict_proba(X).shape == (len(y), 3)
    assert hasattr(search, "decision_function")
