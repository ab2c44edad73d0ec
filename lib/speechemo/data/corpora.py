"""Readers for other emotional-speech corpora, for cross-corpus checks: each yields the same kind
of metadata table as notebook 00 (path, file, speaker, gender where known, emotion mapped to the
RAVDESS names or ``None`` when RAVDESS has no such class) and an integrity report that names every
file it could not use (unreadable, digital silence, not audio, unexpected name, odd sample rate) -- nothing is
dropped silently. Built from each corpus's public documentation:

* ``emodb`` (Berlin, German, 10 speakers): ``03a01Fa.wav`` = speaker 03, text a01, emotion letter
  (W anger, L boredom, E disgust, A fear, F happiness, T sadness, N neutral), version a.
  Male speakers 03, 10, 11, 12, 15; female 08, 09, 13, 14, 16.
* ``tess`` (Toronto, 2 female speakers): ``OAF_back_angry.wav``, ``YAF_...``; emotions angry,
  disgust, fear, happy, neutral, ps (pleasant surprise), sad.
* ``cremad`` (91 actors): ``1001_DFA_ANG_XX.wav`` = actor, sentence, emotion (ANG, DIS, FEA, HAP,
  NEU, SAD), level (LO, MD, HI, XX); genders from ``VideoDemographics.csv`` (ActorID, Sex) when it
  is in the folder.
* ``savee`` (4 male speakers): ``DC_a01.wav`` = speaker, emotion prefix (a anger, d disgust,
  f fear, h happiness, n neutral, sa sadness, su surprise) and number; also ``AudioData/DC/a01.wav``.
* ``ravdess``: the RAVDESS naming (``03-01-05-01-02-01-12.wav``), e.g. a new recording made the
  RAVDESS way; speech files only (song and video files are named as misnamed).
* ``csv``: a file with columns ``path,emotion[,speaker,gender]`` (paths relative to the file).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from speechemo.data import cremad
from speechemo.foundations.labels import EMOTION_NAMES, CorpusNameError
from speechemo.data.metadata import decode_once, digital_silence
from speechemo.data.ravdess import parse_name

AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".aif", ".aiff", ".ogg"}

EMODB_EMOTIONS = {"W": "angry", "L": None, "E": "disgust", "A": "fearful", "F": "happy", "T": "sad",
                  "N": "neutral"}
EMODB_MALE = {3, 10, 11, 12, 15}
EMODB_FEMALE = {8, 9, 13, 14, 16}
TESS_EMOTIONS = {"angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy",
                 "neutral": "neutral", "ps": "surprised", "sad": "sad"}
CREMAD_EMOTIONS = cremad.EMOTIONS
SAVEE_EMOTIONS = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral", "sa": "sad",
                  "su": "surprised"}
# the corpus's own label for classes RAVDESS does not have (kept in the table, marked not shared)
UNSHARED = {"emodb": {"L": "boredom"}}


@dataclass(frozen=True)
class Item:
    speaker: str
    emotion: str | None        # RAVDESS name, or None when the class is not shared
    original: str              # the corpus's own label
    gender: str | None


def parse_emodb(name: str) -> Item:
    m = re.fullmatch(r"(\d\d)([a-b]\d\d)([WLEAFTN])([a-z])", Path(name).stem)
    if not m:
        raise CorpusNameError(f"{name}: not an EmoDB name like 03a01Fa.wav")
    spk = int(m.group(1))
    gender = "male" if spk in EMODB_MALE else "female" if spk in EMODB_FEMALE else None
    letter = m.group(3)
    return Item(f"{spk:02d}", EMODB_EMOTIONS[letter], UNSHARED["emodb"].get(letter, EMODB_EMOTIONS[letter]), gender)


def parse_tess(name: str) -> Item:
    m = re.fullmatch(r"(OAF|YAF)_([A-Za-z]+)_([A-Za-z]+)", Path(name).stem)
    if not m or m.group(3).lower() not in TESS_EMOTIONS:
        raise CorpusNameError(f"{name}: not a TESS name like OAF_back_angry.wav")
    label = m.group(3).lower()
    return Item(m.group(1), TESS_EMOTIONS[label], label, "female")


def parse_cremad(name: str, genders: dict[str, str] | None = None) -> Item:
    clip = cremad.parse_name(name)  # the one CREMA-D naming rule
    speaker = str(clip.actor)
    return Item(speaker, clip.emotion, Path(name).stem.split("_")[2], (genders or {}).get(speaker))


def parse_savee(name: str, folder: str | None = None) -> Item:
    stem = Path(name).stem
    m = re.fullmatch(r"([A-Z]{2})_(sa|su|[adfhn])(\d\d)", stem)
    if m:
        spk, code = m.group(1), m.group(2)
    else:
        m = re.fullmatch(r"(sa|su|[adfhn])(\d\d)", stem)
        if not m or not folder or not re.fullmatch(r"[A-Z]{2}", folder):
            raise CorpusNameError(f"{name}: not a SAVEE name like DC_a01.wav (or AudioData/DC/a01.wav)")
        spk, code = folder, m.group(1)
    return Item(spk, SAVEE_EMOTIONS[code], code, "male")


def parse_ravdess(name: str) -> Item:
    u = parse_name(Path(name).name)
    if (u.modality, u.vocal_channel) != (3, 1):
        raise CorpusNameError(f"{name}: not an audio-only speech file (modality 03, vocal channel 01)")
    return Item(f"{u.actor:02d}", u.emotion, u.emotion, u.gender)


def cremad_genders(root: Path) -> dict[str, str]:
    """Actor id -> gender from CREMA-D's ``VideoDemographics.csv``: the one under the audio folder
    ``root`` or beside it (the official layout: ``AudioWAV/`` next to the CSV), else the copy the
    workbook ships (CREMA-D's 91 actor ids are fixed)."""
    root = Path(root)
    found = next(iter([*sorted(root.rglob("VideoDemographics.csv")), *sorted(root.parent.glob("VideoDemographics.csv"))]), None)
    d = cremad.demographics(found)
    return {str(a): g for a, g in zip(d["ActorID"], d["gender"])}


@dataclass
class CorpusReport:
    """What the reader found; every file it could not use is named with the reason."""

    corpus: str
    n_files: int
    used: int
    misnamed: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    not_audio: list[str] = field(default_factory=list)
    odd_rate: list[str] = field(default_factory=list)
    stereo: list[str] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)
    not_shared: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"{self.corpus}: {self.n_files} files, {self.used} usable"]
        for title, items in (("misnamed (skipped)", self.misnamed), ("unreadable (skipped)", self.unreadable),
                             ("digital silence (skipped: nothing to judge)", self.silent),
                             ("not audio (skipped; documentation and metadata files too)", self.not_audio), ("unusual sample rate (kept, resampled)", self.odd_rate),
                             ("stereo (kept, downmixed)", self.stereo)):
            if items:
                out.append(f"  {title}: {len(items)}")
                out += [f"    {x}" for x in items[:20]] + ([f"    ... and {len(items) - 20} more"] if len(items) > 20 else [])
        if self.not_shared:
            out.append("  classes RAVDESS does not have (kept, left out of the scores): "
                       + ", ".join(f"{k} ({v})" for k, v in self.not_shared.items()))
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _files(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and not p.name.startswith("."))


@dataclass(frozen=True)
class Corpus:
    """One registry entry: everything the workbook knows of a corpus. Adding a corpus is one entry
    here (plus its synthetic layout in ``synthetic.write_corpus_layout`` and a reader test)."""

    name: str
    title: str
    labels: dict[str, str | None]          # the corpus's own label -> workbook emotion (None: not shared)
    speakers: str                          # where speaker ids and genders come from
    licence: str
    download: str                          # how users get it and how it is checked
    folds: str                             # the speaker-fold recipe
    parse: Callable[[Path], Item] | None   # file -> labels (the generic reader); None for csv
    audio_root: Callable[[Path], Path] | None = None       # the audio folder inside what the user gives
    speaker_genders: Callable[[Path], dict[str, str]] | None = None  # audio folder -> {speaker: gender}
    trainable: bool = False                # notebook 00 acquires it and the workbook trains on it
    share_examples: bool = False           # its licence lets a bundle ship a few clips, with attribution


REGISTRY: dict[str, Corpus] = {c.name: c for c in (
    Corpus("ravdess", "RAVDESS speech (Livingstone & Russo 2018), 24 actors, 8 emotions",
           {e: e for e in EMOTION_NAMES}, "actor in the file name; odd actors male, even female",
           "CC BY-NC-SA 4.0", "Zenodo record 1188976, Audio_Speech_Actors_01-24.zip, md5 checked",
           "the six EmoBox actor folds", lambda p: parse_ravdess(p.name), trainable=True,
           share_examples=True),
    Corpus("cremad", "CREMA-D (Cao et al. 2014), 91 actors, 6 emotions", CREMAD_EMOTIONS,
           "actor in the file name; gender and age from VideoDemographics.csv",
           "ODbL 1.0 / DbCL 1.0", "the official repository's Git LFS media, every file's size and sha256 "
           "checked against its pointer (corpus_files/cremad/manifest.csv.gz)",
           "six actor folds balanced by gender and age (corpus_files/cremad/folds.csv)",
           lambda p: parse_cremad(p.name), audio_root=cremad.find_audio_root, speaker_genders=cremad_genders,
           trainable=True, share_examples=True),
    Corpus("emodb", "EmoDB (Burkhardt et al. 2005), German, 10 speakers", EMODB_EMOTIONS,
           "speaker in the file name; genders from the corpus documentation", "see the corpus's site",
           "bring your own copy (CORPUS_DIR)", "none (test corpus)", lambda p: parse_emodb(p.name)),
    Corpus("tess", "TESS (Toronto), 2 female speakers", TESS_EMOTIONS, "OAF / YAF prefix; both female",
           "see the corpus's site", "bring your own copy (CORPUS_DIR)", "none (test corpus)",
           lambda p: parse_tess(p.name)),
    Corpus("savee", "SAVEE (Surrey), 4 male speakers", SAVEE_EMOTIONS, "speaker prefix or folder; all male",
           "see the corpus's site", "bring your own copy (CORPUS_DIR)", "none (test corpus)",
           lambda p: parse_savee(p.name, p.parent.name)),
    Corpus("csv", "any corpus listed in a CSV file (path,emotion[,speaker,gender])", {e: e for e in EMOTION_NAMES},
           "the list's speaker and gender columns", "yours", "bring your own list (CORPUS_DIR=list.csv)",
           "none (test corpus)", None),
)}
CORPORA = tuple(REGISTRY)


def _item_for(corpus: str, path: Path, root: Path, genders: dict[str, str]) -> Item:
    entry = REGISTRY.get(corpus)
    if entry is None or entry.parse is None:
        raise ValueError(f"unknown corpus {corpus!r}; one of {CORPORA}")
    item = entry.parse(path)
    return Item(item.speaker, item.emotion, item.original, genders.get(item.speaker, item.gender))


def read_corpus(corpus: str, root: str | Path, csv: str | Path | None = None) -> tuple[pd.DataFrame, CorpusReport]:
    """The metadata table and integrity report of a corpus folder (or, for ``csv``, a list file)."""
    if corpus not in CORPORA:
        raise ValueError(f"unknown corpus {corpus!r}; one of {CORPORA}")
    root = Path(root)
    if corpus == "csv":
        listing = pd.read_csv(csv or root)
        missing = {"path", "emotion"} - set(listing.columns)
        if missing:
            raise ValueError(f"{csv or root}: the list needs the columns path and emotion (missing {sorted(missing)})")
        base = Path(csv or root).parent
        candidates = [(base / p, Item(str(s) if "speaker" in listing else "unknown",
                                      e if e in EMOTION_NAMES else None, str(e),
                                      g if "gender" in listing and isinstance(g, str) else None))
                      for p, e, s, g in zip(listing["path"], listing["emotion"],
                                            listing.get("speaker", ["unknown"] * len(listing)),
                                            listing.get("gender", [None] * len(listing)))]
    else:
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such folder; corpus_dir must be the {corpus} folder as distributed")
        entry = REGISTRY[corpus]
        root = entry.audio_root(root) if entry.audio_root else root  # e.g. CREMA-D's AudioWAV, not AudioMP3 too
        genders = entry.speaker_genders(root) if entry.speaker_genders else {}
        candidates = []
        report_pre: list[str] = []
        for p in _files(root):
            if p.suffix.lower() not in AUDIO_SUFFIXES:  # documentation, demographics, stray files
                report_pre.append(str(p.relative_to(root)))
                continue
            try:
                candidates.append((p, _item_for(corpus, p, root, genders)))
            except CorpusNameError as err:
                candidates.append((p, err))
    report = CorpusReport(corpus, len(candidates), 0)
    if corpus != "csv":
        report.not_audio += report_pre
    rows = []
    for path, item in candidates:
        rel = str(path.relative_to(root)) if corpus != "csv" and path.is_relative_to(root) else str(path)
        if isinstance(item, CorpusNameError):
            report.misnamed.append(f"{rel}: {item}")
            continue
        try:
            samples, rate, md5 = decode_once(path)  # read once: decoded, checked and hashed
            if len(samples) == 0:
                raise RuntimeError("no audio frames")
        except Exception as err:  # noqa: BLE001 - reported by name
            report.unreadable.append(f"{rel}: cannot decode ({err}); re-copy it or convert it to WAV/FLAC")
            continue
        if digital_silence(samples):
            report.silent.append(f"{rel}: {len(samples) / rate:.1f} s of digital silence")
            continue
        if item.emotion is None:
            report.not_shared[item.original] = report.not_shared.get(item.original, 0) + 1
        rows.append({"path": str(path.resolve()), "file": rel, "speaker": item.speaker, "gender": item.gender,
                     "emotion": item.emotion, "original_label": item.original, "shared": item.emotion is not None,
                     "duration": len(samples) / rate, "sample_rate": rate,
                     "channels": samples.shape[1], "md5": md5})
    table = pd.DataFrame(rows)
    if len(table):
        main_rate = int(table["sample_rate"].mode().iloc[0])
        report.odd_rate = [f"{r.file}: {r.sample_rate} Hz (most are {main_rate} Hz)" for r in table.itertuples()
                           if r.sample_rate != main_rate]
        report.stereo = table.loc[table["channels"] > 1, "file"].tolist()
    report.used = len(table)
    return table, report


def restrict(probabilities: pd.DataFrame | np.ndarray, classes: list[str], shared: list[str]):
    """Predictions restricted to the classes a corpus shares with RAVDESS: the arg-max over those
    columns only (the model's other classes cannot be scored against that corpus's labels)."""
    p = np.asarray(probabilities, float)
    keep = [classes.index(c) for c in shared]
    return np.array(shared)[p[:, keep].argmax(axis=1)]
