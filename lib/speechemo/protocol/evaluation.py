"""Evaluation protocols, metrics and the workbook's results table.

Headline protocol: speaker-independent cross-validation over the six EmoBox actor folds
(``ravdess.EMOBOX_FOLDS``): every fold tests on its actors and trains on all the others.
The random stratified split (every actor on both sides) exists only to show how much it inflates
the scores. Anything fitted -- scalers, selection, class weights, early stopping, hyper-parameters
-- is fitted inside ``fit_predict`` on the training indices only.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score,
                             precision_recall_fscore_support)
from sklearn.model_selection import StratifiedKFold

from speechemo.foundations.labels import TASK_CLASSES, task_label
from speechemo.foundations.files import write_csv
from speechemo.foundations.numeric import balanced_accuracy, zscore
from speechemo.foundations.profiles import Budget
from speechemo.foundations.reproducibility import git_commit
from speechemo.data.speakers import fold_of, gender_of

SPEAKER_INDEPENDENT = "speaker_independent"   # speaker folds over every corpus of the dataset (pooled)
RANDOM_SPLIT = "random_split"
WITHIN = "within"       # "within:<corpus>": that corpus's speaker folds, trained on it alone
LOCO = "loco"           # "loco:<corpus>": trained on the other corpora, tested on it, shared classes
POOLED = "pooled"       # "pooled:<corpus>": the union's speaker folds, scored on that corpus's test clips (``per_corpus``)
VOICE = "voice"         # normalisation of a row whose clips all get their voice's answer (``per_voice``)
CROSS_CORPUS = "cross_corpus"  # notebook 08: trained on the dataset, scored on every clip of a corpus brought to it
NESTED = "nested_choice"  # model of a row whose every fold took the head its training actors chose (``protocol.choice``)
#: tasks whose label is constant within a voice: z-scoring each speaker's clip vectors removes each voice's
#: constant offset, most of what carries them, so they are not run with per-speaker normalisation; they get
#: a ``voice`` row instead
VOICE_CONSTANT_TASKS = ("gender",)
KEY = ["dataset", "task", "features", "model", "protocol", "normalisation"]
SUMMARY_COLUMNS = KEY + ["train_corpora", "test_corpora", "wa", "wa_std", "ua", "ua_std", "macro_f1", "macro_f1_std", "n_folds",
                         "n_utterances", "fit_seconds", "profile", "notebook", "params", "commit",
                         "run", "created"]
#: read as text whatever they look like: a commit such as ``6e54267`` is otherwise read as a number (inf)
TEXT_COLUMNS = KEY + ["train_corpora", "test_corpora", "profile", "notebook", "params", "commit", "run", "created"]

Split = tuple[np.ndarray, np.ndarray]
#: ``fit_predict(train, test, fold)`` -> predicted labels, or (labels, per-fold facts such as
#: ``classical.inner_choice``'s ``inner_ua`` and ``chosen``, recorded as columns of the fold's row;
#: ``protocol.choice`` chooses among heads by them)
FitPredict = Callable[[np.ndarray, np.ndarray, int], np.ndarray | tuple[np.ndarray, dict]]


def labels_for(meta: pd.DataFrame, task: str) -> np.ndarray:
    """Class name of every row of a metadata frame (needs ``emotion`` and ``gender``)."""
    return np.array([task_label(task, e, g) for e, g in zip(meta["emotion"], meta["gender"])])


def speaker_folds(actors: np.ndarray) -> list[Split]:
    """The speaker folds present in ``actors`` (``speakers.fold_of``: EmoBox folds for RAVDESS,
    the workbook's folds for CREMA-D; fold k of a union is fold k of each corpus):
    (train indices, test indices) per fold."""
    actors = np.asarray(actors)
    fold = np.array([fold_of(a) for a in actors.tolist()])
    out = []
    for k in sorted(set(fold.tolist())):
        test = fold == k
        if test.any() and (~test).any():
            out.append((np.flatnonzero(~test), np.flatnonzero(test)))
    if not out:
        raise ValueError("no speaker fold has both training and test actors in this data")
    return out


def random_folds(y: np.ndarray, n_splits: int = 6, seed: int = 0) -> list[Split]:
    """Stratified random folds that mix each actor's utterances across train and test."""
    skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in skf.split(np.zeros(len(y)), y)]


def folds_for(protocol: str, y: np.ndarray, actors: np.ndarray, seed: int = 0,
              corpus: np.ndarray | None = None) -> list[Split]:
    """The splits of ``protocol``: speaker folds over all rows, the random split, or, with the
    rows' ``corpus``, ``within:<c>`` (c's speaker folds, c's rows only) and ``loco:<c>`` (one split:
    train on the other corpora, test on c, both restricted to the classes both sides have)."""
    if protocol == SPEAKER_INDEPENDENT:
        return speaker_folds(actors)
    if protocol == RANDOM_SPLIT:
        return random_folds(y, len(speaker_folds(actors)), seed)
    kind, _, name = protocol.partition(":")
    if kind in (WITHIN, LOCO) and corpus is not None and name in set(np.asarray(corpus).tolist()):
        held = np.asarray(corpus) == name
        if kind == WITHIN:
            rows = np.flatnonzero(held)
            return [(rows[tr], rows[te]) for tr, te in speaker_folds(np.asarray(actors)[rows])]
        shared = set(np.asarray(y)[~held].tolist()) & set(np.asarray(y)[held].tolist())
        keep = np.isin(y, list(shared))
        return [(np.flatnonzero(~held & keep), np.flatnonzero(held & keep))]
    if kind == POOLED:
        raise ValueError(f"{protocol!r} is not run: its rows are the speaker-fold runs' predictions on one corpus "
                         "(evaluation.per_corpus); run the speaker folds")
    raise ValueError(f"unknown protocol {protocol!r} for corpora {sorted(set(np.asarray(corpus).tolist())) if corpus is not None else '-'}")


def budget_for(budget: Budget, protocol: str) -> Budget:
    """The training budget of a run of ``protocol``: a leave-one-corpus-out run
    is one fit per held-out corpus, so it takes ``loco_max_train`` clips (default every clip)
    instead of the cross-validation cap ``max_train``."""
    if protocol.partition(":")[0] == LOCO:
        return replace(budget, max_train=budget.loco_max_train)
    return budget


def corpora_of(protocol: str, corpus: np.ndarray | None, dataset: str) -> tuple[str, str]:
    """Which corpora trained and which tested a result of ``protocol`` (``+``-joined)."""
    names = sorted(set(np.asarray(corpus).tolist())) if corpus is not None else [dataset]
    kind, _, name = protocol.partition(":")
    if kind == WITHIN:
        return name, name
    if kind == LOCO:
        return "+".join(n for n in names if n != name), name
    if kind == POOLED:
        return "+".join(names), name
    return "+".join(names), "+".join(names)


def protocols(corpus: np.ndarray | None) -> list[str]:
    """The protocols a dataset supports: speaker folds (pooled), and with several corpora each
    corpus alone (within) and each corpus held out (leave-one-corpus-out)."""
    names = sorted(set(np.asarray(corpus).tolist())) if corpus is not None else []
    if len(names) < 2:
        return [SPEAKER_INDEPENDENT]
    return [SPEAKER_INDEPENDENT] + [f"{WITHIN}:{n}" for n in names] + [f"{LOCO}:{n}" for n in names]


def inner_groups(actors: np.ndarray, n: int = 3) -> np.ndarray:
    """Group ids for nested, actor-grouped validation inside a training set. Actors are dealt
    out women first, then men (``speakers.gender_of``), so that every group holds both genders --
    dealt in plain order, with two groups, each group could hold one gender."""
    uniq = np.unique(actors)
    order = sorted(uniq.tolist(), key=lambda a: (gender_of(a) == "male", a))
    rank = {a: i for i, a in enumerate(order)}
    return np.array([rank[a] for a in np.asarray(actors).tolist()]) % min(n, len(uniq))


def cap_per_speaker(tr: np.ndarray, actors: np.ndarray, y: np.ndarray, max_rows: int | None,
                    seed: int = 0) -> np.ndarray:
    """Training rows limited to about ``max_rows`` by keeping the same number of clips of every
    training speaker (more voices matter more than more clips of a voice), dealt round-robin over
    the labels in a seeded order; ``tr`` itself when it is small enough. Labels of training rows
    only; the test rows are never touched."""
    tr = np.asarray(tr)
    if max_rows is None or len(tr) <= max_rows:
        return tr
    speakers = np.asarray(actors)[tr]
    k = max(1, max_rows // len(np.unique(speakers)))
    rng = np.random.default_rng(seed)
    keep = []
    for a in np.unique(speakers):
        idx = tr[speakers == a]
        idx = idx[rng.permutation(len(idx))]
        labels = np.asarray(y)[idx]
        rank = np.zeros(len(idx), int)
        for c in np.unique(labels):
            rank[labels == c] = np.arange((labels == c).sum())
        keep.append(idx[np.argsort(rank, kind="stable")[:k]])
    return np.sort(np.concatenate(keep))


def speaker_normalise(X: np.ndarray, actors: np.ndarray, scale: bool = True) -> np.ndarray:
    """Z-score every column within each speaker, from that speaker's own utterances only
    (labels unused); ``scale=False`` only subtracts the speaker's mean. A test speaker is
    normalised with its own statistics, never with anything from training speakers, and no label
    of any test utterance is read."""
    X = np.asarray(X, dtype=np.float64)
    out = np.empty_like(X)
    for a in np.unique(actors):
        m = actors == a
        out[m] = zscore(X[m], scale=scale)
    return out


def normalise(X: np.ndarray, how: str, actors: np.ndarray, corpus: np.ndarray | None = None) -> np.ndarray:
    """A normalisation variant of a feature matrix (labels never read): ``none``; ``speaker``
    (each speaker z-scored with its own clips); ``corpus`` (each corpus z-scored with its own clips:
    what a batch from an unseen corpus allows, e.g. removing a studio's or a population's offset)."""
    if how == "none":
        return X
    if how == "speaker":
        return speaker_normalise(X, actors)
    if how == "corpus":
        return speaker_normalise(X, np.asarray(corpus) if corpus is not None else np.zeros(len(X)))
    raise ValueError(f"unknown normalisation {how!r}: none, speaker or corpus")


def normalisations_for(corpus: np.ndarray | None, base: list[str]) -> list[str]:
    """``base`` plus ``corpus`` when the dataset holds several corpora (with one it would be a
    plain z-score, which every model already does)."""
    several = corpus is not None and len(set(np.asarray(corpus).tolist())) > 1
    return list(base) + (["corpus"] if several and "corpus" not in base else [])


def removes_the_target(task: str, how: str) -> bool:
    """Whether normalisation ``how`` removes most of what ``task`` predicts: per-speaker z-scoring of a
    task constant within a voice (gender) takes away each voice's offset (the encoder's gender rows with
    it were at chance) -- such a run is not run; the voice row answers the same request."""
    return how == "speaker" and task in VOICE_CONSTANT_TASKS


def scores(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, float]:
    """WA (accuracy), UA (balanced accuracy = mean per-class recall) and macro-F1."""
    import warnings

    with warnings.catch_warnings():  # a fold may lack a class: that is expected, not news
        warnings.simplefilter("ignore", UserWarning)
        return {"wa": float(accuracy_score(y_true, y_pred)),
                "ua": balanced_accuracy(y_true, y_pred),
                # over the classes present in this fold (a fold of one gender has no male F1)
                "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0))}


@dataclass
class CVResult:
    """Per-fold scores, pooled predictions and confusion matrix of one cross-validation."""

    classes: list[str]
    folds: pd.DataFrame
    predictions: pd.DataFrame
    fit_seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def confusion(self) -> np.ndarray:
        return confusion_matrix(self.predictions["true"], self.predictions["pred"], labels=self.classes)

    def summary(self) -> dict[str, float]:
        f = self.folds
        return {"wa": f.wa.mean(), "wa_std": f.wa.std(ddof=0), "ua": f.ua.mean(),
                "ua_std": f.ua.std(ddof=0), "macro_f1": f.macro_f1.mean(),
                "macro_f1_std": f.macro_f1.std(ddof=0), "n_folds": len(f),
                "n_utterances": len(self.predictions)}

    def per_class(self) -> pd.DataFrame:
        p, r, f1, n = precision_recall_fscore_support(self.predictions["true"], self.predictions["pred"],
                                                      labels=self.classes, zero_division=0)
        return pd.DataFrame({"precision": p, "recall": r, "f1": f1, "support": n}, index=self.classes)


def per_voice(res: CVResult, speakers: pd.Series) -> CVResult:
    """``res`` with every test clip given its voice's answer: the most frequent single-clip answer
    among that speaker's clips of the same fold (ties: the class listed first in ``res.classes``),
    what a same-speaker request gets for a task constant within a voice; each fold rescored over the
    same classes. ``speakers``: the speaker of each file (indexed by file). No labels are read to
    vote and nothing is fitted (``fit_seconds`` 0: the cost is that of ``res``'s fits)."""
    p = res.predictions.copy()
    voice = speakers.reindex(p.file.to_numpy()).to_numpy()
    if pd.isna(voice).any():
        raise KeyError(f"no speaker for {int(pd.isna(voice).sum())} predicted files (first: {p.file[pd.isna(voice)].iloc[0]})")
    order = {c: i for i, c in enumerate(res.classes)}
    counts = p.assign(voice=voice).groupby(["fold", "voice", "pred"]).size().reset_index(name="n")
    counts["order"] = counts.pred.map(order)
    winner = counts.sort_values(["n", "order"], ascending=[False, True]).drop_duplicates(["fold", "voice"])
    answer = dict(zip(zip(winner.fold, winner.voice), winner.pred))
    p["pred"] = [answer[(f, v)] for f, v in zip(p.fold, voice)]
    return CVResult(res.classes, fold_scores(p, res.classes), p, 0.0)


def per_corpus(res: CVResult, corpus_of_file: pd.Series) -> dict[str, CVResult]:
    """A speaker-fold result on a union seen from each of its corpora: for every corpus (keyed by its
    ``pooled:<corpus>`` protocol), ``res`` restricted to that corpus's test clips, each fold rescored
    on them (UA over the classes present there, WA over its clips). The models were trained on every
    corpus and still answer over all their classes: the result keeps them (its confusion matrix
    counts every clip), so a CREMA-D clip called *calm* is an error, and macro-F1 counts such a class
    too. ``corpus_of_file``: the corpus of each file (indexed by file). Nothing is fitted
    (``fit_seconds`` 0: the cost is that of ``res``'s fits); one corpus gives ``{}``."""
    p = res.predictions
    where = corpus_of_file.reindex(p.file.to_numpy()).to_numpy()
    if pd.isna(where).any():
        raise KeyError(f"no corpus for {int(pd.isna(where).sum())} predicted files (first: {p.file[pd.isna(where)].iloc[0]})")
    names = sorted(set(where.tolist()))
    out = {}
    for name in names if len(names) > 1 else []:
        mine = p[where == name].reset_index(drop=True)
        out[f"{POOLED}:{name}"] = CVResult(res.classes, fold_scores(mine, res.classes), mine, 0.0)
    return out


def fold_scores(predictions: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """One row per fold of out-of-fold ``predictions`` (columns fold, true, pred), scored over
    ``classes``, for a result assembled from other results' predictions (nothing fitted)."""
    return pd.DataFrame([{"fold": k, **scores(g.true.to_numpy(), g.pred.to_numpy(), classes), "n_test": len(g),
                          "fit_seconds": 0.0} for k, g in predictions.groupby("fold", sort=True)])


def voice_scores(proba: pd.DataFrame, truth: np.ndarray, voices: np.ndarray) -> dict[str, float]:
    """One answer per voice from its clips' probabilities (``proba``: one column per class, one row
    per clip), as the app answers several clips of one voice: the argmax of their mean. Accuracy
    (``voice_accuracy``), each class's recall (``voice_recall_<class>``) and ``voices``, counted over
    voices, not clips; a voice's true class is its clips' most common label (read only to score)."""
    voices = np.asarray(voices)
    answer = proba.groupby(voices).mean().idxmax(axis=1)
    truth = pd.Series(np.asarray(truth)).groupby(voices).agg(lambda v: v.mode().iloc[0]).loc[answer.index]
    out = {"voice_accuracy": float((answer == truth).mean()), "voices": int(len(answer))}
    out.update({f"voice_recall_{c}": float((answer[truth == c] == c).mean())
                for c in proba.columns if (truth == c).any()})
    return out


def cross_validate(fit_predict: FitPredict, y: np.ndarray, splits: list[Split], classes: list[str],
                   files: list[str] | None = None, progress: str | None = None) -> CVResult:
    """Run ``fit_predict(train_idx, test_idx, fold) -> predicted labels`` on every split (or
    ``(labels, facts)``: the facts, e.g. a nested search's ``inner_ua``, join the fold's row; a
    ``fit_seconds`` among them is the fold's fit time, for a model trained before the call).

    ``fit_predict`` owns everything that is fitted, and sees the test indices only to predict.
    """
    from tqdm import tqdm

    rows, preds, total = [], [], 0.0
    for k, (tr, te) in enumerate(tqdm(splits, desc=progress, disable=progress is None,
                                      leave=False), 1):
        assert not set(tr) & set(te), "train and test overlap"
        t0 = time.perf_counter()
        out = fit_predict(tr, te, k)
        pred, facts = out if isinstance(out, tuple) else (out, {})
        pred, dt = np.asarray(pred), facts.pop("fit_seconds", time.perf_counter() - t0)
        total += dt
        rows.append({"fold": k, **scores(y[te], pred, classes), "n_test": len(te), "fit_seconds": dt, **facts})
        preds.append(pd.DataFrame({"file": np.asarray(files)[te] if files is not None else te,
                                   "fold": k, "true": y[te], "pred": pred}))
    return CVResult(classes, pd.DataFrame(rows), pd.concat(preds, ignore_index=True), total)


# ----------------------------------------------------------------------------- results table
def result_row(res: CVResult, *, dataset: str, task: str, features: str, model: str, protocol: str,
               normalisation: str, profile: str, notebook: str, params: dict | None = None,
               train_corpora: str | None = None, test_corpora: str | None = None, run: str = "") -> dict:
    """One row of ``summary.csv`` for a cross-validation result (``train_corpora`` and
    ``test_corpora`` default to the dataset; ``run``: the run's configuration file, relative to the
    results folder)."""
    return {"dataset": dataset, "task": task, "features": features, "model": model,
            "protocol": protocol, "normalisation": normalisation,
            "train_corpora": train_corpora or dataset, "test_corpora": test_corpora or dataset, **res.summary(),
            "fit_seconds": round(res.fit_seconds, 4), "profile": profile, "notebook": notebook,
            "params": json.dumps(params or {}, sort_keys=True), "commit": git_commit(), "run": run,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def read_results(path: Path) -> pd.DataFrame:
    """A results CSV (summary or folds) with its text columns read as text."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={c: str for c in TEXT_COLUMNS})


def _upsert(path: Path, new: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    if path.exists():
        old = read_results(path)
        merged = pd.concat([old, new], ignore_index=True).drop_duplicates(key, keep="last")
    else:
        merged = new
    merged = merged.sort_values(key, kind="mergesort").reset_index(drop=True)  # stable file order
    write_csv(merged, path)
    return merged


def record(results_dir: Path, row: dict, res: CVResult) -> None:
    """Upsert a result into ``summary.csv`` (one row per key), ``folds.csv`` (one per fold) and
    ``predictions/<key>.csv``; re-running a notebook replaces its rows instead of adding copies."""
    results_dir = Path(results_dir)
    _upsert(results_dir / "summary.csv", pd.DataFrame([row])[SUMMARY_COLUMNS], KEY)
    folds = res.folds.assign(**{k: row[k] for k in KEY})
    _upsert(results_dir / "folds.csv", folds[KEY + list(res.folds.columns)], KEY + ["fold"])
    write_csv(res.predictions, predictions_path(results_dir, row))


def predictions_path(results_dir: Path, row) -> Path:
    """Where the per-clip predictions of a summary row (a dict or a Series with the KEY) live."""
    return Path(results_dir) / "predictions" / ("__".join(str(row[k]) for k in KEY) + ".csv")


def forget(results_dir: Path, notebook: str, dataset: str) -> int:
    """Remove the rows one notebook wrote for one dataset (summary, folds, predictions), so that a
    re-run replaces them even when the configurations it runs changed. Returns how many."""
    results_dir = Path(results_dir)
    path = results_dir / "summary.csv"
    if not path.exists():
        return 0
    summary = read_results(path)
    gone = summary[(summary.notebook.astype(str) == notebook) & (summary.dataset.astype(str) == dataset)]
    if len(gone):
        write_csv(summary.drop(gone.index), path)
        folds_path = results_dir / "folds.csv"
        if folds_path.exists():
            folds = read_results(folds_path)
            keys = set(map(tuple, gone[KEY].astype(str).to_numpy()))
            write_csv(folds[[tuple(r) not in keys for r in folds[KEY].astype(str).to_numpy()]], folds_path)
        for _, r in gone.iterrows():
            predictions_path(results_dir, r).unlink(missing_ok=True)
    return len(gone)


def load_summary(results_dir: Path) -> pd.DataFrame:
    path = Path(results_dir) / "summary.csv"
    if not path.exists():
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    return read_results(path)


def load_folds(results_dir: Path) -> pd.DataFrame:
    """``folds.csv``: one row per result and speaker fold (empty when nothing was recorded)."""
    path = Path(results_dir) / "folds.csv"
    return read_results(path) if path.exists() else pd.DataFrame(columns=KEY + ["fold", "ua"])


def best(summary: pd.DataFrame, task: str, dataset: str, metric: str = "ua") -> pd.Series:
    """The best speaker-independent row for a task on a dataset."""
    s = summary[(summary.task == task) & (summary.dataset == dataset)
                & (summary.protocol == SPEAKER_INDEPENDENT)]
    if s.empty:
        raise LookupError(f"no speaker-independent result for task {task!r} on {dataset!r} in summary.csv")
    return rank(s, metric).iloc[0]


def rank(rows: pd.DataFrame, metric: str = "ua") -> pd.DataFrame:
    """Rows best first by ``metric`` then WA; at an exact tie a model comes before a ``nested_choice``
    row (which only reuses the models' predictions, and ties them wherever every fold chose the same
    head), then the key breaks it, so the order never depends on the order of the file."""
    order = rows.assign(_chosen=rows.model.eq(NESTED))
    return order.sort_values([metric, "wa", "_chosen"] + KEY, ascending=[False, False, True] + [True] * len(KEY),
                             kind="mergesort").drop(columns="_chosen")


def display_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The stable columns of the summary, as percentages, for notebooks and reports."""
    cols = KEY + ["ua", "ua_std", "wa", "wa_std", "macro_f1", "n_folds"]
    out = summary[cols].copy()
    for c in ("ua", "ua_std", "wa", "wa_std", "macro_f1"):
        out[c] = (out[c] * 100).round(1)
    return out.reset_index(drop=True)


TASKS = list(TASK_CLASSES)


def classes_for(task: str, y: np.ndarray) -> list[str]:
    """The task's classes in their fixed order, restricted to those present in ``y``."""
    present = set(np.asarray(y).tolist())
    return [c for c in TASK_CLASSES[task] if c in present]
