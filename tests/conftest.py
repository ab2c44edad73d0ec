"""Shared fixtures: a tiny synthetic corpus made once per test session."""
from __future__ import annotations

from pathlib import Path

import pytest

from speechemo.metadata import build_metadata
from speechemo.synthetic import generate_corpus


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """Two actors (one male, one female), 120 files at 48 kHz."""
    root = tmp_path_factory.mktemp("corpus")
    return generate_corpus(root, actors=[1, 4], seed=0, progress=False)


@pytest.fixture(scope="session")
def tiny_table(tiny_corpus):
    table, _ = build_metadata(tiny_corpus, expected_actors=[1, 4], progress=False)
    return table
