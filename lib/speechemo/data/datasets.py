"""What notebook 00 runs the workbook on: one training corpus or a ``+``-joined union of them
(``ravdess``, ``cremad``, ``ravdess+cremad``; ``synthetic`` and ``synthetic-cremad`` are the
project's generated stand-ins in each layout; ``auto`` falls back to them, loudly).

Each part is acquired on its own (``acquire_part``); the union's ``DatasetInfo`` lists the parts,
and its metadata table is the parts' tables one under the other with a ``corpus`` column (the
part's name, ``synthetic`` included) and a ``fold`` column (``speakers.fold_of``).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from speechemo.data import cremad, download, metadata
from speechemo.data.download import DatasetInfo, DownloadError
from speechemo.data.speakers import fold_of
from speechemo.data.synthetic import generate_cremad, pick_actors

#: dataset names a part can have, and the layout each is in
LAYOUT = {"ravdess": "ravdess", "synthetic": "ravdess", "cremad": "cremad", "synthetic-cremad": "cremad"}
COLUMNS = ["path", "file", "corpus", "actor", "gender", "emotion", "emotion_code", "intensity_code", "intensity",
           "statement", "repetition", "sentiment", "duration", "sample_rate", "channels", "md5", "fold"]


def parts_of(dataset: str) -> list[str]:
    """``ravdess+cremad`` -> ``["ravdess", "cremad"]`` (``auto`` means ``ravdess`` with its fallback)."""
    parts = [p.strip() for p in dataset.split("+") if p.strip()]
    unknown = [p for p in parts if p not in LAYOUT and p != "auto"]
    if not parts or unknown:
        raise ValueError(f"dataset {dataset!r}: each part must be one of auto, {', '.join(LAYOUT)} "
                         "(join several with +, e.g. ravdess+cremad)")
    return parts


def sources_for(parts: list[str], source: str | None) -> dict[str, str | None]:
    """The source of each part: ``ravdess=/a,cremad=/b`` names them; a plain value goes to the
    first part (RAVDESS's zip, URL or folder, as before unions existed)."""
    if not source:
        return {p: None for p in parts}
    if "=" in source.split(",")[0] and not download.is_url(source):
        given = dict(item.split("=", 1) for item in source.split(",") if item)
        wrong = set(given) - {LAYOUT.get(p, p) for p in parts} - set(parts)
        if wrong:
            raise ValueError(f"source names {sorted(wrong)}, which are not parts of the dataset {'+'.join(parts)}")
        return {p: given.get(p, given.get(LAYOUT.get(p, p))) for p in parts}
    return {p: (source if i == 0 else None) for i, p in enumerate(parts)}


def acquire_cremad(source: str | None, data_dir: Path, progress: bool = True) -> DatasetInfo:
    """CREMA-D from a folder (used in place), a zip (extracted under ``data/raw``), or the official
    distribution file by file (``cremad.download``, size + sha256 per file)."""
    raw = Path(data_dir) / "raw"
    if source and Path(source).is_dir():
        root = cremad.find_audio_root(Path(source))
    elif source and Path(source).is_file():
        root = cremad.find_audio_root(download.extract(Path(source), raw / "cremad", None))
    else:
        base = source if source and download.is_url(source) else cremad.MEDIA_URL
        root = cremad.download(raw / "cremad" / "AudioWAV", base_url=base, progress=progress)
    return DatasetInfo("cremad", str(root.resolve()), source or cremad.MEDIA_URL)


def acquire_part(part: str, source: str | None, data_dir: Path, md5: str | None, synthetic_actors: int,
                 seed: int, progress: bool) -> DatasetInfo:
    """One part of the dataset on disk (the generated stand-ins are written under ``data/``)."""

    data_dir = Path(data_dir)
    if part in ("auto", "ravdess", "synthetic"):
        return download.acquire(part, source, data_dir, md5=md5, synthetic_actors=synthetic_actors, seed=seed,
                                progress=progress)
    if part == "synthetic-cremad":
        root = generate_cremad(data_dir / "synthetic-cremad", actors=min(synthetic_actors, 91), seed=seed)
        return DatasetInfo("synthetic-cremad", str(root.resolve()), "speechemo.data.synthetic", "synthetic CREMA-D requested")
    return acquire_cremad(source, data_dir, progress)


def acquire(dataset: str, source: str | None, data_dir: str | Path, md5: str | None = download.ZIP_MD5,
            synthetic_actors: int = 24, seed: int = 0, progress: bool = True) -> DatasetInfo:
    """Every part of ``dataset`` on disk; one part returns its own ``DatasetInfo``, a union one
    whose ``kind`` joins the parts' kinds and whose ``parts`` hold each part's."""
    parts = parts_of(dataset)
    sources = sources_for(parts, source)
    infos = [acquire_part(p, sources[p], Path(data_dir), md5, synthetic_actors, seed, progress) for p in parts]
    if len(infos) == 1:
        return infos[0]
    kinds = [i.kind for i in infos]
    if len(set(kinds)) < len(kinds):
        raise ValueError(f"dataset {dataset!r} holds {kinds}: a corpus twice")
    notes = "; ".join(f"{i.kind}: {i.note}" for i in infos if i.note)
    return DatasetInfo("+".join(kinds), "", "+".join(i.source for i in infos), notes,
                       parts=[i.to_dict() for i in infos])


def part_metadata(info: DatasetInfo, synthetic_actors: int = 24, progress: bool = True) -> tuple[pd.DataFrame, object]:
    """The metadata table (workbook columns, ``corpus`` and ``fold`` filled) and integrity report
    of one part."""

    if LAYOUT[info.kind] == "cremad":
        table, report = cremad.build_metadata(info.root, progress=progress)
    else:
        expected = pick_actors(synthetic_actors) if info.is_synthetic else None
        table, report = metadata.build_metadata(info.root, expected_actors=expected, progress=progress)
        table = table.assign(fold=[fold_of(a) for a in table["actor"]])
    table = table.assign(corpus=info.kind)
    return table.reindex(columns=COLUMNS), report


def build_metadata(info: DatasetInfo, synthetic_actors: int = 24,
                   progress: bool = True) -> tuple[pd.DataFrame, dict[str, object]]:
    """The dataset's metadata table (the parts one under the other) and each part's report."""
    tables, reports = [], {}
    for part in info.members():
        table, reports[part.kind] = part_metadata(part, synthetic_actors, progress)
        tables.append(table)
    return pd.concat(tables, ignore_index=True), reports


def subset(meta: pd.DataFrame, corpora: list[str] | None) -> pd.DataFrame:
    """The rows of the named corpora (all rows when ``corpora`` is empty)."""
    if not corpora:
        return meta
    missing = set(corpora) - set(meta["corpus"])
    if missing:
        raise DownloadError(f"the dataset holds no {sorted(missing)} clips (it has {sorted(set(meta['corpus']))}); "
                            "re-run notebook 00 with that corpus in DATASET")
    return meta[meta["corpus"].isin(corpora)]
