"""Reading a pretrained encoder's embeddings: a layer-wise probe, a transfer probe and the calibrate-to-a-voice (speaker adaptation) curve.

* ``layer_probe``: how much of a task each hidden state carries -- a plain logistic regression
  with a fixed C on one layer's pooled vector, speaker-independent folds. It describes the encoder;
  it chooses nothing (the models of notebook 06 use every layer, their C chosen by nested CV).
* ``transfer_probe``: how well each block of columns carries a task to a corpus it never saw
  (trained on one corpus, scored on another, per-class recall), one clip at a time and, given the
  speakers, with one answer per voice from all its clips: descriptive, it chooses nothing.
* ``speaker_adaptation_curve``: how a speaker-normalised model does when a test speaker's normalisation
  statistics come from only K of their clips (chosen at random, labels unused), so a user knows
  how many clips of their own voice the app needs. K = 0 is the single-clip model.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from speechemo.models import classical
from speechemo.protocol import evaluation as ev
from speechemo.foundations.numeric import STATISTICS, zscore

# fit(X_train, y_train, actors_train) -> predict(X) -> labels
Fitter = Callable[[np.ndarray, np.ndarray, np.ndarray], Callable[[np.ndarray], np.ndarray]]


def model_fitter(name: str, budget, seed: int = 0) -> Fitter:
    """A ``Fitter`` for one of ``classical.MODELS`` (hyper-parameters by its nested search)."""

    def fit(X: np.ndarray, y: np.ndarray, actors: np.ndarray):
        est, enc = classical.fit(name, X, y, actors, budget, seed)
        return lambda Z: enc.inverse_transform(est.predict(Z))

    return fit


def layer_probe(X: np.ndarray, labels: dict[str, np.ndarray], actors: np.ndarray, layer_cols: list[slice],
                fitter: Fitter, progress: bool = True) -> pd.DataFrame:
    """UA and WA (mean and std over the speaker-independent folds) of ``fitter`` on each layer's
    columns, for each task in ``labels``."""
    from tqdm import tqdm

    splits = ev.speaker_folds(actors)
    rows = []
    jobs = [(t, l) for t in labels for l in range(len(layer_cols))]
    for task, layer in tqdm(jobs, desc="layer probe", disable=not progress):
        y, Xl = labels[task], X[:, layer_cols[layer]]
        fold = []
        for tr, te in splits:
            pred = fitter(Xl[tr], y[tr], actors[tr])(Xl[te])
            fold.append(ev.scores(y[te], pred, ev.classes_for(task, y)))
        f = pd.DataFrame(fold)
        rows.append({"task": task, "layer": layer, "ua": f.ua.mean(), "ua_std": f.ua.std(ddof=0),
                     "wa": f.wa.mean(), "wa_std": f.wa.std(ddof=0)})
    return pd.DataFrame(rows)


def transfer_probe(blocks: dict[str, np.ndarray], y: np.ndarray, corpus: np.ndarray, C: float = 0.01,
                   voices: np.ndarray | None = None, progress: bool = True) -> pd.DataFrame:
    """For every block of columns and every ordered pair of corpora: a logistic regression with a
    fixed ``C`` (standardised, classes balanced) trained on all clips of one corpus and scored on
    all clips of the other, over the classes both have. Returns accuracy, UA and each class's
    recall (``recall_<class>``) per (block, train corpus, test corpus).

    With ``voices`` (one speaker id per clip), also the same-speaker answer: each test voice gets
    one label, from the mean of the probabilities over all its clips, and ``voice_accuracy`` and
    ``voice_recall_<class>`` count voices (not clips). Labels of the test voices are not used."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from tqdm import tqdm

    names = list(pd.unique(np.asarray(corpus)))
    pairs = [(a, b) for a in names for b in names if a != b]
    rows = []
    for block, (a, b) in tqdm([(k, p) for k in blocks for p in pairs], desc="transfer probe", disable=not progress):
        tr, te = corpus == a, corpus == b
        shared = sorted(set(y[tr]) & set(y[te]))
        tr, te = tr & np.isin(y, shared), te & np.isin(y, shared)
        X = blocks[block]
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=3000, class_weight="balanced"))
        pred = model.fit(X[tr], y[tr]).predict(X[te])
        recall = {f"recall_{c}": float((pred[y[te] == c] == c).mean()) for c in shared}
        row = {"features": block, "train": a, "test": b, "accuracy": float((pred == y[te]).mean()),
               "ua": float(np.mean(list(recall.values()))), **recall}
        if voices is not None:
            row.update(ev.voice_scores(pd.DataFrame(model.predict_proba(X[te]), columns=model.classes_)[shared],
                                       y[te], np.asarray(voices)[te]))
        rows.append(row)
    return pd.DataFrame(rows)


def speaker_adaptation_curve(X: np.ndarray, y: np.ndarray, actors: np.ndarray, task: str, fit_normalised: Fitter,
                      fit_single: Fitter, ks: list[int | str], repeats: int = 5, seed: int = 0,
                      progress: bool = True, scale: bool = True) -> pd.DataFrame:
    """UA per fold when each test speaker is normalised with statistics from K of their clips.

    The normalised model is trained per fold on the training speakers, each normalised with all of
    their own clips (as in the speaker-normalised results); every test clip is then normalised with
    the mean and std of K clips of its speaker drawn at random (``repeats`` draws; ``"all"`` = every
    clip, one draw). K = 0 means no statistics: the single-clip model. ``scale=False``: speakers
    are only centred (their mean subtracted), in training and test alike. Labels of test clips are
    used only to score. Returns one row per (K, fold, repeat), with the statistics used."""
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    classes = ev.classes_for(task, y)
    Xn = ev.speaker_normalise(X, actors, scale=scale)
    stats = next(name for name, scaled in STATISTICS.items() if scaled == scale)
    rows = []
    for fold, (tr, te) in enumerate(tqdm(ev.speaker_folds(actors), desc="calibrate-to-a-voice curve",
                                         disable=not progress), 1):
        predict_norm = fit_normalised(Xn[tr], y[tr], actors[tr])
        predict_single = fit_single(X[tr], y[tr], actors[tr]) if 0 in ks else None
        for k in ks:
            draws = 1 if k in (0, "all") else repeats
            for r in range(draws):
                if k == 0:
                    pred = predict_single(X[te])
                else:
                    Z = np.empty((len(te), X.shape[1]))
                    for a in np.unique(actors[te]):
                        rows_a = te[actors[te] == a]
                        pick = rows_a if k == "all" else rng.choice(rows_a, size=min(int(k), len(rows_a)),
                                                                    replace=False)
                        Z[actors[te] == a] = zscore(X[rows_a], X[pick], scale=scale)
                    pred = predict_norm(Z)
                rows.append({"statistics": stats, "k": str(k), "fold": fold, "repeat": r,
                             **ev.scores(y[te], pred, classes)})
    return pd.DataFrame(rows)


def curve_summary(curve: pd.DataFrame) -> pd.DataFrame:
    """Mean UA over folds and draws per statistics and K, with the std over folds (of the
    per-fold means); K in increasing order."""
    per_fold = curve.groupby(["statistics", "k", "fold"]).ua.mean().reset_index()
    out = per_fold.groupby(["statistics", "k"]).ua.agg(ua="mean", ua_std=lambda s: s.std(ddof=0)).reset_index()
    out["order"] = out.k.map(lambda k: float("inf") if k == "all" else int(k))
    return out.sort_values(["statistics", "order"]).drop(columns="order").set_index(["statistics", "k"])


def first_k_beating_single(curve: dict[str, dict[str, float]], single: float) -> dict[str, int]:
    """Per statistic of a curve (statistic -> K -> UA), the smallest K (not 0, not ``all``) whose UA
    beats ``single``, the single-clip UA; a statistic that never does is left out."""
    out = {}
    for stat, by_k in curve.items():
        ks = sorted(int(k) for k in by_k if k not in ("0", "all"))
        hit = next((k for k in ks if by_k[str(k)] > single), None)
        if hit is not None:
            out[stat] = hit
    return out


def same_speaker_policy(curve: pd.DataFrame, unseen: dict[str, float] | None = None) -> dict:
    """From a calibrate-to-a-voice curve: for each statistic the smallest K whose UA beats the single-clip
    model (K = 0); the statistic that gets there with the fewest clips (ties: the higher UA at
    that K) is the one to deploy. ``unseen`` (several corpora): each statistic's UA on a corpus the
    speaker-normalised head never saw; then, among the statistics that beat a single clip, the one
    with the best such UA is deployed (what holds up elsewhere before fewer clips), at its own
    smallest K. ``min_clips`` is None when no K beats a single clip; ``measured_on`` passes on the
    curve's column of that name (the corpus it ran on)."""
    cs = curve_summary(curve)
    ua = cs.ua.unstack(0)
    ua = ua.loc[sorted(ua.index, key=lambda k: float("inf") if k == "all" else int(k))]
    single = float(ua.loc["0"].max())
    scored = {k: float(v) for k, v in (unseen or {}).items() if v is not None and np.isfinite(v)}
    firsts = first_k_beating_single({s: ua[s].to_dict() for s in ua.columns}, single)
    best = min(((-scored.get(stat, 0.0), k, -float(ua.loc[str(k), stat]), stat) for stat, k in firsts.items()),
               default=None)
    where = ({"measured_on": str(curve["measured_on"].iloc[0])} if "measured_on" in curve and len(curve) else {})
    if best is None:
        return {"statistic": None, "min_clips": None, "ua_single": single, **where}
    _, k, neg_ua, stat = best
    chosen = {"chosen_by": "UA on an unseen corpus", "ua_unseen_corpus": scored} if scored else {}
    return {"statistic": stat, "min_clips": k, "ua_single": single, "ua_at_min_clips": -neg_ua, **chosen,
            "ua_all_clips": float(ua.loc["all", stat]) if "all" in ua.index else None,
            "curve": {s: {kk: float(v) for kk, v in ua[s].items()} for s in ua.columns}, **where}
