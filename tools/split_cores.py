"""Run commands side by side, each on its own share of this machine's cores.

``make test`` runs two jobs: nbval on the notebooks (the long one) and the unit + browser tests.
Left to the scheduler, both jobs size their thread pools for every core (TensorFlow, BLAS, the
loky workers), so on a 2-core machine four pools fight over two cores. Pinned to disjoint cores,
each job's thread budget (``speechemo.foundations.executor.cores`` reads the affinity) matches
what it has; the split is ``executor.core_shares``. Each command's output is printed in one piece
when it ends (like make's ``--output-sync``); the exit status is the first failure's, or 0.

    python tools/split_cores.py -- "make test-notebooks" "make test-unit-browser"
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time

from speechemo.foundations.executor import core_shares, cpu_set


def run(commands: list[str]) -> int:
    """Start every command (a shell command line) on its share of the cores, wait for all,
    print each one's output in one piece; the first non-zero status, or 0."""
    cpus = cpu_set()
    plan = core_shares(cpus, len(commands)) if cpus else [None] * len(commands)
    procs = []
    for cmd, share in zip(commands, plan):
        log = tempfile.TemporaryFile(mode="w+")
        pin = (lambda s=share: os.sched_setaffinity(0, s)) if share else None
        procs.append((cmd, share, log, time.perf_counter(),
                      subprocess.Popen(cmd, shell=True, stdout=log, stderr=subprocess.STDOUT, preexec_fn=pin)))
    status = 0
    for cmd, share, log, start, proc in procs:
        rc = proc.wait()
        log.seek(0)
        sys.stdout.write(log.read())
        where = f"cores {','.join(map(str, share))}" if share else "all cores"
        print(f"[split_cores] {cmd!r} on {where}: exit {rc} after {time.perf_counter() - start:.0f} s", flush=True)
        status = status or rc
    return status


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1:]
    if not argv:
        print(f"usage: python {sys.argv[0]} -- 'command one' 'command two' ...", file=sys.stderr)
        return 2
    print("[split_cores] running side by side: " + "; ".join(shlex.quote(c) for c in argv), flush=True)
    return run(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
