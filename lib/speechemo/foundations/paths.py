"""Where things live: the project root, data and outputs folders."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def project_root(start: str | Path | None = None) -> Path:
    """The folder holding ``pyproject.toml`` above ``start`` (default: the working directory).

    ``SPEECHEMO_ROOT`` overrides the search (useful when a notebook is copied elsewhere).
    """
    if os.environ.get("SPEECHEMO_ROOT"):
        return Path(os.environ["SPEECHEMO_ROOT"]).resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").exists() and (folder / "notebooks").is_dir():
            return folder
    raise FileNotFoundError(
        f"no workbook root (a folder with pyproject.toml and notebooks/) above {here}; "
        "run from inside the project or set SPEECHEMO_ROOT")


class Under:
    """A place under another attribute of the layout: ``Under("outputs", "figures")`` is
    ``layout.outputs / "figures"`` (one line per place, read when asked)."""

    def __init__(self, base: str, relative: str):
        self.base, self.relative = base, relative

    def __get__(self, lay: "Layout", owner: type | None = None) -> Path:
        return getattr(lay, self.base) / self.relative


@dataclass(frozen=True)
class Layout:
    """The folders a notebook reads and writes, resolved against the project root."""

    root: Path
    data: Path
    outputs: Path

    features = Under("data", "features")           # the feature cache, one file per clip and set
    metadata_csv = Under("data", "metadata.csv")
    dataset_json = Under("data", "dataset.json")   # which corpus (or union) notebook 00 prepared
    figures = Under("outputs", "figures")
    results = Under("outputs", "results")
    summary_csv = Under("outputs", "results/summary.csv")
    runs = Under("outputs", "results/runs")        # one record per notebook run (parameters, profile)
    scaling_csv = Under("outputs", "results/scaling.csv")            # python -m speechemo.workbook.scaling
    scaling_plan_csv = Under("outputs", "results/scaling_plan.csv")  # its plan on paper
    deploy = Under("outputs", "deploy")            # the exported bundle


def from_root(path: str | Path) -> Path:
    """A path as the workbook reads it: absolute as given, relative to the project root otherwise
    (notebooks run in another folder, and a path must mean the same on every machine)."""
    return (project_root() / Path(path).expanduser()).resolve()


def portable(path: str | Path) -> str:
    """The form of ``path`` (relative to this folder) to hand to a notebook: relative to the project
    root when inside it (the same text on every machine), absolute otherwise."""
    full, root = Path(path).expanduser().resolve(), project_root()
    return str(full.relative_to(root)) if full.is_relative_to(root) else str(full)


def layout(data_dir: str = "data", outputs_dir: str = "outputs") -> Layout:
    """Resolve ``data_dir`` and ``outputs_dir`` (relative to the root unless absolute)."""
    root = project_root()
    lay = Layout(root, (root / data_dir).resolve(), (root / outputs_dir).resolve())
    for p in (lay.data, lay.outputs, lay.figures, lay.results):
        p.mkdir(parents=True, exist_ok=True)
    return lay
