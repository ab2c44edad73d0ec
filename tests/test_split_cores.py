"""tools/split_cores.py: make test's two jobs get disjoint shares of the cores, and a failing job fails the run."""
import importlib.util
import sys
from pathlib import Path

import pytest

from speechemo.foundations import executor

spec = importlib.util.spec_from_file_location("split_cores", Path(__file__).parents[1] / "tools" / "split_cores.py")
split_cores = importlib.util.module_from_spec(spec)
spec.loader.exec_module(split_cores)


def test_shares_are_disjoint_cover_every_core_and_differ_by_at_most_one():
    for n in range(2, 9):
        parts = executor.core_shares(list(range(n)), 2)
        assert sorted(sum(parts, [])) == list(range(n))
        assert not set(parts[0]) & set(parts[1])
        assert abs(len(parts[0]) - len(parts[1])) <= 1
    assert executor.core_shares([0, 1, 2], 2) == [[0, 1], [2]]


def test_fewer_cores_than_jobs_share_all_of_them():
    assert executor.core_shares([3], 2) == [[3], [3]]
    with pytest.raises(ValueError):
        executor.core_shares([0, 1], 0)


def test_each_job_runs_on_its_share_and_the_first_failure_is_the_status(capfd):
    py = sys.executable
    report = f"{py} -c 'import os; print(\"affinity\", sorted(os.sched_getaffinity(0)))'"
    assert split_cores.main(["--", report, f"{py} -c 'import sys; sys.exit(3)'"]) == 3
    out = capfd.readouterr().out
    cpus = executor.cpu_set()
    expected = executor.core_shares(cpus, 2)[0]
    assert f"affinity {expected}" in out
    assert "exit 3" in out
