"""Notebook 02's extraction plan: one extraction per engine on every clip; with several corpora, the
sets only the first corpus needs (deep models' inputs, the seed's set, ComParE) on its clips alone."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from speechemo.workbook import steps

SETS = ["seed", "functionals", "sequence", "image", "egemaps", "compare", "whisper_base"]
EVERYWHERE = ["functionals", "egemaps", "whisper_base"]


def _ctx(*kinds: str):
    members = [SimpleNamespace(kind=k) for k in kinds]
    return SimpleNamespace(info=SimpleNamespace(members=lambda: members))


def test_one_corpus_extracts_every_set_on_every_clip_one_engine_at_a_time():
    table = pd.DataFrame({"file": ["a.wav", "b.wav"], "corpus": ["ravdess", "ravdess"]})
    plan = steps.extraction_plan(_ctx("ravdess"), table, SETS, EVERYWHERE)
    assert [(label, len(rows), sets) for label, rows, sets in plan] == [
        ("clip", 2, ["seed", "functionals", "sequence", "image", "egemaps", "compare"]), ("whisper", 2, ["whisper_base"])]


def test_a_union_extracts_the_first_corpus_only_sets_on_its_clips_alone():
    table = pd.DataFrame({"file": ["r1", "c1", "c2", "r2"], "corpus": ["ravdess", "cremad", "cremad", "ravdess"]})
    plan = {label: (list(rows.file), sets)
            for label, rows, sets in steps.extraction_plan(_ctx("ravdess", "cremad"), table, SETS, EVERYWHERE)}
    assert plan == {"clip": (["r1", "c1", "c2", "r2"], ["functionals", "egemaps"]),
                    "whisper": (["r1", "c1", "c2", "r2"], ["whisper_base"]),
                    "clip, ravdess only": (["r1", "r2"], ["seed", "sequence", "image", "compare"])}
