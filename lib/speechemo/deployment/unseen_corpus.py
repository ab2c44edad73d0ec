"""The deployed heads on a corpus they never saw: each head's own recipe -- model, feature set,
normalisation, augmentation copies when it is trained with them, penalty and temperature chosen by
nested CV -- fitted on the other corpora only and scored on every clip of the held-out one, over
the classes both sides have. Like the shipped head's final fit, it trains on every clip of the
other corpora: the cross-validation cap (``budget.max_train``) is a compute budget for the many
fits of 03/06, and on CREMA-D -> RAVDESS it cost the deployed emotion recipe 3 points of UA (52.3
with 4,500 rows, 55.4 with all 7,441; this machine, notebook 07's recipe). Notebook 06's
leave-one-corpus-out rows score the configuration trained without augmentation, capped as every
cross-validation fit is."""
from __future__ import annotations

import numpy as np
import pandas as pd

from speechemo.models import calibration
from speechemo.protocol import evaluation as ev


def held_out_scores(model: str, X: np.ndarray, y: np.ndarray, actors: np.ndarray, corpus: np.ndarray | None, budget,
                    params: dict | None = None, extra: tuple | None = None, n_jobs: int = 2,
                    seed: int = 0) -> dict[str, dict[str, float]]:
    """Per held-out corpus: accuracy (``wa``), UA, macro-F1, clips and each class's recall
    (``recall_<class>``) of the head fitted on every clip of the other corpora in the shared
    classes, as the deployed head is (``budget.max_train`` is not applied; ``extra``: augmentation
    rows, those of the training speakers and shared classes added; ``seed`` is unused: no rows are
    sampled). Empty with one corpus."""
    corpus = np.zeros(len(y)) if corpus is None else np.asarray(corpus)
    out = {}
    for held in pd.unique(corpus) if len(set(corpus.tolist())) > 1 else []:
        shared = sorted(set(y[corpus != held]) & set(y[corpus == held]))
        tr = np.flatnonzero((corpus != held) & np.isin(y, shared))
        te = np.flatnonzero((corpus == held) & np.isin(y, shared))
        aug = None if extra is None else tuple(a[np.isin(extra[1], shared)] for a in extra)
        head = calibration.fit_head(model, X[tr], y[tr], actors[tr], budget, shared, params, n_jobs, extra=aug)
        pred = np.asarray(head.predict(X[te]))
        truth = y[te]
        out[str(held)] = {**ev.scores(truth, pred, shared), "clips": int(len(te)),
                          **{f"recall_{c}": float((pred[truth == c] == c).mean()) for c in shared}}
    return out


def table(scores: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    """One row per (head, held-out corpus) of ``{head: held_out_scores(...)}``."""
    return pd.DataFrame([{"head": h, "held_out": c, **v} for h, by in scores.items() for c, v in by.items()])
