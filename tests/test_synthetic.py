import hashlib

import numpy as np
import soundfile as sf

from speechemo.data.ravdess import parse_name
from speechemo.data.synthetic import generate_corpus, pick_actors, synthesize
from speechemo.data.ravdess import Utterance


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(root.glob("Actor_*/*.wav")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_format_and_layout(tiny_corpus):
    files = sorted(tiny_corpus.glob("Actor_*/*.wav"))
    assert len(files) == 120
    for p in files:
        u = parse_name(p.name)
        assert p.parent.name == f"Actor_{u.actor:02d}"
    info = sf.info(str(files[0]))
    assert info.samplerate == 48_000 and info.subtype == "PCM_16"
    durations = [sf.info(str(p)).duration for p in files]
    assert 1.5 < min(durations) and max(durations) < 7.0


def test_deterministic_for_a_seed(tmp_path, tiny_corpus):
    again = generate_corpus(tmp_path / "again", actors=[1, 4], seed=0, progress=False)
    assert _digest(again) == _digest(tiny_corpus)
    u = Utterance(3, 1, 5, 2, 1, 1, 1)
    assert not np.array_equal(synthesize(u, seed=0), synthesize(u, seed=1))


def test_some_stereo_files_in_a_full_corpus_plan():
    from speechemo.data.synthetic import is_stereo
    from speechemo.data.ravdess import actor_utterances
    n = sum(is_stereo(u, 0) for a in range(1, 25) for u in actor_utterances(a))
    assert 1 <= n <= 15


def _mean_cues(emotion_code: int) -> tuple[float, float]:
    """Median voiced F0 (relative to the gender's typical F0) and mean level, over 8 actors."""
    from speechemo.data import audio
    from speechemo.features.frames import Frames
    f0s, levels = [], []
    for actor in range(1, 9):
        u = Utterance(3, 1, emotion_code, 1 if emotion_code == 1 else 2, 1, 1, actor)
        y = audio.trim_silence(audio.resample(synthesize(u), 48_000))
        llf = Frames.of(y).llf()
        voiced = llf["voiced"] > 0
        f0s.append(np.median(llf["f0"][voiced]) / (120 if actor % 2 else 205))
        levels.append(20 * np.log10(np.mean(llf["rms"])))
    return float(np.mean(f0s)), float(np.mean(levels))


def test_emotion_cues_follow_the_literature():
    """Angry is much louder than sad; happy and fearful are higher-pitched than calm and neutral."""
    f0 = {e: _mean_cues(code) for e, code in [("neutral", 1), ("calm", 2), ("happy", 3),
                                              ("sad", 4), ("angry", 5), ("fearful", 6)]}
    assert f0["angry"][1] > f0["sad"][1] + 6
    assert f0["happy"][0] > f0["calm"][0]
    assert f0["fearful"][0] > f0["neutral"][0]


def test_pick_actors_spreads_over_folds():
    from speechemo.data.ravdess import fold_of_actor
    assert {fold_of_actor(a) for a in pick_actors(6)} == set(range(1, 7))
    assert len(pick_actors(24)) == 24
