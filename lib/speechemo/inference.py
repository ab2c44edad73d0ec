"""Load an exported bundle and predict emotion, sentiment and gender from audio.

The bundle's ``preprocessing.json`` holds everything as data (no pickles): labels, feature
configuration, scaler statistics, and the model files (Keras and TFLite) per task.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import audio, features
from .deep import sentiment_from_emotion

MIN_SECONDS = 0.3
MAX_SECONDS = 30.0


class InputError(ValueError):
    """Audio the models cannot judge (too short, too long, silent...); a client error."""


class TFLiteModel:
    """A TFLite model called like the Keras one: a dict of named inputs, batch of any size.

    A TFLite interpreter must not be used by two threads at once (its tensors are shared state:
    concurrent requests fail with "There is at least 1 reference to internal data"), so every
    thread that calls the model gets an interpreter of its own, made on its first call."""

    def __init__(self, path: str | Path, num_threads: int = 1):
        import threading

        self.path = str(path)
        self.num_threads = num_threads
        self._local = threading.local()
        self.inputs = self.interp.get_input_details()
        self.output = self.interp.get_output_details()[0]

    @property
    def interp(self):
        """This thread's interpreter."""
        it = getattr(self._local, "interp", None)
        if it is None:
            import tensorflow as tf

            it = tf.lite.Interpreter(model_path=self.path, num_threads=self.num_threads)
            it.allocate_tensors()
            self._local.interp = it
        return it

    def _detail(self, name: str) -> dict:
        if len(self.inputs) == 1:
            return self.inputs[0]
        return next(d for d in self.inputs if name in d["name"])

    def __call__(self, xs: dict[str, np.ndarray]) -> np.ndarray:
        n = len(next(iter(xs.values())))
        interp = self.interp
        outs = []
        for i in range(n):
            for name, x in xs.items():
                interp.set_tensor(self._detail(name)["index"], x[i:i + 1].astype(np.float32))
            interp.invoke()
            outs.append(interp.get_tensor(self.output["index"])[0].copy())
        return np.stack(outs)


class KerasModel:
    def __init__(self, path: str | Path):
        import keras

        from .deep import masked_mean_layer

        masked_mean_layer()  # registers the custom layer before loading
        self.model = keras.models.load_model(path)

    def __call__(self, xs: dict[str, np.ndarray]) -> np.ndarray:
        out = self.model(xs if len(xs) > 1 else next(iter(xs.values())), training=False)
        out = list(out.values())[0] if isinstance(out, dict) else out
        return np.asarray(out)


def model_inputs(entry: dict, feats: dict) -> dict[str, np.ndarray]:
    """Turn one clip's features into the model's standardised, named inputs (batch of 1)."""
    sc = entry["scaler"]
    mean, scale = np.asarray(sc["mean"], np.float32), np.asarray(sc["scale"], np.float32)
    kind = entry["feature_config"]["kind"]
    f = feats[entry["feature_set"]]
    if kind == "table":  # named values (our sets) or a vector in registry order (openSMILE)
        v = np.asarray(f, np.float32) if isinstance(f, np.ndarray) else np.array([f[n] for n in entry["feature_names"]], np.float32)
        return {"features": ((v - mean) / scale)[None]}
    x, mask = f["x"].astype(np.float32), f["mask"].astype(np.float32)
    if kind == "image":
        x = (x - mean[:, None]) / scale[:, None] * mask[None, :]
        return {"image": x[None, ..., None]}
    x = (x - mean) / scale * mask[:, None]
    return {"sequence": x[None], "mask": mask[None]}


class Bundle:
    """The deployed models. ``backend``: ``tflite`` (default, what the app serves) or ``keras``."""

    def __init__(self, folder: str | Path, backend: str = "tflite"):
        self.folder = Path(folder)
        spec = self.folder / "preprocessing.json"
        if not spec.exists():
            raise FileNotFoundError(f"{spec} is missing: run notebook 06 (make all) to export a bundle")
        self.entries = json.loads(spec.read_text())["models"]
        loader = TFLiteModel if backend == "tflite" else KerasModel
        self.models = {t: loader(self.folder / e["files"][backend]) for t, e in self.entries.items()}
        self.backend = backend
        self.sets = sorted({e["feature_set"] for e in self.entries.values()})

    @property
    def dataset(self) -> str:
        return next(iter(self.entries.values()))["dataset"]

    def predict_signal(self, y: np.ndarray) -> dict:
        """Predictions for a 16 kHz mono clip that went through the front end."""
        feats = features.extract_clip(y, self.sets)
        out: dict = {"dataset": self.dataset, "backend": self.backend}
        for task, e in self.entries.items():
            p = self.models[task](model_inputs(e, feats))[0]
            out[task] = {"label": e["labels"][int(p.argmax())], "confidence": float(p.max()),
                         "probabilities": {c: float(v) for c, v in zip(e["labels"], p)}}
        if "emotion" in out:
            names = self.entries["emotion"]["labels"]
            ps = sentiment_from_emotion(np.array([[out["emotion"]["probabilities"][c] for c in names]]), names)[0]
            from .ravdess import SENTIMENT_NAMES

            out["sentiment"] = {"label": SENTIMENT_NAMES[int(ps.argmax())], "confidence": float(ps.max()),
                                "probabilities": dict(zip(SENTIMENT_NAMES, map(float, ps)))}
        return out

    def predict_audio(self, source: str | Path | bytes, name: str | None = None) -> dict:
        """Decode, check the duration, run the front end and the models."""
        y, sr = audio.decode(source, name)
        seconds = y.shape[0] / sr
        label = name or str(source)[:60]
        if seconds < MIN_SECONDS:
            raise InputError(f"{label}: clip is {seconds:.2f} s long; at least {MIN_SECONDS} s is needed")
        if seconds > MAX_SECONDS:
            raise InputError(f"{label}: clip is {seconds:.1f} s long; at most {MAX_SECONDS:.0f} s is accepted")
        mono = audio.resample(audio.to_mono(y), sr, audio.TARGET_SR)
        if float(np.max(np.abs(mono))) < 1e-4:
            raise InputError(f"{label}: the clip is silent")
        out = self.predict_signal(audio.trim_silence(mono))
        out["seconds"] = round(seconds, 3)
        return out
