"""The Explore page's data: counts per corpus side by side, cross-tabs, and example clips only from
corpora whose licence lets them be shared."""
from __future__ import annotations

import json

import pandas as pd
import soundfile as sf

from speechemo.analysis import eda
from speechemo.deployment import explore_files


def _union(tiny_table: pd.DataFrame) -> pd.DataFrame:
    a = tiny_table.assign(corpus="ravdess")
    b = tiny_table.assign(corpus="emodb", actor=tiny_table.actor + 100)
    return pd.concat([a, b], ignore_index=True)


def test_explore_data_of_a_union_counts_each_corpus(tiny_table):
    d = eda.explore_data(_union(tiny_table))
    assert d["corpora"] == ["emodb", "ravdess"] and d["clips"] == 2 * len(tiny_table) and d["speakers"] == 4
    assert d["per_corpus"]["emodb"] == {"clips": len(tiny_table), "speakers": 2}
    for c in d["corpora"]:
        assert d["counts"]["emotion"][c] == tiny_table.emotion.value_counts().to_dict()
        assert sum(d["counts"]["sentiment"][c].values()) == len(tiny_table)
    assert list(d["counts"]["emotion"]["ravdess"])[:2] == ["neutral", "calm"]  # the workbook's order
    assert sum(sum(n) for n in d["durations"]["counts"].values()) == 2 * len(tiny_table)
    assert len(d["durations"]["edges"]) == len(d["durations"]["counts"]["ravdess"]) + 1


def test_examples_only_from_shareable_corpora(tiny_table, tmp_path):
    out = explore_files.write_explore(_union(tiny_table), tmp_path, per_emotion=2)
    d = json.loads(out["explore.json"].read_text())
    assert d["examples_omitted"] == ["emodb"]  # EmoDB's licence is not one the registry may share
    assert {e["corpus"] for e in d["examples"]} == {"ravdess"}
    per = pd.Series([e["emotion"] for e in d["examples"]]).value_counts()
    assert (per == 2).all() and len(per) == tiny_table.emotion.nunique()
    for e in d["examples"]:
        assert e["licence"] == "CC BY-NC-SA 4.0" and out[e["file"]].exists()
        info = sf.info(out[e["file"]])
        assert info.samplerate == 16_000 and info.duration <= explore_files.EXAMPLE_SECONDS + 1e-3
    genders = {e["emotion"]: set() for e in d["examples"]}
    for e in d["examples"]:
        genders[e["emotion"]].add(e["gender"])
    assert all(g == {"female", "male"} for g in genders.values())  # one voice of each where both exist
