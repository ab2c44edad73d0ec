"""Notebook sources: committed without outputs, one `parameters` cell, numbered in order."""
import json
from pathlib import Path

import papermill as pm

from speechemo.workbook.runner import notebooks

ROOT = Path(__file__).resolve().parents[1]


def test_sources_have_no_outputs_and_one_parameters_cell():
    found = notebooks(ROOT)
    assert [nb.name[:2] for nb in found] == [f"{i:02d}" for i in range(len(found))] and len(found) == 9
    for nb in found:
        cells = json.loads(nb.read_text())["cells"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code"), nb
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, nb


def test_every_parameter_is_parsed_by_papermill():
    """papermill silently drops a parameter line it cannot parse (e.g. '=' in a comment)."""
    for nb in notebooks(ROOT):
        cells = json.loads(nb.read_text())["cells"]
        src = "".join(next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))["source"])
        names = {line.split("=")[0].strip() for line in src.splitlines() if "=" in line and not line.startswith("#")}
        assert names == set(pm.inspect_notebook(str(nb))), nb.name
        for common in ("profile", "data_dir", "outputs_dir"):
            assert common in names, (nb.name, common)


def _sources(path: Path) -> list[str]:
    """The cells' sources, without the parameters cell papermill injects into an executed copy."""
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]


def test_the_references_nbval_runs_are_the_notebooks_as_committed():
    """nbval executes the cells of ``tests/notebook_refs``, not of ``notebooks/``: a notebook changed
    without ``make test-refs`` would be tested on its old code (03 and 07 once were)."""
    for nb in notebooks(ROOT):
        ref = ROOT / "tests" / "notebook_refs" / nb.name
        assert ref.exists() and _sources(ref) == _sources(nb), f"{ref} is stale: run `make test-refs`, review, commit"
