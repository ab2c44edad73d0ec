"""The choice among a grid's heads made by the training actors' inner CV (``nested_choice`` rows),
never by the test folds."""
import numpy as np
import pandas as pd
import pytest

from speechemo.foundations import profiles
from speechemo.models import classical
from speechemo.models.ridge import DualRidgeClassifier, _Gram
from speechemo.protocol import choice, evaluation as ev


def _result(inner: list[float], preds: list[list[str]], truth: list[list[str]], chosen: str = "alpha=1") -> ev.CVResult:
    """A two-class cross-validation result with given per-fold inner UA and predictions."""
    p = pd.concat([pd.DataFrame({"file": [f"f{k}_{i}" for i in range(len(t))], "fold": k, "true": t, "pred": q})
                   for k, (q, t) in enumerate(zip(preds, truth), 1)], ignore_index=True)
    folds = pd.DataFrame([{"fold": k, **ev.scores(np.array(t), np.array(q), ["a", "b"]), "n_test": len(t),
                           "fit_seconds": 1.0, "inner_ua": u, "chosen": chosen}
                          for k, (u, q, t) in enumerate(zip(inner, preds, truth), 1)])
    return ev.CVResult(["a", "b"], folds, p, 2.0)


TRUTH = [["a", "b", "a", "b"], ["a", "a", "b", "b"]]


def test_each_fold_takes_the_head_its_training_actors_preferred_not_the_one_the_test_fold_would():
    right = [list(t) for t in TRUTH]
    wrong = [["b", "a", "b", "a"], ["b", "b", "a", "a"]]
    results = {
        ("emotion", "ridge", "x", "none"): _result([0.9, 0.4], wrong, TRUTH),       # preferred in fold 1, wrong on its test
        ("emotion", "ridge_rbf", "x", "none"): _result([0.5, 0.6], right, TRUTH, "alpha=0.3"),  # preferred in fold 2
        ("emotion", "logreg", "x", "none"): _result([np.nan, np.nan], right, TRUTH),  # nothing searched: no candidate
        ("emotion", "ridge", "x", "speaker"): _result([0.9, 0.9], right, TRUTH),      # alone in its normalisation
        ("emotion", "ridge", "x", "none", ev.RANDOM_SPLIT): _result([0.9, 0.4], right, TRUTH),
        ("emotion", "svm_rbf", "x", "none", ev.RANDOM_SPLIT): _result([0.5, 0.6], right, TRUTH),
    }
    out = choice.nested_choices(results)
    assert list(out) == [("emotion", choice.NESTED, choice.NESTED_FEATURES, "none")]
    res = out[("emotion", choice.NESTED, choice.NESTED_FEATURES, "none")]
    assert res.folds.chosen.tolist() == ["ridge / x (alpha=1)", "ridge_rbf / x (alpha=0.3)"]
    assert res.folds.ua.tolist() == [0.0, 1.0] and res.folds.inner_ua.tolist() == [0.9, 0.6]
    assert res.predictions.pred.tolist() == wrong[0] + right[1] and res.fit_seconds == 0.0
    assert res.extra["candidates"] == ["ridge / x", "ridge_rbf / x"]
    assert res.confusion.sum() == 8


def test_ties_go_to_the_first_head_and_foreign_folds_are_refused():
    a, b = _result([0.7, 0.7], TRUTH, TRUTH), _result([0.7, 0.7], [["b"] * 4, ["b"] * 4], TRUTH)
    res = choice.choose_per_fold({("t", "m1", "x", "none"): a, ("t", "m2", "x", "none"): b})
    assert res.folds.chosen.str.startswith("m1 / x").all()
    shorter = _result([0.7], TRUTH[:1], TRUTH[:1])
    shorter.folds.loc[0, "n_test"] = 3
    with pytest.raises(ValueError, match="do not share their folds"):
        choice.choose_per_fold({("t", "m1", "x", "none"): a, ("t", "m3", "x", "none"): shorter})


def test_cross_validate_keeps_what_each_fold_chose():
    y = np.array(["a", "b"] * 6)
    splits = [(np.arange(6), np.arange(6, 12)), (np.arange(6, 12), np.arange(6))]
    res = ev.cross_validate(lambda tr, te, k: (y[te], {"inner_ua": 0.5 + k / 10, "chosen": f"C={k}"}), y, splits, ["a", "b"])
    assert res.folds.inner_ua.tolist() == [0.6, 0.7] and res.folds.chosen.tolist() == ["C=1", "C=2"]
    plain = ev.cross_validate(lambda tr, te, k: y[te], y, splits, ["a", "b"])
    assert "inner_ua" not in plain.folds and plain.folds.ua.tolist() == [1.0, 1.0]


def test_inner_ua_is_the_chosen_penalty_averaged_over_the_inner_actor_folds():
    rng = np.random.default_rng(0)
    actors = np.repeat(np.arange(9), 8)
    y = np.tile(np.array(["a", "b"]), 36)
    X = rng.normal(size=(72, 30)) + 0.8 * (y == "a")[:, None]
    m = DualRidgeClassifier(alphas=(1.0, 100.0), inner_folds=3).fit(X, y, actors)
    oof, fold_id = m.inner_scores(_Gram(X), y, actors)  # the same inner splits, recomputed
    best = [1.0, 100.0].index(m.alpha_)
    per_fold = [ev.balanced_accuracy(y[fold_id == k], m.classes_[oof[best][fold_id == k].argmax(1)]) for k in range(3)]
    assert m.inner_ua_ == pytest.approx(np.mean(per_fold)) and 0.5 < m.inner_ua_ <= 1.0
    assert DualRidgeClassifier(alphas=(1.0,)).fit(X, y, actors).inner_ua_ is None  # nothing searched


def test_inner_choice_of_each_kind_of_model():
    rng = np.random.default_rng(1)
    actors = np.repeat(np.arange(1, 13), 6)
    y = np.tile(np.array(["a", "b", "c"]), 24)
    X = rng.normal(size=(72, 5)) + (y == "a")[:, None]
    budget = profiles.get("quick").training
    for name in ("svm_rbf", "ridge"):
        est, _ = classical.fit(name, X, y, actors, budget)
        facts = classical.inner_choice(est)
        assert 0 < facts["inner_ua"] <= 1 and facts["chosen"].split("=")[0] in ("C", "alpha")
    assert classical.inner_choice(est)["inner_ua"] == est.named_steps["model"].inner_ua_
    assert classical.inner_choice(classical.fit("logreg", X, y, actors, budget)[0]) == {}
    fp = classical.fit_predict_fn("ridge", X, y, actors, budget)
    pred, facts = fp(np.arange(36, 72), np.arange(36), 1)
    assert len(pred) == 36 and set(facts) == {"inner_ua", "chosen"}
    assert isinstance(classical.fit_predict_fn("logreg", X, y, actors, budget)(np.arange(36, 72), np.arange(36), 1), np.ndarray)


def test_two_notebooks_keep_their_own_nested_rows(tmp_path):
    """Each notebook chooses among its own heads: recording 06's choice must not replace 03's."""
    res = choice.choose_per_fold({("emotion", "ridge", "x", "none"): _result([0.9, 0.4], TRUTH, TRUTH),
                                  ("emotion", "svm_rbf", "x", "none"): _result([0.5, 0.6], TRUTH, TRUTH)})
    for nb in ("03_classical_baselines", "06_pretrained_encoder"):
        row = ev.result_row(res, dataset="ravdess", task="emotion", features=choice.features_for(nb), model=choice.NESTED,
                            protocol=ev.SPEAKER_INDEPENDENT, normalisation="none", profile="quick", notebook=nb)
        ev.record(tmp_path, row, res)
    summary = ev.load_summary(tmp_path)
    assert summary.notebook.tolist() == ["03_classical_baselines", "06_pretrained_encoder"]
    assert summary.features.tolist() == ["chosen_per_fold@03", "chosen_per_fold@06"]


def test_a_model_ranks_before_a_nested_choice_that_ties_it():
    """Where every fold chose the same head the nested row ties that head to the last digit; the model is
    then the best row, whatever the file's order, and a strictly better nested row still comes first."""
    rows = pd.DataFrame([{"dataset": "ravdess", "task": "gender", "features": f, "model": m, "protocol": ev.SPEAKER_INDEPENDENT,
                          "normalisation": "none", "ua": ua, "wa": ua}
                         for m, f, ua in [(choice.NESTED, "chosen_per_fold@06", 1.0), ("ridge", "x", 1.0), ("logreg", "y", 0.9)]])
    for order in (rows, rows.iloc[::-1]):
        assert ev.rank(order).model.tolist() == ["ridge", choice.NESTED, "logreg"]
        assert ev.best(order, "gender", "ravdess").model == "ridge"
    assert ev.rank(rows.assign(ua=[1.0, 0.95, 0.9])).model.iloc[0] == choice.NESTED
    assert list(ev.rank(rows).columns) == list(rows.columns)
