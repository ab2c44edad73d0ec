"""What makes a run repeatable and traceable: seeds for every random source, and the commit (with
a dirty flag) that result rows are stamped with."""
from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np


def seed_everything(seed: int, tensorflow: bool = True) -> None:
    """Seed Python, NumPy and (when imported and ``tensorflow``) TensorFlow, with op determinism.

    Seeding TensorFlow clears its kernel cache, so every traced function is instantiated again
    on its next call (about a second per function and input shape on a 2-core machine): seed it
    once before building a model, not before every fold that reuses the model."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if tensorflow and "tensorflow" in sys.modules:  # never import TensorFlow just to seed it
        import tensorflow as tf

        tf.keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()


#: the packages whose versions a run records (what its numbers depend on)
RECORDED_PACKAGES = ("numpy", "scipy", "pandas", "scikit-learn", "xgboost", "tensorflow-cpu", "tensorflow", "keras",
                     "librosa", "soundfile", "soxr", "opensmile", "papermill", "dask", "distributed")


def package_versions(names: tuple[str, ...] = RECORDED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (those not installed are left out)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def git_commit(root: Path | None = None) -> str:
    """The short commit of the checkout this code runs from (default: the one holding this package,
    whatever the working directory -- a run may write its outputs outside the project), ``+dirty``
    when tracked files differ from it (``unknown`` outside a git checkout)."""
    where = root or Path(__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        if not commit:
            return "unknown"
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


#: the CPU's vector extensions, widest first: the same code runs about 3x faster with AVX-512 than
#: with AVX2 alone (a RAVDESS ``make all``: 27 against 86 min), so every time names the kind
VECTOR_FLAGS = ("avx512f", "avx2", "avx", "sse4_2")


def vector_extension(cpuinfo: str) -> str:
    """The widest of ``VECTOR_FLAGS`` in a ``/proc/cpuinfo`` text ('' where it lists none)."""
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return next((f for f in VECTOR_FLAGS if f in flags), "")


def machine() -> dict[str, object]:
    """What a run's times depend on: the CPU model and its widest vector extension (AVX-512 or not),
    the cores this process may use, the memory, and the boot id (two runs with the same boot id ran
    on one machine with no reboot between them; empty where the system does not tell)."""
    import platform

    def read(path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    cpuinfo = read("/proc/cpuinfo")
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (AttributeError, ValueError, OSError):
        memory = None
    return {"cpu": cpu, "vector": vector_extension(cpuinfo), "cores": cores, "memory_gib": memory,
            "boot_id": read("/proc/sys/kernel/random/boot_id").strip()}


def machine_in_words(m: dict) -> str:
    """``machine()`` as a reader wants it: 'AMD EPYC (avx512f), 2 cores, 24 GiB' (a record written
    before the vector extension was kept: the CPU alone)."""
    cpu = str(m.get("cpu") or "unknown CPU") + (f" ({m['vector']})" if m.get("vector") else "")
    return ", ".join(p for p in (cpu, f"{m.get('cores')} cores" if m.get("cores") else "",
                                 f"{m['memory_gib']} GiB" if m.get("memory_gib") else "") if p)
