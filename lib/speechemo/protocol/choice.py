"""The choice among a grid's heads that looks at no test fold: in each speaker fold, the head whose
nested search on that fold's training actors scored best (its ``inner_ua``, recorded per fold by
``evaluation.cross_validate``) answers that fold's test clips. A grid's best row is picked by its test
score, so it is optimistic; the ``nested_choice`` row is the figure to quote. Nothing is fitted."""
from __future__ import annotations

import numpy as np
import pandas as pd

from speechemo.protocol import evaluation as ev

NESTED = ev.NESTED
NESTED_FEATURES = "chosen_per_fold"


def features_for(notebook: str) -> str:
    """The features name of a notebook's ``nested_choice`` rows (``chosen_per_fold@06``): each
    notebook chooses among its own heads, and the name keeps their rows apart in ``summary.csv``."""
    return f"{NESTED_FEATURES}@{notebook.split('_')[0]}"


def nested_choices(results: dict[tuple, ev.CVResult], features: str = NESTED_FEATURES) -> dict[tuple, ev.CVResult]:
    """For every task, normalisation and protocol (``results`` keyed by runs
    ``(task, model, features, normalisation[, protocol])``) with at least two runs whose every fold
    recorded an ``inner_ua`` (a nested search on that fold's training actors), a run
    ``(task, NESTED, features, normalisation[, protocol])`` whose fold k takes the predictions of
    the run with the best inner UA in fold k (``choose_per_fold``). A random split is left out: it
    is shown for its inflation, not chosen from."""
    groups: dict[tuple, list[tuple]] = {}
    for run, res in results.items():
        searched = "inner_ua" in res.folds and res.folds.inner_ua.notna().all()
        if run[1] != NESTED and searched and ev.RANDOM_SPLIT not in run[4:]:
            groups.setdefault((run[0], run[3], *run[4:]), []).append(run)
    return {(task, NESTED, features, norm, *rest): choose_per_fold({r: results[r] for r in runs})
            for (task, norm, *rest), runs in groups.items() if len(runs) > 1}


def choose_per_fold(candidates: dict[tuple, ev.CVResult]) -> ev.CVResult:
    """Fold by fold, the candidate with the best ``inner_ua`` (ties: the first given), scored on
    that fold's test clips; each fold's row says which (``chosen``: model / features, and what its
    own search chose; ``extra["candidates"]``: every head it chose from). The candidates must share
    their folds and classes; nothing is fitted."""
    runs = list(candidates)
    first = candidates[runs[0]]
    for run in runs[1:]:
        other = candidates[run]
        if other.classes != first.classes or not other.folds.n_test.equals(first.folds.n_test):
            raise ValueError(f"{run} and {runs[0]} do not share their folds and classes: they cannot be chosen between")
    facts, preds = [], []
    for i, k in enumerate(first.folds.fold):
        inner = [float(candidates[r].folds.inner_ua.iloc[i]) for r in runs]
        pick = runs[int(np.argmax(inner))]
        res = candidates[pick]
        preds.append(res.predictions[res.predictions.fold == k])
        own = res.folds.iloc[i].get("chosen", "")
        facts.append({"inner_ua": max(inner),
                      "chosen": f"{pick[1]} / {pick[2]}" + (f" ({own})" if isinstance(own, str) and own else "")})
    p = pd.concat(preds, ignore_index=True)
    folds = pd.concat([ev.fold_scores(p, first.classes), pd.DataFrame(facts)], axis=1)
    return ev.CVResult(first.classes, folds, p, 0.0, extra={"candidates": [f"{r[1]} / {r[2]}" for r in runs]})
