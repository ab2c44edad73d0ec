"""A synthetic stand-in for RAVDESS: same names, layout and file format, speech-like signals.

Each utterance is a source-filter model: a glottal pulse train (pitch contour with declination,
accents and jitter) plus aspiration noise, shaped by an emotion-dependent spectral tilt and
passed through three formant resonators per syllable; syllables get raised-cosine envelopes and
short fricative bursts, between leading and trailing silence. Pitch level and range, energy,
tempo, tilt, jitter and breathiness vary with emotion and intensity following the directions
reported in the vocal-affect literature (Scherer 2003; Juslin & Laukka 2003), pitch and formants
with gender, and every actor has a voice and an idiosyncratic way of expressing each emotion,
so that classifiers learn well above chance but not perfectly and speaker effects are real.

The corpus is NOT RAVDESS: it exists so that tests and offline runs have data.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

from speechemo.data import corpora, cremad
from speechemo.foundations.files import atomic_path
from speechemo.data.ravdess import (ALL_ACTORS, EMOBOX_FOLDS, EMOTIONS, Utterance, actor_utterances,
    format_name, gender_of_actor)

SAMPLE_RATE = 48_000
MARKER_FILE = "SYNTHETIC_CORPUS.txt"


@dataclass(frozen=True)
class EmotionProfile:
    """Acoustic correlates of an emotion, relative to neutral speech."""

    f0: float        # pitch level ratio
    f0_range: float  # ratio of the accent excursions
    energy_db: float  # level change in dB
    tempo: float     # syllable-rate ratio
    tilt: float      # one-pole low-pass coefficient (higher = darker, softer voice)
    jitter: float    # relative period perturbation
    breath: float    # aspiration noise relative to voicing


PROFILES: dict[str, EmotionProfile] = {
    "neutral":   EmotionProfile(1.00, 1.00, 0.0, 1.00, 0.55, 0.010, 0.04),
    "calm":      EmotionProfile(0.96, 0.80, -3.0, 0.90, 0.68, 0.010, 0.07),
    "happy":     EmotionProfile(1.22, 1.45, 3.0, 1.10, 0.45, 0.012, 0.04),
    "sad":       EmotionProfile(0.92, 0.55, -5.0, 0.78, 0.75, 0.020, 0.12),
    "angry":     EmotionProfile(1.28, 1.35, 7.0, 1.12, 0.25, 0.015, 0.03),
    "fearful":   EmotionProfile(1.38, 1.15, 1.5, 1.22, 0.50, 0.030, 0.09),
    "disgust":   EmotionProfile(0.95, 1.10, 1.0, 0.84, 0.48, 0.018, 0.06),
    "surprised": EmotionProfile(1.32, 1.75, 2.5, 1.00, 0.42, 0.012, 0.05),
}

# (F1, F2, F3) of a few vowels for an adult male voice, Hz.
_VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240],
                    [530, 1840, 2480], [570, 840, 2410], [660, 1720, 2410]], dtype=float)
_SYLLABLES = {1: 7, 2: 7}  # both statements have seven syllables


def _seed_for(*parts: object) -> int:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


@dataclass(frozen=True)
class Voice:
    """One synthetic actor's voice and expressive style."""

    f0: float
    formant_scale: float
    tempo: float
    expressivity: float
    quirks: dict[str, np.ndarray]  # per-emotion perturbation of the profile fields


def make_voice(actor: int, seed: int) -> Voice:
    """Draw actor ``actor``'s voice deterministically from ``seed``."""
    rng = np.random.default_rng(_seed_for("voice", seed, actor))
    male = gender_of_actor(actor) == "male"
    f0 = rng.normal(118, 14) if male else rng.normal(205, 22)
    formant_scale = (1.0 if male else 1.16) * rng.normal(1.0, 0.04)
    quirks = {emo: rng.normal(0.0, 0.35, size=7) for emo in PROFILES}
    return Voice(f0=float(f0), formant_scale=float(formant_scale),
                 tempo=float(rng.normal(1.0, 0.08)),
                 expressivity=float(rng.uniform(0.45, 1.15)), quirks=quirks)


def _profile_for(voice: Voice, emotion: str, strong: bool) -> EmotionProfile:
    """Interpolate from neutral towards the emotion by actor expressivity, intensity and quirks."""
    base = np.array(list(vars(PROFILES["neutral"]).values()))
    target = np.array(list(vars(PROFILES[emotion]).values()))
    gain = voice.expressivity * (1.5 if strong else 1.0)
    delta = (target - base) * gain
    # idiosyncrasy: each actor over- or under-does each cue of each emotion
    delta = delta * (1.0 + voice.quirks[emotion]) + voice.quirks[emotion] * np.array(
        [0.04, 0.10, 1.0, 0.04, 0.04, 0.002, 0.01])
    v = base + delta
    v[1] = max(v[1], 0.2)
    v[3] = max(v[3], 0.5)
    v[4] = float(np.clip(v[4], 0.05, 0.92))
    v[5] = max(v[5], 0.002)
    v[6] = max(v[6], 0.0)
    return EmotionProfile(*map(float, v))


def _resonator(f: float, bw: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.exp(-np.pi * bw / sr)
    theta = 2 * np.pi * f / sr
    a = np.array([1.0, -2 * r * np.cos(theta), r * r])
    return np.array([a.sum()]), a  # unity gain at DC


def synthesize(u: Utterance, seed: int = 0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Synthesize one utterance as float32 mono in [-1, 1]."""
    voice = make_voice(u.actor, seed)
    p = _profile_for(voice, u.emotion, u.intensity_code == 2)
    rng = np.random.default_rng(_seed_for("utt", seed, format_name(u)))

    n_syl = _SYLLABLES[u.statement]
    syl_rate = 4.6 * p.tempo * voice.tempo * rng.normal(1.0, 0.04)
    syl_durs = rng.gamma(16.0, 1.0 / 16.0, size=n_syl) / syl_rate
    speech_len = int(syl_durs.sum() * sr)
    lead, trail = (int(rng.uniform(0.45, 1.0) * sr), int(rng.uniform(0.35, 0.9) * sr))

    # pitch contour: declination + per-syllable accents (+ final rise for surprise)
    t = np.arange(speech_len) / sr
    rel = t / max(t[-1], 1e-6)
    bounds = np.concatenate([[0], np.cumsum(syl_durs)]) * sr
    accents = rng.uniform(-0.4, 1.0, size=n_syl) * p.f0_range * 2.2  # semitones
    syl_idx = np.minimum(np.searchsorted(bounds[1:], np.arange(speech_len), side="right"), n_syl - 1)
    accent_curve = accents[syl_idx] * np.sin(np.pi * (np.arange(speech_len) - bounds[syl_idx])
                                             / np.maximum(np.diff(bounds)[syl_idx], 1)) ** 2
    semitones = -2.0 * rel + accent_curve
    if u.emotion == "surprised":
        semitones += 4.0 * p.f0_range * np.clip((rel - 0.75) / 0.25, 0, 1) ** 2
    f0 = voice.f0 * p.f0 * 2 ** (semitones / 12)

    # glottal pulses with jitter: one impulse per period
    phase = np.cumsum(f0 / sr)
    n_periods = int(phase[-1])
    jit = 1.0 + rng.normal(0, p.jitter, size=n_periods + 2)
    phase = np.cumsum(f0 / sr / np.repeat(jit, np.ceil(speech_len / max(n_periods, 1)) + 1)[:speech_len])
    pulses = np.zeros(speech_len)
    pulses[np.searchsorted(phase, np.arange(1, int(phase[-1]) + 1))[:-1]] = 1.0
    shimmer = 1.0 + rng.normal(0, 2.5 * p.jitter, size=speech_len)
    source = lfilter([1.0], [1.0, -0.97], pulses * shimmer)      # glottal flow (-6 dB/oct)
    source = lfilter([1.0 - p.tilt], [1.0, -p.tilt], source)      # emotion-dependent tilt
    source = np.diff(source, prepend=0.0)                         # lip radiation (+6 dB/oct)
    source /= np.max(np.abs(source)) + 1e-9
    source += p.breath * rng.normal(0, 1, size=speech_len) * (0.6 + 0.4 * np.abs(np.sin(np.pi * rel)))

    out = np.zeros(speech_len)
    for k in range(n_syl):
        a, b = int(bounds[k]), int(bounds[k + 1])
        seg = source[a:b]
        vowel = _VOWELS[rng.integers(len(_VOWELS))] * voice.formant_scale * rng.normal(1, 0.03)
        for f, bw in zip(vowel, (80, 110, 160)):
            num, den = _resonator(min(f, sr / 2 * 0.9), bw * (1 + 0.5 * p.breath), sr)
            seg = lfilter(num, den, seg)
        n = b - a
        env = np.sin(np.pi * np.linspace(0, 1, n)) ** 0.7
        # fricative-like onset burst for some syllables
        if rng.random() < 0.6:
            m = min(n // 4, int(0.05 * sr))
            burst = lfilter([1, -1], [1], rng.normal(0, 1, size=m)) * np.hanning(2 * m)[:m] * 0.15
            seg[:m] = seg[:m] * 0.3 + burst * np.max(np.abs(seg))
        out[a:b] = seg * env * (10 ** (rng.normal(0, 1.5) / 20))

    out /= np.max(np.abs(out)) + 1e-9
    level = 10 ** ((p.energy_db - 12.0 + rng.normal(0, 1.0)) / 20)
    y = np.concatenate([np.zeros(lead), out * level, np.zeros(trail)])
    y += rng.normal(0, 10 ** (-62 / 20), size=y.size)             # room noise floor
    return np.clip(y, -1, 1).astype(np.float32)


def is_stereo(u: Utterance, seed: int) -> bool:
    """About one file in three hundred is stereo, like the five in real RAVDESS."""
    return _seed_for("stereo", seed, format_name(u)) % 288 == 0


def _write_actor(root: Path, actor: int, seed: int, sr: int) -> list[Path]:
    folder = root / f"Actor_{actor:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for u in actor_utterances(actor):
        y = synthesize(u, seed=seed, sr=sr)
        if is_stereo(u, seed):
            y = np.stack([y, 0.98 * y], axis=1)
        path = folder / format_name(u)
        with atomic_path(path, ".wav") as tmp:
            sf.write(tmp, y, sr, subtype="PCM_16")
        paths.append(path)
    return paths


def generate_corpus(root: str | Path, actors: int | list[int] = 24, seed: int = 0,
                    sr: int = SAMPLE_RATE, n_jobs: int = 2, progress: bool = True) -> Path:
    """Write a synthetic RAVDESS-like corpus under ``root`` (``Actor_XX/*.wav``).

    ``actors`` is a count (the first N of a fold-balanced order, so that small corpora still
    have test actors in every EmoBox fold) or an explicit list. Idempotent: a corpus already
    generated with the same actors, seed and rate is left as it is.
    """
    from joblib import Parallel, delayed
    from tqdm import tqdm

    root = Path(root)
    actor_list = pick_actors(actors) if isinstance(actors, int) else sorted(actors)
    stamp = f"seed={seed} sr={sr} actors={','.join(map(str, actor_list))}\n"
    marker = root / MARKER_FILE
    if marker.exists() and marker.read_text().splitlines()[-1] == stamp.strip():
        return root
    root.mkdir(parents=True, exist_ok=True)
    jobs = (delayed(_write_actor)(root, a, seed, sr) for a in actor_list)
    list(tqdm(Parallel(n_jobs=n_jobs, return_as="generator")(jobs), total=len(actor_list),
              desc="synthesizing actors", disable=not progress))
    marker.write_text("This corpus is SYNTHETIC (not RAVDESS), made by speechemo.data.synthetic.\n" + stamp)
    return root


def pick_actors(n: int) -> list[int]:
    """The first ``n`` actors of an order that cycles through the six EmoBox folds."""

    if not 1 <= n <= len(ALL_ACTORS):
        raise ValueError(f"number of synthetic actors must be 1-24, got {n}")
    order = [EMOBOX_FOLDS[f][i] for i in range(4) for f in sorted(EMOBOX_FOLDS)]
    return sorted(order[:n])


# ----------------------------------------------------------------------------- other corpora's layouts
_CODE_OF = {name: code for code, name in EMOTIONS.items()}


def _voice_clip(emotion: str | None, speaker_key: int, male: bool, statement: int, seed: int, sr: int) -> np.ndarray:
    """A synthetic clip for another corpus: a RAVDESS-like voice (odd actor = male) speaking with
    ``emotion`` (a RAVDESS name; ``None`` -- e.g. EmoDB's boredom -- is voiced as calm)."""
    actor = 2 * (speaker_key % 12) + (1 if male else 2)
    u = Utterance(3, 1, _CODE_OF[emotion or "calm"], 1, statement, 1, actor)
    return synthesize(u, seed=seed, sr=sr)


def write_corpus_layout(corpus: str, root: str | Path, seed: int = 0) -> Path:
    """A small synthetic corpus in the file layout and label codes of ``corpus`` (emodb, tess,
    cremad, savee), for testing the readers: several sample rates, one stereo file, one corrupt
    audio file and one non-audio file among them. Returns ``root``."""

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    files: list[tuple[Path, str | None, int, bool]] = []  # path, emotion, speaker key, male
    if corpus == "emodb":
        for spk in (3, 8, 10, 13):
            for i, (letter, emo) in enumerate(corpora.EMODB_EMOTIONS.items()):
                files.append((root / "wav" / f"{spk:02d}a0{i % 5}{letter}a.wav", emo, spk, spk in corpora.EMODB_MALE))
    elif corpus == "tess":
        for who in ("OAF", "YAF"):
            for word in ("back", "bar"):
                for label, emo in corpora.TESS_EMOTIONS.items():
                    files.append((root / f"{who}_{label}" / f"{who}_{word}_{label}.wav", emo, len(who) + len(word), False))
    elif corpus == "cremad":
        for actor in (1001, 1002, 1003):
            for code, emo in corpora.CREMAD_EMOTIONS.items():
                files.append((root / "AudioWAV" / f"{actor}_DFA_{code}_XX.wav", emo, actor, actor != 1002))
        pd_rows = "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n" \
                  "1002,21,Female,Caucasian,Not Hispanic\n1003,21,Male,Caucasian,Not Hispanic\n"
        (root / "VideoDemographics.csv").write_text(pd_rows)
    elif corpus == "savee":
        for spk in ("DC", "JE", "JK", "KL"):
            for code, emo in corpora.SAVEE_EMOTIONS.items():
                files.append((root / "AudioData" / f"{spk}_{code}01.wav", emo, ord(spk[0]), True))
    else:
        raise ValueError(f"no synthetic layout for {corpus!r}")
    rates = (16_000, 44_100, 22_050)
    for i, (path, emo, key, male) in enumerate(files):
        sr = rates[0] if i % 7 else rates[(i // 7) % 3]
        y = _voice_clip(emo, key, male, 1 + i % 2, seed, sr)
        if i == 3:
            y = np.stack([y, 0.97 * y], axis=1)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, y, sr, subtype="PCM_16")
    corrupt = files[5][0]
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt truncated")
    (files[0][0].parent / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not audio")
    return root


def pick_cremad_actors(n: int) -> list[int]:
    """``n`` CREMA-D actor ids, cycling through the six folds and alternating women and men, so that
    a small synthetic CREMA-D has test speakers of both genders across the folds."""

    f = cremad.folds().sort_values("actor")
    order, seen = [], set()
    for lap in range(len(f)):
        for fold in sorted(f.fold.unique()):
            gender = ("female", "male")[(lap + fold) % 2]
            cands = [a for a in f[(f.fold == fold) & (f.gender == gender)].actor if a not in seen]
            if cands:
                order.append(int(cands[0]))
                seen.add(cands[0])
        if len(order) >= n:
            break
    return sorted(order[:n])


def generate_cremad(root: str | Path, actors: int = 6, sentences: tuple[str, ...] = ("DFA", "IEO"),
                    seed: int = 0, sr: int = 16_000) -> Path:
    """A synthetic CREMA-D for training runs: ``AudioWAV/<actor>_<sentence>_<EMO>_XX.wav`` for the
    six emotions and ``sentences`` of ``actors`` real actor ids (genders from the shipped
    demographics, which are copied beside it), 16 kHz mono. Idempotent. Returns the AudioWAV folder."""

    ids = pick_cremad_actors(actors)
    audio_dir = Path(root) / "AudioWAV"
    stamp = f"seed={seed} sr={sr} actors={','.join(map(str, ids))} sentences={','.join(sentences)}"
    marker = Path(root) / MARKER_FILE
    if marker.exists() and marker.read_text().splitlines()[-1] == stamp:
        return audio_dir
    audio_dir.mkdir(parents=True, exist_ok=True)
    demo = cremad.demographics()
    male = dict(zip(demo.ActorID, demo.gender == "male"))
    for actor in ids:
        for i, sentence in enumerate(sentences):
            for code, emo in cremad.EMOTIONS.items():
                path = audio_dir / f"{actor}_{sentence}_{code}_XX.wav"
                with atomic_path(path, ".wav") as tmp:
                    sf.write(tmp, _voice_clip(emo, actor, bool(male[actor]), 1 + i % 2, seed, sr), sr, subtype="PCM_16")
    demo[demo.ActorID.isin(ids)].drop(columns="gender").to_csv(Path(root) / "VideoDemographics.csv", index=False)
    marker.write_text("This corpus is SYNTHETIC (not CREMA-D), made by speechemo.data.synthetic.\n" + stamp + "\n")
    return audio_dir


def long_recording(clips: list[np.ndarray], sr: int, pause: float = 0.8, seed: int = 0,
                   noise_dbfs: float = -70.0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """One recording made of ``clips`` (mono, ``sr`` Hz, already trimmed) with ``pause`` seconds of
    faint noise between and around them; returns it and where each clip sits (seconds)."""
    rng = np.random.default_rng(seed)
    gap = lambda: (rng.normal(0, 10 ** (noise_dbfs / 20), int(pause * sr))).astype(np.float32)  # noqa: E731
    parts, spans, t = [gap()], [], pause
    for c in clips:
        parts += [c.astype(np.float32), gap()]
        spans.append((round(t, 3), round(t + c.size / sr, 3)))
        t += c.size / sr + pause
    return np.concatenate(parts), spans
