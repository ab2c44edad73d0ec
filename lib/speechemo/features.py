"""Feature sets (named configurations), per-clip extraction and the on-disk cache.

Sets:
- ``seed``: the GenderEmotionRecognizer set -- utterance means of mfcc0..mfcc15, zero-crossing
  rate, RMS energy, spectral centroid and spectral bandwidth (20 columns).
- ``functionals``: a richer utterance-level set (MFCC, deltas, log-mel bands, spectral shape,
  chroma, energy/ZCR statistics, F0 statistics and voiced ratio, tempo proxies), columns named.
- ``sequence``: frame-level MFCC + deltas + low-level rows, fixed length, with a mask (LSTM).
- ``image``: log-mel spectrogram stacked with low-level-feature rows (for the ResNet).
- ``egemaps`` and ``compare``: openSMILE's eGeMAPS v02 (88 functionals, Eyben et al. 2016) and
  ComParE 2016 (6,373 functionals), computed by the ``opensmile`` package (SMILE library and
  configurations inside its wheel) from the same decoded, trimmed 16 kHz signal as the other sets.
- ``whisper_base``: the frozen Whisper base encoder (``speechemo.whisper``): mean and std over
  time of each of its 7 hidden states (7 x 1024 columns).

Per-clip sets are computed in parallel worker processes, one decode and one STFT per file for all
of them. Encoder sets (``engine="whisper"``) are computed in the main process in batches of clips
of similar length (TensorFlow then uses every core). Both write the same cache, atomically.

All sets share one front end (``audio.load``) and one STFT per clip (n_fft 1024, hop 256 at
16 kHz); ``sequence`` and ``image`` pool frames by two (32 ms hop).
"""
from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import audio, files

SR = audio.TARGET_SR
N_FFT = 1024
HOP = 256
FEATURE_VERSION = 1  # bump when the extraction code changes meaning


@dataclass(frozen=True)
class FeatureConfig:
    """One named feature set; every field takes part in the cache key."""

    name: str
    kind: str                       # "table" | "sequence" | "image"
    n_mfcc: int = 20
    n_mels: int = 64
    frames: int = 128               # fixed length (pooled frames) for sequence/image
    llf: bool = False               # sequence: append the low-level-feature rows (RMS, F0, ...)
    trim: bool = True
    normalise: bool = False
    version: int = FEATURE_VERSION
    engine: str = "clip"            # "clip" (per-file, worker processes) | "whisper" (batched encoder)

    def key(self) -> str:
        fields = asdict(self)
        if self.engine == "clip":   # keeps the keys of the original sets (and their caches) unchanged
            fields.pop("engine")
        else:
            from . import whisper

            fields["weights"] = whisper.MODEL_BIN_SHA256
        blob = json.dumps(fields, sort_keys=True) + f"|sr={SR}|nfft={N_FFT}|hop={HOP}"
        return f"{self.name}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


FEATURE_SETS: dict[str, FeatureConfig] = {
    "seed": FeatureConfig("seed", "table", n_mfcc=16),
    "functionals": FeatureConfig("functionals", "table", n_mfcc=20, n_mels=24),
    "sequence": FeatureConfig("sequence", "sequence", n_mfcc=20, frames=128, llf=True),
    "image": FeatureConfig("image", "image", n_mels=64, frames=128),
    "egemaps": FeatureConfig("egemaps", "table"),
    "compare": FeatureConfig("compare", "table"),
    "whisper_base": FeatureConfig("whisper_base", "table", engine="whisper"),
}
OPENSMILE_SETS = {"egemaps": "eGeMAPSv02", "compare": "ComParE_2016"}
LLF_ROWS = ["rms", "zcr", "centroid", "bandwidth", "rolloff", "flatness", "f0", "voiced"]


# ----------------------------------------------------------------------------- per-clip features
@dataclass
class Frames:
    """Frame-level descriptors of one clip, computed once and shared by every set."""

    y: np.ndarray
    power: np.ndarray = field(repr=False)
    mel_db: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, y: np.ndarray) -> "Frames":
        import librosa

        if y.size < N_FFT:
            y = np.pad(y, (0, N_FFT - y.size))
        S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, center=True)) ** 2
        return cls(y=y, power=S)

    def logmel(self, n_mels: int) -> np.ndarray:
        import librosa

        if n_mels not in self.mel_db:
            mel = librosa.feature.melspectrogram(S=self.power, sr=SR, n_mels=n_mels, fmax=SR / 2)
            self.mel_db[n_mels] = librosa.power_to_db(mel, ref=1.0, top_db=None).astype(np.float32)
        return self.mel_db[n_mels]

    def mfcc(self, n: int) -> np.ndarray:
        import librosa

        return librosa.feature.mfcc(S=self.logmel(64), n_mfcc=n)

    def cached(self, name: str, fn):  # small memo for shared descriptors
        memo = self.__dict__.setdefault("_memo", {})
        if name not in memo:
            memo[name] = fn()
        return memo[name]

    def llf(self) -> dict[str, np.ndarray]:
        """Low-level descriptors, one value per frame."""
        import librosa

        def compute() -> dict[str, np.ndarray]:
            S = np.sqrt(self.power)
            n = S.shape[1]
            rms = librosa.feature.rms(S=S, frame_length=N_FFT)[0]
            zcr = librosa.feature.zero_crossing_rate(self.y, frame_length=N_FFT, hop_length=HOP)[0][:n]
            centroid = librosa.feature.spectral_centroid(S=S, sr=SR)[0]
            bandwidth = librosa.feature.spectral_bandwidth(S=S, sr=SR)[0]
            rolloff = librosa.feature.spectral_rolloff(S=S, sr=SR)[0]
            flatness = librosa.feature.spectral_flatness(S=S)[0]
            f0 = librosa.yin(self.y, fmin=60, fmax=500, sr=SR, frame_length=N_FFT, hop_length=HOP)[:n]
            # voicing: loud enough (within 30 dB of the loudest frame), low ZCR, F0 inside the range
            rms_db = 20 * np.log10(rms + 1e-10)
            voiced = ((rms_db > rms_db.max() - 30) & (zcr < 0.2) & (f0 > 62) & (f0 < 495)).astype(np.float32)
            return {"rms": rms, "zcr": zcr, "centroid": centroid, "bandwidth": bandwidth,
                    "rolloff": rolloff, "flatness": flatness, "f0": f0, "voiced": voiced}

        return self.cached("llf", compute)


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


def seed_features(fr: Frames, cfg: FeatureConfig) -> dict[str, float]:
    """The seed's 20 utterance means."""
    llf = fr.llf()
    mf = fr.mfcc(cfg.n_mfcc).mean(axis=1)
    out = {f"mfcc{i}": float(v) for i, v in enumerate(mf)}
    out.update(zcr=float(llf["zcr"].mean()), rms=float(llf["rms"].mean()),
               spectral_centroid=float(llf["centroid"].mean()),
               spectral_bandwidth=float(llf["bandwidth"].mean()))
    return out


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


def _preload_smile_library() -> None:
    """Load openSMILE's ``libSMILEapi.so`` with ``RTLD_DEEPBIND`` before the ``opensmile`` package
    does: bound to its own symbols first, it no longer crashes (segmentation fault in
    ``process_signal``) in a process where TensorFlow's libraries were loaded before it -- the
    notebooks, the app and the tests all load TensorFlow."""
    import ctypes
    import importlib.util
    import os
    import sys

    if "opensmile" in sys.modules or not hasattr(os, "RTLD_DEEPBIND"):
        return
    spec = importlib.util.find_spec("opensmile")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the opensmile package is not installed: run `make setup` (pinned in environment.yml)")
    libs = sorted(Path(list(spec.submodule_search_locations)[0]).glob("core/bin/*/libSMILEapi.so"))
    if libs:
        ctypes.CDLL(str(libs[0]), mode=os.RTLD_DEEPBIND | os.RTLD_LOCAL)


@functools.lru_cache(maxsize=None)
def smile(set_name: str):
    """One openSMILE extractor per set and process (functionals level)."""
    _preload_smile_library()
    import opensmile

    return opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, OPENSMILE_SETS[set_name]),
                           feature_level=opensmile.FeatureLevel.Functionals)


def opensmile_features(fr: Frames, cfg: FeatureConfig) -> np.ndarray:
    """openSMILE functionals of the clip (values only; names from ``column_names``)."""
    return smile(cfg.name).process_signal(fr.y, SR).to_numpy(np.float64)[0]


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


def sequence_features(fr: Frames, cfg: FeatureConfig) -> dict[str, np.ndarray]:
    """``(frames, 2*n_mfcc [+ 8])`` MFCC + delta (+ low-level rows) at a 32 ms hop, and its mask."""
    import librosa

    mf = fr.mfcc(cfg.n_mfcc)
    rows = [mf, librosa.feature.delta(mf, width=5)] + ([llf_rows(fr)] if cfg.llf else [])
    seq = _pool2(np.vstack(rows))
    x, mask = _fix_length(seq.astype(np.float32), cfg.frames)
    return {"x": x.T.copy(), "mask": mask}


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


_EXTRACTORS = {"seed": seed_features, "functionals": functional_features,
               "sequence": sequence_features, "image": image_features,
               "egemaps": opensmile_features, "compare": opensmile_features}


def extract_clip(y: np.ndarray, sets: list[str]) -> dict[str, object]:
    """All requested sets for one clip already through the front end."""
    batched = [s for s in sets if s not in _EXTRACTORS]
    if batched:
        raise ValueError(f"{batched} are encoder sets, computed in batches by extract(), not per clip")
    fr = Frames.of(y)
    return {s: _EXTRACTORS[s](fr, FEATURE_SETS[s]) for s in sets}


def extract_file(path: str, sets: list[str]) -> dict[str, object]:
    """Front end + features of one file (sets sharing trim/normalise settings)."""
    cfg = FEATURE_SETS[sets[0]]
    y = audio.load(path, trim=cfg.trim, normalise=cfg.normalise)
    return extract_clip(y, sets)


# ----------------------------------------------------------------------------- cache
def cache_path(cache_dir: Path, set_name: str, content_md5: str) -> Path:
    return Path(cache_dir) / FEATURE_SETS[set_name].key() / f"{content_md5}.npz"


def _save(path: Path, value: object) -> None:
    with files.atomic_path(path, ".npz") as tmp:
        if isinstance(value, dict) and all(isinstance(v, float) for v in value.values()):
            np.savez(tmp, names=np.array(list(value)), values=np.array(list(value.values()), np.float64))
        elif isinstance(value, np.ndarray):  # a long vector whose column names the registry knows
            np.savez(tmp, values=value)
        else:
            np.savez(tmp, **value)  # type: ignore[arg-type]


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def column_names(set_name: str, loaded: dict[str, np.ndarray]) -> list[str]:
    """Column names of a table set: stored with the values, or known to the registry."""
    if "names" in loaded:
        return [str(n) for n in loaded["names"]]
    if set_name in OPENSMILE_SETS:
        return list(smile(set_name).feature_names)
    if FEATURE_SETS[set_name].engine == "whisper":
        from . import whisper

        return whisper.column_names()
    raise KeyError(f"no column names for feature set {set_name!r}")


def _compute(item: tuple[str, str, list[str]]) -> tuple[str, str, list[str], dict | None, str | None]:
    """One file's missing per-clip sets (in a worker); the caller writes the cache."""
    path, md5, missing = item
    try:
        return path, md5, missing, extract_file(path, missing), None
    except Exception as err:  # noqa: BLE001 - reported by name
        return path, md5, missing, None, f"{type(err).__name__}: {err}"


@functools.lru_cache(maxsize=2)
def _worker_encoder(models_dir: str, whisper_dir: str | None):
    from . import whisper

    return whisper.Encoder.load(models_dir, whisper_dir)


def warm_encoder(models_dir: str, whisper_dir: str | None = None) -> None:
    """Load the encoder into this (worker) process ahead of work; returns nothing to send back."""
    _worker_encoder(models_dir, whisper_dir)


def _encode_chunk(item: tuple[list[tuple[str, str]], str, str | None]) -> list[tuple[str, str, object, str | None]]:
    """Pooled encoder vectors of a chunk of files (on a Dask worker, which keeps its encoder)."""
    from . import whisper

    pairs, models_dir, whisper_dir = item
    cfg = FEATURE_SETS["whisper_base"]
    out, mels, ok = [], [], []
    for path, md5 in pairs:
        try:
            mels.append(whisper.log_mel(audio.load(path, trim=cfg.trim, normalise=cfg.normalise)))
            ok.append((path, md5))
        except Exception as err:  # noqa: BLE001 - reported by name
            out.append((path, md5, None, f"{type(err).__name__}: {err}"))
    if mels:
        for i, vec in _worker_encoder(models_dir, whisper_dir).embed_mels(mels):
            out.append((*ok[i], vec, None))
    return out


@dataclass
class Extraction:
    """What ``extract`` produced: matrices per set, failures by name and timing."""

    tables: dict[str, pd.DataFrame]
    arrays: dict[str, dict[str, np.ndarray]]
    files: list[str]
    failures: list[tuple[str, str]]
    computed: int
    cached: int
    seconds: float


def extract(table: pd.DataFrame, sets: list[str], cache_dir: str | Path, n_jobs: int = 2,
            progress: bool = True, whisper_dir: str | Path | None = None,
            encoder_chunk: int = 256, executor=None) -> Extraction:
    """Features of every row of the metadata ``table`` (needs ``path``, ``file``, ``md5``).

    Reads what the cache holds, computes only what is missing (per-clip sets in parallel, one
    decode per file for all of them; encoder sets batched in this process), and returns the sets
    aligned on ``files`` (the table order, minus the files that failed, listed in ``failures``).
    The encoder's weights are cached in ``<cache_dir>/../models`` (or read from ``whisper_dir``).

    ``executor`` (``speechemo.executor``) decides where the work runs: by default ``n_jobs`` local
    worker processes (the encoder in this process); on a Dask cluster, per-clip tasks and encoder
    chunks go to the workers. Either way workers only compute: this process alone writes the cache.
    """
    from .executor import Executor, thread_budget

    ex = executor or Executor("", n_jobs, thread_budget(n_jobs))
    from tqdm import tqdm

    unknown = [s for s in sets if s not in FEATURE_SETS]
    if unknown:
        raise ValueError(f"unknown feature sets {unknown}; known: {sorted(FEATURE_SETS)}")
    cache_dir = Path(cache_dir)
    start = time.perf_counter()
    per_clip = [s for s in sets if FEATURE_SETS[s].engine == "clip"]
    encoded = [s for s in sets if FEATURE_SETS[s].engine == "whisper"]
    todo, todo_enc = [], []
    for r in table.itertuples():
        missing = [s for s in per_clip if not cache_path(cache_dir, s, r.md5).exists()]
        if missing:
            todo.append((r.path, r.md5, missing))
        if any(not cache_path(cache_dir, s, r.md5).exists() for s in encoded):
            todo_enc.append((r.path, r.md5))

    models_dir = str(Path(cache_dir).parent / "models")
    wdir = str(whisper_dir) if whisper_dir else None
    # encoder chunks: on Dask to the workers, else batched in this process (TensorFlow uses every
    # core); either way, results are written here only
    failed: dict[str, str] = {}
    step = max(1, min(encoder_chunk, 32)) if ex.is_dask else encoder_chunk
    chunks = [(todo_enc[i:i + step], models_dir, wdir) for i in range(0, len(todo_enc), step)]
    done_chunks = (ex.map(_encode_chunk, chunks, desc="encoding (whisper_base) on Dask", progress=progress)
                   if ex.is_dask else map(_encode_chunk, chunks))
    bar = tqdm(total=len(todo_enc), desc="encoding (whisper_base)", disable=not progress or ex.is_dask)
    for done in done_chunks:
        for path, md5, vec, err in done:
            if err:
                failed[path] = err
            else:
                for s in encoded:
                    _save(cache_path(cache_dir, s, md5), vec)
        bar.update(len(done))
    bar.close()
    for path, md5, missing, feats, err in ex.map(_compute, todo, desc="extracting features", progress=progress):
        if err:
            failed[path] = err
        else:
            for s in missing:
                _save(cache_path(cache_dir, s, md5), feats[s])
    ok = table[~table["path"].isin(failed)]
    tables, arrays = {}, {}
    for s in sets:
        loaded = [_load(cache_path(cache_dir, s, m)) for m in ok["md5"]]
        if FEATURE_SETS[s].kind == "table":
            names = column_names(s, loaded[0]) if loaded else []
            tables[s] = pd.DataFrame(np.stack([d["values"] for d in loaded]) if loaded else None, columns=names,
                                     index=ok["file"].tolist())
        else:
            arrays[s] = {"x": np.stack([d["x"] for d in loaded]) if loaded else np.empty(0),
                         "mask": np.stack([d["mask"] for d in loaded]) if loaded else np.empty(0)}
    files = ok["file"].tolist()
    failures = [(table.loc[table["path"] == p, "file"].iloc[0], e) for p, e in failed.items()]
    n_todo = len({p for p, *_ in todo} | {p for p, _ in todo_enc})
    return Extraction(tables, arrays, files, failures, computed=n_todo - len(failed),
                      cached=len(table) - n_todo, seconds=time.perf_counter() - start)


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


def merge(parts: list[Extraction]) -> Extraction:
    """One extraction from several (e.g. one per engine), aligned on the files all of them have."""
    keep = [f for f in parts[0].files if all(f in set(p.files) for p in parts[1:])]
    tables, arrays = {}, {}
    for p in parts:
        pos = {f: i for i, f in enumerate(p.files)}
        idx = [pos[f] for f in keep]
        tables.update({s: t.loc[keep] for s, t in p.tables.items()})
        arrays.update({s: {k: v[idx] for k, v in a.items()} for s, a in p.arrays.items()})
    failures = sorted({f for p in parts for f in p.failures})
    return Extraction(tables, arrays, keep, failures, computed=sum(p.computed for p in parts),
                      cached=sum(p.cached for p in parts), seconds=sum(p.seconds for p in parts))


def speed_table(runs: dict[str, Extraction], table: pd.DataFrame) -> pd.DataFrame:
    """Per engine: sets, clips computed and read from the cache, seconds, clips/s and real-time
    factor of what was computed (cached clips cost almost nothing)."""
    mean_dur = float(table["duration"].mean()) if len(table) else 0.0
    rows = []
    for engine, e in runs.items():
        sets = sorted(set(e.tables) | set(e.arrays))
        rate = e.computed / e.seconds if e.computed and e.seconds > 0 else float("nan")
        rows.append({"engine": engine, "sets": ", ".join(sets), "computed": e.computed, "cached": e.cached,
                     "seconds": round(e.seconds, 1), "clips/s": round(rate, 1),
                     "x real time": round(rate * mean_dur, 1)})
    return pd.DataFrame(rows)


EGEMAPS_GROUPS = [  # (group, what it measures, substrings of openSMILE's column names), first match wins
    ("pitch", "F0 in semitones: level, variation, contour slopes", ("F0semitone",)),
    ("jitter/shimmer/HNR", "cycle-to-cycle irregularity of pitch and amplitude, harmonics-to-noise ratio",
     ("jitter", "shimmer", "HNR")),
    ("loudness", "perceived loudness: level, variation, rise and fall slopes", ("loudness",)),
    ("formants", "F1-F3 centre frequencies, bandwidths and relative energies", ("F1", "F2", "F3")),
    ("spectral balance", "alpha ratio, Hammarberg index, spectral slopes, harmonic differences, "
     "spectral flux, MFCC 1-4", ("alphaRatio", "hammarberg", "slope", "logRelF0", "spectralFlux", "mfcc")),
    ("temporal", "rate of loudness peaks, lengths of voiced and unvoiced segments",
     ("Rate", "Segment", "equivalentSoundLevel")),
]


def egemaps_groups(columns: list[str]) -> pd.Series:
    """The eGeMAPS group of each column (pitch, jitter/shimmer/HNR, loudness, formants, spectral
    balance, temporal), for tables and for permutation importance by group."""
    def group(c: str) -> str:
        return next((g for g, _, keys in EGEMAPS_GROUPS if any(k in c for k in keys)), "other")

    return pd.Series([group(c) for c in columns], index=list(columns))
