"""Deployment export: pick the best deployable models from the results table, retrain them on
every actor, write a self-contained bundle (Keras + TFLite + preprocessing as JSON + model card).

Deployable means: predicts from ONE clip (per-speaker normalisation needs several utterances of
the same speaker, so those rows are excluded) and expressible as a Keras model (logistic
regression exactly as Normalization-free Dense+softmax on standardised features, LSTM, ResNet-18).
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from . import evaluation as ev
from .features import FEATURE_SETS
from .ravdess import TASK_CLASSES

DEPLOYABLE_MODELS = ("logreg", "lstm", "resnet18")


def deployable_sets() -> list[str]:
    """Feature sets the bundle computes from one clip (the encoder's set is not in the bundle yet)."""
    return [s for s, c in FEATURE_SETS.items() if c.engine == "clip"]


def choose(summary: pd.DataFrame, task: str, dataset: str) -> tuple[pd.Series, pd.Series]:
    """(best deployable row, best row overall) for ``task`` by speaker-independent UA."""
    best_any = ev.best(summary, task, dataset)
    ok = summary[(summary.normalisation == "none") & summary.model.isin(DEPLOYABLE_MODELS)
                 & summary.features.isin(deployable_sets())]
    return ev.best(ok, task, dataset), best_any


# ----------------------------------------------------------------------------- training on all actors
def logreg_to_keras(coef: np.ndarray, intercept: np.ndarray, n_classes: int):
    """A Keras Dense+softmax equal to a fitted (multinomial or binary) logistic regression."""
    import keras

    n_in = coef.shape[1]
    if n_classes == 2 and coef.shape[0] == 1:  # binary: softmax([0, z]) == sigmoid(z)
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    x = keras.Input((n_in,), name="features")
    out = keras.layers.Dense(n_classes, activation="softmax", name="probs")(x)
    model = keras.Model(x, out)
    model.get_layer("probs").set_weights([coef.T.astype(np.float32), intercept.astype(np.float32)])
    return model


def train_logreg(X: np.ndarray, y: np.ndarray, classes: list[str]):
    """Scaler + logistic regression on all data; returns (keras model, scaler dict)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(X)
    yi = np.array([classes.index(c) for c in y])
    lr = LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced").fit(sc.transform(X), yi)
    model = logreg_to_keras(lr.coef_, lr.intercept_, len(classes))
    return model, {"mean": sc.mean_.tolist(), "scale": sc.scale_.tolist()}


def train_deep(kind: str, x: np.ndarray, mask: np.ndarray, actors: np.ndarray, y: np.ndarray,
               classes: list[str], cfg, task: str):
    """LSTM or ResNet on all actors (two of them held out for early stopping)."""
    from . import deep

    image = kind == "image"
    axis = 1 if image else -1
    stats = deep.fit_standardiser(x, mask, axis)
    xs = deep.apply_standardiser(x, mask, stats, axis)
    yi = np.array([classes.index(c) for c in y])
    heads = {task: len(classes)}
    model = (deep.build_resnet18(x.shape[1], x.shape[2], heads, cfg) if image
             else deep.build_lstm(x.shape[1], x.shape[2], heads, cfg))
    val = np.flatnonzero(np.isin(actors, deep.validation_actors(actors, 0)))
    session = deep.Session(model, [task], cfg)
    deep.train(session, xs, mask, {task: deep.one_hot(yi, len(classes))}, val, cfg, image,
               {task: deep.class_weights(yi, len(classes))})
    return model, {"mean": stats[0].tolist(), "scale": stats[1].tolist(), "axis": axis}


# ----------------------------------------------------------------------------- conversion and checks
def unrolled(model):
    """The same model with every recurrent layer unrolled (same weights): TFLite's built-in ops
    then cover it, with no TensorList/Flex ops that the plain interpreter cannot run."""
    import keras

    def clone(layer):
        cfg = layer.get_config()
        if isinstance(layer, keras.layers.LSTM):
            cfg["unroll"] = True
        elif isinstance(layer, keras.layers.Bidirectional):
            cfg["layer"]["config"]["unroll"] = True
            if cfg.get("backward_layer"):
                cfg["backward_layer"]["config"]["unroll"] = True
        return layer.__class__.from_config(cfg)

    if not any(isinstance(l, (keras.layers.LSTM, keras.layers.Bidirectional)) for l in model.layers):
        return model
    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def to_tflite(model, path: Path) -> Path:
    """Convert a Keras model to TFLite (float32, built-in ops only)."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(unrolled(model))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    data = conv.convert()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


RUNTIME_PACKAGES = ("numpy", "scipy", "pandas", "soundfile", "soxr", "librosa", "tensorflow-cpu",
                    "keras", "flask", "joblib", "tqdm", "scikit-learn")


def runtime_requirements(requirements_txt: Path) -> list[str]:
    """The pinned lines of the project's requirements that the app needs at run time."""
    return [line for line in Path(requirements_txt).read_text().splitlines()
            if line.split("==")[0] in RUNTIME_PACKAGES]


def write_bundle(out_dir: Path, entries: dict[str, dict], models: dict[str, object], card: str,
                 extra_files: dict[str, Path], requirements: list[str]) -> Path:
    """Write the bundle into a temporary folder, then swap it into place (never half-written)."""
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "figures").mkdir(parents=True)
    for task, model in models.items():
        model.save(tmp / f"{task}.keras")
        to_tflite(model, tmp / f"{task}.tflite")
        entries[task]["files"] = {"keras": f"{task}.keras", "tflite": f"{task}.tflite"}
    (tmp / "preprocessing.json").write_text(json.dumps({"models": entries}, indent=1) + "\n")
    (tmp / "MODEL_CARD.md").write_text(card)
    (tmp / "requirements.txt").write_text("\n".join(requirements) + "\n")
    for name, src in extra_files.items():
        if Path(src).exists():
            shutil.copy(src, tmp / name)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return out_dir


def entry(task: str, row: pd.Series, best_any: pd.Series, feature_set: str, scaler: dict,
          feature_names: list[str] | None, dataset: str) -> dict:
    cfg = FEATURE_SETS[feature_set]
    return {"task": task, "labels": TASK_CLASSES[task], "model": row.model, "dataset": dataset,
            "feature_set": feature_set, "feature_config": asdict(cfg), "feature_names": feature_names,
            "scaler": scaler, "sample_rate": 16000, "trim_top_db": 30.0,
            "speaker_independent": {k: float(row[k]) for k in ("ua", "ua_std", "wa", "wa_std", "macro_f1")},
            "best_overall": {"model": best_any.model, "features": best_any.features,
                             "normalisation": best_any.normalisation, "ua": float(best_any.ua)}}


def parity(deploy_dir: Path, entries: dict[str, dict], ext, rows: np.ndarray) -> dict[str, dict]:
    """Keras vs TFLite on the cached features of ``rows``: max |difference| and argmax agreement."""
    from .inference import KerasModel, TFLiteModel, model_inputs

    out = {}
    for task, e in entries.items():
        lite = TFLiteModel(Path(deploy_dir) / e["files"]["tflite"])
        keras_m = KerasModel(Path(deploy_dir) / e["files"]["keras"])
        diffs, same = [], []
        for i in rows:
            if e["feature_config"]["kind"] == "table":
                f = ext.tables[e["feature_set"]].iloc[i].to_dict()
            else:
                f = {k: v[i] for k, v in ext.arrays[e["feature_set"]].items()}
            xs = model_inputs(e, {e["feature_set"]: f})
            k, t = keras_m(xs), lite(xs)
            diffs.append(float(np.abs(k - t).max()))
            same.append(int(k.argmax()) == int(t.argmax()))
        out[task] = {"n": len(rows), "max_abs_diff": max(diffs), "argmax_identical": all(same)}
    return out


def clip_bytes(path: str, seconds: float = 4.0) -> bytes:
    """A file cut or padded to exactly ``seconds`` at 16 kHz, as in-memory WAV bytes."""
    import io

    import soundfile as sf

    from . import audio

    n = int(seconds * audio.TARGET_SR)
    y = audio.load(path, trim=False)
    y = np.pad(y, (0, max(0, n - y.size)))[:n]
    buf = io.BytesIO()
    sf.write(buf, y, audio.TARGET_SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def latency(fn, clips: list[bytes], repeats: int = 1) -> dict[str, float]:
    """Median and p95 seconds of ``fn(clip)`` (decode + features + inference)."""
    times = []
    for _ in range(repeats):
        for c in clips:
            t0 = time.perf_counter()
            fn(c)
            times.append(time.perf_counter() - t0)
    return {"median_ms": float(np.median(times) * 1000), "p95_ms": float(np.percentile(times, 95) * 1000),
            "n": len(times)}


def model_card(entries: dict[str, dict], dataset: str, checks: dict, n_utterances: int, n_actors: int) -> str:
    """MODEL_CARD.md text; a bundle trained on the synthetic corpus says so on its first line."""
    first = ("# SYNTHETIC-DATA MODEL — trained on the synthetic corpus, NOT on RAVDESS; its predictions "
             "on real speech are meaningless\n" if dataset != "ravdess"
             else "# Model card — speech emotion, sentiment and gender (trained on RAVDESS)\n")
    lines = [first, "",
             f"Dataset: **{dataset}** ({n_utterances} utterances, {n_actors} actors). RAVDESS: Livingstone & "
             "Russo (2018), acted North-American English, two fixed sentences, 24 professional actors "
             "(12 female, 12 male), CC BY-NC-SA 4.0 — the trained weights inherit the non-commercial terms.", "",
             "## Models", ""]
    for task, e in entries.items():
        m = e["speaker_independent"]
        b = e["best_overall"]
        lines += [f"### {task}", "",
                  f"* model: `{e['model']}` on the `{e['feature_set']}` feature set; classes: {', '.join(e['labels'])}",
                  f"* speaker-independent cross-validation (6 EmoBox actor folds): **UA {m['ua']*100:.1f} ± "
                  f"{m['ua_std']*100:.1f} %**, WA {m['wa']*100:.1f} ± {m['wa_std']*100:.1f} %, macro-F1 {m['macro_f1']*100:.1f} %",
                  *([f"* macro-F1 is a mean over folds; fold 2 tests on four female actors only, so any "
                     "'male' prediction there scores an F1 of 0 for that absent class and pulls the mean down"]
                    if task == "gender" else []),
                  f"* the deployed model is then retrained on all {n_actors} actors with the same configuration",
                  f"* best result of the workbook for this task: {b['model']} on {b['features']} "
                  f"(normalisation {b['normalisation']}), UA {b['ua']*100:.1f} %"
                  + ("" if (b["model"], b["normalisation"]) == (e["model"], "none") else
                     " — not deployable here: " + ("it needs several utterances of the same speaker (per-speaker "
                                                   "normalisation)" if b["normalisation"] != "none" else
                                                   "it is not expressible as a Keras/TFLite model")), ""]
    lines += ["Sentiment (neutral / positive / negative) is the sum of the emotion probabilities of each "
              "sentiment's emotions (neutral = neutral + calm; positive = happy + surprised; negative = sad + "
              "angry + fearful + disgust).", "",
              "![confusion matrix](figures/confusion.png)", "",
              "## Checks at export", "",
              f"* TFLite vs Keras on {checks['parity']['n']} utterances per model: max |difference| "
              f"{checks['parity']['max_abs_diff']:.2e}, identical argmax: {checks['parity']['argmax_identical']}",
              f"* end-to-end latency per 4-s clip (decode + features + inference, 2 CPU cores): "
              + "; ".join(f"{k} median {v['median_ms']:.0f} ms, p95 {v['p95_ms']:.0f} ms" for k, v in checks["latency"].items()),
              "", "## Intended use and limitations", "",
              "* Teaching and research on speech emotion recognition. **Not for decisions about people** "
              "(hiring, health, policing, credit, education or anything similar).",
              "* Trained on acted, studio-quality English speech of 24 actors reading two sentences; expect "
              "much lower accuracy on spontaneous speech, other languages, accents, ages, microphones and noise.",
              "* Gender here is a binary label inferred from the actor's voice in one corpus; it is not a "
              "person's gender identity.",
              "* Emotion categories are the actors' intended portrayals, not felt emotions.",
              "", "## Input", "",
              "WAV, FLAC, MP3 or OGG, 0.3-30 s; decoded, down-mixed, resampled to 16 kHz, leading/trailing "
              "silence more than 30 dB below the peak trimmed; preprocessing parameters are in `preprocessing.json`."]
    return "\n".join(lines) + "\n"
