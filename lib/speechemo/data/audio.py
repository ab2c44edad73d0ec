"""Audio front end shared by features, notebooks and the app.

decode (wav/flac/mp3/ogg through libsndfile) -> downmix to mono -> resample to 16 kHz (soxr HQ)
-> trim leading/trailing silence -> optional loudness normalisation.

Silence threshold: frames whose RMS is more than ``TRIM_TOP_DB`` = 30 dB below the loudest frame
(2048-sample frames, hop 512) are trimmed from both ends; RAVDESS starts and ends with about
0.5-1 s of room noise some 40-60 dB below the speech.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

TARGET_SR = 16_000
TRIM_TOP_DB = 30.0
TARGET_RMS_DBFS = -23.0


class AudioError(ValueError):
    """Audio that cannot be used; the message names the input and what to do."""


class InputError(ValueError):
    """Audio the models cannot judge (too short, too long, silent...); a client error."""


def decode(source: str | Path | bytes, name: str | None = None) -> tuple[np.ndarray, int]:
    """Decode a file path or in-memory bytes to float32 ``(frames, channels)`` and its rate."""
    label = name or (str(source) if not isinstance(source, bytes) else "<upload>")
    if isinstance(source, bytes):
        if not source:
            raise AudioError(f"{label}: empty file (0 bytes)")
        handle: object = io.BytesIO(source)
    else:
        path = Path(source)
        if not path.exists():
            raise AudioError(f"{label}: no such file")
        if path.stat().st_size == 0:
            raise AudioError(f"{label}: empty file (0 bytes); re-download or re-export it")
        handle = str(path)
    try:
        y, sr = sf.read(handle, dtype="float32", always_2d=True)
    except Exception as err:  # libsndfile's errors are terse and name Python objects; say what to do
        raise AudioError(
            f"{label}: cannot decode audio ({decode_reason(err)}). Expected WAV, FLAC, MP3 or OGG; the file may be "
            "truncated or not audio at all -- re-download it or convert it with a standard tool") from None
    if y.shape[0] == 0:
        raise AudioError(f"{label}: the file holds no audio samples")
    if not np.all(np.isfinite(y)):
        raise AudioError(f"{label}: the audio holds NaN or infinite samples")
    return y, int(sr)


def decode_reason(err: Exception) -> str:
    """libsndfile's reason without the object it names (``Error opening <_io.BytesIO ...>: X`` -> ``X``)."""
    return str(err).rsplit(": ", 1)[-1].strip().rstrip(".") or "unknown format"


def to_mono(y: np.ndarray) -> np.ndarray:
    """Average the channels of a ``(frames, channels)`` array."""
    return y.mean(axis=1) if y.ndim == 2 else y


def resample(y: np.ndarray, sr_in: int, sr_out: int = TARGET_SR) -> np.ndarray:
    """High-quality resampling (soxr); a no-op when the rates match."""
    if sr_in == sr_out:
        return y.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(y, sr_in, sr_out, quality="HQ").astype(np.float32)


def trim_silence(y: np.ndarray, top_db: float = TRIM_TOP_DB) -> np.ndarray:
    """Remove leading and trailing frames more than ``top_db`` below the loudest frame."""
    import librosa

    trimmed, _ = librosa.effects.trim(y, top_db=top_db, frame_length=2048, hop_length=512)
    return trimmed if trimmed.size else y


def normalise_loudness(y: np.ndarray, target_dbfs: float = TARGET_RMS_DBFS) -> np.ndarray:
    """Scale to a target RMS level (dBFS), clipping-safe."""
    rms = float(np.sqrt(np.mean(y ** 2)))
    if rms < 1e-8:
        return y
    out = y * (10 ** (target_dbfs / 20) / rms)
    peak = float(np.max(np.abs(out)))
    return out / peak * 0.999 if peak > 1 else out


def load(source: str | Path | bytes, sr: int = TARGET_SR, trim: bool = True,
         normalise: bool = False, name: str | None = None) -> np.ndarray:
    """The whole front end: decoded, mono, ``sr`` Hz, trimmed, optionally normalised."""
    y, native = decode(source, name)
    y = resample(to_mono(y), native, sr)
    if trim:
        y = trim_silence(y)
    if normalise:
        y = normalise_loudness(y)
    return y.astype(np.float32, copy=False)
