"""The deployment choices, cross-validated: what the chosen head and the calibrate-to-a-voice
threshold K get on speakers whose scores no choice looked at.

Notebook 07 picks one head per task and a K with rules applied to all six speaker folds
(``export.choose``, ``probe.same_speaker_policy``). For the deployed bundle that is legitimate --
every speaker is a training speaker -- but the UA of the winner is then the best of several and
flatters it. Here the same rules are run once per outer fold *k* on the other five folds only
(their per-fold UA, their perturbation scores, the unseen-corpus scores of their speakers -- of
notebook 06's rows and of each recipe the robustness suite fitted on the other corpora), and the
configuration they choose is scored on fold *k*: the mean over folds is the nested estimate of
"choose by this rule, then deploy". The folds' models are those of notebooks 03/06 and of the
robustness suite; fold *k*'s speakers were among the training speakers of the models scored on
the other folds, but no score on fold *k* enters the choice made for it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from speechemo.protocol import evaluation as ev
from speechemo.deployment.export import KEY, choose
from speechemo.analysis.probe import curve_summary, first_k_beating_single, same_speaker_policy
from speechemo.deployment.unseen_corpus import worst_ua
from speechemo.deployment.robustness import table as robustness_table


def summary_without(summary: pd.DataFrame, folds: pd.DataFrame, fold: int) -> pd.DataFrame:
    """``summary`` whose speaker-independent ``ua`` is the mean over the folds other than ``fold``
    (``folds.csv`` rows); rows without per-fold results keep their UA."""
    key = ev.KEY
    rest = folds[folds.fold != fold].groupby(key).ua.mean().rename("ua_rest").reset_index()
    out = summary.merge(rest, on=key, how="left")
    return out.assign(ua=out.ua_rest.fillna(out.ua)).drop(columns="ua_rest")


def loco_without(summary: pd.DataFrame, predictions: dict[tuple, pd.DataFrame], fold_of_file: dict[str, int],
                 fold: int) -> pd.DataFrame:
    """``summary`` whose leave-one-corpus-out ``ua`` is recomputed without the held-out corpus's
    speakers of ``fold`` (``predictions``: summary KEY tuple -> that row's file, true, pred)."""
    out = summary.copy()
    for i, row in out[out.protocol.astype(str).str.startswith(ev.LOCO + ":")].iterrows():
        pred = predictions.get(tuple(row[k] for k in ev.KEY))
        if pred is None:
            continue
        keep = pred.file.map(fold_of_file).to_numpy() != fold
        if keep.any():
            classes = sorted(set(pred.true[keep]))
            out.loc[i, "ua"] = ev.scores(pred.true[keep].to_numpy(), pred.pred[keep].to_numpy(), classes)["ua"]
    return out


def _rows_of(table: pd.DataFrame, row: pd.Series, key: list[str]) -> pd.DataFrame:
    """The rows of ``table`` that match ``row`` on ``key``."""
    mask = np.ones(len(table), bool)
    for k in key:
        mask &= (table[k] == row[k]).to_numpy()
    return table[mask]


def fold_scores(per_fold: pd.DataFrame, folds: pd.DataFrame, row: pd.Series, fold: int) -> dict[str, float]:
    """UA of one configuration on ``fold``'s test speakers: clean (the robustness suite's fit when it
    scored the configuration, on its sample of test clips; else ``folds.csv``, all test clips) and its
    worst case over the perturbations; ``scored_on`` says which clips."""
    trained = isinstance(row.get("training"), str) and "training" in per_fold
    mine = _rows_of(per_fold, row, KEY + (["training"] if trained else [])) if len(per_fold) else per_fold
    mine = mine[mine.fold == fold] if len(mine) else mine
    if len(mine):
        worst = mine[mine.perturbation != "clean"].groupby("perturbation").ua.mean().min()
        return {"ua": float(mine[mine.perturbation == "clean"].ua.mean()), "ua_robust": float(worst),
                "scored_on": "that fold's clips in the robustness sample"}
    mine = _rows_of(folds, row, ev.KEY)
    return {"ua": float(mine[mine.fold == fold].ua.mean()), "ua_robust": np.nan, "scored_on": "all of that fold's clips"}


def loco_predictions(results_dir, summary: pd.DataFrame, dataset: str) -> dict[tuple, pd.DataFrame]:
    """The per-clip predictions (file, true, pred) of every leave-one-corpus-out row of ``dataset``."""
    out = {}
    rows = summary[(summary.dataset == dataset) & summary.protocol.astype(str).str.startswith(ev.LOCO + ":")]
    for _, row in rows.iterrows():
        path = ev.predictions_path(results_dir, row)
        if path.exists():
            out[tuple(row[k] for k in ev.KEY)] = pd.read_csv(path)
    return out


def nested_heads(heads_plan: list[dict], summary: pd.DataFrame, folds: pd.DataFrame, per_fold: pd.DataFrame,
                 dataset: str, predictions: dict[tuple, pd.DataFrame] | None = None,
                 fold_of_file: dict[str, int] | None = None, unseen: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per planned head and outer fold: the configuration the deployment rule picks from the
    other folds, whether it is the deployed one, its UA (clean, worst perturbed) on the fold, and
    the deployed configuration's UA on the same clips (``ua_deployed``). ``unseen``: the suite's
    per-clip unseen-corpus predictions (``robustness.unseen_corpus_predictions``), of which the
    clips of the fold's speakers are left out of each choice."""
    rows = []
    fold_ids = sorted(folds[folds.dataset == dataset].fold.unique())
    for k in fold_ids:
        rest = summary_without(summary, folds, k)
        if predictions and fold_of_file:
            rest = loco_without(rest, predictions, fold_of_file, k)
        rest_unseen = None
        if unseen is not None and len(unseen) and fold_of_file:
            rest_unseen = unseen[unseen.file.map(fold_of_file).to_numpy() != k]
        rob = robustness_table(per_fold[per_fold.fold != k], unseen=rest_unseen) if len(per_fold) else None
        for p in heads_plan:
            picked, _ = choose(rest, p["task"], dataset, p["normalisation"], rob)
            same = all(picked[c] == p["row"][c] for c in ("model", "features")) and \
                picked.get("training", "clean") == p["row"].get("training", "clean")
            rows.append({"head": p["name"], "fold": k, "chosen": f"{picked.model} / {picked.features}"
                         + (f" ({picked['training']})" if isinstance(picked.get("training"), str) else ""),
                         "as_deployed": bool(same), **fold_scores(per_fold, folds, picked, k),
                         "ua_deployed": fold_scores(per_fold, folds, p["row"], k)["ua"]})
    return pd.DataFrame(rows)


def nested_summary(nested: pd.DataFrame) -> pd.DataFrame:
    """Per head: nested UA (mean and std over outer folds) beside the deployed configuration's UA on
    the same clips (their gap is what choosing on all folds flatters), worst-case perturbed UA where
    measured, and in how many folds the rule picked the configuration that is deployed."""
    g = nested.groupby("head", sort=False)
    return pd.DataFrame({"ua_nested": g.ua.mean(), "ua_nested_std": g.ua.std(ddof=0),
                         "ua_deployed_same_clips": g.ua_deployed.mean(), "scored_on": g.scored_on.first(),
                         "ua_robust_nested": g.ua_robust.mean(),
                         "folds_as_deployed": g.as_deployed.sum().astype(int), "folds": g.size()}).reset_index()


def statistic_ua(speaker_pred: pd.DataFrame | None, head: str = "emotion_speaker") -> dict[str, float] | None:
    """What a calibrate-to-a-voice statistic is chosen by: the worst unseen-corpus UA of ``head`` with
    each statistic (``robustness.speaker_unseen_predictions``). None without predictions (one corpus)."""
    if speaker_pred is None or speaker_pred.empty:
        return None
    return worst_ua(speaker_pred[speaker_pred["head"] == head], "statistic")


def with_statistics(heads_plan: list[dict], policy: dict, speaker_pred: pd.DataFrame | None = None) -> list[dict]:
    """The plan with each speaker head's calibrate-to-a-voice statistic (``statistic``; None for the
    single-clip heads). Each speaker head takes, among the statistics whose curve beats a single
    clip (``policy``), the one with which it does best on a corpus it never saw (``statistic_ua``
    of that head, kept as ``statistic_ua_unseen``; ties: the policy's) -- for the emotion head, the
    policy's own choice. With one corpus every speaker head takes the policy's statistic."""
    allowed = first_k_beating_single(policy.get("curve") or {}, policy.get("ua_single", float("inf")))
    out = []
    for p in heads_plan:
        if p["normalisation"] != "speaker":
            out.append({**p, "statistic": None})
            continue
        unseen = {s: v for s, v in (statistic_ua(speaker_pred, p["name"]) or {}).items() if s in allowed}
        stat = (max(unseen, key=lambda s: (unseen[s], s == policy.get("statistic"))) if unseen
                else policy.get("statistic"))
        out.append({**p, "statistic": stat, **({"statistic_ua_unseen": unseen} if unseen else {})})
    return out


def nested_k(curve: pd.DataFrame, speaker_pred: pd.DataFrame | None = None, fold_of: dict | None = None,
             head: str = "emotion_speaker", heads_plan: list[dict] | None = None) -> pd.DataFrame:
    """The calibrate-to-a-voice threshold (and statistic) chosen per outer fold from the other folds'
    curve (``probe.same_speaker_policy``), and that fold's UA at it against one clip. With several
    corpora (``speaker_pred``: ``robustness.speaker_unseen_predictions``, ``fold_of``: file -> fold),
    each statistic's unseen-corpus UA of ``head`` is read without that fold's clips, as the deployed
    policy reads it with all of them; the other speaker heads of ``heads_plan`` get their statistic
    the same way (``with_statistics`` without that fold: column ``statistic_<head>``)."""
    others = [p for p in heads_plan or [] if p["normalisation"] == "speaker" and p["name"] != head]
    rows = []
    for k in sorted(curve.fold.unique()):
        mine = (speaker_pred[speaker_pred.file.map(fold_of) != k]
                if fold_of is not None and speaker_pred is not None and len(speaker_pred) else None)
        policy = same_speaker_policy(curve[curve.fold != k], statistic_ua(mine, head))
        here = curve_summary(curve[curve.fold == k]).ua
        single = float(here.xs("0", level="k").max())
        chosen = policy.get("min_clips")
        ua = float(here.loc[(policy["statistic"], str(chosen))]) if chosen else single
        rows.append({"fold": k, "k": chosen, "statistic": policy.get("statistic"), "ua_at_k": ua, "ua_single": single,
                     **{f"statistic_{p['name']}": p["statistic"] for p in with_statistics(others, policy, mine)}})
    return pd.DataFrame(rows)


def nested_k_summary(per_fold: pd.DataFrame) -> dict:
    """Mean and std over outer folds of the UA at the K chosen without that fold, the Ks and
    statistics (``head_statistics``: the other speaker heads' per fold)."""
    def names(col: pd.Series) -> list:
        return [None if pd.isna(s) else str(s) for s in col]

    return {"ua_at_k": float(per_fold.ua_at_k.mean()), "ua_at_k_std": float(per_fold.ua_at_k.std(ddof=0)),
            "ua_single": float(per_fold.ua_single.mean()),
            "ks": [None if pd.isna(k) else int(k) for k in per_fold.k], "statistics": names(per_fold.statistic),
            "head_statistics": {c.removeprefix("statistic_"): names(per_fold[c])
                                for c in per_fold.columns if c.startswith("statistic_")}}


def _plain(v):
    """A JSON value: NaN -> None, numpy numbers -> Python numbers."""
    if isinstance(v, (float, np.floating)):
        return None if np.isnan(v) else float(v)
    return int(v) if isinstance(v, np.integer) else v


def spec_entries(summary: pd.DataFrame) -> dict[str, dict]:
    """``nested_summary`` as plain values per head, for ``preprocessing.json``."""
    out = {}
    for r in summary.to_dict("records"):
        head = r.pop("head")
        out[head] = {k: _plain(v) for k, v in r.items()}
    return out
