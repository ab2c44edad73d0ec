"""The deployed heads on a corpus they never saw: each head's own recipe -- model, feature set,
normalisation, augmentation copies when it is trained with them, penalty and temperature chosen by
nested CV -- fitted on the other corpora only and scored on every clip of the held-out one, over
the classes both sides have. Like the shipped head's final fit, it trains on every clip of the
other corpora: the cross-validation cap (``budget.max_train``) is a compute budget for the many
fits of 03/06, and on CREMA-D -> RAVDESS it cost the deployed emotion recipe 3 points of UA (52.3
with 4,500 rows, 55.4 with all 7,441; this machine, notebook 07's recipe) -- and 15 points to the
clean ridge on ``whisper_base`` at the suite's 2,000 (41.1 against 56.0), enough to change which
recipe the suite prefers: so the suite's unseen-corpus fits use every clip too. Notebook 06's
leave-one-corpus-out rows score the configuration trained without augmentation, on every clip as
well (``evaluation.budget_for``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from speechemo.models import calibration
from speechemo.protocol import evaluation as ev

PROBA = "p_"  # prefix of the probability columns of per-clip predictions


def held_out_predictions(model: str, X: np.ndarray, y: np.ndarray, actors: np.ndarray, corpus: np.ndarray | None,
                         budget, params: dict | None = None, extra: tuple | None = None,
                         n_jobs: int = 2) -> pd.DataFrame:
    """Per clip of each held-out corpus, over the classes it shares with the others: its row in ``X``
    (``row``), ``held_out``, ``actor``, ``true``, ``pred`` and the calibrated probabilities
    (``p_<class>``) of the head fitted on every clip of the other
    corpora, as the deployed head is (``budget.max_train`` is not applied). ``extra``: augmentation
    rows, of which those of the training speakers in the shared classes are added. Empty with one
    corpus."""
    corpus = np.zeros(len(y)) if corpus is None else np.asarray(corpus)
    frames = []
    for held in pd.unique(corpus) if len(set(corpus.tolist())) > 1 else []:
        shared = sorted(set(y[corpus != held]) & set(y[corpus == held]))
        tr = np.flatnonzero((corpus != held) & np.isin(y, shared))
        te = np.flatnonzero((corpus == held) & np.isin(y, shared))
        aug = None if extra is None else tuple(a[np.isin(extra[1], shared)] for a in extra)
        head = calibration.fit_head(model, X[tr], y[tr], actors[tr], budget, shared, params, n_jobs, extra=aug)
        proba = head.proba(X[te])
        frames.append(pd.DataFrame({"row": te, "held_out": str(held), "actor": actors[te], "true": y[te],
                                    "pred": np.asarray(head.classes)[proba.argmax(1)],
                                    **{f"{PROBA}{c}": proba[:, i] for i, c in enumerate(head.classes)}}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["row", "held_out", "actor", "true", "pred"])


def probability_columns(pred: pd.DataFrame, complete: bool = True) -> list[str]:
    """The ``p_<class>`` columns of per-clip predictions; ``complete``: only those with a number on
    every row (predictions of several tasks stacked leave the other tasks' classes empty)."""
    return [c for c in pred.columns if c.startswith(PROBA) and (not complete or pred[c].notna().all())]


def one_label_per_voice(pred: pd.DataFrame) -> bool:
    """Whether every voice of these rows has a single true label (gender: yes; emotion: no)."""
    return "actor" in pred.columns and bool((pred.groupby("actor").true.nunique() == 1).all())


def scores_by_corpus(pred: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per held-out corpus of ``held_out_predictions``: accuracy (``wa``), UA, macro-F1, clips and each
    class's recall (``recall_<class>``), over the classes of that corpus's rows. For a task with one
    label per voice (gender) and rows carrying probabilities, also one answer per voice as the app
    gives it for several clips of one voice (``evaluation.voice_scores``: ``voice_accuracy``,
    ``voice_recall_<class>``, ``voices``)."""
    out = {}
    for held, g in pred.groupby("held_out", sort=False):
        truth, guess = g.true.to_numpy(), g.pred.to_numpy()
        shared = sorted(set(truth))
        out[str(held)] = {**ev.scores(truth, guess, shared), "clips": int(len(g)),
                          **{f"recall_{c}": float((guess[truth == c] == c).mean()) for c in shared}}
        columns = probability_columns(g)
        if columns and one_label_per_voice(g):  # as the app answers several clips of one voice
            proba = g[columns].rename(columns=lambda c: c[len(PROBA):])
            out[str(held)].update(ev.voice_scores(proba, truth, g.actor.to_numpy()))
    return out


def ua_table(pred: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group of ``by`` in per-clip predictions of held-out corpora (``held_out``, ``true``,
    ``pred``): UA on each held-out corpus (``loco_<corpus>``, over the classes of that corpus's rows)
    and ``ua_loco``, the worst of them."""
    if pred is None or pred.empty:
        return pd.DataFrame(columns=by + ["ua_loco"])
    ua = pred.groupby(by + ["held_out"]).apply(
        lambda g: ev.scores(g.true.to_numpy(), g.pred.to_numpy(), sorted(set(g.true)))["ua"], include_groups=False)
    wide = ua.unstack("held_out")
    wide.columns = [f"loco_{c}" for c in wide.columns]
    return wide.assign(ua_loco=wide.min(axis=1)).reset_index()


def worst_ua(pred: pd.DataFrame, by: str) -> dict[str, float]:
    """``ua_loco`` of ``ua_table`` per value of the column ``by`` (e.g. a speaker head's statistic)."""
    t = ua_table(pred, [by])
    return {str(k): float(v) for k, v in zip(t[by], t["ua_loco"])}


def held_out_scores(model: str, X: np.ndarray, y: np.ndarray, actors: np.ndarray, corpus: np.ndarray | None, budget,
                    params: dict | None = None, extra: tuple | None = None, n_jobs: int = 2) -> dict[str, dict[str, float]]:
    """Per held-out corpus: ``scores_by_corpus`` of the head fitted on every clip of the other corpora
    in the shared classes, as the deployed head is (``budget.max_train`` is not applied; ``extra``:
    augmentation rows, those of the training speakers and shared classes added). Empty with one corpus."""
    return scores_by_corpus(held_out_predictions(model, X, y, actors, corpus, budget, params, extra, n_jobs))


def table(scores: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    """One row per (head, held-out corpus) of ``{head: held_out_scores(...)}``."""
    return pd.DataFrame([{"head": h, "held_out": c, **v} for h, by in scores.items() for c, v in by.items()])
