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
