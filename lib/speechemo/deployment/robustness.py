"""The robustness suite: deployment candidates scored on perturbed copies of their test clips.

Perturbed copies are written once as 16 kHz FLAC under ``data/perturbed/<perturbation>/s<seed>/``
(atomically), then go through the same front end, feature registry, cache and executor as any
clip -- so the app's path and the suite's are the same. Each candidate is fitted per fold on the
clean clips of the training actors and scored on the perturbed clips of the test actors.

With several corpora the suite also scores each candidate *and training recipe* (clean, augmented)
on a corpus it never saw (``unseen_corpus_predictions``): the augmented recipe is then judged by its
own leave-one-corpus-out UA, not by the clean configuration's rows of notebook 06.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from speechemo.data import audio, perturb
from speechemo.models import classical
from speechemo.protocol import evaluation as ev
from speechemo.foundations.executor import Executor
from speechemo.deployment.export import KEY, SINGLE_TASKS, deployable, feature_matrix, model_params, unseen_corpus
from speechemo.deployment.unseen_corpus import held_out_predictions, probability_columns, scores_by_corpus, ua_table
from speechemo.foundations.files import atomic_path
from speechemo.data.metadata import file_md5


def candidates(summary: pd.DataFrame, dataset: str, n: int, tasks=None) -> pd.DataFrame:
    """The ``n`` deployable single-clip rows per task that the suite scores: ranked by the worse
    of their pooled UA and their UA on an unseen corpus (several corpora), else by UA -- so that a
    head which holds up on another corpus is among those the choice can take."""
    rows, loco = deployable(summary, dataset), unseen_corpus(summary, dataset)
    if len(loco):
        rows = rows.merge(loco, on=KEY, how="left")
        rows = rows.assign(rank=rows[["ua", "ua_loco"]].min(axis=1)).sort_values(["rank", "ua"], ascending=False)
    else:
        rows = rows.sort_values("ua", ascending=False)
    return pd.concat([rows[rows.task == t].head(n) for t in (tasks or SINGLE_TASKS)])


def subset(meta: pd.DataFrame, per_actor: int | None, seed: int = 0) -> pd.DataFrame:
    """``per_actor`` clips of every actor, balanced over emotions as far as possible (all if None)."""
    if not per_actor:
        return meta
    rng = np.random.default_rng(seed)
    keep = []
    for _, g in meta.groupby("actor"):
        order = g.assign(r=rng.random(len(g))).sort_values("r")
        order["k"] = order.groupby("emotion").cumcount()
        keep += order.sort_values(["k", "r"]).index[:per_actor].tolist()
    return meta.loc[[i for i in meta.index if i in set(keep)]]


def clips_per_actor(total: int | None, n_actors: int) -> int:
    """Clips of every actor the suite perturbs: about ``total`` in all (the profile's
    ``robustness_clips``; None: 4 per actor), so a union of corpora costs what RAVDESS costs
    (full profile, 576 clips: RAVDESS's 24 actors get 24 each, RAVDESS + CREMA-D's 115 get 5)."""
    return 4 if total is None else max(2, total // max(1, n_actors))


def clip_seed(file: str, name: str, seed: int) -> int:
    """A stable seed per clip and perturbation (the same copy on every run)."""
    return zlib.crc32(f"{seed}|{name}|{file}".encode())


def _write(item: tuple[str, str, list[tuple[str, Path]], int]) -> list[tuple[Path, str | None]]:
    """Perturbed copies of one clip (decoded once); ``(dest, error)`` per perturbation."""
    import soundfile as sf

    src, file, jobs, seed = item
    try:
        y = audio.load(src, trim=False)
    except Exception as err:  # noqa: BLE001 - reported by name
        return [(d, f"{src}: {err}") for _, d in jobs]
    out = []
    for name, dest in jobs:
        try:
            z = np.clip(perturb.apply(name, y, clip_seed(file, name, seed)), -1.0, 1.0)
            with atomic_path(dest) as tmp:
                sf.write(tmp, z, audio.TARGET_SR, format="FLAC", subtype="PCM_16")
            out.append((dest, None))
        except Exception as err:  # noqa: BLE001
            out.append((dest, f"{src} ({name}): {err}"))
    return out


def perturbation_plan(files, names: list[str], seed: int, one_each: bool) -> dict[str, list[str]]:
    """The perturbations each clip gets: all of them, or (``one_each``, for augmentation) one
    drawn per clip from the seed."""
    if not one_each:
        return {f: list(names) for f in files}
    return {f: [names[clip_seed(f, "family", seed) % len(names)]] for f in files}


def perturbed_copies(meta: pd.DataFrame, names: list[str], root: str | Path, seed: int = 0, executor=None,
                     progress: bool = True, one_each: bool = False) -> pd.DataFrame:
    """Write the missing perturbed copies of ``meta``'s clips (indexed by file, with ``path``);
    returns a table for ``features.extract``: path, file (``<perturbation>/<file>``), md5, source
    file and perturbation. ``one_each``: one perturbation per clip (augmentation copies). A clip
    that fails is named in the error."""

    root = Path(root)
    plan = perturbation_plan(meta.index, names, seed, one_each)
    dest = {(f, n): root / n / f"s{seed}" / (Path(f).with_suffix(".flac")) for f in meta.index for n in plan[f]}
    todo = [(meta.loc[f, "path"], f, [(n, dest[(f, n)]) for n in plan[f] if not dest[(f, n)].exists()], seed)
            for f in meta.index]
    todo = [t for t in todo if t[2]]
    if todo:
        ex = executor or Executor("", 2, 1)
        errors = [e for batch in ex.map(_write, todo, desc="perturbed copies", progress=progress) for _, e in batch if e]
        if errors:
            raise RuntimeError("could not perturb: " + "; ".join(errors[:5]))
    rows = [{"path": str(dest[(f, n)]), "file": f"{n}/{f}", "source": f, "perturbation": n,
             "md5": file_md5(dest[(f, n)])} for n in names for f in meta.index if n in plan[f]]
    return pd.DataFrame(rows)


def training_rows(aug: tuple[dict[str, pd.DataFrame], pd.DataFrame] | None, features: str, meta: pd.DataFrame,
                  task: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Augmentation rows ``(X, y, actors)`` of a candidate: the perturbed copies' features with
    their source clip's label and actor (None without augmentation)."""
    if aug is None:
        return None

    tables, atable = aug
    X, _, _ = feature_matrix(tables, features)
    src = meta.loc[atable.set_index("file").loc[tables[next(iter(tables))].index, "source"]]
    return X, ev.labels_for(src, task), src["actor"].to_numpy()


def perturbed_scores(candidates: pd.DataFrame, clean: dict[str, pd.DataFrame], perturbed: dict[str, pd.DataFrame],
           ptable: pd.DataFrame, meta: pd.DataFrame, budget, n_jobs: int = 2, progress: bool = True,
           augment: tuple[dict[str, pd.DataFrame], pd.DataFrame] | None = None) -> pd.DataFrame:
    """UA per candidate x perturbation x fold: each candidate (rows of the summary: task, model,
    features) fitted per fold on the clean clips of the training actors, scored on the perturbed
    copies of the test actors' clips (and on the same clips clean, as ``clean``). ``augment``:
    (feature tables, table) of augmentation copies made with another seed; each candidate is
    then also fitted with the copies of its training actors' clips added (``training`` column)."""
    from tqdm import tqdm

    actors = meta["actor"].to_numpy()
    files = meta.index.to_numpy()
    in_ptable = set(ptable.source)
    rows = []
    for cand in tqdm(list(candidates.itertuples()), desc="robustness", disable=not progress):
        X, widths, _ = feature_matrix(clean, cand.features)
        Xp_all, _, _ = feature_matrix(perturbed, cand.features)
        pindex = {f: i for i, f in enumerate(perturbed[next(iter(perturbed))].index)}
        y = ev.labels_for(meta, cand.task)
        classes = ev.classes_for(cand.task, y)
        params = model_params(cand.model, widths)
        extra = training_rows(augment, cand.features, meta, cand.task)
        for fold, (tr, te) in enumerate(ev.speaker_folds(actors), 1):
            tr = ev.cap_per_speaker(tr, actors, y, budget.max_train)
            te = np.array([i for i in te if files[i] in in_ptable])
            for training in ("clean", "augmented") if extra is not None else ("clean",):
                Xf, yf, af = X[tr], y[tr], actors[tr]
                if training == "augmented":
                    keep = np.isin(extra[2], actors[tr])  # copies of training actors' clips only
                    Xf, yf, af = np.vstack([Xf, extra[0][keep]]), np.concatenate([yf, extra[1][keep]]), \
                        np.concatenate([af, extra[2][keep]])
                est, enc = classical.fit(cand.model, Xf, yf, af, budget, n_jobs=n_jobs, params=params)
                pred = enc.inverse_transform(est.predict(X[te]))
                base = {"task": cand.task, "model": cand.model, "features": cand.features,
                        "normalisation": cand.normalisation, "training": training, "fold": fold, "n": len(te)}
                rows.append({**base, "perturbation": "clean", **ev.scores(y[te], pred, classes)})
                for name in ptable.perturbation.unique():
                    idx = [pindex[f"{name}/{files[i]}"] for i in te]
                    pred = enc.inverse_transform(est.predict(Xp_all[idx]))
                    rows.append({**base, "perturbation": name, **ev.scores(y[te], pred, classes)})
    return pd.DataFrame(rows)


def unseen_corpus_predictions(candidates: pd.DataFrame, clean: dict[str, pd.DataFrame], meta: pd.DataFrame,
                              corpus: np.ndarray | None, budget, n_jobs: int = 2, progress: bool = True,
                              augment: tuple[dict[str, pd.DataFrame], pd.DataFrame] | None = None
                              ) -> pd.DataFrame:
    """Per candidate, training recipe (clean; augmented with ``augment``) and clip of each held-out
    corpus: ``file``, ``true`` and ``pred`` of the candidate fitted on every clip of the other
    corpora, as the deployed head is (not capped like the suite's fold fits: the cap changes which
    recipe holds up; the augmentation copies of those corpora's speakers added). Per clip, so that
    the nested choice can leave a fold's speakers out; with each clip's ``actor`` and calibrated
    probabilities (``p_<class>``, empty for the classes of other tasks), from which a gender head is
    also scored one answer per voice. Empty with one corpus."""
    from tqdm import tqdm

    if corpus is None or len(set(np.asarray(corpus).tolist())) < 2:
        return pd.DataFrame(columns=KEY + ["training", "held_out", "file", "actor", "true", "pred"])
    frames = []
    actors, files = meta["actor"].to_numpy(), meta.index.to_numpy()
    for cand in tqdm(list(candidates.itertuples()), desc="unseen corpus", disable=not progress):
        X, widths, _ = feature_matrix(clean, cand.features)
        y = ev.labels_for(meta, cand.task)
        extra = training_rows(augment, cand.features, meta, cand.task)
        for training, rows in (("clean", None), ("augmented", extra)) if extra is not None else (("clean", None),):
            pred = held_out_predictions(cand.model, X, y, actors, corpus, budget, model_params(cand.model, widths),
                                        rows, n_jobs)
            frames.append(pred.assign(task=cand.task, model=cand.model, features=cand.features,
                                      normalisation=cand.normalisation, training=training,
                                      file=files[pred.row.to_numpy(int)]).drop(columns="row"))
    out = pd.concat(frames, ignore_index=True)
    return out[KEY + ["training", "held_out", "file", "actor", "true", "pred"] + probability_columns(out, complete=False)]


def speaker_unseen_predictions(heads_plan: list[dict], clean: dict[str, pd.DataFrame], meta: pd.DataFrame,
                               corpus: np.ndarray | None, budget, n_jobs: int = 2, progress: bool = True) -> pd.DataFrame:
    """Per speaker-normalised head of ``export.plan``, statistic (``probe.STATISTICS``: every speaker's
    clips z-scored, or only centred, with that speaker's own clips -- as the app does with the clips
    of one request) and clip of each held-out corpus: ``head``, ``statistic``, ``held_out``, ``file``,
    ``true`` and ``pred`` of the head's recipe fitted on every clip of the other corpora. What the
    statistic is chosen by (``probe.same_speaker_policy(unseen=)``) and the speaker heads' as-deployed
    score on an unseen corpus. Empty with one corpus or without speaker heads."""
    from tqdm import tqdm

    from speechemo.analysis.probe import STATISTICS

    out = pd.DataFrame(columns=["head", "statistic", "held_out", "file", "true", "pred"])
    items = [p for p in heads_plan if p["normalisation"] == "speaker"]
    if corpus is None or len(set(np.asarray(corpus).tolist())) < 2 or not items:
        return out
    actors, files, frames = meta["actor"].to_numpy(), meta.index.to_numpy(), []
    bar = tqdm(total=len(items) * len(STATISTICS), desc="speaker heads, unseen corpus", disable=not progress)
    for item in items:  # the head's matrix and labels once, normalised once per statistic
        X, widths, _ = feature_matrix(clean, item["row"].features)
        y, params = ev.labels_for(meta, item["task"]), model_params(item["row"].model, widths)
        for stat, scale in STATISTICS.items():
            pred = held_out_predictions(item["row"].model, ev.speaker_normalise(X, actors, scale=scale), y, actors,
                                        corpus, budget, params, None, n_jobs)
            frames.append(pred.assign(head=item["name"], statistic=stat, file=files[pred.row.to_numpy(int)]))
            bar.update()
    bar.close()
    return pd.concat(frames, ignore_index=True)[list(out.columns)]


def head_unseen_scores(item: dict, unseen_pred: pd.DataFrame, speaker_pred: pd.DataFrame) -> dict[str, dict[str, float]]:
    """A planned head's as-deployed ``scores_by_corpus``, read from the fits already made: a
    single-clip head's from the suite's (``recipe_unseen_scores``), a speaker head's from
    ``speaker_unseen_predictions`` with its own ``statistic`` (``selection.with_statistics``).
    Empty when neither scored it."""
    if item["normalisation"] != "speaker":
        return recipe_unseen_scores(unseen_pred, item["row"])
    if speaker_pred is None or speaker_pred.empty:
        return {}
    mine = speaker_pred[(speaker_pred["head"] == item["name"]) & (speaker_pred.statistic == item["statistic"])]
    return scores_by_corpus(mine)


def recipe_unseen_scores(pred: pd.DataFrame, row: pd.Series) -> dict[str, dict[str, float]]:
    """``unseen_corpus.scores_by_corpus`` of the recipe of ``row`` (task, model, features,
    normalisation, training) in ``unseen_corpus_predictions``: the same fit as the deployed head's
    as-deployed score, read instead of fitted again. Empty when the suite did not score the recipe."""
    if pred is None or pred.empty:
        return {}
    training = row["training"] if isinstance(row.get("training"), str) else "clean"
    mask = (pred.training == training).to_numpy()
    for k in KEY:
        mask = mask & (pred[k] == row[k]).to_numpy()
    return scores_by_corpus(pred[mask]) if mask.any() else {}


def unseen_corpus_table(pred: pd.DataFrame) -> pd.DataFrame:
    """Per candidate and recipe of ``unseen_corpus_predictions``: UA on each held-out corpus
    (``loco_<corpus>``) and ``ua_loco``, the worst of them."""
    return ua_table(pred, KEY + ["training"])


def table(per_fold: pd.DataFrame, worst: str = "min", unseen: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean UA over folds per candidate and perturbation, the drop from clean, and ``ua_robust``
    (the worst case over perturbations, or their mean with ``worst="mean"``); with ``unseen``
    (``unseen_corpus_predictions``), each recipe's own UA on an unseen corpus beside them."""
    key = ["task", "model", "features", "normalisation"] + (["training"] if "training" in per_fold else [])
    m = per_fold.groupby(key + ["perturbation"]).ua.mean().unstack("perturbation")
    names = [c for c in m.columns if c != "clean"]
    out = m[["clean"] + names].copy()
    out["ua_robust"] = m[names].min(axis=1) if worst == "min" else m[names].mean(axis=1)
    out["worst"] = m[names].idxmin(axis=1)
    out["drop_worst"] = out["clean"] - m[names].min(axis=1)
    out = out.reset_index()
    if unseen is not None and len(unseen) and "training" in out:
        out = out.merge(unseen_corpus_table(unseen), on=key, how="left")
    return out
