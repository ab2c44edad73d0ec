"""The executor helper: thread budgets, and real Dask (a LocalCluster of worker processes here):
features equal to the local path in the same cache, a worker killed mid-run, the same CV metrics."""
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from speechemo.models import classical
from speechemo.protocol import evaluation as ev
from speechemo.foundations import executor, profiles
from speechemo.features import extraction
from speechemo.workbook import steps
from speechemo.data.download import DatasetInfo
from speechemo.foundations.paths import Layout

pytest.importorskip("distributed")


def test_thread_budget_never_oversubscribes():
    for cores in (1, 2, 8, 32):
        for workers in (1, 2, 3, 8, 64):
            t = executor.thread_budget(workers, cores)
            assert t >= 1 and (workers * t <= cores or t == 1)
    assert executor.make_executor("", 2).threads == executor.thread_budget(2)
    with pytest.raises(ValueError, match="local:N"):
        executor.make_executor("local:two")
    with pytest.raises(ValueError, match="tcp://host:port"):
        executor.make_executor("dask-please")


def test_cluster_budget_shares_each_hosts_cores():
    info = {"a": {"host": "h1", "nthreads": 1}, "b": {"host": "h1", "nthreads": 1},
            "c": {"host": "h2", "nthreads": 2}}
    assert executor._cluster_budget(info, {"h1": 8, "h2": 8}) == 4
    assert executor._cluster_budget(info, {"h1": 2, "h2": 32}) == 1


def test_limit_threads_caps_blas_pools():
    from threadpoolctl import threadpool_info

    executor.limit_threads(1)
    assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert os.environ["OMP_NUM_THREADS"] == "1"


@pytest.fixture(scope="module")
def cluster():
    with executor.executor("local:2") as ex:
        yield ex


def test_cluster_has_two_workers_with_budgeted_threads(cluster):
    assert cluster.is_dask and cluster.workers == 2 and cluster.threads == executor.thread_budget(2)
    assert cluster.dashboard and "Dask (local:2)" in cluster.describe()
    env = cluster.client.run(lambda: os.environ["OMP_NUM_THREADS"])
    assert set(env.values()) == {str(cluster.threads)}


def test_dask_features_equal_local_and_share_the_cache(cluster, tiny_table, tmp_path):
    sub = tiny_table.iloc[::10]
    local = extraction.extract(sub, ["seed", "functionals", "image"], tmp_path / "local", n_jobs=1, progress=False)
    dask_cache = tmp_path / "dask"
    on_dask = extraction.extract(sub, ["seed", "functionals", "image"], dask_cache, progress=False, executor=cluster)
    assert on_dask.computed == len(sub) and on_dask.failures == []
    for s in ("seed", "functionals"):
        np.testing.assert_allclose(on_dask.tables[s].to_numpy(), local.tables[s].to_numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(on_dask.arrays["image"]["x"], local.arrays["image"]["x"], atol=1e-6)
    names = lambda root: sorted(p.relative_to(root).as_posix() for p in root.rglob("*.npz"))  # noqa: E731
    assert names(dask_cache) == names(tmp_path / "local")  # the same keys: one cache for both
    again = extraction.extract(sub, ["seed", "functionals", "image"], dask_cache, n_jobs=1, progress=False)
    assert again.computed == 0  # a later local run reads what the cluster computed


def test_a_worker_killed_mid_run_loses_nothing(cluster, tiny_table, tmp_path):
    sub = tiny_table.iloc[:60]
    cache = tmp_path / "cache"
    out = {}

    def run():
        out["ext"] = extraction.extract(sub, ["functionals", "sequence"], cache, progress=False, executor=cluster)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.time() + 60
    while not list(cache.rglob("*.npz")) and time.time() < deadline:  # wait until work is under way
        time.sleep(0.05)
    pids = cluster.client.run(os.getpid)
    os.kill(next(iter(pids.values())), signal.SIGKILL)  # the test kills a worker by its own handle
    worker.join(timeout=180)
    assert not worker.is_alive()
    ext = out["ext"]
    assert ext.failures == [] and len(ext.files) == len(sub)
    assert len(list((cache / extraction.FEATURE_SETS["functionals"].key()).glob("*.npz"))) == len(sub)
    assert not list(cache.rglob("*.tmp*"))  # no partial cache file


def _ctx(tmp_path):
    lay = Layout(tmp_path, tmp_path / "data", tmp_path / "outputs")
    for p in (lay.data, lay.results):
        p.mkdir(parents=True, exist_ok=True)
    return steps.Context(lay, DatasetInfo("synthetic", str(tmp_path), "test"), "quick", profiles.get("quick"))


def test_cv_metrics_equal_locally_and_on_the_cluster(cluster, tiny_table, tmp_path):
    ext = extraction.extract(tiny_table, ["functionals"], tmp_path / "f", n_jobs=2, progress=False)
    meta = tiny_table.set_index("file").loc[ext.files]
    X, actors = ext.tables["functionals"].to_numpy(), meta["actor"].to_numpy()
    budget = profiles.get("quick").training
    runs = [("emotion", "xgboost", "functionals", "none"), ("sentiment", "logreg", "functionals", "none")]

    def grid(ex, where):
        return steps.evaluate_grid(
            _ctx(tmp_path / where), runs, meta, notebook="03_test", executor=ex, budget=budget,
            fit_predict=lambda t, m, fs, n, b: classical.fit_predict_fn(m, X, ev.labels_for(meta, t), actors, b,
                                                                     n_jobs=ex.threads))[0]

    here = grid(executor.make_executor("", 1), "here")
    there = grid(cluster, "there")
    for run in runs:
        a, b = here[run].folds, there[run].folds
        np.testing.assert_allclose(a[["wa", "ua", "macro_f1"]].to_numpy(), b[["wa", "ua", "macro_f1"]].to_numpy())
        assert (here[run].predictions.pred == there[run].predictions.pred).all()
    s = ev.load_summary(tmp_path / "there" / "outputs" / "results")
    assert len(s) == len(runs) and set(s.dataset) == {"synthetic"}


def test_scaling_projection_is_arithmetic_on_the_measured_rate():
    from speechemo.workbook.scaling import projection

    t = projection(10.0, 0.9, clips=(36_000,), workers=(1, 8))
    assert np.isclose(t.loc[36_000, 1], 1.0)                 # 36,000 clips at 10 clips/s = 1 h
    assert np.isclose(t.loc[36_000, 8], 1.0 / (8 * 0.9))     # 8 workers at the measured efficiency
    assert np.isclose(projection(10.0, 1.7).loc[10_000, 32], 10_000 / (10 * 32) / 3600)  # capped at 1


def test_scaling_plan_from_the_measured_table_reaches_the_readme():
    """The plan's inputs come from scaling.csv (rates of an earlier run here) and make report renders both."""
    import pandas as pd

    from speechemo.deployment import report
    from speechemo.workbook.scaling import PER_CLIP_STEPS, plan_inputs, projection

    steps_rates = ((PER_CLIP_STEPS[0], 240, 17.7, 34.9), (PER_CLIP_STEPS[1], 240, 7.0, 13.7),
                   ("features: whisper_base", 240, 17.0, 15.0), ("CV grid: emotion", 8, 0.148, 0.349))
    scaling = pd.DataFrame([{"step": step, "workers": w, "items": n, "per_s": r, "seconds": n / r}
                            for step, n, r1, r2 in steps_rates for w, r in ((1, r1), (2, r2))])
    rate, efficiency = plan_inputs(scaling)
    assert np.isclose(1 / rate, 2 / 34.9 + 2 / 13.7 + 2 / 15.0)   # core-seconds per clip, the grid left out
    assert np.isclose(efficiency, 13.7 / 14.0)                       # the lower per-clip efficiency
    plan = projection(rate, efficiency).reset_index()
    plan.columns = [str(c) for c in plan.columns]                    # as read back from scaling_plan.csv
    md = report.scaling_markdown(scaling, plan)
    assert "| features: egemaps, compare | 240 | 34.3 s | 17.5 s | 1.96 × |" in md
    assert "| 10,000 | 56 min |" in md and "not a measurement" in md


def test_grid_gives_gender_a_voice_row_instead_of_z_scoring_it(tmp_path):
    from speechemo.data.ravdess import ALL_ACTORS

    actors = np.repeat(np.array(ALL_ACTORS), 6)
    meta = pd.DataFrame({"actor": actors, "gender": np.where(actors % 2, "male", "female"),
                         "emotion": np.tile(["happy", "sad", "angry"], len(actors) // 3)},
                        index=[f"Actor_{a:02d}/{i}.wav" for i, a in enumerate(actors)])
    asked = []

    def fit_predict(task, model, fs, norm, budget):  # right except every third clip, whatever it is trained on
        asked.append((task, norm))
        y = ev.labels_for(meta, task)
        other = {"male": "female", "female": "male"}
        return lambda tr, te, k: np.array([other.get(y[i], y[i]) if i % 3 == 0 else y[i] for i in te])

    runs = [("gender", "m", "f", n) for n in ("none", "speaker")]
    runs += [("emotion", "m", "f", "speaker"), ("gender", "m", "f", "none", ev.RANDOM_SPLIT)]
    ctx = _ctx(tmp_path)
    results, _ = steps.evaluate_grid(ctx, runs, meta, notebook="t", budget=profiles.get("quick").training,
                                     fit_predict=fit_predict, params=lambda *r: {"why": "test"})
    assert ("gender", "speaker") not in asked                                  # never fitted
    assert set(results) == {runs[0], runs[2], runs[3], ("gender", "m", "f", ev.VOICE)}
    voice, single = results[("gender", "m", "f", ev.VOICE)], results[runs[0]]
    assert single.summary()["wa"] == pytest.approx(2 / 3) and voice.summary()["wa"] == 1.0
    by_voice = voice.predictions.assign(actor=meta.actor.loc[voice.predictions.file].to_numpy())
    assert (by_voice.groupby(["fold", "actor"]).pred.nunique() == 1).all()    # one answer per voice
    rows = ev.load_summary(ctx.lay.results)
    assert sorted(rows[rows.task == "gender"].normalisation) == ["none", "none", ev.VOICE]  # random split: none only
    assert "majority" in rows[rows.normalisation == ev.VOICE].params.iloc[0]
