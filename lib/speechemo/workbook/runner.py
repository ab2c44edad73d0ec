"""Run the workbook's notebooks in order with papermill (what ``make all`` calls).

Each notebook gets only the parameters its ``parameters`` cell declares; the executed copy
goes to ``<outputs>/notebooks/``. A failing notebook stops the run and its failing cell is shown.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from speechemo.data.datasets import parts_of
from speechemo.data.download import is_url
from speechemo.foundations.paths import portable, project_root
from speechemo.foundations.profiles import get as get_profile
from speechemo.data.synthetic import write_corpus_layout


def notebooks(root: Path, only: str | None = None) -> list[Path]:
    """The numbered notebooks of ``notebooks/`` in order (``only``: a name prefix, e.g. ``03``)."""
    found = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [nb for nb in found if nb.name.startswith(only)]
        if not found:
            raise SystemExit(f"no notebook in notebooks/ starts with {only!r}")
    return found


def run(params: dict[str, object], outputs_dir: str, only: str | None = None) -> None:
    """Execute the notebooks with papermill, passing each the parameters it declares."""
    import os

    import papermill as pm

    # progress bars in executed notebooks: a line every 10 s rather than dozens per second
    os.environ.setdefault("TQDM_MININTERVAL", "10")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

    root = project_root()
    out_dir = (root / outputs_dir / "notebooks").resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for nb in notebooks(root, only):
        declared = pm.inspect_notebook(str(nb))
        if "corpus" in declared and not params.get("corpus"):
            print(f"\n=== {nb.name}  skipped: it needs another corpus; run it with "
                  "make notebook NB=08 CORPUS=emodb|tess|cremad|savee|csv CORPUS_DIR=/path/to/corpus", flush=True)
            continue
        given = {**get_profile(str(params.get("profile") or "full")).parameters_for(nb.stem, declared),
                 **{k: v for k, v in params.items() if k in declared and v is not None}}
        target = out_dir / nb.name
        print(f"\n=== {nb.name}  {given}", flush=True)
        start = time.time()
        try:
            pm.execute_notebook(str(nb), str(target), parameters=given, cwd=str(out_dir),
                                kernel_name="python3", progress_bar=False, log_output=False)
        except pm.PapermillExecutionError as err:
            print(f"\nFAILED: {nb.name}, cell {err.exec_count}: {err.ename}: {err.evalue}\n"
                  f"{''.join(err.traceback[-3:]) if err.traceback else ''}\n"
                  f"The executed notebook with the failing cell: {target}", file=sys.stderr)
            raise SystemExit(1) from None
        shown = target.relative_to(root) if target.is_relative_to(root) else target
        print(f"    done in {time.time() - start:.0f} s -> {shown}", flush=True)


def absolute_sources(source: str | None) -> str | None:
    """Local paths in ``source`` (one path, or ``ravdess=PATH,cremad=PATH``) made absolute here, in
    the folder ``make`` runs in (the notebooks run in ``outputs/notebooks``); URLs unchanged."""

    def fix(path: str) -> str:
        return path if not path or is_url(path) else str(Path(path).expanduser().resolve())

    if not source:
        return source
    if "=" in source.split(",")[0] and not is_url(source):
        return ",".join(f"{name}={fix(path)}" for name, path in (item.split("=", 1) for item in source.split(",") if item))
    return fix(source)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", default="auto",
                    help="auto, ravdess, cremad, synthetic, synthetic-cremad, or several joined with + (ravdess+cremad)")
    ap.add_argument("--source", default=None,
                    help="RAVDESS: Zenodo URL, local zip or folder of Actor_XX; several corpora: ravdess=PATH,cremad=PATH")
    ap.add_argument("--profile", default="full", choices=["full", "quick"])
    ap.add_argument("--actors", type=int, default=None, help="number of synthetic actors")
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--outputs-dir", default="outputs")
    ap.add_argument("--only", default=None, help="run only the notebook whose name starts with this")
    ap.add_argument("--scheduler", default=None,
                    help="'' local processes, 'local:N' a Dask LocalCluster, 'tcp://host:8786' a cluster")
    ap.add_argument("--corpus", default=None, help="cross-corpus notebook: emodb, tess, cremad, savee or csv")
    ap.add_argument("--corpus-dir", default=None, help="the corpus folder as distributed (csv: the list file)")
    ap.add_argument("--synthetic-corpus", action="store_true",
                    help="write a small synthetic corpus in the --corpus layout into --corpus-dir first (tests)")
    ap.add_argument("--prepare", action="store_true",
                    help="only write what the notebooks need before they run (the synthetic corpus), run none")
    a = ap.parse_args(argv)

    try:
        parts_of(a.dataset)
    except ValueError as err:
        ap.error(str(err))
    if a.corpus and a.corpus_dir and a.synthetic_corpus:

        if not Path(a.corpus_dir).exists():
            write_corpus_layout(a.corpus, a.corpus_dir)
    if bool(a.corpus) != bool(a.corpus_dir):
        raise SystemExit("give both --corpus and --corpus-dir (make ... CORPUS=emodb CORPUS_DIR=/path/to/emodb)")
    if a.prepare:
        return
    params = {"dataset": a.dataset, "source": absolute_sources(a.source), "profile": a.profile,
              "synthetic_actors": a.actors, "data_dir": a.data_dir, "outputs_dir": a.outputs_dir,
              "scheduler": a.scheduler, "corpus": a.corpus,
              "corpus_dir": portable(a.corpus_dir) if a.corpus_dir else None}
    run(params, a.outputs_dir, a.only)


if __name__ == "__main__":
    main()
