"""The deployment choices cross-validated: a fold's own scores never enter its choice."""
import numpy as np
import pandas as pd

from speechemo.protocol import evaluation as ev
from speechemo.deployment import selection

FOLDS = range(1, 7)


def _tables(ua: dict[str, list[float]], robust: dict[str, list[float]] | None = None):
    """summary, folds.csv and robustness per-fold rows for emotion candidates named by features."""
    base = {"dataset": "ravdess", "task": "emotion", "model": "ridge", "protocol": ev.SPEAKER_INDEPENDENT,
            "normalisation": "none"}
    folds = pd.DataFrame([{**base, "features": f, "fold": k, "ua": u} for f, us in ua.items()
                          for k, u in zip(FOLDS, us)])
    summary = folds.groupby(ev.KEY).ua.mean().reset_index().assign(ua_std=0.0, wa=0.5, wa_std=0.0, macro_f1=0.5)
    rows = []
    for f, us in (robust or {}).items():
        for k, u in zip(FOLDS, us):
            common = {k2: base[k2] for k2 in ("task", "model", "normalisation")}
            rows += [{**common, "features": f, "training": "clean", "fold": k, "perturbation": "clean", "ua": ua[f][k - 1]},
                     {**common, "features": f, "training": "clean", "fold": k, "perturbation": "noise", "ua": u}]
    return summary, folds, pd.DataFrame(rows)


def _plan(summary, feature):
    row = summary[summary.features == feature].iloc[0]
    return [{"name": "emotion", "task": "emotion", "normalisation": "none", "row": row, "best_any": row}]


def test_a_head_that_wins_by_one_fold_is_not_credited_with_that_fold():
    # "whisper_base" is best on average only because of fold 6; "functionals" is steadier
    summary, folds, _ = _tables({"whisper_base": [0.60] * 5 + [0.99], "functionals": [0.65] * 5 + [0.40]})
    nested = selection.nested_heads(_plan(summary, "whisper_base"), summary, folds, pd.DataFrame(), "ravdess")
    by_fold = nested.set_index("fold")
    # on folds 1-5 the other folds still include fold 6's 0.99: whisper_base (0.678) beats functionals (0.60)
    assert (by_fold.loc[1:5, "chosen"] == "ridge / whisper_base").all()
    # on fold 6 the choice is made without it: functionals, scored on fold 6 (0.40), not whisper_base's 0.99
    assert by_fold.loc[6, "chosen"] == "ridge / functionals" and by_fold.loc[6, "ua"] == 0.40
    s = selection.nested_summary(nested).iloc[0]
    assert np.isclose(s.ua_nested, (0.60 * 5 + 0.40) / 6) and s.folds_as_deployed == 5
    assert np.isclose(s.ua_deployed_same_clips, (0.60 * 5 + 0.99) / 6) and s.scored_on == "all of that fold's clips"
    assert s.ua_nested < summary.ua.max()


def test_a_folds_own_scores_never_change_its_choice():
    rng = np.random.default_rng(0)
    ua = {f: list(rng.uniform(0.4, 0.8, 6)) for f in ("whisper_base", "functionals", "whisper_base+functionals")}
    rob = {f: list(rng.uniform(0.3, 0.7, 6)) for f in ua}
    summary, folds, per_fold = _tables(ua, rob)
    first = selection.nested_heads(_plan(summary, "functionals"), summary, folds, per_fold, "ravdess")
    for f in ua:  # fold 3's scores replaced for every candidate (clean and perturbed)
        ua[f][2], rob[f][2] = rng.uniform(0, 1), rng.uniform(0, 1)
    summary2, folds2, per_fold2 = _tables(ua, rob)
    second = selection.nested_heads(_plan(summary2, "functionals"), summary2, folds2, per_fold2, "ravdess")
    assert first.set_index("fold").loc[3, "chosen"] == second.set_index("fold").loc[3, "chosen"]
    # and the criterion is the deployment rule's: the worst case under perturbation, over the other folds
    expected = max(ua, key=lambda f: np.mean([u for k, u in enumerate(rob[f]) if k != 2]))
    assert first.set_index("fold").loc[3, "chosen"] == f"ridge / {expected} (clean)"


def test_the_threshold_k_is_chosen_without_the_fold():
    rows = []
    for fold in FOLDS:
        for k, ua in (("0", 0.60), ("4", 0.62 if fold != 6 else 0.50), ("8", 0.70), ("all", 0.80)):
            rows.append({"statistics": "mean only", "k": k, "fold": fold, "repeat": 0, "ua": ua})
    curve = pd.DataFrame(rows)
    per_fold = selection.nested_k(curve)
    # folds 1-5 see fold 6's poor K = 4 (mean 0.596 < 0.60) and take K = 8; fold 6 does not see it
    assert list(per_fold.k) == [8] * 5 + [4]
    assert per_fold.set_index("fold").loc[6, "ua_at_k"] == 0.50
    s = selection.nested_k_summary(per_fold)
    assert np.isclose(s["ua_at_k"], (0.70 * 5 + 0.50) / 6) and s["ks"] == [8] * 5 + [4]


def test_the_card_gives_the_cross_validated_choice_beside_the_fold_figure():
    from speechemo.deployment import card

    head = {"name": "emotion", "task": "emotion", "labels": ["angry"], "model": "ridge", "features": ["whisper_base"],
            "normalisation": "none", "temperature": 1.2,
            "speaker_independent": {"ua": 0.70, "ua_std": 0.02, "wa": 0.7, "wa_std": 0.02, "macro_f1": 0.7},
            "calibration": {"ece_before": 0.2, "ece_after": 0.05, "ece_after_std": 0.01},
            "best_overall": {"model": "ridge", "features": "whisper_base", "normalisation": "none", "ua": 0.7}}
    nested = selection.spec_entries(pd.DataFrame([{"head": "emotion", "ua_nested": 0.66, "ua_nested_std": 0.03,
                                                   "ua_deployed_same_clips": 0.70, "scored_on": "all of that fold's clips",
                                                   "ua_robust_nested": np.nan, "folds_as_deployed": 5, "folds": 6}]))
    assert nested["emotion"]["ua_robust_nested"] is None and isinstance(nested["emotion"]["folds"], int)
    assert "head" not in nested["emotion"]
    curve = {"mean only": {"0": 0.7, "4": 0.75}}
    policy = {"min_clips": 4, "statistic": "mean only", "curve": curve,
              "nested": selection.nested_k_summary(pd.DataFrame({"fold": [1, 2], "k": [4, 8], "statistic": "mean only",
                                                                 "ua_at_k": [0.74, 0.76], "ua_single": [0.7, 0.7]}))}
    spec = {"dataset": "ravdess", "synthetic": False, "heads": {"emotion": {**head, "nested": nested["emotion"]}},
            "same_speaker": policy}
    text = card.model_card(spec, {}, 10, 4)
    assert "the choice itself cross-validated" in text and "scored on all of that fold's clips): UA 66.0 ± 3.0 % against 70.0 % for this head" in text and "on 5 of 6 folds" in text
    assert "worst case under perturbation" not in text
    assert "UA at that K 75.0 ± 1.0 %" in text and "the Ks chosen: 4, 8 (statistics: mean only, mean only)." in text
    assert "does best on a corpus it never saw" not in text
    # several corpora: the card says which statistics the nested choice took (why each head has its own: below)
    several = {**policy, "statistic": "mean and std", "curve": {**curve, "mean and std": {"0": 0.7, "4": 0.72}},
               "ua_unseen_corpus": {"mean only": 0.517, "mean and std": 0.574},
               "nested": selection.nested_k_summary(pd.DataFrame({"fold": [1, 2], "k": [8, 4], "statistic":
                                                                  ["mean and std", "mean only"], "ua_at_k": [0.74, 0.76],
                                                                  "ua_single": [0.7, 0.7]}))}
    text = card.model_card({**spec, "same_speaker": several}, {}, 10, 4)
    assert "the Ks chosen: 8, 4 (statistics: mean and std, mean only)." in text
    several["nested"]["head_statistics"] = {"sentiment_speaker": ["mean only", "mean only"]}
    assert ("(statistics: mean and std, mean only); sentiment_speaker's statistic, chosen the same way per fold: "
            "mean only, mean only.") in card.model_card({**spec, "same_speaker": several}, {}, 10, 4)
    assert "cross-validated" not in card.model_card({**spec, "heads": {"emotion": head},
                                                     "same_speaker": {k: v for k, v in policy.items() if k != "nested"}},
                                                    {}, 10, 4)


def test_the_card_names_the_view_a_head_was_fitted_on():
    from speechemo.deployment import card

    head = {"name": "emotion", "task": "emotion", "labels": ["angry"], "model": "ridge", "features": ["whisper_base"],
            "fitted_on": "whisper_base_mean", "normalisation": "none", "temperature": 1.2,
            "speaker_independent": {"ua": 0.70, "ua_std": 0.02, "wa": 0.7, "wa_std": 0.02, "macro_f1": 0.7},
            "calibration": {"ece_before": 0.2, "ece_after": 0.05, "ece_after_std": 0.01},
            "best_overall": {"model": "ridge", "features": "whisper_base_mean", "normalisation": "none", "ua": 0.7}}
    text = card.model_card({"dataset": "ravdess", "synthetic": False, "heads": {"emotion": head}}, {}, 10, 4)
    assert "model `ridge` on `whisper_base_mean` (served on `whisper_base`" in text
    assert "best clean UA of the workbook" not in text   # the deployed head is the best one


def test_the_card_gives_the_gender_heads_answer_per_voice_on_an_unseen_corpus():
    from speechemo.deployment import card

    head = {"name": "gender", "task": "gender", "labels": ["female", "male"], "model": "ridge",
            "features": ["whisper_base"], "normalisation": "none", "temperature": 1.0,
            "speaker_independent": {"ua": 0.98, "ua_std": 0.01, "wa": 0.98, "wa_std": 0.01, "macro_f1": 0.98},
            "calibration": {"ece_before": 0.02, "ece_after": 0.01, "ece_after_std": 0.01},
            "best_overall": {"model": "ridge", "features": "whisper_base", "normalisation": "none", "ua": 0.98},
            "unseen_corpus_as_deployed": {"cremad": {"wa": 0.953, "ua": 0.953, "clips": 7441, "recall_female": 0.936,
                                                     "recall_male": 0.97, "voice_accuracy": 0.989, "voices": 91,
                                                     "voice_recall_female": 0.977, "voice_recall_male": 1.0}}}
    text = card.model_card({"dataset": "ravdess+cremad", "synthetic": False, "heads": {"gender": head}}, {}, 10, 4)
    assert "recall by class: female 93.6 %, male 97.0 %" in text
    assert ("one answer per voice from all its clips (the mean of their probabilities, as the app's overall answer "
            "for several clips of one voice; 91 voices of cremad): accuracy 98.9 %; recall by class: female 97.7 %, "
            "male 100.0 %") in text
    assert "own training, on every clip" in text and "augmentation included" not in text  # trained without
    head.update(training="augmented", unseen_corpus={"cremad": 0.95})  # 06's row beside the head's own fit
    text = card.model_card({"dataset": "ravdess+cremad", "synthetic": False, "heads": {"gender": head}}, {}, 10, 4)
    assert "own training, augmentation included, on every clip" in text
    assert "measured in notebook 06 with the same head trained without augmentation" in text
    assert "z-scored" not in text
    head.update(training="clean", normalisation="speaker", statistic="mean only")  # 06 z-scores every voice
    text = card.model_card({"dataset": "ravdess+cremad", "synthetic": False, "heads": {"gender": head}}, {}, 10, 4)
    assert ("measured in notebook 06, each voice z-scored (mean and std) where this head uses its mean only: its own "
            "figures are the as-deployed lines") in text
    del head["unseen_corpus_as_deployed"]["cremad"]["voice_accuracy"]
    assert "one answer per voice" not in card.model_card({"dataset": "ravdess+cremad", "synthetic": False,
                                                          "heads": {"gender": head}}, {}, 10, 4)


def test_a_folds_own_clips_never_enter_the_unseen_corpus_ua_of_its_choice():
    """The robustness suite's per-clip unseen-corpus predictions: on each outer fold the choice reads
    them without that fold's speakers. With every clip, whisper_base holds up better on the unseen
    corpus (UA 0.50 against 0.42) only thanks to fold 3's clips; without them functionals does (0.40
    against 0.50), so fold 3's choice must be functionals."""
    ua = {"whisper_base": [0.7] * 6, "functionals": [0.7] * 6}
    summary, folds, per_fold = _tables(ua, {f: [0.9] * 6 for f in ua})
    right = {"whisper_base": {(k, c) for k in (1, 2, 3) for c in "xy"},
             "functionals": {(k, c) for k in (4, 5) for c in "xy"} | {(6, "x")}}
    unseen = pd.DataFrame([{"task": "emotion", "model": "ridge", "features": f, "normalisation": "none",
                            "training": "clean", "held_out": "cremad", "file": f"{k}{c}", "true": c,
                            "pred": c if (k, c) in right[f] else ("y" if c == "x" else "x")}
                           for f in ua for k in FOLDS for c in "xy"])
    fold_of_file = {f"{k}{c}": k for k in FOLDS for c in "xy"}
    from speechemo.deployment import export, robustness
    everything, _ = export.choose(summary, "emotion", "ravdess", robustness=robustness.table(per_fold, unseen=unseen))
    assert everything.features == "whisper_base" and np.isclose(everything.ua_loco, 0.5)
    nested = selection.nested_heads(_plan(summary, "whisper_base"), summary, folds, per_fold, "ravdess",
                                    fold_of_file=fold_of_file, unseen=unseen).set_index("fold")
    assert nested.loc[3, "chosen"] == "ridge / functionals (clean)"
    assert nested.loc[1, "chosen"] == "ridge / functionals (clean)"  # fold 1 out: 0.40 against 0.50 as well


def _two_statistics_curve() -> pd.DataFrame:
    """Mean only beats one clip from K = 4; mean and std only from K = 8 (every fold alike)."""
    rows = []
    for fold in FOLDS:
        for stat, ks in (("mean only", (("0", 0.60), ("4", 0.62), ("8", 0.63), ("all", 0.64))),
                         ("mean and std", (("0", 0.60), ("4", 0.58), ("8", 0.66), ("all", 0.70)))):
            rows += [{"statistics": stat, "k": k, "fold": fold, "repeat": 0, "ua": ua} for k, ua in ks]
    return pd.DataFrame(rows)


def test_the_statistic_that_holds_up_on_an_unseen_corpus_is_deployed_at_its_own_k():
    from speechemo.analysis.probe import same_speaker_policy

    curve = _two_statistics_curve()
    alone = same_speaker_policy(curve)
    assert (alone["statistic"], alone["min_clips"]) == ("mean only", 4) and "chosen_by" not in alone
    both = same_speaker_policy(curve, {"mean only": 0.52, "mean and std": 0.57})
    assert (both["statistic"], both["min_clips"]) == ("mean and std", 8)
    assert both["ua_unseen_corpus"] == {"mean only": 0.52, "mean and std": 0.57}
    # a statistic that never beats one clip is not deployed however well it holds up elsewhere
    never = curve[~((curve.statistics == "mean and std") & (curve.k.isin(["8", "all"])))]
    assert same_speaker_policy(never, {"mean only": 0.52, "mean and std": 0.9})["statistic"] == "mean only"


def test_the_statistic_is_chosen_without_the_fold_it_is_scored_on():
    """The unseen-corpus predictions of a fold's voices never enter that fold's choice: here mean and
    std is better only on fold 6's clips, so folds 1-5 take it and fold 6 does not."""
    curve = _two_statistics_curve()
    rows, fold_of = [], {}
    for fold in FOLDS:
        for i, label in enumerate("ab"):
            f = f"c/{fold}_{i}.wav"
            fold_of[f] = fold
            for stat in ("mean only", "mean and std"):
                wrong = stat == "mean only" and fold == 6
                rows.append({"head": "emotion_speaker", "statistic": stat, "held_out": "cremad", "file": f,
                             "true": label, "pred": ("b" if label == "a" else "a") if wrong else label})
    per_fold = selection.nested_k(curve, pd.DataFrame(rows), fold_of)
    assert list(per_fold.statistic) == ["mean and std"] * 5 + ["mean only"]
    assert list(per_fold.k) == [8] * 5 + [4]
    # a sentiment head wrong with mean and std only on fold 3's voices: every other fold sees that and
    # takes mean only; fold 3 does not (a tie there: the fold's policy statistic)
    for f, fold in fold_of.items():
        for stat in ("mean only", "mean and std"):
            wrong = stat == "mean and std" and fold == 3
            rows.append({"head": "sentiment_speaker", "statistic": stat, "held_out": "cremad", "file": f,
                         "true": "a", "pred": "b" if wrong else "a"})
    plan = [{"name": n, "normalisation": "speaker"} for n in ("emotion_speaker", "sentiment_speaker")]
    per_fold = selection.nested_k(curve, pd.DataFrame(rows), fold_of, heads_plan=plan)
    assert list(per_fold.statistic_sentiment_speaker) == ["mean only"] * 2 + ["mean and std"] + ["mean only"] * 3
    summary = selection.nested_k_summary(per_fold)
    assert summary["head_statistics"] == {"sentiment_speaker": list(per_fold.statistic_sentiment_speaker)}
    assert "statistic_emotion_speaker" not in per_fold  # the emotion head's is the ``statistic`` column
    assert list(selection.nested_k(curve).statistic) == ["mean only"] * 6  # one corpus: the fewest clips


def _unseen_rows(head: str, right: dict[str, int]) -> list[dict]:
    """Unseen-corpus predictions of ``head``: per statistic, ``right[stat]`` of 4 clips right."""
    return [{"head": head, "statistic": stat, "held_out": "cremad", "file": f"c/{i}.wav", "true": "ab"[i % 2],
             "pred": "ab"[i % 2] if i < n else "ab"[(i + 1) % 2]} for stat, n in right.items() for i in range(4)]


def test_each_speaker_head_takes_the_statistic_that_holds_up_for_it():
    """The emotion head takes the policy's statistic; the sentiment head the one with which IT does
    best on the unseen corpus (not the emotion head's), among those whose curve beats one clip; with
    one corpus, every speaker head takes the policy's; single-clip heads none."""
    from speechemo.analysis.probe import same_speaker_policy

    curve = _two_statistics_curve()
    pred = pd.DataFrame(_unseen_rows("emotion_speaker", {"mean only": 2, "mean and std": 4})
                        + _unseen_rows("sentiment_speaker", {"mean only": 4, "mean and std": 3}))
    policy = same_speaker_policy(curve, selection.statistic_ua(pred))
    plan = [{"name": n, "task": n.split("_")[0], "normalisation": "speaker" if "_" in n else "none"}
            for n in ("emotion", "emotion_speaker", "sentiment_speaker")]
    got = {p["name"]: p["statistic"] for p in selection.with_statistics(plan, policy, pred)}
    assert got == {"emotion": None, "emotion_speaker": "mean and std", "sentiment_speaker": "mean only"}
    assert selection.with_statistics(plan, policy, pred)[2]["statistic_ua_unseen"] == {"mean and std": 0.75,
                                                                                        "mean only": 1.0}
    alone = same_speaker_policy(curve)
    assert {p["name"]: p["statistic"] for p in selection.with_statistics(plan, alone)} == {
        "emotion": None, "emotion_speaker": "mean only", "sentiment_speaker": "mean only"}
    # a statistic whose curve never beats one clip is not taken, however well the head does with it elsewhere
    never = curve[~((curve.statistics == "mean only") & (curve.k != "0"))]
    policy = same_speaker_policy(never, selection.statistic_ua(pred))
    assert selection.with_statistics(plan, policy, pred)[2]["statistic"] == "mean and std"


def test_the_card_names_each_speaker_heads_statistic_and_why():
    from speechemo.deployment import card

    base = {"model": "ridge", "features": ["whisper_base"], "temperature": 1.0, "labels": ["angry"],
            "speaker_independent": {"ua": 0.7, "ua_std": 0.02, "wa": 0.7, "wa_std": 0.02, "macro_f1": 0.7},
            "calibration": {"ece_before": 0.2, "ece_after": 0.05, "ece_after_std": 0.01},
            "best_overall": {"model": "ridge", "features": "whisper_base", "normalisation": "speaker", "ua": 0.7}}
    heads = {"emotion_speaker": {**base, "name": "emotion_speaker", "task": "emotion", "normalisation": "speaker",
                                 "statistic": "mean and std",
                                 "statistic_ua_unseen": {"mean and std": 0.574, "mean only": 0.517}},
             "sentiment_speaker": {**base, "name": "sentiment_speaker", "task": "sentiment", "normalisation": "speaker",
                                   "statistic": "mean only",
                                   "statistic_ua_unseen": {"mean and std": 0.596, "mean only": 0.635}}}
    policy = {"min_clips": 8, "statistic": "mean and std", "ua_single": 0.7,
              "curve": {"mean and std": {"0": 0.7, "8": 0.75}}}
    text = card.model_card({"dataset": "ravdess+cremad", "synthetic": False, "heads": heads, "same_speaker": policy},
                           {}, 10, 4)
    assert ("those clips' statistics (mean and std for emotion_speaker, mean only for sentiment_speaker) "
            "and scored") in text
    assert ("emotion_speaker **mean and std** (mean and std 57.4 %, mean only 51.7 %); sentiment_speaker "
            "**mean only** (mean and std 59.6 %, mean only 63.5 %).") in text
    one = {n: {**e, "statistic": "mean only"} for n, e in heads.items()}
    assert "those clips' mean only and scored" in card.model_card(
        {"dataset": "ravdess+cremad", "synthetic": False, "heads": one, "same_speaker": policy}, {}, 10, 4)
