"""Deployment export: pick the best deployable heads from the results table, retrain them on every
actor with a calibrated temperature, and write a self-contained bundle (TFLite encoder in float32
and int8, linear heads as ``.npz`` arrays, everything else as JSON, a model card). No pickle.

Deployable: a linear head (ridge or logistic regression) on feature sets the bundle computes from
audio: the Whisper-base pooled states (TFLite) and the workbook's own per-clip tables. Heads that
need several clips of one speaker (``normalisation == "speaker"``) are deployed as the app's
"calibrate to a voice" mode, used only when a request brings enough clips of that speaker.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from speechemo.data import audio
from speechemo.foundations import files
from speechemo.features import whisper
from speechemo.protocol import evaluation as ev
from speechemo.models.calibration import LinearHead, ece, ece_table, probabilities
from speechemo.data.corpora import REGISTRY
from speechemo.data.datasets import LAYOUT
from speechemo.data.download import is_synthetic_name
from speechemo.features.encoders import WHISPER_BASE
from speechemo.features.extraction import FEATURE_SETS, VIEWS
from speechemo.serving.inference import Bundle
from speechemo.foundations.numeric import fit_temperature, scaled

DEPLOYABLE_MODELS = ("ridge", "logreg", "logreg_cv")
ENCODER_SET = WHISPER_BASE
ENCODER_FILES = {"float32": "encoder_float32.tflite", "int8": "encoder_int8.tflite"}


def bundle_sets() -> list[str]:
    """Feature sets the bundle computes from one clip: the encoder and the per-clip tables, and
    the views of those (a head on a view is served on its base set, see ``served_head``)."""
    computed = [s for s, c in FEATURE_SETS.items() if (c.engine == "clip" and c.kind == "table") or s == ENCODER_SET]
    return computed + [v for v, view in VIEWS.items() if view.base in computed]


def served_features(features: str) -> str:
    """The sets the bundle computes for ``features``: each view replaced by its base set."""
    return "+".join(VIEWS[p].base if p in VIEWS else p for p in parts(features))


def served_head(head: LinearHead, features: str, tables: dict[str, pd.DataFrame]) -> LinearHead:
    """``head`` (fitted on the columns of ``features``) on the columns of ``served_features``: a
    view's weights go to its columns of the base set, the base set's other columns get 0."""
    blocks, start = [], 0
    for p in parts(features):
        width = tables[p].shape[1]
        W = head.W[:, start:start + width]
        start += width
        if p in VIEWS:
            base = list(tables[VIEWS[p].base].columns)
            full = np.zeros((W.shape[0], len(base)))
            full[:, VIEWS[p].positions(base)] = W
            W = full
        blocks.append(W)
    return LinearHead(head.classes, np.hstack(blocks), head.b, head.temperature)


def parts(features: str) -> list[str]:
    """``whisper_base+functionals`` -> its sets, in column order."""
    return features.split("+")


def deployable(summary: pd.DataFrame, dataset: str, normalisation: str = "none") -> pd.DataFrame:
    """Speaker-independent rows whose model and every feature set the bundle can serve."""
    ok = summary.features.map(lambda f: all(p in bundle_sets() for p in parts(f)))
    return summary[(summary.dataset == dataset) & (summary.protocol == ev.SPEAKER_INDEPENDENT)
                   & (summary.normalisation == normalisation) & summary.model.isin(DEPLOYABLE_MODELS) & ok]


KEY = ["task", "model", "features", "normalisation"]


def unseen_corpus(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Leave-one-corpus-out UA of every configuration: one column per held-out corpus
    (``loco_<corpus>``) and ``ua_loco``, the worst of them (empty for a single corpus)."""
    rows = summary[(summary.dataset == dataset) & summary.protocol.astype(str).str.startswith(ev.LOCO + ":")]
    if rows.empty:
        return pd.DataFrame(columns=KEY + ["ua_loco"])
    wide = rows.assign(held=rows.protocol.str.split(":").str[1]).pivot_table(index=KEY, columns="held", values="ua")
    wide.columns = [f"loco_{c}" for c in wide.columns]
    wide["ua_loco"] = wide.min(axis=1)
    return wide.reset_index()


def choose(summary: pd.DataFrame, task: str, dataset: str, normalisation: str = "none",
           robustness: pd.DataFrame | None = None) -> tuple[pd.Series, pd.Series]:
    """(deployed row, best row overall) for ``task``. The deployed row has the best ``ua_select``:
    the worst of its leave-one-corpus-out UA (several corpora) and its worst-case UA under
    perturbation (when ``robustness`` scored it: columns task, model, features, normalisation,
    ua_robust); with neither, the best clean UA. The unseen-corpus UA is the recipe's own when
    ``robustness`` has it (``ua_loco``, ``loco_<corpus>``: each training recipe fitted on the other
    corpora, ``unseen_from`` = "robustness suite"), else the clean configuration's rows of the
    summary (notebooks 03/06, ``unseen_from`` = "summary")."""
    best_any = ev.best(summary[summary.normalisation == normalisation], task, dataset)
    cands = deployable(summary, dataset, normalisation)
    cands = cands[cands.task == task]
    if robustness is not None and len(robustness):
        extra = ["training"] if "training" in robustness else []
        own = [c for c in robustness if c == "ua_loco" or c.startswith("loco_")]
        scored = cands.merge(robustness[KEY + extra + ["ua_robust"] + own], on=KEY)
        if len(scored):
            cands = scored.assign(unseen_from="robustness suite") if own else scored
    if "ua_loco" not in cands:
        loco = unseen_corpus(summary, dataset)
        if len(loco):
            cands = cands.merge(loco, on=KEY, how="left").assign(unseen_from="summary")
    worst = [c for c in ("ua_robust", "ua_loco") if c in cands and cands[c].notna().any()]
    if not worst:
        return ev.best(cands, task, dataset), best_any
    cands = cands.assign(ua_select=cands[worst].min(axis=1), select_by=" and ".join(worst))
    return cands.sort_values(["ua_select", "ua"], ascending=False).iloc[0], best_any


def model_params(model: str, widths: list[int]) -> dict | None:
    """The parameters a model was evaluated with on fused sets: the ridge's equal-weight blocks."""
    return {"blocks": tuple(widths)} if model == "ridge" and len(widths) > 1 else None


def feature_matrix(tables: dict[str, pd.DataFrame], features: str) -> tuple[np.ndarray, list[int], list[str]]:
    """Columns of ``features`` side by side, the width of each part, and the column names."""
    mats = [tables[p] for p in parts(features)]
    return (np.hstack([m.to_numpy(np.float64) for m in mats]), [m.shape[1] for m in mats],
            [c for m in mats for c in m.columns])


# ----------------------------------------------------------------------------- the encoder as TFLite
def encoder_to_tflite(encoder, out_dir: Path) -> dict[str, str]:
    """The Whisper encoder up to its pooled states (per layer mean and std over the frames of one
    clip of any length) as TFLite, float32 and int8 dynamic-range (int8 weights, float activations).
    Input ``(1, frames, 80)`` log-mel (resize per clip), output ``(1, 7168)``."""
    import tensorflow as tf

    model = encoder.model

    def pooled(mel):
        states = model([mel, tf.ones(tf.shape(mel)[:2], tf.float32)], training=False)
        out = []
        for h in states:
            mu = tf.reduce_mean(h, axis=1)
            out += [mu, tf.sqrt(tf.reduce_mean(tf.square(h - mu[:, None]), axis=1))]
        return tf.concat(out, axis=1)

    fn = tf.function(pooled, input_signature=[tf.TensorSpec((1, None, whisper.N_MELS), tf.float32, name="mel")])
    concrete = fn.get_concrete_function()
    written = {}
    for variant, name in ENCODER_FILES.items():
        conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if variant == "int8":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic range: no calibration data
        files.write_bytes(Path(out_dir) / name, conv.convert())
        written[variant] = name
    return written


# ----------------------------------------------------------------------------- the bundle
RUNTIME_PACKAGES = ("numpy", "scipy", "pandas", "soundfile", "soxr", "librosa", "tensorflow-cpu", "plotly",
                    "flask", "waitress", "tqdm")


def runtime_requirements(requirements_txt: Path) -> list[str]:
    """The pinned lines of the project's requirements that the app needs at run time."""
    return [line for line in Path(requirements_txt).read_text().splitlines()
            if line.split("==")[0] in RUNTIME_PACKAGES]


def _floats(row: pd.Series, prefix: str) -> dict[str, float]:
    return {k[len(prefix):]: float(row[k]) for k in row.index if k.startswith(prefix) and pd.notna(row[k])}


def head_entry(name: str, task: str, row: pd.Series, best_any: pd.Series, head: LinearHead,
               feature_names: dict[str, list[str] | None], dataset: str, calibration: dict) -> dict:
    """What ``preprocessing.json`` says of one head (``unseen_corpus``: its leave-one-corpus-out
    UA per held-out corpus, when the dataset has several)."""
    served = parts(served_features(row.features))
    return {"name": name, "task": task, "labels": head.classes, "model": row.model, "features": served,
            **({"fitted_on": row.features} if served_features(row.features) != row.features else {}),
            "training": row["training"] if isinstance(row.get("training"), str) else "clean",
            "feature_names": {p: feature_names.get(p) for p in served},
            "normalisation": row.normalisation, "temperature": head.temperature, "dataset": dataset,
            "speaker_independent": {k: float(row[k]) for k in ("ua", "ua_std", "wa", "wa_std", "macro_f1")},
            "unseen_corpus": _floats(row, "loco_"),
            **({"unseen_corpus_from": row["unseen_from"]} if isinstance(row.get("unseen_from"), str) else {}),
            "selected_by": row.get("select_by") if isinstance(row.get("select_by"), str) else "clean UA",
            "calibration": calibration,
            "best_overall": {"model": best_any.model, "features": best_any.features,
                             "normalisation": best_any.normalisation, "ua": float(best_any.ua)}}


def trained_on(meta: pd.DataFrame) -> list[dict]:
    """The corpora the bundle's heads were trained on: name, title, licence, clips and speakers."""

    corpus = meta["corpus"] if "corpus" in meta else pd.Series("ravdess", index=meta.index)
    out = []
    for name, g in meta.groupby(corpus.to_numpy(), sort=False):
        synthetic = is_synthetic_name(str(name))
        entry = REGISTRY.get(LAYOUT.get(str(name), str(name)))
        title = entry.title if entry else str(name)
        out.append({"corpus": str(name), "title": f"SYNTHETIC stand-in in the layout of {title}" if synthetic else title,
                    "licence": "" if synthetic or not entry else entry.licence, "clips": int(len(g)),
                    "speakers": int(g["actor"].nunique())})
    return out


def calibration_summary(oof: pd.DataFrame, classes: list[str], corpus: np.ndarray | None) -> dict:
    """ECE before/after on the out-of-fold clips (``calibration.ece_table``) and, when the clips
    come from several corpora, the same per corpus (``by_corpus``)."""

    out = ece_table(oof, classes)
    if corpus is not None and len(set(np.asarray(corpus).tolist())) > 1:
        out["by_corpus"] = corpus_calibration(oof, classes, np.asarray(corpus))
    return out


def corpus_calibration(oof: pd.DataFrame, classes: list[str], corpus: np.ndarray) -> dict[str, dict]:
    """Per corpus, on the out-of-fold clips: ``fold_metrics`` (that corpus's unseen speakers, UA over
    its classes), ECE before and after the deployed temperature, and the temperature that corpus
    alone would want (a diagnostic of how far confidence carries)."""

    out = {}
    rows = oof["row"].to_numpy()
    for c in pd.unique(corpus[rows]):
        sub = oof[m := corpus[rows] == c]
        y_idx = np.array([classes.index(t) for t in sub["true"]])
        raw = probabilities(sub, classes, "raw")
        own = fit_temperature(np.log(np.clip(raw, 1e-12, 1.0)), y_idx)
        out[str(c)] = {"clips": int(m.sum()), **fold_metrics(sub, classes), "ece_before": ece(raw, y_idx),
                       "ece_after": ece(probabilities(sub, classes, "cal"), y_idx), "temperature_own": own}
    return out


def write_bundle(out_dir: Path, spec: dict, heads: dict[str, LinearHead], card: str,
                 extra_files: dict[str, Path], requirements: list[str], encoder=None) -> Path:
    """Write the bundle into a temporary folder, then swap it into place (never half-written).
    ``encoder``: the loaded Keras encoder, converted when a head uses its set."""
    with files.atomic_dir(out_dir) as tmp:
        (tmp / "figures").mkdir()
        arrays = {}
        for name, h in heads.items():
            arrays[f"{name}__W"], arrays[f"{name}__b"] = h.W.astype(np.float32), h.b.astype(np.float32)
        np.savez(tmp / "heads.npz", **arrays)
        needs_encoder = any(ENCODER_SET in e["features"] for e in spec["heads"].values())
        if needs_encoder:
            if encoder is None:
                raise ValueError("a head uses the encoder's pooled states: pass the loaded encoder")
            spec.setdefault("encoder", {})["files"] = encoder_to_tflite(encoder, tmp)  # the caller's spec too
        (tmp / "preprocessing.json").write_text(json.dumps(spec, indent=1) + "\n")
        (tmp / "MODEL_CARD.md").write_text(card)
        (tmp / "requirements.txt").write_text("\n".join(requirements) + "\n")
        for name, src in extra_files.items():
            if Path(src).exists():
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, tmp / name)
    return Path(out_dir)


# ----------------------------------------------------------------------------- checks
def clip_bytes(path: str, seconds: float = 4.0) -> bytes:
    """A file cut or padded to exactly ``seconds`` at 16 kHz, as in-memory WAV bytes."""
    import io

    import soundfile as sf

    n = int(seconds * audio.TARGET_SR)
    y = audio.load(path, trim=False)
    y = np.pad(y, (0, max(0, n - y.size)))[:n]
    buf = io.BytesIO()
    sf.write(buf, y, audio.TARGET_SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def latency(fn, clips: list[bytes], repeats: int = 1) -> dict[str, float]:
    """Median and p95 milliseconds of ``fn(clip)`` (decode + front end + encoder + heads)."""
    times = []
    for _ in range(repeats):
        for c in clips:
            t0 = time.perf_counter()
            fn(c)
            times.append(time.perf_counter() - t0)
    return {"median_ms": float(np.median(times) * 1000), "p95_ms": float(np.percentile(times, 95) * 1000),
            "n": len(times)}


def default_encoder(agreement: float, lat: dict[str, dict], min_agreement: float = 0.98,
                    median_ms: float = 100.0, p95_ms: float = 150.0) -> tuple[str, str]:
    """The variant the app serves: int8 when it agrees with float32 on at least ``min_agreement``
    of the clips, else float32; and why."""
    if agreement >= min_agreement:
        why = f"int8 agrees with float32 on {agreement:.1%} of clips (>= {min_agreement:.0%})"
        return "int8", why
    return "float32", f"int8 agrees with float32 on only {agreement:.1%} of clips (< {min_agreement:.0%})"


def bundle_size(folder: Path, variant: str | None = None) -> float:
    """MB of the files the app loads with ``variant`` of the encoder (all files if None)."""
    skip = {n for v, n in ENCODER_FILES.items() if variant and v != variant}
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file() and p.name not in skip) / 1e6


# ----------------------------------------------------------------------------- what to deploy, calibrated
SINGLE_TASKS = ("emotion", "sentiment", "gender")
SPEAKER_TASKS = ("emotion", "sentiment")


def plan(summary: pd.DataFrame, dataset: str, policy: dict, robustness: pd.DataFrame | None = None) -> list[dict]:
    """The heads to ship: the best single-clip head per task and, when the calibrate-to-a-voice curve found
    a number of clips that helps (``policy``), the best speaker-normalised head for emotion and
    sentiment. Tasks without a deployable row are left out (and said so by the caller)."""
    out = []
    for norm, tasks in (("none", SINGLE_TASKS), ("speaker", SPEAKER_TASKS if policy.get("min_clips") else ())):
        for task in tasks:
            try:
                row, best_any = choose(summary, task, dataset, norm, robustness)
            except (IndexError, KeyError, ValueError):
                continue
            out.append({"name": task if norm == "none" else f"{task}_speaker", "task": task,
                        "normalisation": norm, "row": row, "best_any": best_any})
    return out


def head_matrix(item: dict, tables: dict[str, pd.DataFrame], actors: np.ndarray) -> tuple[np.ndarray, dict | None]:
    """The training matrix of a planned head (a speaker head normalised with its own ``statistic``,
    ``selection.with_statistics``) and the model parameters it was evaluated with (the ridge's
    equal-weight blocks for fused sets)."""
    X, widths, _ = feature_matrix(tables, item["row"].features)
    if item["normalisation"] == "speaker":
        X = ev.speaker_normalise(X, actors, scale=scaled(item["statistic"]))
    params = model_params(item["row"].model, widths)
    return X, params


def fold_metrics(oof: pd.DataFrame, classes: list[str]) -> dict[str, float]:
    """UA/WA/macro-F1 mean and fold std of the calibrated out-of-fold predictions."""

    pred = np.asarray(classes)[probabilities(oof, classes, "cal").argmax(1)]
    true = oof.true.to_numpy()
    masks = [(oof.fold == f).to_numpy() for f in sorted(oof.fold.unique())]
    per = pd.DataFrame([ev.scores(true[m], pred[m], classes) for m in masks])
    return {"ua": per.ua.mean(), "ua_std": per.ua.std(ddof=0), "wa": per.wa.mean(), "wa_std": per.wa.std(ddof=0),
            "macro_f1": per.macro_f1.mean()}


def parity(deploy_dir: Path, encoder, heads: dict[str, LinearHead], paths: list[str]) -> dict:
    """The bundle (TFLite float32 encoder, heads from ``heads.npz``) against the notebook-side
    models (Keras encoder, fitted heads) on the same clips: pooled states and probabilities.
    Speaker heads are compared on these clips normalised as one group (same rule both sides)."""

    b = Bundle(deploy_dir, encoder="float32")
    lite, ref = [], []
    for p in paths:
        y = b.load(p)
        v = b.set_vectors(y)
        lite.append(v)
        ref.append({**v, **({ENCODER_SET: encoder.embed([y])[0].astype(np.float64)} if encoder is not None else {})})
    emb = {"embedding_max_abs": 0.0, "embedding_max_value": 0.0, "embedding_rel_to_range": 0.0}
    if encoder is not None:
        A = np.stack([v[ENCODER_SET] for v in lite])
        R = np.stack([v[ENCODER_SET] for v in ref])
        d = np.abs(A - R)
        emb = {"embedding_max_abs": float(d.max()), "embedding_max_value": float(np.abs(R).max()),
               "embedding_rel_to_range": float(d.max() / max(np.abs(R).max(), 1e-12))}
    worst, same = 0.0, True
    for name, head in heads.items():
        XA = np.stack([b.head_input(name, v) for v in lite])
        XR = np.stack([b.head_input(name, v) for v in ref])
        if b.heads[name]["normalisation"] == "speaker":
            XA = ev.speaker_normalise(XA, np.zeros(len(XA)), scale=b.scaled(name))
            XR = ev.speaker_normalise(XR, np.zeros(len(XR)), scale=b.scaled(name))
        pa, pr = b.probabilities(name, XA), head.proba(XR)
        worst = max(worst, float(np.abs(pa - pr).max()))
        same &= bool((pa.argmax(1) == pr.argmax(1)).all())
    return {"n": len(paths), **emb, "proba_max_abs": worst, "argmax_identical": same}


def int8_check(deploy_dir: Path, paths: list[str], tables: dict[str, pd.DataFrame], calibrated: dict,
               actors: np.ndarray, head: str = "emotion", rows: np.ndarray | None = None) -> dict:
    """The int8 encoder on the clips ``rows`` (all by default): how often the ``head`` (trained on
    all actors) gives the same class as on the float32 (notebook) embeddings, and the six-fold UA
    with the fold heads applied to int8 embeddings of their test actors, beside float32's. A fusion
    head (encoder + table sets) gets the int8 states beside the other sets' columns as computed."""
    from tqdm import tqdm

    rows = np.arange(len(paths)) if rows is None else np.asarray(rows)
    b = Bundle(deploy_dir, encoder="int8")
    features = b.heads[head]["features"]
    if ENCODER_SET not in features:
        return {"n": len(rows), "agreement": float("nan"), "note": "the head does not use the encoder"}
    enc8 = np.stack([b.encoder(whisper.log_mel(b.load(paths[r]))) for r in tqdm(rows, desc="int8 encoder")])
    enc_f = tables[ENCODER_SET].to_numpy(np.float64)[rows]

    def matrix(enc: np.ndarray) -> np.ndarray:
        return np.hstack([enc if p == ENCODER_SET else tables[p].to_numpy(np.float64)[rows] for p in features])

    X8, Xf = matrix(enc8.astype(np.float64)), matrix(enc_f)
    c = calibrated[head]
    final = c["head"]
    agree = float((final.predict(X8) == final.predict(Xf)).mean())
    true = c["oof"].set_index("row").true
    position = {r: i for i, r in enumerate(rows)}
    ua = {}
    for name, X in (("int8", X8), ("float32", Xf)):
        per = []
        for te, h in c["fold_heads"]:
            mine = [r for r in te if r in position]
            if mine:
                per.append(ev.scores(true.loc[mine].to_numpy(), h.predict(X[[position[r] for r in mine]]),
                                     h.classes)["ua"])
        ua[name] = float(np.mean(per))
    return {"n": len(rows), "of": len(paths), "agreement": agree, "ua_int8": ua["int8"], "ua_float32": ua["float32"],
            "max_abs_diff": float(np.abs(enc8 - enc_f).max()), "features": features}


def check_rows(meta: pd.DataFrame, at_most: int, seed: int = 0) -> np.ndarray:
    """Row positions of at most ``at_most`` clips, the same number from every actor, spread over the
    emotions (``evaluation.cap_per_speaker``; all of them when the dataset is small enough:
    RAVDESS's 1,440 clips are all checked)."""
    labels = meta["emotion"] if "emotion" in meta else meta["actor"]
    return ev.cap_per_speaker(np.arange(len(meta)), meta["actor"].to_numpy(), labels.to_numpy(), at_most, seed)


def bundle_spec(heads_plan: list[dict], calibrated: dict[str, dict], feature_names: dict[str, list[str]],
                dataset: str, policy: dict, with_encoder: bool, corpora: list[dict] | None = None) -> dict:
    """``preprocessing.json`` for planned heads, each with its calibrated head, out-of-fold
    metrics (``metrics``), ECE (``ece``) and, with several corpora, leave-one-corpus-out scores
    (``unseen``) in ``calibrated[name]``; ``corpora``: ``trained_on(meta)``."""

    spec = {"dataset": dataset, "synthetic": is_synthetic_name(dataset), "trained_on": corpora or [],
            "sample_rate": 16000, "trim_top_db": 30.0, "heads": {}, "tasks": {}, "same_speaker": policy}
    for p in heads_plan:
        c = calibrated[p["name"]]
        row = pd.Series({**p["row"].to_dict(), **c["metrics"]})
        spec["heads"][p["name"]] = head_entry(p["name"], p["task"], row, p["best_any"], c["head"], feature_names,
                                              dataset, c["ece"])
        if p["normalisation"] == "speaker":  # each speaker head's own statistic (selection.with_statistics)
            spec["heads"][p["name"]].update({k: p[k] for k in ("statistic", "statistic_ua_unseen") if p.get(k)})
        if c.get("unseen"):  # the head's own recipe, augmentation included (deployment.unseen_corpus)
            spec["heads"][p["name"]]["unseen_corpus_as_deployed"] = c["unseen"]
        spec["tasks"].setdefault(p["task"], {})["single" if p["normalisation"] == "none" else "speaker"] = p["name"]
    if with_encoder:
        spec["encoder"] = {"origin": whisper.ORIGIN, "default": "float32", "why": "int8 not checked yet"}
    return spec
