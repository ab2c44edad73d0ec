"""Every corpus counts the same in a fit on several corpora: the weights, the inner criterion, and
the fits that use them (a small corpus whose classes lie elsewhere is not drowned by a large one)."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from speechemo.data.speakers import corpora_of
from speechemo.foundations import profiles
from speechemo.foundations.numeric import balanced_accuracy, cell_weights, stratum_balanced_accuracy
from speechemo.models import classical
from speechemo.models.ridge import DualRidgeClassifier, _Gram


def test_cell_weights_give_every_corpus_and_class_cell_the_same_total():
    y = np.array(["a", "b", "a", "a", "a", "a", "a", "a", "b", "b"])
    strata = np.array(["r", "r"] + ["c"] * 8)
    np.testing.assert_array_equal(cell_weights(y), compute_sample_weight("balanced", y))
    w = cell_weights(y, strata)
    totals = {(s, c): w[(strata == s) & (y == c)].sum() for s in "rc" for c in "ab"}
    assert all(t == pytest.approx(2.5) for t in totals.values()), totals  # 10 clips, 4 cells
    assert w[strata == "r"].sum() == pytest.approx(w[strata == "c"].sum()) == pytest.approx(5.0)
    assert w[0] == pytest.approx(2.5) and w[2] == pytest.approx(10 / (4 * 6))


def test_stratum_balanced_accuracy_is_the_mean_of_each_corpus_ua():
    y = np.array(["a", "b", "a", "a", "b", "b"])
    pred = np.array(["a", "a", "a", "b", "b", "b"])
    strata = np.array(["r", "r", "c", "c", "c", "c"])
    # r: a 1/1, b 0/1 -> 0.5; c: a 1/2, b 2/2 -> 0.75
    assert stratum_balanced_accuracy(y, pred, strata) == pytest.approx((0.5 + 0.75) / 2)
    assert stratum_balanced_accuracy(y, pred) == balanced_accuracy(y, pred)


def test_the_corpus_of_every_speaker_only_for_several_corpora():
    np.testing.assert_array_equal(corpora_of([1, 1001, 1, 24]), ["ravdess", "cremad", "ravdess", "ravdess"])
    assert corpora_of([1, 2, 3]) is None       # one corpus: class weights as before
    assert corpora_of([1, 1001, 99999]) is None  # an id the workbook does not know: no corpus to balance


def _two_corpora(per_actor=8, seed=0):
    """A large corpus (CREMA-D ids) whose classes lie along column 0 (column 1 half the other way)
    and a small one (RAVDESS ids) whose classes lie along column 1, column 0 pointing the other way:
    one hyperplane serves both, but not the one the large corpus alone would choose."""
    rng = np.random.default_rng(seed)
    actors = np.repeat(np.r_[1:13, 1001:1061], per_actor)
    y = np.array(["a", "b"] * (len(actors) // 2))
    sign = np.where(y == "a", 1.0, -1.0)
    small = actors < 1000
    X = 0.5 * rng.standard_normal((len(actors), 6))
    X[:, 0] += np.where(small, -1.0, 1.0) * sign
    X[:, 1] += np.where(small, 1.0, -0.5) * sign
    return X, y, actors, small


@pytest.mark.parametrize("name", ["ridge", "logreg"])
def test_a_small_corpus_is_not_drowned_by_a_large_one(name):
    X, y, actors, small = _two_corpora()
    budget = profiles.get("quick").training
    tr, te = ~np.isin(actors, [11, 12, 1059, 1060]), np.isin(actors, [11, 12])
    est, enc = classical.fit(name, X[tr], y[tr], actors[tr], budget, n_jobs=1)
    balanced = balanced_accuracy(y[te], enc.inverse_transform(est.predict(X[te])))
    one = np.where(actors < 1000, actors + 1060, actors)[tr]  # the same speakers as CREMA-D ids: one corpus
    est1, enc1 = classical.fit(name, X[tr], y[tr], one, budget, n_jobs=1)
    plain = balanced_accuracy(y[te], enc1.inverse_transform(est1.predict(X[te])))
    assert balanced > 0.85 and plain < 0.5, (balanced, plain)


def test_the_ridge_with_strata_is_the_cell_weighted_ridge_and_chooses_by_each_corpus():
    X, y, actors, small = _two_corpora(per_actor=4)
    strata = np.where(small, "ravdess", "cremad")
    ours = DualRidgeClassifier(alphas=(5.0,), single=False).fit(X, y, strata=strata)
    sc = StandardScaler().fit(X)
    ref = RidgeClassifier(alpha=5.0).fit(sc.transform(X), y, sample_weight=cell_weights(y, strata))
    np.testing.assert_allclose(ours.decision_function(X)[:, 1], ref.decision_function(sc.transform(X)), atol=1e-8)
    groups = actors % 3
    searched = DualRidgeClassifier(alphas=(0.1, 1e4), single=False).fit(X, y, groups, strata=strata)
    oof, fold_id = searched.inner_scores(_Gram(X, None, np.float64), y, groups, strata)  # the same inner fits
    pred = [searched.classes_[o.argmax(1)] for o in oof]
    per_corpus = [stratum_balanced_accuracy(y, p, strata) for p in pred]
    np.testing.assert_allclose(searched.cv_ua_, per_corpus)
    assert searched.alpha_ == (0.1, 1e4)[int(np.argmax(per_corpus))]
    best = pred[int(np.argmax(per_corpus))]
    assert searched.inner_ua_ == pytest.approx(np.mean([stratum_balanced_accuracy(y[f], best[f], strata[f])
                                                        for f in (fold_id == k for k in range(3))]))
    assert not np.allclose(per_corpus, [balanced_accuracy(y, p) for p in pred])  # not the pooled UA


def test_logistic_regression_on_two_corpora_is_fitted_with_the_cell_weights():
    X, y, actors, small = _two_corpora(per_actor=4)
    est, enc = classical.fit("logreg", X, y, actors, profiles.get("quick").training, n_jobs=1)
    sc = StandardScaler().fit(X)
    ref = LogisticRegression(C=1.0, max_iter=3000).fit(
        sc.transform(X), enc.transform(y), sample_weight=cell_weights(enc.transform(y), corpora_of(actors)))
    assert est.named_steps["model"].class_weight is None
    np.testing.assert_allclose(est.named_steps["model"].coef_, ref.coef_, atol=1e-6)
