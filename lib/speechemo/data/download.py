"""Get RAVDESS: download (pooch: progress bar, retries, md5), verify, extract safely.

``acquire`` is what notebook 00 calls; it returns where the corpus is and what it is.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from speechemo.foundations import files
from speechemo.data.synthetic import generate_corpus

ZENODO_URL = "https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1"
ZIP_NAME = "Audio_Speech_Actors_01-24.zip"
ZIP_MD5 = "bc696df654c87fed845eb13823edef8a"
_DONE = ".extracted-from"


class DownloadError(RuntimeError):
    """The archive could not be fetched, verified or extracted (the message says how to fix it)."""


def is_synthetic_name(dataset: str) -> bool:
    """True when any part of a dataset name (``synthetic``, ``ravdess+synthetic-cremad``) is generated."""
    return any(k.strip().startswith("synthetic") for k in dataset.split("+"))


@dataclass(frozen=True)
class DatasetInfo:
    """Which corpus the workbook runs on: ``kind`` is ``ravdess``, ``cremad``, a generated stand-in
    (``synthetic``, ``synthetic-cremad``) or a ``+``-joined union whose ``parts`` hold each part's."""

    kind: str
    root: str
    source: str
    note: str = ""
    parts: list = field(default_factory=list)

    @property
    def is_synthetic(self) -> bool:
        """True when any part is generated (every result then says it is not real data)."""
        return is_synthetic_name(self.kind)

    def members(self) -> list["DatasetInfo"]:
        """The parts of a union, or this dataset alone."""
        return [DatasetInfo(**p) for p in self.parts] if self.parts else [self]

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: Path) -> None:
        files.write_text(path, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "DatasetInfo":
        if not Path(path).exists():
            raise FileNotFoundError(f"{path} is missing: run notebook 00_download first (make all)")
        return cls(**json.loads(Path(path).read_text()))


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def md5_of(path: Path) -> str:
    import pooch

    return pooch.file_hash(str(path), alg="md5")


def fetch(url: str, dest_dir: Path, md5: str | None, retries: int = 3,
          timeout: float = 60.0, progress: bool = True, fname: str = ZIP_NAME) -> Path:
    """Download ``url`` to ``dest_dir/fname`` with retries and md5 check (pooch).

    A file already there with the right md5 is not fetched again. The download goes to a
    temporary file that is moved into place only when its hash matches.
    """
    import pooch
    import requests

    registry = {fname: f"md5:{md5}" if md5 else None}
    store = pooch.create(path=str(dest_dir), base_url="", registry=registry,
                         urls={fname: url}, retry_if_failed=retries)
    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=timeout)
    try:
        return Path(store.fetch(fname, downloader=downloader))
    except ValueError as err:
        if "hash" in str(err).lower():
            raise DownloadError(
                f"{fname} from {url}: md5 does not match {md5} ({err}). Nothing was extracted. "
                "The download is corrupt or the file changed upstream: retry, or pass the right "
                "md5 (md5=None skips the check for an archive you re-packed yourself).") from None
        raise
    except requests.exceptions.RequestException as err:
        raise DownloadError(
            f"could not download {url} after {retries + 1} attempts: {err}. Check the network, or "
            "download the zip yourself and pass its path as source=...") from None


def _safe_members(zf: zipfile.ZipFile, archive: Path) -> list[zipfile.ZipInfo]:
    """All members, after refusing any that would land outside the target folder."""
    for info in zf.infolist():
        p = PurePosixPath(info.filename.replace("\\", "/"))
        if p.is_absolute() or ".." in p.parts or (p.parts and p.parts[0].endswith(":")):
            raise DownloadError(
                f"{archive}: member {info.filename!r} would be written outside the target folder; "
                "refusing to extract this archive (it is not the RAVDESS zip, or it was tampered with)")
    return zf.infolist()


def extract(archive: Path, target: Path, md5: str | None = None) -> Path:
    """Extract ``archive`` into ``target`` atomically (temp folder, then rename).

    Idempotent: a target extracted from an archive with the same md5 is left alone.
    """
    archive, target = Path(archive), Path(target)
    digest = md5_of(archive)
    if md5 and digest != md5:
        raise DownloadError(
            f"{archive}: md5 is {digest}, expected {md5}. Nothing was extracted. Re-download the "
            "archive, or pass md5=None if this is an archive you re-packed yourself.")
    done = target / _DONE
    if done.exists() and done.read_text().strip() == digest:
        return target
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise DownloadError(f"{archive} is not a valid zip archive: delete it and download again") from None
    with zf:
        members = _safe_members(zf, archive)
        with files.atomic_dir(target) as tmp:
            zf.extractall(tmp, members=members)
            (tmp / _DONE).write_text(digest + "\n")
    return target


def find_actor_root(folder: Path) -> Path:
    """The folder holding the ``Actor_XX`` directories (the folder itself or one level below)."""
    folder = Path(folder)
    for cand in (folder, *sorted(p for p in folder.iterdir() if p.is_dir())) if folder.is_dir() else ():
        if any(cand.glob("Actor_[0-9][0-9]")):
            return cand
    raise DownloadError(
        f"{folder}: no Actor_XX folders found. Expected the RAVDESS layout "
        "<folder>/Actor_01/03-01-01-01-01-01-01.wav ... (wav or flac)")


def count_audio(root: Path) -> int:
    return sum(1 for _ in root.glob("Actor_[0-9][0-9]/*.wav")) + sum(
        1 for _ in root.glob("Actor_[0-9][0-9]/*.flac"))


def acquire_ravdess(source: str, data_dir: Path, md5: str | None = ZIP_MD5,
                    progress: bool = True) -> DatasetInfo:
    """RAVDESS from a URL, a local zip or a local folder (used in place, never copied)."""
    raw = Path(data_dir) / "raw"
    if is_url(source):
        archive = fetch(source, raw, md5, progress=progress)
        root = find_actor_root(extract(archive, raw / "ravdess", md5))
    elif Path(source).is_file():
        root = find_actor_root(extract(Path(source), raw / "ravdess", md5))
    elif Path(source).is_dir():
        root = find_actor_root(Path(source))
    else:
        raise DownloadError(f"source {source!r} is neither a URL, nor a zip file, nor a folder")
    return DatasetInfo("ravdess", str(root.resolve()), source)


def acquire(dataset: str, source: str | None, data_dir: str | Path, md5: str | None = ZIP_MD5,
            synthetic_actors: int = 24, seed: int = 0, progress: bool = True) -> DatasetInfo:
    """Resolve ``dataset`` (``auto`` | ``ravdess`` | ``synthetic``) to a corpus on disk.

    ``auto``: ``source`` if it is a local zip or folder, else a complete copy already in
    ``data_dir/raw/ravdess``, else the download, else the synthetic corpus (with a note saying why).
    """

    data_dir = Path(data_dir)
    source = source or ZENODO_URL

    def synthetic(note: str) -> DatasetInfo:
        root = generate_corpus(data_dir / "synthetic", actors=synthetic_actors, seed=seed,
                               progress=progress)
        return DatasetInfo("synthetic", str(root.resolve()), "speechemo.data.synthetic", note)

    if dataset == "synthetic":
        return synthetic("synthetic corpus requested")
    if dataset == "ravdess":
        return acquire_ravdess(source, data_dir, md5, progress)
    if dataset != "auto":
        raise ValueError(f"dataset must be auto, ravdess or synthetic, not {dataset!r}")
    if not is_url(source) and Path(source).exists():
        return acquire_ravdess(source, data_dir, md5, progress)
    local = data_dir / "raw" / "ravdess"
    if local.is_dir():
        try:
            root = find_actor_root(local)
            if count_audio(root) >= 1440:
                return DatasetInfo("ravdess", str(root.resolve()), str(local))
        except DownloadError:
            pass
    try:
        return acquire_ravdess(source, data_dir, md5, progress)
    except Exception as err:  # noqa: BLE001 - any failure falls back, loudly
        return synthetic(f"RAVDESS could not be obtained ({type(err).__name__}: {err})")
