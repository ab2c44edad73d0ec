"""What the app's pages show, as plain data: the clip as the model heard it (waveform envelope and
log-mel) and the readable results table (best model per task and protocol)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from speechemo.data import audio
from speechemo.features import whisper

PROTOCOL_WORDS = {"speaker_independent": "speaker folds", "within": "speaker folds within",
                  "pooled": "speaker folds of every corpus, scored on",
                  "loco": "leave-one-corpus-out, tested on", "random_split": "random split (speakers seen)"}


def _pool(x: np.ndarray, n: int, how) -> np.ndarray:
    """Reduce the first axis of ``x`` to at most ``n`` groups with ``how`` (np.min, np.mean...)."""
    groups = np.array_split(x, min(n, len(x)), axis=0)
    return np.stack([how(g, axis=0) for g in groups])


def heard(y: np.ndarray, points: int = 600, columns: int = 300) -> dict:
    """The clip through the front end (16 kHz, trimmed) in a size a page can draw: the waveform's
    min/max envelope over ``points`` columns and the log-mel the encoder reads over ``columns``."""
    mel = whisper.log_mel(y)  # (frames, 80), hop 10 ms
    seconds = y.size / audio.TARGET_SR
    return {"seconds": round(seconds, 3),
            "envelope": {"min": np.round(_pool(y, points, np.min), 4).tolist(),
                         "max": np.round(_pool(y, points, np.max), 4).tolist()},
            "mel": {"values": np.round(_pool(mel, columns, np.mean).T, 2).tolist(), "bands": int(mel.shape[1]),
                    "seconds_per_column": round(seconds / min(columns, len(mel)), 4)}}


def protocol_words(protocol: str) -> str:
    kind, _, name = protocol.partition(":")
    return f"{PROTOCOL_WORDS.get(kind, kind)} {name}".strip()


def best_results(summary: pd.DataFrame) -> pd.DataFrame:
    """Best row (UA) per task, protocol and normalisation: what a reader looks for first.
    Within-corpus protocols and the cross-corpus one (``loco:``) are labelled apart."""
    if summary.empty:
        return summary
    s = summary[summary.protocol != "random_split"].copy()
    s["normalisation"] = s["normalisation"].fillna("none")
    best = s.sort_values("ua", ascending=False).groupby(["task", "protocol", "normalisation"], sort=False).head(1)
    best = best.assign(kind=np.where(best.protocol.str.startswith("loco:"), "unseen corpus", "unseen speakers"))
    out = pd.DataFrame({
        "task": best.task, "setting": best.kind,
        "protocol": best.protocol.map(protocol_words),
        "trained on": best.get("train_corpora", best.dataset), "tested on": best.get("test_corpora", best.dataset),
        "mode": np.where(best.normalisation == "speaker", "calibrated to the voice", "single clip"),
        "model": best.model + " on " + best.features,
        "UA %": (best.ua * 100).round(1), "± std": (best.ua_std.fillna(0) * 100).round(1),
        "WA %": (best.wa * 100).round(1)})
    return out.sort_values(["task", "setting", "mode", "protocol"]).reset_index(drop=True)
