"""The feature-set registry: what a feature set is (``FeatureConfig``), what an encoder is
(``Encoder``), and the decorators that add them. The modules that compute sets register them here
(``clip_features``, ``opensmile_features``, ``encoders``); ``features`` extracts and caches them."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from speechemo.features.frames import HOP, N_FFT, SR, Frames

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
    engine: str = "clip"            # "clip" (per file, worker processes) | the name of an ``Encoder``

    def key(self) -> str:
        fields = asdict(self)
        if self.engine == "clip":   # keeps the keys of the original sets (and their caches) unchanged
            fields.pop("engine")
        else:
            fields["weights"] = ENCODERS[self.engine].weights_id
        blob = json.dumps(fields, sort_keys=True) + f"|sr={SR}|nfft={N_FFT}|hop={HOP}"
        return f"{self.name}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class Encoder:
    """A pretrained encoder whose pooled states form a feature set. ``load(models_dir, weights_dir)``
    returns an object with ``embed_mels(list of front-end outputs)`` yielding ``(index, vector)``;
    ``front_end(signal)`` is its input for one clip; ``weights_id`` (e.g. the weights' sha256)
    enters the cache key."""

    name: str
    load: Callable[[str, str | None], object]
    front_end: Callable[[np.ndarray], np.ndarray]
    columns: Callable[[], list[str]]
    weights_id: str


@dataclass(frozen=True)
class View:
    """A named subset of a registered set's columns (e.g. an encoder's mean-pooled states): it has
    no extraction and no cache of its own; it is read from its base set's cached vectors.
    ``keep(column name)`` says which columns it holds."""

    name: str
    base: str
    keep: Callable[[str], bool]

    def positions(self, base_columns: list[str]) -> list[int]:
        return [i for i, c in enumerate(base_columns) if self.keep(c)]


#: the registries: set name -> configuration; per-clip set -> (compute, column names or None)
FEATURE_SETS: dict[str, FeatureConfig] = {}
EXTRACTORS: dict[str, tuple[Callable[[Frames, FeatureConfig], object], Callable[[], list[str]] | None]] = {}
ENCODERS: dict[str, Encoder] = {}
VIEWS: dict[str, View] = {}


def register(cfg: FeatureConfig, columns: Callable[[], list[str]] | None = None):
    """Decorator: ``compute(frames, cfg)`` becomes the per-clip set ``cfg.name``. ``columns``: the
    column names when ``compute`` returns bare values (a dict of floats carries its own names)."""
    def add(compute: Callable[[Frames, FeatureConfig], object]):
        if cfg.engine != "clip":
            raise ValueError(f"{cfg.name}: a per-clip set has engine 'clip', not {cfg.engine!r}")
        FEATURE_SETS[cfg.name], EXTRACTORS[cfg.name] = cfg, (compute, columns)
        return compute
    return add


def register_encoder(encoder: Encoder, *sets: FeatureConfig) -> Encoder:
    """Add an encoder and the feature set(s) of its pooled states (``engine`` = its name)."""
    ENCODERS[encoder.name] = encoder
    for cfg in sets:
        if cfg.engine != encoder.name:
            raise ValueError(f"{cfg.name}: engine {cfg.engine!r} is not the encoder {encoder.name!r}")
        FEATURE_SETS[cfg.name] = cfg
    return encoder


def register_view(view: View) -> View:
    """Add a view of an already registered set."""
    if view.base not in FEATURE_SETS:
        raise ValueError(f"view {view.name}: its base set {view.base!r} is not registered")
    if view.name in FEATURE_SETS:
        raise ValueError(f"view {view.name}: a feature set already has that name")
    VIEWS[view.name] = view
    return view
