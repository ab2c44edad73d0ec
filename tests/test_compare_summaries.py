"""tools/compare_summaries.py: the before/after check of a refactor finds a moved number and a lost row."""
import importlib.util
from pathlib import Path

import pandas as pd

spec = importlib.util.spec_from_file_location("compare_summaries",
                                              Path(__file__).parents[1] / "tools" / "compare_summaries.py")
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)


def table(ua: float, rows: int = 2) -> pd.DataFrame:
    return pd.DataFrame({"dataset": "synthetic", "task": ["emotion", "gender"][:rows], "features": "seed",
                         "model": "ridge", "protocol": "speaker_independent", "normalisation": "none",
                         "notebook": "03", "ua": ua, "wa": 0.5, "fit_seconds": [1.0, 2.0][:rows]})


def test_identical_metrics_pass_whatever_the_timings():
    after = table(0.5)
    after["fit_seconds"] = 9.0
    assert compare.differences(table(0.5), after) == []


def test_a_moved_metric_and_a_lost_row_are_reported():
    assert len(compare.differences(table(0.5), table(0.5 + 1e-6))) == 2
    assert compare.differences(table(0.5), table(0.5 + 1e-12)) == []
    assert compare.differences(table(0.5), table(0.5, rows=1)) == ["only before: synthetic/gender/seed/ridge/"
                                                                   "speaker_independent/none/03"]
