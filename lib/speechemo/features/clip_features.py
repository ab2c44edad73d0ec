"""The per-clip feature sets computed with librosa from one clip's ``Frames`` (each registered here,
with its configuration, in the order of the workbook):

- ``seed``: the GenderEmotionRecognizer set -- utterance means of mfcc0..mfcc15, zero-crossing
  rate, RMS energy, spectral centroid and spectral bandwidth (20 columns).
- ``functionals``: a richer utterance-level set (MFCC, deltas, log-mel bands, spectral shape,
  chroma, energy/ZCR statistics, F0 statistics and voiced ratio, tempo proxies), columns named.
- ``sequence``: frame-level MFCC + deltas + low-level rows, fixed length, with a mask (LSTM).
- ``image``: log-mel spectrogram stacked with low-level-feature rows (for the ResNet).

``sequence`` and ``image`` pool frames by two (32 ms hop).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from speechemo.features.registry import FeatureConfig, register
from speechemo.features.frames import HOP, LLF_ROWS, SR, Frames


def _stats(prefix: str, m: np.ndarray, which: tuple[str, ...] = ("mean", "std")) -> dict[str, float]:
    m = np.atleast_2d(m)
    fns = {"mean": np.mean, "std": np.std, "min": np.min, "max": np.max,
           "p10": lambda a, axis: np.percentile(a, 10, axis=axis),
           "p90": lambda a, axis: np.percentile(a, 90, axis=axis)}
    out = {}
    for w in which:
        vals = fns[w](m, axis=1)
        for i, v in enumerate(vals):
            out[f"{prefix}{i if m.shape[0] > 1 else ''}_{w}"] = float(v)
    return out


@register(FeatureConfig("seed", "table", n_mfcc=16))
def seed_features(fr: Frames, cfg: FeatureConfig) -> dict[str, float]:
    """The seed's 20 utterance means."""
    llf = fr.llf()
    mf = fr.mfcc(cfg.n_mfcc).mean(axis=1)
    out = {f"mfcc{i}": float(v) for i, v in enumerate(mf)}
    out.update(zcr=float(llf["zcr"].mean()), rms=float(llf["rms"].mean()),
               spectral_centroid=float(llf["centroid"].mean()),
               spectral_bandwidth=float(llf["bandwidth"].mean()))
    return out


@register(FeatureConfig("functionals", "table", n_mfcc=20, n_mels=24))
def functional_features(fr: Frames, cfg: FeatureConfig) -> dict[str, float]:
    """Utterance-level functionals of many descriptors (about 180 named columns)."""
    import librosa

    llf = fr.llf()
    mf = fr.mfcc(cfg.n_mfcc)
    d1 = librosa.feature.delta(mf, width=5)
    d2 = librosa.feature.delta(mf, order=2, width=5)
    out: dict[str, float] = {}
    out.update(_stats("mfcc", mf))
    out.update(_stats("mfcc_d", d1))
    out.update(_stats("mfcc_dd", d2, ("std",)))
    out.update(_stats("logmel", fr.logmel(cfg.n_mels)))
    for k in ("centroid", "bandwidth", "rolloff", "flatness"):
        out.update(_stats(k, llf[k], ("mean", "std")))
    contrast = librosa.feature.spectral_contrast(S=np.sqrt(fr.power), sr=SR, n_bands=6)
    out.update(_stats("contrast", contrast))
    chroma = librosa.feature.chroma_stft(S=fr.power, sr=SR)
    out.update(_stats("chroma", chroma, ("mean",)))
    rms_db = 20 * np.log10(llf["rms"] + 1e-10)
    out.update(_stats("rms_db", rms_db, ("mean", "std", "max", "p10", "p90")))
    out.update(_stats("zcr", llf["zcr"], ("mean", "std")))
    voiced = llf["voiced"] > 0
    f0 = llf["f0"][voiced]
    if f0.size >= 3:
        st = 12 * np.log2(f0 / 100.0)  # semitones re 100 Hz
        out.update(f0_mean=float(np.mean(f0)), f0_std_st=float(np.std(st)),
                   f0_p10=float(np.percentile(f0, 10)), f0_p90=float(np.percentile(f0, 90)),
                   f0_range_st=float(np.percentile(st, 90) - np.percentile(st, 10)),
                   f0_slope_st=float(np.polyfit(np.arange(st.size), st, 1)[0] * (SR / HOP)),
                   f0_jitter=float(np.mean(np.abs(np.diff(st)))))
    else:
        out.update(f0_mean=0.0, f0_std_st=0.0, f0_p10=0.0, f0_p90=0.0, f0_range_st=0.0,
                   f0_slope_st=0.0, f0_jitter=0.0)
    out["voiced_ratio"] = float(voiced.mean())
    out["duration_s"] = float(fr.y.size / SR)
    env = librosa.onset.onset_strength(S=fr.logmel(64), sr=SR)
    onsets = librosa.onset.onset_detect(onset_envelope=env, sr=SR, hop_length=HOP, units="frames")
    out["onset_rate"] = float(len(onsets) / max(fr.y.size / SR, 1e-3))
    return out


def _fix_length(m: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Centre-crop or right-pad ``(dims, t)`` to ``frames``; returns data and a 0/1 mask."""
    t = m.shape[1]
    if t >= frames:
        start = (t - frames) // 2
        return m[:, start:start + frames], np.ones(frames, np.float32)
    out = np.zeros((m.shape[0], frames), np.float32)
    out[:, :t] = m
    mask = np.zeros(frames, np.float32)
    mask[:t] = 1
    return out, mask


def _pool2(m: np.ndarray) -> np.ndarray:
    t = m.shape[1] // 2 * 2
    return m[:, :t].reshape(m.shape[0], -1, 2).mean(axis=2) if t else m


@register(FeatureConfig("sequence", "sequence", n_mfcc=20, frames=128, llf=True))
def sequence_features(fr: Frames, cfg: FeatureConfig) -> dict[str, np.ndarray]:
    """``(frames, 2*n_mfcc [+ 8])`` MFCC + delta (+ low-level rows) at a 32 ms hop, and its mask."""
    import librosa

    mf = fr.mfcc(cfg.n_mfcc)
    rows = [mf, librosa.feature.delta(mf, width=5)] + ([llf_rows(fr)] if cfg.llf else [])
    seq = _pool2(np.vstack(rows))
    x, mask = _fix_length(seq.astype(np.float32), cfg.frames)
    return {"x": x.T.copy(), "mask": mask}


@register(FeatureConfig("image", "image", n_mels=64, frames=128))
def image_features(fr: Frames, cfg: FeatureConfig) -> dict[str, np.ndarray]:
    """``(n_mels + len(LLF_ROWS), frames)`` image: log-mel rows, then one row per LLF.

    Log-mel is scaled to dB/80 relative to the clip peak; every LLF row to [0, 1] over fixed
    physical ranges (so the scaling does not depend on the clip or the corpus).
    """
    mel = fr.logmel(cfg.n_mels)
    mel = (np.maximum(mel - mel.max(), -80.0) / 80.0 + 1.0)  # [0, 1]
    img = _pool2(np.vstack([mel, llf_rows(fr)]).astype(np.float32))
    x, mask = _fix_length(img, cfg.frames)
    return {"x": x, "mask": mask}


def llf_rows(fr: Frames) -> np.ndarray:
    """``(len(LLF_ROWS), t)`` low-level descriptors scaled to [0, 1] over fixed physical ranges
    (so the scaling depends neither on the clip nor on the corpus)."""
    llf = fr.llf()
    ranges = {"rms": (-70.0, 0.0), "zcr": (0.0, 0.5), "centroid": (0.0, 4000.0),
              "bandwidth": (0.0, 3000.0), "rolloff": (0.0, 8000.0), "flatness": (-60.0, 0.0),
              "f0": (60.0, 500.0), "voiced": (0.0, 1.0)}
    rows = []
    for k in LLF_ROWS:
        v = llf[k]
        if k == "rms":
            v = 20 * np.log10(v + 1e-10)
        elif k == "flatness":
            v = 10 * np.log10(v + 1e-10)
        elif k == "f0":
            v = np.where(llf["voiced"] > 0, v, ranges["f0"][0])
        lo, hi = ranges[k]
        rows.append(np.clip((v - lo) / (hi - lo), 0, 1))
    return np.vstack(rows).astype(np.float32)


def families(columns: list[str]) -> pd.Series:
    """Feature family of each column name (``mfcc3_mean`` -> ``mfcc``, ``mfcc_d3_std`` -> ``mfcc_d``)."""
    return (pd.Series(list(columns), index=list(columns))
            .str.replace(r"(?<=mfcc|gmel|roma|rast|cc_d|c_dd)\d+", "", regex=True)
            .str.replace(r"_(mean|std|min|max|p10|p90)$", "", regex=True))


def seed_way(path: str) -> dict[str, float]:
    """The seed's own extraction, for the speed comparison: ``librosa.load`` at the native
    rate, no trimming, librosa defaults (n_fft 2048, hop 512), utterance means."""
    import librosa

    y, sr = librosa.load(path, sr=None)
    mf = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=16).mean(axis=1)
    out = {f"mfcc{i}": float(v) for i, v in enumerate(mf)}
    out.update(zcr=float(librosa.feature.zero_crossing_rate(y).mean()),
               rms=float(librosa.feature.rms(y=y).mean()),
               spectral_centroid=float(librosa.feature.spectral_centroid(y=y, sr=sr).mean()),
               spectral_bandwidth=float(librosa.feature.spectral_bandwidth(y=y, sr=sr).mean()))
    return out
