"""Perturbations for the robustness suite: what a new microphone, channel or room does to a clip.

Each function takes a 16 kHz mono float signal (and a seeded generator where it draws noise) and
returns a signal of the same rate. ``PERTURBATIONS`` names the suite the workbook scores every
deployment candidate on; ``apply`` runs one by name.
"""
from __future__ import annotations

import io
from typing import Callable

import numpy as np

from speechemo.data.audio import resample

SR = 16_000


def telephone(y: np.ndarray, sr: int = SR) -> np.ndarray:
    """Narrow-band telephone channel: 300-3400 Hz band-pass, 8 kHz sampling, back to ``sr``."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(6, [300, 3400], btype="bandpass", fs=sr, output="sos")
    return resample(resample(sosfiltfilt(sos, y).astype(np.float32), sr, 8000), 8000, sr)[: len(y)]


MP3_QUALITY = 0.9  # libsndfile's compression level (1.0 is refused); 16 kHz MPEG-2 layer III, ~24 kbit/s


def mp3(y: np.ndarray, sr: int = SR, quality: float = MP3_QUALITY) -> np.ndarray:
    """Lossy MP3 round trip at a low constant bitrate (``quality`` towards 1 = smaller file)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1, 1), sr, format="MP3", compression_level=quality, bitrate_mode="CONSTANT")
    buf.seek(0)
    out, _ = sf.read(buf, dtype="float32")
    lag = _delay(y, out)  # the codec's start-up delay, removed so the clip stays aligned
    out = out[lag: lag + len(y)]
    return np.pad(out, (0, len(y) - len(out)))


def _delay(ref: np.ndarray, out: np.ndarray, max_lag: int = 4000) -> int:
    """The lag (samples, 0..max_lag) at which ``out`` best matches ``ref`` (cross-correlation)."""
    from scipy.signal import correlate

    n = min(len(ref), len(out) - max_lag)
    if n <= 0:
        return 0
    c = correlate(out[: n + max_lag], ref[:n], mode="valid", method="fft")
    return int(np.argmax(c[: max_lag + 1]))


def mp3_kbps(y: np.ndarray, sr: int = SR, quality: float = MP3_QUALITY) -> float:
    """The bitrate ``mp3`` produces for this clip (for the report)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1, 1), sr, format="MP3", compression_level=quality, bitrate_mode="CONSTANT")
    return len(buf.getvalue()) * 8 / (len(y) / sr) / 1000


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f power spectrum (shaped white noise), unit RMS."""
    spec = np.fft.rfft(rng.normal(size=n))
    f = np.fft.rfftfreq(n)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def add_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Pink noise at ``snr_db`` below the clip's power (measured over the whole clip)."""
    power = np.mean(y.astype(np.float64) ** 2)
    noise = pink_noise(len(y), rng) * np.sqrt(power / 10 ** (snr_db / 10))
    return (y + noise).astype(np.float32)


def reverb(y: np.ndarray, rng: np.random.Generator, rt60: float = 0.6, sr: int = SR) -> np.ndarray:
    """A synthetic room: direct sound plus exponentially decaying noise (reverberation time
    ``rt60`` s), keeping the clip's RMS."""
    from scipy.signal import fftconvolve

    n = int(rt60 * sr)
    t = np.arange(n) / sr
    ir = rng.normal(size=n) * np.exp(-6.9 * t / rt60) * 0.3
    ir[0] = 1.0
    wet = fftconvolve(y.astype(np.float64), ir)[: len(y)]
    return (wet * np.sqrt(np.mean(y ** 2) / (np.mean(wet ** 2) + 1e-20))).astype(np.float32)


def gain(y: np.ndarray, db: float = -20.0) -> np.ndarray:
    """A quieter (or louder) recording: every sample times ``10 ** (db / 20)``."""
    return (y * 10 ** (db / 20)).astype(np.float32)


def eq_tilt(y: np.ndarray, db_per_octave: float = -3.0, pivot_hz: float = 1000.0, sr: int = SR) -> np.ndarray:
    """A different microphone colour: a spectral tilt of ``db_per_octave`` around ``pivot_hz``
    (negative: darker), bounded to +-12 dB, keeping the clip's RMS."""
    spec = np.fft.rfft(y.astype(np.float64))
    f = np.maximum(np.fft.rfftfreq(len(y), 1 / sr), 50.0)
    db = np.clip(db_per_octave * np.log2(f / pivot_hz), -12, 12)
    out = np.fft.irfft(spec * 10 ** (db / 20), len(y))
    return (out * np.sqrt(np.mean(y ** 2) / (np.mean(out ** 2) + 1e-20))).astype(np.float32)


PERTURBATIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "telephone": lambda y, rng: telephone(y),
    "mp3_low": lambda y, rng: mp3(y),
    "noise_20db": lambda y, rng: add_noise(y, 20.0, rng),
    "noise_10db": lambda y, rng: add_noise(y, 10.0, rng),
    "reverb": lambda y, rng: reverb(y, rng),
    "gain_-20db": lambda y, rng: gain(y, -20.0),
    "eq_tilt": lambda y, rng: eq_tilt(y),
}


def apply(name: str, y: np.ndarray, seed: int) -> np.ndarray:
    """Perturbation ``name`` of a 16 kHz clip; noise drawn from ``seed`` (one seed per clip)."""
    if name not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {name!r}; one of {sorted(PERTURBATIONS)}")
    return np.asarray(PERTURBATIONS[name](np.asarray(y, np.float32), np.random.default_rng(seed)), np.float32)
