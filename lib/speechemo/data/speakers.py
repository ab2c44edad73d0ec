"""Every training speaker of the workbook by one integer id -- RAVDESS actors 1-24, CREMA-D actors
1001-1091 -- with their corpus, gender and speaker fold. Fold k of a union of corpora is fold k of
each: RAVDESS keeps the EmoBox folds, CREMA-D the workbook's six gender- and age-balanced folds."""
from __future__ import annotations

import functools

import numpy as np

from speechemo.data import cremad
from speechemo.data.ravdess import ALL_ACTORS, fold_of_actor, gender_of_actor


@functools.cache
def _cremad() -> dict[int, tuple[int, str]]:

    f = cremad.folds()
    return {int(a): (int(k), str(g)) for a, k, g in zip(f.actor, f.fold, f.gender)}


def corpus_of(actor: int) -> str:
    """``ravdess`` or ``cremad`` (the id ranges do not overlap)."""
    if int(actor) in ALL_ACTORS:
        return "ravdess"
    if int(actor) in _cremad():
        return "cremad"
    raise ValueError(f"speaker {actor} is neither a RAVDESS actor (1-24) nor a CREMA-D actor (1001-1091)")


def fold_of(actor: int) -> int:
    """The speaker fold (1-6) in which ``actor`` is a test speaker."""
    a = int(actor)
    return fold_of_actor(a) if corpus_of(a) == "ravdess" else _cremad()[a][0]


def gender_of(actor: int) -> str:
    """``female`` or ``male`` (RAVDESS: odd actors male; CREMA-D: its demographics file)."""
    a = int(actor)
    return gender_of_actor(a) if corpus_of(a) == "ravdess" else _cremad()[a][1]


def corpora_of(actors) -> np.ndarray | None:
    """The corpus of every speaker id in ``actors`` when they come from two or more corpora, else
    ``None`` (one corpus, or ids the workbook does not know): what a fit balances over."""
    uniq, inv = np.unique(np.asarray(actors).astype(int), return_inverse=True)
    try:
        names = np.array([corpus_of(a) for a in uniq.tolist()])
    except ValueError:
        return None
    return names[inv] if len(set(names.tolist())) > 1 else None
