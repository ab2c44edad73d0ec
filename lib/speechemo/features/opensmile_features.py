"""openSMILE's eGeMAPS v02 (88 functionals, Eyben et al. 2016) and ComParE 2016 (6,373 functionals),
computed by the ``opensmile`` package (SMILE library and configurations inside its wheel) from the
same decoded, trimmed 16 kHz signal as the other per-clip sets; and the eGeMAPS groups."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from speechemo.features.registry import FeatureConfig, View, register, register_view
from speechemo.features.frames import SR, Frames

OPENSMILE_SETS = {"egemaps": "eGeMAPSv02", "compare": "ComParE_2016"}


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


def _column_names(set_name: str):
    return lambda: list(smile(set_name).feature_names)


for _name in OPENSMILE_SETS:  # one extractor, one registry entry per openSMILE set
    register(FeatureConfig(_name, "table"), columns=_column_names(_name))(opensmile_features)


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


def egemaps_group(column: str) -> str:
    """The eGeMAPS group of one column (pitch, jitter/shimmer/HNR, loudness, formants, spectral
    balance, temporal; ``other`` if none matches)."""
    return next((g for g, _, keys in EGEMAPS_GROUPS if any(k in column for k in keys)), "other")


def egemaps_groups(columns: list[str]) -> pd.Series:
    """The eGeMAPS group of each column, for tables and for permutation importance by group."""
    return pd.Series([egemaps_group(c) for c in columns], index=list(columns))


#: View ``egemaps_voice``: eGeMAPS's pitch and formant columns (28 of 88): how high the voice is and
#: how long the vocal tract that shapes it (F1-F3 frequencies, bandwidths, energies) -- the cues of
#: gender that do not depend on the words or the room. Added for gender across corpora (notebook 06).
EGEMAPS_VOICE = register_view(View("egemaps_voice", "egemaps",
                                   keep=lambda c: egemaps_group(c) in ("pitch", "formants")))
