"""CREMA-D as a training corpus (Cao et al. 2014; ODbL 1.0 / DbCL 1.0): demographics, the
workbook's speaker folds, the metadata table with its integrity report, and acquisition from the
official distribution (each file checked against the size and sha256 of the official repository's
Git LFS pointers, shipped as ``corpus_files/cremad/manifest.csv.gz``), a zip or a folder.

Naming: ``1001_DFA_ANG_XX.wav`` = actor (1001-1091), sentence, emotion (ANG, DIS, FEA, HAP, NEU,
SAD), level (LO, MD, HI; XX unspecified; one file of the distribution is named with ``X``).
Gender and age come from ``VideoDemographics.csv`` (shipped beside the manifest), never from the name.

Folds: six actor folds balanced by gender and age (``build_folds``; written to
``corpus_files/cremad/folds.csv``). EmoBox's CREMA-D partition is a single random split with every
actor on both sides, so it is not a speaker-independent reference.
"""
from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from speechemo.foundations.files import atomic_path
from speechemo.foundations.labels import SENTIMENT_OF, CorpusNameError
from speechemo.data.metadata import decode_once, digital_silence

FILES = Path(__file__).parent / "corpus_files" / "cremad"
MEDIA_URL = "https://media.githubusercontent.com/media/CheyneyComputerScience/CREMA-D/master/AudioWAV/"
LICENCE = "CREMA-D (Cao et al. 2014): Open Database License 1.0 / Database Contents License 1.0"
N_FOLDS = 6
EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified", "X": "unspecified"}
NAME_RE = re.compile(r"(\d{4})_([A-Z]{3})_([A-Z]{3})_(LO|MD|HI|XX|X)")


@dataclass(frozen=True)
class Clip:
    """The four fields of a CREMA-D file name, the emotion in the workbook's names."""

    actor: int        # 1001-1091; gender and age are in the demographics, not the name
    sentence: str     # three-letter code (DFA, IEO, ...)
    emotion: str
    level: str        # low, medium, high or unspecified


def parse_name(name: str) -> Clip:
    """The fields of a CREMA-D file name (``1001_DFA_ANG_XX.wav``; level ``X`` accepted)."""
    m = NAME_RE.fullmatch(Path(name).stem)
    if not m or m.group(3) not in EMOTIONS:
        raise CorpusNameError(f"{name}: not a CREMA-D name like 1001_DFA_ANG_XX.wav")
    return Clip(int(m.group(1)), m.group(2), EMOTIONS[m.group(3)], LEVELS[m.group(4)])


def demographics(path: Path | None = None) -> pd.DataFrame:
    """``VideoDemographics.csv`` (ActorID, Age, Sex, Race, Ethnicity); the shipped copy by default."""
    d = pd.read_csv(path or FILES / "VideoDemographics.csv")
    return d.assign(gender=d["Sex"].str.lower())


def build_folds(demo: pd.DataFrame, n_folds: int = N_FOLDS) -> pd.DataFrame:
    """Actor -> fold, balanced by gender and age: within each gender, actors sorted by age (then
    id) are dealt to the folds in a snake order (1..6, 6..1, ...), women first, then men, the men's
    deal continuing where the women's stopped so that fold sizes differ by at most one."""
    rows, k = [], 0
    for gender in ("female", "male"):
        g = demo[demo.gender == gender].sort_values(["Age", "ActorID"])
        for actor, age in zip(g.ActorID, g.Age):
            lap, pos = divmod(k, n_folds)
            rows.append({"actor": int(actor), "fold": (pos if lap % 2 == 0 else n_folds - 1 - pos) + 1,
                         "gender": gender, "age": int(age)})
            k += 1
    return pd.DataFrame(rows).sort_values("actor", ignore_index=True)


def folds() -> pd.DataFrame:
    """The shipped fold table (``corpus_files/cremad/folds.csv``: actor, fold, gender, age)."""
    return pd.read_csv(FILES / "folds.csv")


def manifest() -> pd.DataFrame:
    """file, bytes, sha256 of the 7,442 WAV files of the official distribution."""
    with gzip.open(FILES / "manifest.csv.gz", "rt") as f:
        return pd.read_csv(f)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(folder: Path, expected: pd.DataFrame | None = None, progress: bool = True) -> list[str]:
    """Compare a folder of CREMA-D WAVs with the manifest: every missing, wrong-sized or
    wrong-content file named. A file whose content matches an entry under another name (the
    distribution's ``1040_ITH_SAD_X.wav``) is reported as renamed, not as wrong."""
    from tqdm import tqdm

    expected = manifest() if expected is None else expected
    by_sha = dict(zip(expected.sha256, expected.file))
    present = {p.name: p for p in Path(folder).glob("*.wav")}
    problems, matched = [], set()
    for name, path in tqdm(sorted(present.items()), desc="checking sha256", disable=not progress):
        digest = sha256_of(path)
        if digest in by_sha:
            matched.add(by_sha[digest])
            if by_sha[digest] != name:
                problems.append(f"renamed (content of {by_sha[digest]}, kept): {name}")
        elif name in set(expected.file):
            problems.append(f"content differs from the official file (re-download it): {name}")
        else:
            problems.append(f"not in the official distribution: {name}")
    problems += [f"missing: {f}" for f in expected.file if f not in matched]
    return problems


def download(dest: Path, base_url: str = MEDIA_URL, expected: pd.DataFrame | None = None,
             progress: bool = True, timeout: float = 60.0) -> Path:
    """Fetch every file of the manifest into ``dest`` (``AudioWAV``): each is written to a temporary
    name and moved into place only when its size and sha256 match; files already there and right
    are not fetched again. Raises naming every file that could not be had."""
    import requests
    from tqdm import tqdm

    from speechemo.data.download import DownloadError  # deferred: download imports synthetic, which imports this module

    expected = manifest() if expected is None else expected
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    failed = []
    with requests.Session() as http:
        for r in tqdm(list(expected.itertuples()), desc="CREMA-D files", disable=not progress):
            target = dest / r.file
            if target.exists() and target.stat().st_size == r.bytes and sha256_of(target) == r.sha256:
                continue
            try:
                with atomic_path(target) as tmp:  # appears only once verified
                    resp = http.get(base_url + r.file, timeout=timeout)
                    resp.raise_for_status()
                    tmp.write_bytes(resp.content)
                    if tmp.stat().st_size != r.bytes or sha256_of(tmp) != r.sha256:
                        raise DownloadError("size or sha256 differs from the official pointer")
            except (requests.exceptions.RequestException, DownloadError) as err:
                failed.append(f"{r.file}: {err}")
    if failed:
        raise DownloadError(f"{len(failed)} CREMA-D files could not be downloaded into {dest} "
                            f"(first: {failed[0]}); run again to resume, or pass a folder you have "
                            "as source (cremad=/path/to/AudioWAV)")
    return dest


def find_audio_root(folder: Path) -> Path:
    """The folder holding the CREMA-D WAVs: ``folder`` itself or its ``AudioWAV`` below."""
    folder = Path(folder)
    for cand in (folder, folder / "AudioWAV", *sorted(folder.glob("*/AudioWAV"))):
        if cand.is_dir() and any(cand.glob("1[0-9][0-9][0-9]_*.wav")):
            return cand
    from speechemo.data.download import DownloadError  # deferred: download imports synthetic, which imports this module

    raise DownloadError(f"{folder}: no CREMA-D files (1001_DFA_ANG_XX.wav ...) in it or in an AudioWAV "
                        "folder below it; point the cremad source at the AudioWAV folder")


@dataclass
class CremadReport:
    """What the folder holds; every file left out is named with the reason."""

    n_files: int
    used: int = 0
    misnamed: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)
    no_demographics: list[str] = field(default_factory=list)
    other_rate: list[str] = field(default_factory=list)
    odd_level: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"cremad: {self.n_files} audio files, {self.used} used"]
        for title, items in (("misnamed (left out)", self.misnamed), ("unreadable (left out)", self.unreadable),
                             ("digital silence (left out)", self.silent),
                             ("actor not in VideoDemographics.csv (left out: no gender, no fold)", self.no_demographics),
                             ("level written X instead of XX (read as unspecified)", self.odd_level),
                             ("sample rate other than 16 kHz (kept, resampled)", self.other_rate)):
            out.append(f"{title}: {len(items)}" + "".join(f"\n    {x}" for x in items[:20])
                       + (f"\n    ... and {len(items) - 20} more" if len(items) > 20 else ""))
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def build_metadata(root: str | Path, progress: bool = True) -> tuple[pd.DataFrame, CremadReport]:
    """The metadata table of a CREMA-D folder in the workbook's columns (``file`` is
    ``cremad/<name>``, ``actor`` the CREMA-D id, ``statement`` the sentence code, ``intensity`` the
    level, ``fold`` the workbook's fold) and its integrity report."""
    from tqdm import tqdm

    root = find_audio_root(Path(root))
    demo = demographics(next(iter(sorted(root.parent.glob("VideoDemographics.csv"))), None))
    gender_of = dict(zip(demo.ActorID.astype(int), demo.gender))
    fold_of = dict(zip(folds().actor, folds().fold))
    files = sorted(p for p in root.glob("*.wav"))
    report, rows = CremadReport(len(files)), []
    for path in tqdm(files, desc="reading CREMA-D", disable=not progress):
        try:
            clip = parse_name(path.name)
        except CorpusNameError as err:
            report.misnamed.append(str(err))
            continue
        if clip.actor not in gender_of or clip.actor not in fold_of:
            report.no_demographics.append(path.name)
            continue
        try:
            y, sr, md5 = decode_once(path, dtype="int16")  # read once: decoded and hashed
        except Exception as err:  # noqa: BLE001 - reported by name
            report.unreadable.append(f"{path.name}: cannot decode ({err}); re-copy or re-download it")
            continue
        if digital_silence(y):
            report.silent.append(f"{path.name}: {len(y) / sr:.1f} s of digital silence")
            continue
        if path.stem.endswith("_X"):
            report.odd_level.append(path.name)
        if sr != 16_000:
            report.other_rate.append(f"{path.name}: {sr} Hz")
        rows.append({"path": str(path.resolve()), "file": f"cremad/{path.name}", "corpus": "cremad",
                     "actor": clip.actor, "gender": gender_of[clip.actor], "emotion": clip.emotion,
                     "intensity": clip.level, "statement": clip.sentence, "sentiment": SENTIMENT_OF[clip.emotion],
                     "duration": len(y) / sr, "sample_rate": sr, "channels": y.shape[1], "md5": md5,
                     "fold": int(fold_of[clip.actor])})
    report.used = len(rows)
    return pd.DataFrame(rows), report
