"""Where a notebook's time goes: run one notebook's cells in this process under cProfile.

The recipe behind the stage times of the README (issue 51): papermill runs each notebook in a
Jupyter kernel, where a profiler cannot reach; this tool gives the notebook the same parameters
papermill would (its ``parameters`` cell, then the injected values), runs its code cells one after
the other in this process under ``cProfile``, and prints

* each cell's wall time (which cell to look at), and
* the functions of the ``speechemo`` package with the most cumulative time (which stage of it),
  then the heaviest functions anywhere (decoders, solvers, TensorFlow).

Worker processes (``n_jobs`` > 1, Dask) are not profiled: give ``-p n_jobs 1`` to see their work
in the profile (the times then add up as on one core). Profiles are not committed: ``--out``
writes the raw ``pstats`` file (open it with ``python -m pstats`` or snakeviz) wherever you like.
Name the machine's kind beside any time you quote (``grep -o avx512f /proc/cpuinfo``).

    .venv/bin/python tools/profile_notebook.py notebooks/03_classical_baselines.ipynb \\
        -p profile quick -p data_dir data/test-run -p outputs_dir outputs/test-run -p n_jobs 1
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path


def parameterised_cells(notebook: Path, params: dict[str, object]) -> list[str]:
    """The notebook's code cells as papermill would run them: the injected parameters right after
    the cell tagged ``parameters``."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = parameterize_notebook(load_notebook_node(str(notebook)), params)
    return ["".join(c.source) for c in nb.cells if c.cell_type == "code"]


def value(text: str) -> object:
    """A ``-p NAME VALUE`` value: JSON when it parses (numbers, lists, null), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def run_cells(cells: list[str], workdir: Path, profiler: cProfile.Profile) -> list[tuple[int, float, str]]:
    """Execute ``cells`` in one namespace in ``workdir`` (as papermill's kernel does), profiled;
    returns ``(cell number, seconds, first line)`` of each."""
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict[str, object] = {"__name__": "__main__"}
    times, here = [], Path.cwd()
    os.chdir(workdir)
    try:
        for i, source in enumerate(cells, 1):
            code = compile(source, f"<cell {i}>", "exec")
            t0 = time.perf_counter()
            profiler.enable()
            try:
                exec(code, namespace)  # the notebook's own code, as its kernel would run it
            finally:
                profiler.disable()
            first = next((line for line in source.splitlines() if line.strip() and not line.startswith("#")), "")
            times.append((i, time.perf_counter() - t0, first[:80]))
    finally:
        os.chdir(here)
    return times


def top(profiler: cProfile.Profile, pattern: str, n: int) -> str:
    """The ``n`` functions matching ``pattern`` with the most cumulative time, as pstats prints them."""
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(pattern, n)
    return "\n".join(line for line in out.getvalue().splitlines() if line.strip())


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebook", type=Path)
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="a parameter, as papermill's -p (JSON values: numbers, lists, null)")
    ap.add_argument("--top", type=int, default=25, help="functions listed per table")
    ap.add_argument("--out", type=Path, default=None, help="write the pstats file here")
    a = ap.parse_args(argv)
    if not a.notebook.is_file():
        ap.error(f"{a.notebook}: no such notebook (give a path such as notebooks/03_classical_baselines.ipynb)")
    params = {k: value(v) for k, v in a.p}
    root = a.notebook.resolve().parent.parent
    workdir = root / str(params.get("outputs_dir", "outputs")) / "notebooks"
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TQDM_DISABLE", "1")
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    times = run_cells(parameterised_cells(a.notebook, params), workdir, profiler)
    total = time.perf_counter() - t0
    print(f"\n{a.notebook.name}: {total:.1f} s in all, {params or 'default parameters'}")
    print("\ncell  seconds  share  first line")
    for i, sec, first in sorted(times, key=lambda t: -t[1]):
        print(f"{i:>4}  {sec:7.1f}  {sec / total:5.0%}  {first}")
    print("\n== the workbook's functions (cumulative) ==")
    print(top(profiler, "speechemo", a.top))
    print("\n== everything (cumulative) ==")
    print(top(profiler, "", a.top))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(a.out)
        print(f"\npstats written to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
