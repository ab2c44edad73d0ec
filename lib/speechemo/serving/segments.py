"""Long recordings: voice-activity segments, read in blocks (the file is never decoded whole).

A recording is scanned once in blocks of ``BLOCK_SECONDS``: each block is mixed to mono, resampled
to 16 kHz by a streaming resampler and reduced to one level (dBFS) per 10-ms frame, so a 10-minute
file costs 60,000 floats, not its samples. Speech is the frames within ``SegmentRules.range_db`` of
the recording's loud frames (and above an absolute floor); pauses of at least ``min_pause`` end a
segment, shorter segments join a near neighbour, and stretches longer than ``max_seconds`` are cut
at their quietest frame. Each segment is then read on its own (seek + read) for the models.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from speechemo.data.audio import TARGET_SR, AudioError, InputError, decode_reason, resample, to_mono

HOP = 160  # 10 ms at 16 kHz
BLOCK_SECONDS = 20.0
MAX_RECORDING_SECONDS = 600.0


@dataclass(frozen=True)
class SegmentRules:
    """How speech is told from pauses, and how long a segment may be (seconds, dB)."""

    range_db: float = 35.0      # speech: within this many dB of the loud frames (99th percentile)
    floor_db: float = -55.0     # ... and above this absolute level (dBFS)
    min_pause: float = 0.30     # a quieter stretch at least this long ends a segment
    min_speech: float = 0.20    # bursts shorter than this (clicks, breaths) are dropped
    min_seconds: float = 1.0    # shorter segments join a neighbour less than join_gap away
    join_gap: float = 1.0
    max_seconds: float = 8.0    # longer stretches are cut at their quietest frame
    pad: float = 0.10           # seconds of context kept on each side of a segment


@dataclass(frozen=True)
class Scan:
    """One pass over a recording: its length and the level of every 10-ms frame."""

    seconds: float
    native_rate: int
    levels: np.ndarray  # dBFS per HOP samples at 16 kHz


def _handle(source):
    """What libsndfile opens: bytes in memory, an open binary file (rewound), or a path."""
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if hasattr(source, "read"):
        source.seek(0)
        return source
    return str(source)


def open_audio(source: str | Path | bytes | BinaryIO, label: str) -> sf.SoundFile:
    """Open a recording for block reads; errors name the file and the fix, never a Python object."""
    if isinstance(source, bytes) and not source:
        raise AudioError(f"{label}: empty file (0 bytes)")
    if isinstance(source, (str, Path)) and not Path(source).exists():
        raise AudioError(f"{label}: no such file")
    try:
        return sf.SoundFile(_handle(source))
    except Exception as err:
        raise AudioError(f"{label}: cannot decode audio ({decode_reason(err)}). Expected WAV, FLAC, MP3 or OGG; the file "
                         "may be truncated or not audio at all -- convert it with a standard tool") from None


def frame_levels(y: np.ndarray) -> np.ndarray:
    """Level in dBFS of each complete 10-ms frame of a 16-kHz signal."""
    n = y.size // HOP
    frames = y[: n * HOP].reshape(n, HOP).astype(np.float64)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)


def scan(source: str | Path | bytes | BinaryIO, label: str, max_seconds: float = MAX_RECORDING_SECONDS) -> Scan:
    """Stream the recording once: its duration and per-frame levels, holding one block at a time."""
    import soxr

    with open_audio(source, label) as f:
        rate, total = int(f.samplerate), int(f.frames)
        seconds = total / rate if rate else 0.0
        if seconds > max_seconds:
            raise InputError(f"{label}: recording is {seconds / 60:.1f} min long; at most "
                             f"{max_seconds / 60:.0f} min is accepted -- cut it into parts")
        stream = soxr.ResampleStream(rate, TARGET_SR, 1, dtype="float32") if rate != TARGET_SR else None
        levels, carry = [], np.zeros(0, np.float32)
        block = max(1, int(BLOCK_SECONDS * rate))
        for i, chunk in enumerate(f.blocks(blocksize=block, dtype="float32", always_2d=True)):
            last = (i + 1) * block >= total
            mono = to_mono(chunk)
            if not np.all(np.isfinite(mono)):
                raise AudioError(f"{label}: the audio holds NaN or infinite samples")
            y = stream.resample_chunk(mono, last=last) if stream else mono
            y = np.concatenate([carry, y])
            n = y.size // HOP * HOP
            levels.append(frame_levels(y[:n]))
            carry = y[n:]
    if not levels or seconds <= 0:
        raise AudioError(f"{label}: the file holds no audio samples")
    return Scan(seconds=seconds, native_rate=rate, levels=np.concatenate(levels))


def read_span(source: str | Path | bytes | BinaryIO, start: float, end: float, label: str) -> np.ndarray:
    """Samples ``start``-``end`` (seconds) of a recording, mono at 16 kHz, read without the rest."""
    with open_audio(source, label) as f:
        rate = int(f.samplerate)
        f.seek(int(start * rate))
        chunk = f.read(int(round((end - start) * rate)), dtype="float32", always_2d=True)
    return resample(to_mono(chunk), rate, TARGET_SR)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` frame indices of the runs of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _split_long(a: int, b: int, levels: np.ndarray, lo: int, hi: int) -> list[tuple[int, int]]:
    """Cut ``[a, b)`` into pieces of ``lo``-``hi`` frames, each cut at the quietest frame it may use."""
    out = []
    while b - a > hi:
        window = levels[a + lo: a + hi + 1][::-1]  # reversed: on a tie, the longest piece
        cut = a + hi - int(np.argmin(window))
        if b - cut < lo:  # the rest would be too short: share the stretch evenly instead
            cut = a + (b - a) // 2
        out.append((a, cut))
        a = cut
    out.append((a, b))
    return out


def voice_spans(levels: np.ndarray, rules: SegmentRules = SegmentRules(), hop_seconds: float = HOP / TARGET_SR
                ) -> list[tuple[float, float]]:
    """Speech segments ``(start, end)`` in seconds from per-frame levels; no overlap, in order."""
    if levels.size == 0:
        return []
    loud = float(np.percentile(levels, 99))
    mask = levels > max(loud - rules.range_db, rules.floor_db)
    frames = lambda s: max(1, int(round(s / hop_seconds)))  # noqa: E731
    runs = _runs(mask)
    merged: list[list[int]] = []
    for a, b in runs:  # close pauses shorter than min_pause
        if merged and a - merged[-1][1] < frames(rules.min_pause):
            merged[-1][1] = b
        else:
            merged.append([a, b])
    merged = [m for m in merged if m[1] - m[0] >= frames(rules.min_speech)]
    joined: list[list[int]] = []
    for a, b in merged:  # a short segment joins the previous one when the gap is small
        short = (b - a < frames(rules.min_seconds)) or (joined and joined[-1][1] - joined[-1][0] < frames(rules.min_seconds))
        if joined and short and a - joined[-1][1] < frames(rules.join_gap):
            joined[-1][1] = b
        else:
            joined.append([a, b])
    pieces = [p for a, b in joined
              for p in _split_long(a, b, levels, frames(rules.min_seconds), frames(rules.max_seconds))]
    pad, total = frames(rules.pad), levels.size
    spans = []
    for i, (a, b) in enumerate(pieces):  # padding never reaches into a neighbour
        lo = max(0, a - pad, pieces[i - 1][1] if i else 0)
        hi = min(total, b + pad, pieces[i + 1][0] if i + 1 < len(pieces) else total)
        spans.append((round(lo * hop_seconds, 3), round(hi * hop_seconds, 3)))
    return spans
