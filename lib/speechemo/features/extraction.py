"""Feature sets: the registry, per-clip extraction and the on-disk cache.

A feature set is one registry entry, written where it is computed:

- per-clip sets (``engine="clip"``): a function of one clip's ``frames.Frames`` decorated with
  ``@register(FeatureConfig(...))`` -- ``clip_features`` (seed, functionals, sequence, image) and
  ``opensmile_features`` (egemaps, compare). They are computed in parallel worker processes, one
  decode and one STFT per file for all of them.
- views (``View``): a named column subset of a set (``whisper_base_mean``), read from its base
  set's cached vectors.
- encoder sets (``engine`` = an encoder's name): an ``Encoder`` entry in ``encoders`` (how to load
  the model, its front end, its column names, the id of its weights) and the set that pools it
  (``whisper_base``). They are computed in batches of clips of similar length, in this process or
  on Dask workers.

The registry itself (``FeatureConfig``, ``Encoder``, ``register``) is ``feature_registry``. Every
field of a set's configuration and the id of an encoder's weights take part in its cache key, so a
changed set never reads stale vectors. Results are written to the cache atomically.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from speechemo.data import audio
from speechemo.features import clip_features, opensmile_features, encoders  # noqa: F401,I001 - register their sets, in this order
from speechemo.features.frames import Frames
from speechemo.features.registry import (ENCODERS, EXTRACTORS, FEATURE_SETS, VIEWS, Encoder,  # noqa: F401 - the registry's
                                         FeatureConfig, View, register, register_encoder, register_view)  # public face
from speechemo.foundations import files
from speechemo.foundations.executor import Executor, thread_budget


def extract_clip(y: np.ndarray, sets: list[str]) -> dict[str, object]:
    """All requested sets for one clip already through the front end."""
    batched = [s for s in sets if s not in EXTRACTORS]
    if batched:
        raise ValueError(f"{batched} are encoder sets, computed in batches by extract(), not per clip")
    fr = Frames.of(y)
    return {s: EXTRACTORS[s][0](fr, FEATURE_SETS[s]) for s in sets}


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
    engine = FEATURE_SETS[set_name].engine
    columns = ENCODERS[engine].columns if engine != "clip" else EXTRACTORS[set_name][1]
    if columns is None:
        raise KeyError(f"no column names for feature set {set_name!r}: store them with the values or "
                       "pass columns= to register()")
    return columns()


def _compute(item: tuple[str, str, list[str]]) -> tuple[str, str, list[str], dict | None, str | None]:
    """One file's missing per-clip sets (in a worker); the caller writes the cache."""
    path, md5, missing = item
    try:
        return path, md5, missing, extract_file(path, missing), None
    except Exception as err:  # noqa: BLE001 - reported by name
        return path, md5, missing, None, f"{type(err).__name__}: {err}"


@functools.lru_cache(maxsize=2)
def _worker_encoder(engine: str, models_dir: str, weights_dir: str | None):
    return ENCODERS[engine].load(models_dir, weights_dir)


def warm_encoder(models_dir: str, weights_dir: str | None = None, engine: str = "whisper") -> None:
    """Load an encoder into this (worker) process ahead of work; returns nothing to send back."""
    _worker_encoder(engine, models_dir, weights_dir)


def _encode_chunk(item: tuple[list[tuple[str, str]], str, str, str | None, bool, bool]
                  ) -> list[tuple[str, str, object, str | None]]:
    """Pooled encoder vectors of a chunk of files (on a Dask worker, which keeps its encoder)."""
    pairs, engine, models_dir, weights_dir, trim, normalise = item
    out, inputs, ok = [], [], []
    for path, md5 in pairs:
        try:
            inputs.append(ENCODERS[engine].front_end(audio.load(path, trim=trim, normalise=normalise)))
            ok.append((path, md5))
        except Exception as err:  # noqa: BLE001 - reported by name
            out.append((path, md5, None, f"{type(err).__name__}: {err}"))
    if inputs:
        for i, vec in _worker_encoder(engine, models_dir, weights_dir).embed_mels(inputs):
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


def _encode(engine: str, sets: list[str], todo: list[tuple[str, str]], cache_dir: Path, models_dir: str,
            weights_dir: str | None, ex, chunk: int, progress: bool) -> dict[str, str]:
    """Encode the clips ``todo`` with one encoder and cache its sets; returns failures by path.
    Chunks go to the Dask workers, or run in this process (TensorFlow then uses every core);
    either way, results are written here only."""
    from tqdm import tqdm

    cfg = FEATURE_SETS[sets[0]]
    todo = [(p, m) for p, m in todo if any(not cache_path(cache_dir, s, m).exists() for s in sets)]
    step = max(1, min(chunk, 32)) if ex.is_dask else chunk
    chunks = [(todo[i:i + step], engine, models_dir, weights_dir, cfg.trim, cfg.normalise)
              for i in range(0, len(todo), step)]
    desc = f"encoding ({', '.join(sets)})"
    done_chunks = (ex.map(_encode_chunk, chunks, desc=desc + " on Dask", progress=progress)
                   if ex.is_dask else map(_encode_chunk, chunks))
    failed: dict[str, str] = {}
    with tqdm(total=len(todo), desc=desc, disable=not progress or ex.is_dask) as bar:
        for done in done_chunks:
            for path, md5, vec, err in done:
                if err:
                    failed[path] = err
                else:
                    for s in sets:
                        _save(cache_path(cache_dir, s, md5), vec)
            bar.update(len(done))
    return failed


def extract(table: pd.DataFrame, sets: list[str], cache_dir: str | Path, n_jobs: int = 2,
            progress: bool = True, whisper_dir: str | Path | None = None,
            encoder_chunk: int = 256, executor=None) -> Extraction:
    """Features of every row of the metadata ``table`` (needs ``path``, ``file``, ``md5``).

    Reads what the cache holds, computes only what is missing (per-clip sets in parallel, one
    decode per file for all of them; encoder sets batched in this process), and returns the sets
    aligned on ``files`` (the table order, minus the files that failed, listed in ``failures``).
    The encoder's weights are cached in ``<cache_dir>/../models`` (or read from ``whisper_dir``).

    ``executor`` (``speechemo.foundations.executor``) decides where the work runs: by default ``n_jobs`` local
    worker processes (the encoder in this process); on a Dask cluster, per-clip tasks and encoder
    chunks go to the workers. Either way workers only compute: this process alone writes the cache.
    """

    if any(s in VIEWS for s in sets):  # a view is read from its base set's vectors
        bases = list(dict.fromkeys(VIEWS[s].base if s in VIEWS else s for s in sets))
        ext = extract(table, bases, cache_dir, n_jobs, progress, whisper_dir, encoder_chunk, executor)
        base_tables = dict(ext.tables)
        ext.tables = {s: (base_tables[VIEWS[s].base].iloc[:, VIEWS[s].positions(list(base_tables[VIEWS[s].base].columns))]
                          if s in VIEWS else base_tables[s]) for s in sets if s in VIEWS or s in base_tables}
        return ext
    ex = executor or Executor("", n_jobs, thread_budget(n_jobs))
    unknown = [s for s in sets if s not in FEATURE_SETS]
    if unknown:
        raise ValueError(f"unknown feature sets {unknown}; known: {sorted(FEATURE_SETS)}")
    cache_dir = Path(cache_dir)
    start = time.perf_counter()
    per_clip = [s for s in sets if FEATURE_SETS[s].engine == "clip"]
    encoded = [s for s in sets if FEATURE_SETS[s].engine != "clip"]
    todo, todo_enc = [], []
    for r in table.itertuples():
        missing = [s for s in per_clip if not cache_path(cache_dir, s, r.md5).exists()]
        if missing:
            todo.append((r.path, r.md5, missing))
        if any(not cache_path(cache_dir, s, r.md5).exists() for s in encoded):
            todo_enc.append((r.path, r.md5))

    models_dir = str(Path(cache_dir).parent / "models")
    wdir = str(whisper_dir) if whisper_dir else None
    failed: dict[str, str] = {}
    for engine in dict.fromkeys(FEATURE_SETS[s].engine for s in encoded):
        failed.update(_encode(engine, [s for s in encoded if FEATURE_SETS[s].engine == engine], todo_enc,
                              cache_dir, models_dir, wdir, ex, encoder_chunk, progress))
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
    failures = [(table.loc[table["path"] == p, "file"].iloc[0], e) for p, e in failed.items()]
    n_todo = len({p for p, *_ in todo} | {p for p, _ in todo_enc})
    return Extraction(tables, arrays, ok["file"].tolist(), failures, computed=n_todo - len(failed),
                      cached=len(table) - n_todo, seconds=time.perf_counter() - start)


def merge(parts: list[Extraction]) -> Extraction:
    """One extraction from several (e.g. one per engine), aligned on the files all of them have."""
    others = [set(p.files) for p in parts[1:]]
    keep = [f for f in parts[0].files if all(f in o for o in others)]
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
    factor of what was computed (cached clips cost almost nothing; durations: ``table``'s rows of
    each run's files)."""
    duration = table.set_index("file")["duration"]
    rows = []
    for engine, e in runs.items():
        mean_dur = float(duration.loc[e.files].mean()) if e.files else 0.0
        sets = sorted(set(e.tables) | set(e.arrays))
        rate = e.computed / e.seconds if e.computed and e.seconds > 0 else float("nan")
        rows.append({"engine": engine, "sets": ", ".join(sets), "computed": e.computed, "cached": e.cached,
                     "seconds": round(e.seconds, 1), "clips/s": round(rate, 1),
                     "x real time": round(rate * mean_dur, 1)})
    return pd.DataFrame(rows)



def warm_up() -> None:
    """Compile librosa's numba kernels for every per-clip set once, in this process (``make setup``
    calls it). Numba's on-disk cache is not safe when several processes write the same entry at
    once -- seen here: two processes compiling chroma's pitch tracker together left an entry that
    crashed every later process with a segmentation fault. Once warm, processes only read it."""
    t = np.arange(audio.TARGET_SR, dtype=np.float32) / audio.TARGET_SR
    y = (0.1 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    extract_clip(audio.trim_silence(y), [s for s, c in FEATURE_SETS.items() if c.engine == "clip"])
