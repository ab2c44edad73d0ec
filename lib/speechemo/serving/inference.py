"""Load an exported bundle and predict emotion, sentiment and gender from audio.

The bundle's ``preprocessing.json`` holds everything as data (no pickles): labels, feature sets,
temperatures, the same-speaker policy; ``heads.npz`` the linear heads; ``encoder_*.tflite`` the
Whisper-base encoder up to its pooled states (float32 and int8).

Two ways to predict:
* one clip (``predict_audio``): the single-clip heads -- what a new voice gets;
* several clips of one speaker (``predict_clips``): with at least ``same_speaker.min_clips`` of
  them, each clip is normalised with statistics of those clips only (kept for this call only) and
  scored by the speaker-normalised heads; with fewer, the single-clip heads, and the answer says why;
* a long recording (``predict_segments``, up to 10 minutes): cut into voice-activity segments
  (``segments``), each answered like a clip; its segments count as one voice's clips unless told not.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from speechemo.data import audio
from speechemo.features import extraction, whisper
from speechemo.serving import segments, views
from speechemo.data.audio import AudioError, InputError
from speechemo.features.encoders import WHISPER_BASE
from speechemo.foundations.labels import SENTIMENT_NAMES, sentiment_from_emotion
from speechemo.foundations.numeric import scaled, softmax, zscore

MIN_SECONDS = 0.3
MAX_SECONDS = 30.0
TASKS = ("emotion", "sentiment", "gender")


class EncoderLite:
    """The TFLite encoder: log-mel ``(frames, 80)`` -> pooled states ``(7168,)``.

    A TFLite interpreter must not be used by two threads at once (its tensors are shared state:
    concurrent requests fail with "There is at least 1 reference to internal data"), so every
    thread gets an interpreter of its own, made on its first call."""

    def __init__(self, path: str | Path, num_threads: int = 1):
        self.path = str(path)
        self.num_threads = num_threads
        self._local = threading.local()

    @property
    def interp(self):
        it = getattr(self._local, "interp", None)
        if it is None:
            import warnings

            import tensorflow as tf

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tf.lite's deprecation notice, once per thread
                it = tf.lite.Interpreter(model_path=self.path, num_threads=self.num_threads)
            self._local.interp = it
            self._local.shape = None
        return it

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        it = self.interp
        inp, out = it.get_input_details()[0], it.get_output_details()[0]
        shape = (1, *mel.shape)
        if self._local.shape != shape:
            it.resize_tensor_input(inp["index"], shape)
            it.allocate_tensors()
            self._local.shape = shape
        it.set_tensor(inp["index"], mel[None].astype(np.float32))
        it.invoke()
        return it.get_tensor(out["index"])[0].copy()


def speaker_statistics(spec: dict) -> dict[str, str]:
    """Speaker head name -> the statistic it normalises a voice's clips with, from a bundle's
    ``preprocessing.json``: the head's own (``heads.<name>.statistic``), else the bundle's one
    (``same_speaker.statistic``; ``"mean"`` in bundles older than both)."""
    default = (spec.get("same_speaker") or {}).get("statistic") or "mean"
    return {n: e.get("statistic") or default for n, e in spec["heads"].items() if e.get("normalisation") == "speaker"}


def statistics_in_words(spec: dict) -> str:
    """The speaker heads' statistic in words: ``mean and std`` when they share it, else each head's,
    e.g. ``statistics (mean and std for emotion_speaker, mean only for sentiment_speaker)``."""
    stats = speaker_statistics(spec)
    if len(set(stats.values())) <= 1:
        return next(iter(stats.values()), (spec.get("same_speaker") or {}).get("statistic") or "mean")
    return "statistics (" + ", ".join(f"{s} for {n}" for n, s in stats.items()) + ")"


class Bundle:
    """The deployed heads. ``encoder``: ``float32`` or ``int8`` (default: the bundle's choice)."""

    def __init__(self, folder: str | Path, encoder: str | None = None, num_threads: int = 1):
        self.folder = Path(folder)
        spec_path = self.folder / "preprocessing.json"
        if not spec_path.exists():
            raise FileNotFoundError(f"{spec_path} is missing: run notebook 07 (make all) to export a bundle")
        self.spec = json.loads(spec_path.read_text())
        self.heads = self.spec["heads"]
        with np.load(self.folder / "heads.npz", allow_pickle=False) as z:
            self.weights = {n: (z[f"{n}__W"], z[f"{n}__b"]) for n in self.heads}
        self.sets = sorted({p for e in self.heads.values() for p in e["features"]})
        self.encoder_variant = encoder or self.spec.get("encoder", {}).get("default", "float32")
        self.encoder = None
        if WHISPER_BASE in self.sets:
            files = self.spec["encoder"]["files"]
            if self.encoder_variant not in files:
                raise ValueError(f"encoder variant {self.encoder_variant!r} is not in the bundle ({sorted(files)})")
            self.encoder = EncoderLite(self.folder / files[self.encoder_variant], num_threads)

    @property
    def dataset(self) -> str:
        return self.spec["dataset"]

    @property
    def synthetic(self) -> bool:
        """True when the heads were trained on a generated corpus (bundles before unions: not RAVDESS)."""
        return bool(self.spec.get("synthetic", self.dataset != "ravdess"))

    @property
    def trained_on(self) -> str:
        """The training corpora in words, e.g. ``RAVDESS speech (...) (1440 clips, 24 speakers)``."""
        corpora = self.spec.get("trained_on") or []
        if not corpora:
            return "RAVDESS (acted English speech, 24 actors)" if self.dataset == "ravdess" else self.dataset
        return " and ".join(f"{c['title']} ({c['clips']} clips, {c['speakers']} speakers)" for c in corpora)

    @property
    def min_clips(self) -> int | None:
        """Clips of one speaker needed for the speaker-normalised heads (None: none shipped)."""
        return self.spec.get("same_speaker", {}).get("min_clips")

    # ------------------------------------------------------------------ audio -> vectors
    def load(self, source: str | Path | bytes, name: str | None = None) -> np.ndarray:
        """Decode and check a clip; returns it through the front end (16 kHz mono, trimmed)."""
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
        return audio.trim_silence(mono)

    def set_vectors(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Every feature set the heads use, for one clip through the front end."""

        out = {}
        table_sets = [s for s in self.sets if s != WHISPER_BASE]
        if table_sets:
            feats = extraction.extract_clip(y, table_sets)
            for s in table_sets:
                f = feats[s]
                names = next(e["feature_names"][s] for e in self.heads.values() if s in e["features"])
                out[s] = (np.asarray(f, np.float64) if isinstance(f, np.ndarray)
                          else np.array([f[n] for n in names], np.float64))
        if self.encoder is not None:
            out[WHISPER_BASE] = self.encoder(whisper.log_mel(y)).astype(np.float64)
        return out

    def head_input(self, name: str, vectors: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([vectors[p] for p in self.heads[name]["features"]])

    def probabilities(self, name: str, X: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of head ``name`` for rows ``X`` (already normalised if needed)."""
        W, b = self.weights[name]
        return softmax((np.atleast_2d(X) @ W.T.astype(np.float64) + b) / self.heads[name]["temperature"])

    def _answer(self, name: str, p: np.ndarray) -> dict:
        labels = self.heads[name]["labels"]
        return {"label": labels[int(p.argmax())], "confidence": float(p.max()),
                "probabilities": {c: float(v) for c, v in zip(labels, p)}, "model": name}

    def _sentiment_from_emotion(self, emo: dict) -> dict:
        names = list(emo["probabilities"])
        ps = sentiment_from_emotion(np.array([[emo["probabilities"][c] for c in names]]), names)[0]
        return {"label": SENTIMENT_NAMES[int(ps.argmax())], "confidence": float(ps.max()),
                "probabilities": dict(zip(SENTIMENT_NAMES, map(float, ps))), "model": "sum of emotion probabilities"}

    # ------------------------------------------------------------------ predictions
    def predict_vectors(self, vectors: dict[str, np.ndarray], normalised: dict[str, np.ndarray] | None = None) -> dict:
        """Answers per task from one clip's vectors; ``normalised``: head name -> normalised input
        of the speaker heads (used for the tasks that have one)."""
        tasks = self.spec["tasks"]
        out: dict = {"dataset": self.dataset, "encoder": self.encoder_variant if self.encoder else None}
        for task in TASKS:
            if task in tasks and "single" in tasks[task]:
                single = tasks[task]["single"]
                out[task] = self._answer(single, self.probabilities(single, self.head_input(single, vectors))[0])
        if "sentiment" not in out and "emotion" in out:
            out["sentiment"] = self._sentiment_from_emotion(out["emotion"])
        if normalised:
            out.update(self._speaker_answers(normalised))
        return out

    def predict_signal(self, y: np.ndarray) -> dict:
        return self.predict_vectors(self.set_vectors(y))

    def predict_audio(self, source: str | Path | bytes, name: str | None = None, view: bool = False) -> dict:
        """One clip: decode, check, front end, encoder, single-clip heads. ``view``: add the clip
        as heard (waveform envelope and log-mel, ``views.heard``) for the page."""
        y = self.load(source, name)
        out = self.predict_signal(y)
        out["seconds"] = round(y.shape[0] / audio.TARGET_SR, 3)
        if view:
            out["heard"] = views.heard(y)
        return out

    def predict_clips(self, clips: list[tuple[str, str | Path | bytes]], same_speaker: bool = True) -> dict:
        """Several clips ``(name, source)``; ``same_speaker``: they are ONE speaker's. Bad clips are
        named in the answer and left out; the good ones are answered. With at least ``min_clips``
        good clips of one speaker, every clip is scored by the speaker-normalised heads with
        statistics of these clips only (nothing is kept after the call)."""

        good, answers = [], []
        for name, src in clips:
            try:
                y = self.load(src, name)
                good.append((len(answers), self.set_vectors(y)))
                answers.append({"file": name, "seconds": round(y.shape[0] / audio.TARGET_SR, 3)})
            except (AudioError, InputError) as err:
                answers.append({"file": name, "error": str(err),
                                "status": 422 if isinstance(err, InputError) else 415})
        use, why = self._speaker_mode(len(good), same_speaker, "clips")
        inputs = self._speaker_inputs([v for _, v in good]) if use else {}
        for j, (i, vec) in enumerate(good):
            answers[i].update(self.predict_vectors(vec, self._row(inputs, j) if use else None))
        out = {"dataset": self.dataset, "mode": "speaker_normalised" if use else "single_clip", "why": why,
               "clips_used": len(good), "min_clips": self.min_clips, "clips": answers}
        if good:
            out["overall"] = self._overall([answers[i] for i, _ in good])
        return out

    def predict_segments(self, source, name: str | None = None, same_speaker: bool = True,
                         rules: segments.SegmentRules = segments.SegmentRules()) -> dict:
        """A recording of up to 10 minutes: voice-activity segments, each answered (emotion,
        sentiment, gender, confidence, start, end) plus the overall state. The file is read in
        blocks; per segment only its answer and the speaker heads' inputs are kept (the latter for
        the same-speaker mode: the segments of one recording are one voice most of the time)."""
        label = name or str(source)[:60]
        found = segments.scan(source, label)
        spans = [s for s in segments.voice_spans(found.levels, rules) if s[1] - s[0] >= MIN_SECONDS]
        out: dict = {"file": label, "dataset": self.dataset, "seconds": round(found.seconds, 3),
                     "encoder": self.encoder_variant if self.encoder else None}
        if not spans:
            return {**out, "segments": [], "speech_seconds": 0.0, "mode": "single_clip", "overall": None,
                    "why": "no speech found: the recording is silent or too quiet (nothing above "
                           f"{rules.floor_db:.0f} dBFS for {MIN_SECONDS} s)"}
        answers, kept = [], []
        for start, end in spans:
            vec = self.set_vectors(segments.read_span(source, start, end, label))
            answer = self.predict_vectors(vec)
            answers.append({"start": start, "end": end, **{t: answer[t] for t in TASKS if t in answer}})
            kept.append({n: self.head_input(n, vec).astype(np.float32) for n in self._speaker_heads()})
        use, why = self._speaker_mode(len(spans), same_speaker, "segments")
        if use:
            inputs = self._normalised(kept)
            for j, a in enumerate(answers):
                a.update(self._speaker_answers(self._row(inputs, j)))
        return {**out, "segments": answers, "speech_seconds": round(sum(e - s for s, e in spans), 3),
                "mode": "speaker_normalised" if use else "single_clip", "why": why,
                "overall": self._overall(answers)}

    # ------------------------------------------------------------------ same-speaker mode
    def _speaker_heads(self) -> list[str]:
        return [n["speaker"] for n in self.spec["tasks"].values() if n.get("speaker")]

    def scaled(self, name: str) -> bool:
        """Whether speaker head ``name`` scales a voice's clips as well as centring them."""
        return scaled(speaker_statistics(self.spec)[name])

    def _speaker_mode(self, n: int, same_speaker: bool, what: str) -> tuple[bool, str]:
        """Whether ``n`` items of one voice get the speaker-normalised heads, and why in words."""
        k, statistic = self.min_clips, statistics_in_words(self.spec)
        if not same_speaker:
            return False, f"{what} not declared as one speaker (same_speaker=true): single-clip models used"
        if not k:
            return False, "this bundle has no speaker-normalised model: single-clip models used"
        if n >= k:
            return True, (f"{n} {what} of one speaker (>= {k}): each is normalised with these {what}' "
                          f"{statistic} and scored by the speaker-normalised model")
        return False, (f"only {n} usable {what}; the speaker-normalised model needs at least {k} of the same "
                       "speaker (below that it is worse than the single-clip model): single-clip models used")

    def _speaker_inputs(self, vectors: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Speaker heads' inputs of these items' vectors, normalised (``_normalised``)."""
        return self._normalised([{n: self.head_input(n, v) for n in self._speaker_heads()} for v in vectors])

    def _normalised(self, inputs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Per speaker head, the items' inputs stacked and normalised with these items' statistics only."""
        return {n: zscore(np.stack([i[n] for i in inputs]).astype(np.float64), scale=self.scaled(n))
                for n in self._speaker_heads()}

    def _speaker_answers(self, normalised: dict[str, np.ndarray]) -> dict:
        """The answers of the tasks that have a speaker head, from normalised inputs (sentiment
        follows emotion when the bundle has no sentiment head)."""
        out = {}
        for task, names in self.spec["tasks"].items():
            if names.get("speaker") in normalised:
                out[task] = self._answer(names["speaker"], self.probabilities(names["speaker"], normalised[names["speaker"]])[0])
        if "emotion" in out and "sentiment" not in self.spec["tasks"]:
            out["sentiment"] = self._sentiment_from_emotion(out["emotion"])
        return out

    @staticmethod
    def _row(inputs: dict[str, np.ndarray], j: int) -> dict[str, np.ndarray]:
        return {n: m[j] for n, m in inputs.items()}

    @staticmethod
    def _overall(answers: list[dict]) -> dict:
        """Mean of the clips' probabilities per task (the speaker's overall state)."""
        out = {}
        for task in TASKS:
            probs = [a[task]["probabilities"] for a in answers if task in a]
            if probs:
                labels = list(probs[0])
                m = np.mean([[p[c] for c in labels] for p in probs], axis=0)
                out[task] = {"label": labels[int(m.argmax())], "confidence": float(m.max()),
                             "probabilities": dict(zip(labels, map(float, m)))}
        return out
