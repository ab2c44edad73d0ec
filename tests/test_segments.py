"""Long recordings: voice-activity segments from a streamed scan, and their answers."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from speechemo.data import audio
from speechemo.serving import segments
from speechemo.data.audio import AudioError, InputError
from speechemo.serving.segments import SegmentRules, voice_spans
from speechemo.data.synthetic import long_recording


def _wav(y: np.ndarray, sr: int, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.stack([y] * channels, 1) if channels > 1 else y, sr, format="WAV")
    return buf.getvalue()


def _tones(durations: list[float], sr: int) -> list[np.ndarray]:
    return [(0.3 * np.sin(2 * np.pi * (150 + 40 * i) * np.arange(int(d * sr)) / sr)).astype(np.float32)
            for i, d in enumerate(durations)]


def _check_layout(spans: list[tuple[float, float]], seconds: float, rules: SegmentRules = SegmentRules()) -> None:
    assert all(0 <= s < e <= seconds + 1e-6 for s, e in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), "segments overlap"
    assert all(e - s <= rules.max_seconds + 2 * rules.pad + 0.02 for s, e in spans)


def test_levels_to_spans_split_join_and_drop():
    hop = 0.01
    levels = np.full(3000, -80.0)
    levels[100:400] = -20      # 3 s of speech
    levels[420:600] = -20      # 0.2-s pause inside a phrase: one segment 1.0-6.0 s
    levels[700:705] = -20      # a 50-ms click: dropped
    levels[900:2500] = -20     # 16 s: cut into pieces of at most 8 s
    levels[1700] = -60         # ... at the quietest frame
    spans = voice_spans(levels, hop_seconds=hop)
    _check_layout(spans, 30.0)
    assert spans[0][0] == pytest.approx(0.9) and spans[0][1] == pytest.approx(6.1)
    assert not any(6.5 < s < 7.5 for s, _ in spans), "the click became a segment"
    assert len(spans) == 3 and spans[1][1] == pytest.approx(17.0, abs=0.11)


def test_silence_has_no_segments():
    assert voice_spans(np.full(1000, -100.0)) == []


def test_scan_streams_a_stereo_44k_file_and_finds_each_phrase():
    sr = 44_100
    y, truth = long_recording(_tones([1.5, 2.0, 3.2, 1.1, 2.6], sr), sr, pause=0.7)
    data = _wav(y, sr, channels=2)
    found = segments.scan(data, "phrases.wav")
    assert found.seconds == pytest.approx(y.size / sr)
    assert found.levels.size == pytest.approx(found.seconds * 100, abs=2)
    spans = voice_spans(found.levels)
    _check_layout(spans, found.seconds)
    assert len(spans) == len(truth)
    for (s, e), (ts, te) in zip(spans, truth):
        assert abs(s - ts) < 0.15 and abs(e - te) < 0.15
    piece = segments.read_span(data, *spans[2], "phrases.wav")
    assert piece.size == pytest.approx((spans[2][1] - spans[2][0]) * audio.TARGET_SR, abs=2)


def test_scan_refuses_too_long_and_names_the_file():
    sr = 16_000
    data = _wav(np.zeros(sr * 3, np.float32), sr)
    with pytest.raises(InputError, match=r"interview\.wav: recording is .* at most"):
        segments.scan(data, "interview.wav", max_seconds=2)


@pytest.mark.parametrize("read", [lambda b: audio.decode(b, "x.wav"), lambda b: segments.scan(b, "x.wav")])
def test_decode_errors_name_the_file_without_python_objects(read):
    with pytest.raises(AudioError) as err:
        read(b"this is not audio at all" * 40)
    text = str(err.value)
    assert text.startswith("x.wav: cannot decode audio") and "0x" not in text and "<_io" not in text
