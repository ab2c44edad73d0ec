"""Where the workbook's parallel steps run, decided in one place: local worker processes or Dask.

``scheduler`` (the Makefile's ``SCHEDULER=``, a parameter of notebooks 02, 03 and 06):

* ``""`` -- local worker processes (joblib/loky), ``n_jobs`` of them;
* ``"local:N"`` -- a ``dask.distributed.LocalCluster`` with N worker processes on this machine;
* ``"tcp://host:8786"`` -- an existing Dask cluster (workers need the same environment, and the
  audio and ``data/`` at the same paths or on a shared filesystem).

The same helper sets every worker's thread budget so that workers x threads <= cores: BLAS and
OpenMP pools through ``threadpoolctl`` (and the ``*_NUM_THREADS`` variables for libraries started
later), XGBoost's and scikit-learn's ``n_jobs`` through ``Executor.threads``, TensorFlow's
intra/inter-op pools where it is loaded. Without it, XGBoost or TensorFlow threads inside parallel
workers oversubscribe the cores and a step runs many times slower.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def cpu_set() -> list[int] | None:
    """The cores this process may run on, or None where the affinity is not exposed (not Linux)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return sorted(os.sched_getaffinity(0))


def cores() -> int:
    """CPU cores this process may use."""
    cpus = cpu_set()
    return len(cpus) if cpus is not None else (os.cpu_count() or 1)


def core_shares(cpus: list[int], parts: int) -> list[list[int]]:
    """Split ``cpus`` into ``parts`` disjoint, contiguous shares as even as possible (the first
    shares get one more when it does not divide), for jobs pinned side by side; with fewer cores
    than parts, every job gets all of them."""
    if parts < 1:
        raise ValueError(f"parts must be at least 1, not {parts}")
    if len(cpus) < parts:
        return [list(cpus) for _ in range(parts)]
    size, extra = divmod(len(cpus), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(list(cpus[start:end]))
        start = end
    return out


def thread_budget(workers: int, available: int | None = None) -> int:
    """Threads per worker so that ``workers x threads <= cores`` (at least one)."""
    return max(1, (available or cores()) // max(1, workers))


def limit_threads(n: int) -> int:
    """Cap this process's thread pools at ``n`` (BLAS/OpenMP now and for libraries loaded later,
    TensorFlow if it is loaded and not yet initialised). Returns ``n``."""
    import sys

    from threadpoolctl import threadpool_limits

    for var in THREAD_VARS:
        os.environ[var] = str(n)
    threadpool_limits(n)
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        with contextlib.suppress(RuntimeError):  # already initialised: leave as is
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(1)
    return n


def _thread_budget_plugin(threads: int):
    """A Dask worker plugin capping each worker's pools at ``threads`` -- on every worker,
    including one that restarts after a crash."""
    from distributed import WorkerPlugin

    class ThreadBudget(WorkerPlugin):
        name = "speechemo-thread-budget"

        def setup(self, worker):
            limit_threads(threads)

    return ThreadBudget()


def _cluster_budget(info: dict[str, dict], host_cores: dict[str, int]) -> int:
    """Threads per task slot on an existing cluster: on each host, its cores shared by all task
    slots of all workers there; the smallest over hosts."""
    slots: dict[str, int] = {}
    for w in info.values():
        slots[w["host"]] = slots.get(w["host"], 0) + w["nthreads"]
    return min(thread_budget(n, host_cores.get(h, 1)) for h, n in slots.items()) if slots else 1


@dataclass
class Executor:
    """Runs independent tasks locally or on Dask; ``threads`` is each task's thread budget."""

    scheduler: str
    workers: int
    threads: int
    client: object | None = field(default=None, repr=False)
    cluster: object | None = field(default=None, repr=False)

    @property
    def is_dask(self) -> bool:
        return self.client is not None

    @property
    def dashboard(self) -> str | None:
        return getattr(self.client, "dashboard_link", None) if self.client is not None else None

    def describe(self) -> str:
        where = f"Dask ({self.scheduler}), dashboard: {self.dashboard}" if self.is_dask else "local processes"
        return f"{self.workers} workers x {self.threads} threads on {where}"

    def map(self, fn: Callable, items: Iterable, desc: str | None = None, progress: bool = True,
            total: int | None = None, warm_up: bool = True) -> Iterator:
        """``fn(item)`` for every item, results as they finish (order not kept), with a progress
        bar. On Dask a task whose worker dies is run again elsewhere (up to two retries).

        With ``warm_up``, the first item runs in this process before any worker starts: it compiles
        the JIT kernels the task needs (librosa's numba functions) and writes them to numba's on-disk
        cache, which the workers then only read. Workers compiling the same kernel at once corrupt
        that cache (seen here: a segmentation fault in librosa's pitch tracker in every later
        process). Tasks that set their own thread budget (TensorFlow training) pass ``False``: every
        item then runs in a worker, and this process keeps its pools."""
        from tqdm import tqdm

        items = list(items)
        bar = tqdm(total=total or len(items), desc=desc, disable=not progress or desc is None)
        try:
            if items and warm_up:
                yield fn(items[0])
                bar.update(1)
                items = items[1:]
            if self.is_dask:
                from distributed import as_completed

                futures = self.client.map(fn, items, retries=2, pure=False)
                for fut in as_completed(futures):
                    yield fut.result()
                    bar.update(1)
            else:
                from joblib import Parallel, delayed, parallel_config

                with parallel_config(backend="loky", inner_max_num_threads=self.threads):
                    run = Parallel(n_jobs=self.workers, return_as="generator_unordered", batch_size=1)
                    for out in run(delayed(fn)(it) for it in items):
                        yield out
                        bar.update(1)
        finally:
            bar.close()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(scheduler: str = "", n_jobs: int = 2) -> Executor:
    """The executor for ``scheduler`` ('' local, 'local:N' LocalCluster, 'tcp://...' a cluster)."""
    scheduler = (scheduler or "").strip()
    if not scheduler:
        return Executor("", n_jobs, thread_budget(n_jobs))
    from distributed import Client, LocalCluster

    if scheduler.startswith("local:"):
        try:
            n = int(scheduler.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"scheduler {scheduler!r}: expected local:N with N the number of workers") from None
        threads = thread_budget(n)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               env={v: str(threads) for v in THREAD_VARS})
        client = Client(cluster)
        client.register_plugin(_thread_budget_plugin(threads))
        return Executor(scheduler, n, threads, client, cluster)
    if scheduler.startswith("tcp://"):
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as err:
            raise ConnectionError(f"no Dask scheduler answers at {scheduler} ({err}); start one with "
                                  "`dask scheduler` and workers with `dask worker tcp://HOST:8786`") from None
        info = client.scheduler_info()["workers"]
        host_cores = {info[a]["host"]: n for a, n in client.run(cores).items() if a in info}
        per = _cluster_budget(info, host_cores)
        client.register_plugin(_thread_budget_plugin(per))
        return Executor(scheduler, sum(w["nthreads"] for w in info.values()) or 1, per, client)
    raise ValueError(f"scheduler {scheduler!r}: use '' (local processes), 'local:N' or 'tcp://host:port'")


@contextlib.contextmanager
def executor(scheduler: str = "", n_jobs: int = 2) -> Iterator[Executor]:
    """``make_executor`` as a context manager that shuts a cluster it started down again."""
    ex = make_executor(scheduler, n_jobs)
    try:
        yield ex
    finally:
        ex.close()
