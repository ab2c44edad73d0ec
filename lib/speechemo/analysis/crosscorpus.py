"""Cross-corpus evaluation: models trained on RAVDESS, tested on another labelled corpus, scored on
the emotions the two share (predictions restricted to those classes). Also ``evaluate-bundle``:
the exported bundle, one clip at a time as the app uses it, on a corpus folder, as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, recall_score

from speechemo.data import corpora
from speechemo.protocol import choice, evaluation as ev
from speechemo.data.audio import AudioError
from speechemo.data.datasets import parts_of
from speechemo.serving import inference
from speechemo.serving.inference import InputError
from speechemo.foundations.labels import EMOTION_NAMES

PROTOCOL = ev.CROSS_CORPUS


def models_to_retrain(summary: pd.DataFrame, dataset: str, notebooks: list[str],
                      tasks: tuple[str, ...] = ("emotion", "gender")) -> pd.DataFrame:
    """The best single-clip, speaker-independent row of each task and notebook that names one model
    to refit on all of ``dataset`` (a ``nested_choice`` row names a choice per fold, not a model)."""
    rows = summary[(summary.dataset == dataset) & (summary.protocol == ev.SPEAKER_INDEPENDENT)
                   & (summary.normalisation == "none") & summary.notebook.isin(notebooks)
                   & summary.task.isin(tasks) & (summary.model != choice.NESTED)]
    return rows.sort_values("ua", ascending=False).groupby(["task", "notebook"]).head(1)


def target_name(corpus: str, dataset: str, synthetic: bool) -> str:
    """The dataset name of a target's rows: ``<corpus>-target`` when the training data held that
    corpus (its speakers may be among the training ones), ``<corpus>-synthetic`` when the models
    were trained on a synthetic corpus, else the corpus's name."""

    if corpus in parts_of(dataset):
        return f"{corpus}-target"
    return f"{corpus}-synthetic" if synthetic else corpus


def shared_emotions(table: pd.DataFrame, labels: list[str] = EMOTION_NAMES) -> list[str]:
    """Emotions of the corpus that the model also knows, in RAVDESS order."""
    present = set(table.loc[table["shared"], "emotion"].dropna())
    return [c for c in labels if c in present]


def scored_classes(task: str, classes: list[str], shared: list[str]) -> list[str]:
    """The classes an argmax may choose among when scoring ``task`` on another corpus: for emotion,
    the classes both corpora have; for gender (and any binary task) always every class of the head
    -- restricting to the genders present would score a one-gender corpus 100 % whatever the head
    says."""
    return list(classes) if task == "gender" or len(classes) == 2 else list(shared)


def shared_class_scores(true: np.ndarray, probs: np.ndarray, classes: list[str], shared: list[str]) -> dict:
    """UA, WA, macro-F1, per-class recall and confusion of predictions restricted to ``shared``."""
    pred = corpora.restrict(probs, classes, shared)
    out = ev.scores(true, pred, shared)
    out["recall"] = dict(zip(shared, map(float, recall_score(true, pred, labels=shared, average=None, zero_division=0))))
    out["confusion"] = confusion_matrix(true, pred, labels=shared).tolist()
    out["n"] = int(len(true))
    out["pred"] = pred
    return out


def class_scores(est, enc, X: np.ndarray, classes: list[str]) -> np.ndarray:
    """Scores ``(n, classes)`` of a fitted pipeline in ``classes`` order (probabilities where the
    model has them, else decision values); classes it never saw get -inf."""
    s = est.predict_proba(X) if hasattr(est, "predict_proba") and not _is_svm(est) else est.decision_function(X)
    s = np.asarray(s, float)
    if s.ndim == 1 or s.shape[1] == 1:  # binary decision values: score of the second class
        s = np.column_stack([-s.ravel(), s.ravel()])
    out = np.full((len(X), len(classes)), -np.inf)
    for j, c in enumerate(enc.classes_):
        if c in classes:
            out[:, classes.index(c)] = s[:, j]
    return out


def _is_svm(est) -> bool:
    model = getattr(est, "best_estimator_", est)
    model = dict(model.steps)["model"] if hasattr(model, "steps") else model
    return type(model).__name__ == "SVC"


def normalise_target(X: np.ndarray, speakers: np.ndarray | None) -> np.ndarray:
    """Unsupervised target-side normalisation: z-score per speaker, or over the whole corpus when
    speakers are unknown (no labels used)."""
    groups = speakers if speakers is not None and len(set(speakers)) > 1 else np.zeros(len(X))
    return ev.speaker_normalise(X, np.asarray(groups), scale=True)


def result(true: np.ndarray, pred: np.ndarray, classes: list[str], files: list[str], seconds: float = 0.0) -> ev.CVResult:
    """A one-'fold' result (trained on all RAVDESS, tested on the whole corpus) for ``summary.csv``."""
    folds = pd.DataFrame([{"fold": 1, **ev.scores(true, pred, classes), "n_test": len(true), "fit_seconds": seconds}])
    preds = pd.DataFrame({"file": files, "fold": 1, "true": true, "pred": pred})
    return ev.CVResult(classes, folds, preds, seconds)


@dataclass(frozen=True)
class Approach:
    """One way of answering the target corpus: a label for the table and what it ran."""

    label: str
    task: str
    model: str
    features: str
    normalisation: str = "none"


@dataclass
class Scored:
    """An approach scored on the target's shared classes: its table row, the scores (with the
    confusion matrix) and the one-'fold' result recorded in ``summary.csv``."""

    approach: Approach
    row: dict
    scores: dict
    classes: list[str]
    result: ev.CVResult


def score_approach(approach: Approach, true: np.ndarray, probs: np.ndarray, classes: list[str],
                   shared: list[str], files, within: float | None = None) -> Scored:
    """Score ``probs`` (one column per class of the model) against ``true`` on the classes the target
    shares (emotion: the shared classes present; gender: always both classes). ``within``: the
    approach's UA inside the training corpora when ``summary.csv`` does not hold it."""
    scored = scored_classes(approach.task, classes, [c for c in shared if c in set(true)])
    res = shared_class_scores(true, probs, classes, scored)
    row = {"approach": approach.label, "task": approach.task, "model": approach.model, "features": approach.features,
           "normalisation": approach.normalisation, "UA %": res["ua"] * 100, "WA %": res["wa"] * 100,
           "macro-F1 %": res["macro_f1"] * 100, "n": res["n"], "bundle_within": within}
    return Scored(approach, row, res, classes, result(true, res["pred"], scored, list(files)))


def bundle_predictions(bundle, table: pd.DataFrame, progress: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """The bundle on every clip of ``table``, one at a time (the app's path): emotion and gender
    probabilities per clip, and the clips it refused, named with the reason."""
    from tqdm import tqdm

    rows, refused = [], []
    for r in tqdm(list(table.itertuples()), desc="bundle, clip by clip", disable=not progress):
        try:
            out = bundle.predict_audio(r.path, name=r.file)
        except (AudioError, InputError) as err:
            refused.append(f"{r.file}: {err}")
            continue
        rows.append({"file": r.file, **{f"emotion_{k}": v for k, v in out["emotion"]["probabilities"].items()},
                     **{f"gender_{k}": v for k, v in out.get("gender", {}).get("probabilities", {}).items()}})
    return pd.DataFrame(rows).set_index("file") if rows else pd.DataFrame(), refused


def evaluate_bundle(bundle_dir: str, corpus: str, corpus_dir: str, csv: str | None = None, progress: bool = False) -> dict:
    """The JSON summary ``evaluate-bundle`` prints: integrity, shared classes, emotion (restricted
    to them) and gender scores of the bundle on the corpus."""

    table, report = corpora.read_corpus(corpus, corpus_dir, csv)
    bundle = inference.Bundle(bundle_dir)
    shared = shared_emotions(table)
    target = table[table["shared"]]
    probs, refused = bundle_predictions(bundle, target, progress)
    out = {"corpus": corpus, "bundle_dataset": bundle.dataset, "integrity": report.lines(), "shared_classes": shared,
           "refused": refused, "protocol": PROTOCOL}
    if len(probs):
        kept = target.set_index("file").loc[probs.index]
        labels = bundle.heads[bundle.spec["tasks"]["emotion"]["single"]]["labels"]
        s = shared_class_scores(kept.emotion.to_numpy(), probs[[f"emotion_{c}" for c in labels]].to_numpy(), labels, shared)
        out["emotion"] = {k: v for k, v in s.items() if k != "pred"}
        g = kept.gender.notna().to_numpy()
        gcols = [c for c in probs.columns if c.startswith("gender_")]
        if g.any() and gcols:
            gl = [c.removeprefix("gender_") for c in gcols]
            gs = shared_class_scores(kept.gender.to_numpy()[g], probs[gcols].to_numpy()[g], gl, scored_classes("gender", gl, gl))
            out["gender"] = {k: v for k, v in gs.items() if k != "pred"}
    return out


def evaluate_cli(argv: list[str] | None = None) -> None:
    """``evaluate-bundle --corpus emodb DIR``: the bundle on a corpus, as JSON on stdout."""
    ap = argparse.ArgumentParser(description="Score the exported bundle on a labelled corpus (cross-corpus)")
    ap.add_argument("corpus_dir", help="the corpus folder as distributed (for --corpus csv: the list file)")
    ap.add_argument("--corpus", required=True, choices=list(corpora.CORPORA))
    ap.add_argument("--bundle", default="outputs/deploy")
    ap.add_argument("--progress", action="store_true")
    a = ap.parse_args(argv)
    csv = a.corpus_dir if a.corpus == "csv" else None
    try:
        out = evaluate_bundle(a.bundle, a.corpus, a.corpus_dir, csv, a.progress)
    except (FileNotFoundError, ValueError) as err:
        print(json.dumps({"error": str(err)}))
        sys.exit(2)
    print(json.dumps(out, indent=1))

