"""Profiles give notebooks their parameters through the runner, and run records name the CPU's kind."""
from __future__ import annotations

from pathlib import Path

from speechemo.foundations import profiles
from speechemo.foundations.reproducibility import machine, machine_in_words, vector_extension
from speechemo.workbook import runner


def test_quick_gives_notebooks_its_parameters_and_the_command_line_wins(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("papermill.inspect_notebook", lambda nb: {"profile": {}, "feature_sets": {}, "n_jobs": {}})
    monkeypatch.setattr("papermill.execute_notebook", lambda nb, out, parameters, **kw: calls.append(parameters))
    monkeypatch.setattr(runner, "notebooks", lambda root, only=None: [Path("03_classical_baselines.ipynb")])
    monkeypatch.setattr(runner, "project_root", lambda: tmp_path)
    runner.run({"profile": "quick", "dataset": "synthetic"}, "out")
    assert calls[-1] == {"profile": "quick",
                         "feature_sets": profiles.QUICK_PARAMETERS["03_classical_baselines"]["feature_sets"]}
    runner.run({"profile": "quick", "feature_sets": ["seed"]}, "out")  # given explicitly: kept
    assert calls[-1]["feature_sets"] == ["seed"]
    runner.run({"profile": "full"}, "out")  # full: the notebook's own defaults
    assert calls[-1] == {"profile": "full"}


def test_profile_parameters_only_for_what_a_notebook_declares():
    quick = profiles.get("quick")
    assert quick.parameters_for("07_export", {"latency_clips": 1}) == {"latency_clips": 5}
    assert quick.parameters_for("07_export", {}) == {}
    assert profiles.get("full").parameters_for("03_classical_baselines", {"feature_sets": 1}) == {}


def test_every_time_names_the_vector_extension():
    info = "model name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx avx2 fma\n"
    assert vector_extension(info) == "avx2"
    assert vector_extension(info.replace("avx2", "avx2 avx512f avx512bw")) == "avx512f"
    assert vector_extension("model name : x\n") == ""
    m = {"cpu": "AMD EPYC", "vector": "avx2", "cores": 2, "memory_gib": 24}
    assert machine_in_words(m) == "AMD EPYC (avx2), 2 cores, 24 GiB"
    assert machine_in_words({k: v for k, v in m.items() if k != "vector"}) == "AMD EPYC, 2 cores, 24 GiB"
    assert "vector" in machine()


def test_stages_are_recorded_per_run_and_tabled(tmp_path):
    import pandas as pd
    import pytest

    from speechemo.foundations import stage_times

    labels = {"notebook": "03_x", "dataset": "ravdess", "profile": "full"}
    for run in ("runs/03_x-1.json", "runs/03_x-2.json"):
        with stage_times.timed(tmp_path, "fits: cv (logreg)", run=run, **labels):
            pass
    with pytest.raises(RuntimeError), stage_times.timed(tmp_path, "broken", run="runs/03_x-2.json", **labels):
        raise RuntimeError("a stage that fails is not recorded")
    times = pd.read_csv(tmp_path / stage_times.FILE)
    assert list(times.stage) == ["fits: cv (logreg)"] * 2 and times.machine.str.contains("cores").all()
    assert list(stage_times.latest(times, "ravdess").run) == ["runs/03_x-2.json"]  # the re-run replaces the first
    times.loc[1, "seconds"] = 90.0
    md = stage_times.markdown(times, "ravdess", {"03_x": 180.0})
    assert "| `03_x` | fits: cv (logreg) | 1.5 min | 50% |" in md and times.machine.iloc[0] in md
    with pytest.raises(LookupError):
        stage_times.markdown(times, "cremad")
