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
    """The short commit of the working tree, ``+dirty`` when tracked files differ from it
    (``unknown`` outside a git checkout)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        if not commit:
            return "unknown"
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
