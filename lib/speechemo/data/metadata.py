"""The metadata table (one row per utterance) and the integrity report of a corpus folder."""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from speechemo.foundations import files
from speechemo.foundations.labels import CorpusNameError
from speechemo.data.ravdess import (ALL_ACTORS, FILES_PER_ACTOR, actor_utterances,
    format_name, parse_name)

COLUMNS = ["path", "file", "actor", "gender", "emotion_code", "emotion", "intensity_code",
           "intensity", "statement", "repetition", "sentiment", "duration", "sample_rate",
           "channels", "md5"]
AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass
class IntegrityReport:
    """What a corpus folder holds compared with what RAVDESS should hold."""

    n_files: int
    actors: list[int]
    expected_actors: list[int]
    per_actor: dict[int, int]
    missing: list[str] = field(default_factory=list)
    misnamed: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    stereo: list[str] = field(default_factory=list)
    unexpected_rate: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    main_rate: int | None = None

    @property
    def complete(self) -> bool:
        return (not self.missing and set(self.actors) >= set(self.expected_actors)
                and all(self.per_actor.get(a) == FILES_PER_ACTOR for a in self.expected_actors))

    def lines(self) -> list[str]:
        """A human-readable report; every problem file is named."""
        out = [f"{self.n_files} audio files, {len(self.actors)} actors "
               f"(expected {len(self.expected_actors)} x {FILES_PER_ACTOR} = "
               f"{len(self.expected_actors) * FILES_PER_ACTOR}); main sample rate {self.main_rate} Hz"]
        short = {a: n for a, n in self.per_actor.items() if n != FILES_PER_ACTOR}
        out.append("every actor has 60 files" if not short else f"actors without 60 files: {short}")
        whole = sorted({m.split("/")[0] for m in self.missing
                        if sum(x.startswith(m.split("/")[0] + "/") for x in self.missing) == FILES_PER_ACTOR})
        if whole:
            out.append(f"actors entirely missing: {len(whole)} ({', '.join(whole)})")
        partial = [m for m in self.missing if m.split("/")[0] not in whole]
        for title, items in (("missing files (of actors present)", partial), ("misnamed (not in the table)", self.misnamed),
                             ("unreadable (not in the table)", self.unreadable),
                             ("stereo (kept; the front end downmixes)", self.stereo),
                             (f"sample rate other than {self.main_rate} Hz", self.unexpected_rate)):
            shown = items[:40]
            more = f"\n    ... and {len(items) - 40} more" if len(items) > 40 else ""
            out.append(f"{title}: {len(items)}" + "".join(f"\n    {x}" for x in shown) + more)
        out.append(f"byte-identical pairs: {len(self.duplicates)}"
                   + "".join(f"\n    {a} == {b}" for a, b in self.duplicates))
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def file_md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def decode_once(path: Path, dtype: str = "float32") -> tuple[np.ndarray, int, str]:
    """An audio file read from disk once: its samples (frames x channels), sample rate and md5. A file
    that cannot be decoded raises an error naming it (not the in-memory copy) with the decoder's reason."""
    raw = Path(path).read_bytes()
    try:
        samples, rate = sf.read(io.BytesIO(raw), dtype=dtype, always_2d=True)
    except Exception as err:  # noqa: BLE001 - re-raised with the file's name
        reason = str(err).split(": ", 1)[-1]  # libsndfile's words after "Error opening <object>: "
        raise RuntimeError(f"Error opening {str(path)!r}: {reason}") from err
    return samples, rate, hashlib.md5(raw).hexdigest()


def digital_silence(samples: np.ndarray) -> bool:
    """Whether decoded audio holds no sample other than zero (e.g. CREMA-D's 1076_MTI_SAD_XX.wav):
    nothing a model could judge, so readers leave such a file out and name it."""
    return len(samples) == 0 or not np.any(samples)


def audio_header(path: Path):
    """soundfile's header of an audio file; raises if it cannot be read or holds no audio."""
    info = sf.info(str(path))
    if info.frames == 0:
        raise RuntimeError("no audio frames")
    return info


def build_metadata(root: str | Path, expected_actors: list[int] | None = None,
                   progress: bool = True) -> tuple[pd.DataFrame, IntegrityReport]:
    """Scan ``root/Actor_XX/*`` and return the metadata table and the integrity report.

    Files whose name is not a RAVDESS name, or that cannot be read, are left out of the table
    and named in the report; nothing is dropped silently.
    """
    from tqdm import tqdm

    root = Path(root)
    files = sorted(p for p in root.glob("Actor_*/*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise FileNotFoundError(
            f"{root}: no .wav or .flac files under Actor_XX/ folders. Expected the RAVDESS layout "
            "Actor_01/03-01-01-01-01-01-01.wav; point `source` at the folder that holds Actor_01..24")
    rows, misnamed, unreadable = [], [], []
    for path in tqdm(files, desc="reading headers", disable=not progress):
        rel = f"{path.parent.name}/{path.name}"
        try:
            u = parse_name(path.name)
        except CorpusNameError as err:
            misnamed.append(f"{rel}: {err}")
            continue
        if path.parent.name != f"Actor_{u.actor:02d}":
            misnamed.append(f"{rel}: actor {u.actor:02d} in the name but stored in {path.parent.name}")
            continue
        try:
            info = audio_header(path)
        except Exception as err:  # noqa: BLE001 - reported by name
            unreadable.append(f"{rel}: {err}")
            continue
        rows.append({
            "path": str(path.resolve()), "file": rel, "actor": u.actor, "gender": u.gender,
            "emotion_code": u.emotion_code, "emotion": u.emotion, "intensity_code": u.intensity_code,
            "intensity": u.intensity, "statement": u.statement, "repetition": u.repetition,
            "sentiment": u.sentiment, "duration": info.frames / info.samplerate,
            "sample_rate": info.samplerate, "channels": info.channels, "md5": file_md5(path),
        })
    table = pd.DataFrame(rows, columns=COLUMNS).sort_values("file", ignore_index=True)
    actors = sorted(table["actor"].unique().tolist())
    expected = expected_actors if expected_actors is not None else list(ALL_ACTORS)
    present = {(r.actor, Path(r.file).stem) for r in table.itertuples()}
    missing = [f"Actor_{a:02d}/{Path(format_name(u)).stem}" for a in expected
               for u in actor_utterances(a) if (a, Path(format_name(u)).stem) not in present]
    main_rate = int(table["sample_rate"].mode().iloc[0]) if len(table) else None
    dup = table[table.duplicated("md5", keep=False)].groupby("md5")["file"].apply(list)
    report = IntegrityReport(
        n_files=len(files), actors=actors, expected_actors=list(expected),
        per_actor={int(a): int(n) for a, n in table.groupby("actor").size().items()},
        missing=missing, misnamed=misnamed, unreadable=unreadable,
        stereo=table.loc[table["channels"] > 1, "file"].tolist(),
        unexpected_rate=[f"{r.file}: {r.sample_rate} Hz" for r in table.itertuples()
                         if r.sample_rate != main_rate],
        duplicates=[(g[0], other) for g in dup for other in g[1:]],
        main_rate=main_rate,
    )
    return table, report


def save_table(table: pd.DataFrame, path: Path) -> None:
    """Write a CSV atomically (never half-written)."""
    files.write_csv(table, path)


def load_table(path: Path) -> pd.DataFrame:
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} is missing: run notebook 00_download first (make all)")
    return pd.read_csv(path)
