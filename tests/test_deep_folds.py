"""models.deep.FoldTrainer: TensorFlow is seeded once per trainer (re-seeding clears its kernel cache
and re-instantiates the traced step every fold), and the folds' predictions are the same as with a
re-seed before every fold.

TensorFlow is imported in a child process only: imported in the pytest process, it left openSMILE
to crash (segmentation fault) in a later test module's extraction."""
import importlib.util
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs TensorFlow")


def data(n_actors: int = 6, per_actor: int = 8, frames: int = 12, dims: int = 3):
    rng = np.random.default_rng(0)
    actors = np.repeat(np.arange(1, n_actors + 1), per_actor)
    y = np.tile(np.arange(2), len(actors) // 2)
    x = rng.normal(size=(len(actors), frames, dims)).astype(np.float32) + y[:, None, None]
    return x, np.ones((len(actors), frames), np.float32), actors, y


def fold_probs(reseed_every_fold: bool) -> tuple[list[np.ndarray], list[bool]]:
    """Three folds of a tiny LSTM; the ``tensorflow`` flag of every seeding call."""
    from speechemo.foundations import reproducibility
    from speechemo.foundations.profiles import TrainConfig
    from speechemo.models import deep

    calls = []

    def recording(seed, tensorflow=True):
        calls.append(tensorflow)
        reproducibility.seed_everything(seed, tensorflow=tensorflow or reseed_every_fold)

    deep.seed_everything = recording
    cfg = TrainConfig(epochs=2, batch_size=8, units=4, patience=2, dropout=0.3, input_noise=0.3)
    x, mask, actors, y = data()
    trainer = deep.FoldTrainer(lambda: deep.build_lstm(x.shape[1], x.shape[2], {"emotion": 2}, cfg),
                               x, mask, actors, {"emotion": y}, {"emotion": 2}, cfg, image=False)
    out = []
    for fold, held in enumerate(([1, 2], [3, 4], [5, 6])):
        te = np.flatnonzero(np.isin(actors, held))
        tr = np.setdiff1d(np.arange(len(actors)), te)
        out.append(trainer.probs(fold, tr, te)["emotion"])
    return out, calls


def in_child(reseed_every_fold: bool):
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fold_probs, reseed_every_fold).result()


def test_tensorflow_is_seeded_once_and_the_folds_do_not_change():
    once, calls = in_child(reseed_every_fold=False)
    assert calls == [True, False, False]
    every, _ = in_child(reseed_every_fold=True)
    for a, b in zip(once, every):
        np.testing.assert_array_equal(a, b)


class InProcess:
    """An executor whose worker is this process, taking the jobs in reverse order: what
    ``deep.train_folds`` sends a worker, without spawning one."""

    workers, threads = 2, 1

    def map(self, fn, items, desc=None, warm_up=True):
        return (fn(job) for job in reversed(list(items)))


def parallel_fold_probs() -> tuple[dict, list[np.ndarray], list[bool]]:
    """Three folds of a tiny LSTM trained by ``train_folds`` (folds in reverse order), each fold
    also trained alone by a fresh worker job, and whether every fold's model was dropped."""
    from speechemo.foundations.profiles import TrainConfig
    from speechemo.models import deep
    from speechemo.protocol import evaluation as ev

    cfg = TrainConfig(epochs=2, batch_size=8, units=4, patience=2, dropout=0.3, input_noise=0.3, parallel_folds=True)
    x, mask, actors, y = data()
    trainer = deep.FoldTrainer(lambda: deep.build_lstm(x.shape[1], x.shape[2], {"emotion": 2}, cfg),
                               x, mask, actors, {"emotion": y}, {"emotion": 2}, cfg, image=False)
    splits = []
    for held in ([1, 2], [3, 4], [5, 6]):
        te = np.flatnonzero(np.isin(actors, held))
        splits.append((np.setdiff1d(np.arange(len(actors)), te), te))
    deep.train_folds([trainer], splits, InProcess())
    trained = sorted(trainer.runs)
    # scored as the notebooks score it: every fold from the cache, none trained again, the training time
    # reported by the first task scored and not by the next (they share the training run)
    def fp(tr, te, k):
        return trainer.probs(k, tr, te)["emotion"].argmax(1), {"fit_seconds": trainer.fit_seconds(k)}

    billed = [ev.cross_validate(fp, y, splits, [0, 1]).folds.fit_seconds.tolist() for _ in range(2)]
    assert billed[0] == [trainer.runs[k].seconds for k in (1, 2, 3)] and min(billed[0]) > 0 and billed[1] == [0.0] * 3
    alone = {k: deep._fold_job((0, trainer.detached(1), k, tr, te, 1))[2]["emotion"]
             for k, (tr, te) in enumerate(splits, 1)}
    return ({k: v["emotion"] for k, v in trainer.cache.items()}, alone, trained, sorted(trainer.runs),
            [r.model is None and r.epochs_run >= 1 for r in trainer.runs.values()])


def test_parallel_folds_each_have_their_own_seed_whatever_the_order():
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        cached, alone, trained, after_scoring, dropped = pool.submit(parallel_fold_probs).result()
    assert trained == after_scoring == sorted(cached) == [1, 2, 3] and dropped == [True] * 3
    for k, probs in alone.items():  # a fold trained alone, in a fresh job, gives the same answers
        np.testing.assert_allclose(cached[k], probs, atol=1e-6)
    assert not np.allclose(cached[1], cached[2][: len(cached[1])])  # folds differ (a real check above)
