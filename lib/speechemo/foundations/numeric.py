"""Small numeric rules used on both the training and the serving side (one home for each)."""
from __future__ import annotations

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise (last axis) softmax, stable for large scores."""
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def fit_temperature(scores: np.ndarray, y_idx: np.ndarray, grid: np.ndarray | None = None) -> float:
    """The temperature T minimising the log-loss of ``softmax(scores / T)`` on held-out scores."""
    grid = np.exp(np.linspace(np.log(0.01), np.log(10.0), 121)) if grid is None else grid
    losses = [-np.mean(np.log(softmax(scores / t)[np.arange(len(y_idx)), y_idx] + 1e-12)) for t in grid]
    return float(grid[int(np.argmin(losses))])


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """Unweighted accuracy (UA): the mean recall over the classes present in ``y``."""
    y, pred = np.asarray(y), np.asarray(pred)
    return float(np.mean([(pred[y == c] == c).mean() for c in np.unique(y)]))


def cell_weights(y: np.ndarray, strata: np.ndarray | None = None) -> np.ndarray:
    """Clip weights (mean 1) that give every class the same total weight (scikit-learn's "balanced")
    or, with ``strata`` (each clip's corpus), every (corpus, class) cell present the same total:
    then every corpus counts as much as another, however many clips it has."""
    y = np.asarray(y).astype(str)
    cells = y if strata is None else np.char.add(np.char.add(np.asarray(strata).astype(str), "\x1f"), y)
    _, inv, counts = np.unique(cells, return_inverse=True, return_counts=True)
    return len(y) / (len(counts) * counts[inv])


def stratum_balanced_accuracy(y: np.ndarray, pred: np.ndarray, strata: np.ndarray | None = None) -> float:
    """UA (``balanced_accuracy``), or with ``strata`` the mean of each stratum's (corpus's) own UA over
    its own classes: what a choice compares when every corpus should count the same."""
    if strata is None:
        return balanced_accuracy(y, pred)
    y, pred, strata = np.asarray(y), np.asarray(pred), np.asarray(strata)
    return float(np.mean([balanced_accuracy(y[strata == s], pred[strata == s]) for s in np.unique(strata)]))


#: the statistics a voice can be calibrated with -> whether its clips are scaled as well as centred
STATISTICS = {"mean and std": True, "mean only": False}


def scaled(statistic: str | None) -> bool:
    """Whether a speaker head's ``statistic`` scales its clips as well as centring them (``None`` and
    ``"mean"``, the name in bundles written before ``"mean only"``: centred only)."""
    if statistic in (None, "mean"):
        return False
    if statistic not in STATISTICS:
        raise ValueError(f"unknown calibrate-to-a-voice statistic {statistic!r}: one of {', '.join(STATISTICS)} "
                         "(preprocessing.json of the bundle, heads.<name>.statistic)")
    return STATISTICS[statistic]


def zscore(X: np.ndarray, stats_rows: np.ndarray | None = None, scale: bool = True) -> np.ndarray:
    """Columns of ``X`` centred on the mean of ``stats_rows`` (default: ``X`` itself) and, with
    ``scale``, divided by their std (a constant column is only centred): the rule behind
    per-speaker and per-corpus normalisation, in training and in the app."""
    X = np.asarray(X, dtype=np.float64)
    ref = X if stats_rows is None else np.asarray(stats_rows, dtype=np.float64)
    out = X - ref.mean(axis=0)
    if scale:
        sd = ref.std(axis=0)
        out = out / np.where(sd > 1e-12, sd, 1.0)
    return out


def percent(v: float | None, std: float | None = None, unit: bool = True) -> str:
    """A fraction as a percentage to one decimal, with ``± std`` if given (``n/a`` for None)."""
    if v is None:
        return "n/a"
    return f"{v * 100:.1f}" + (f" ± {std * 100:.1f}" if std is not None else "") + (" %" if unit else "")
