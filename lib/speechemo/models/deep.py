"""Deep models on CPU: the seed's LSTM (on ``sequence``) and a ResNet-18 (on ``image``).

Everything fitted -- input standardisation, class weights, early stopping -- uses training actors
only; the early-stopping validation set is two *training* actors (one female, one male).
Augmentation runs on training batches only.
"""
from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field

import numpy as np

from speechemo.foundations.profiles import TrainConfig
from speechemo.foundations.reproducibility import seed_everything
from speechemo.data.speakers import gender_of

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# ----------------------------------------------------------------------------- data preparation
def fit_standardiser(x: np.ndarray, mask: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean/std over the valid frames of ``x`` (fitted on training data only).

    ``axis`` is the feature axis: -1 for ``(n, frames, dims)`` sequences, 1 for ``(n, rows, frames)``.
    """
    if axis == 1:
        x = np.swapaxes(x, 1, 2)
    valid = x[mask > 0]
    return valid.mean(axis=0), valid.std(axis=0) + 1e-6


def apply_standardiser(x: np.ndarray, mask: np.ndarray, stats: tuple[np.ndarray, np.ndarray],
                       axis: int) -> np.ndarray:
    mu, sd = stats
    if axis == 1:
        out = (x - mu[None, :, None]) / sd[None, :, None]
        return (out * mask[:, None, :]).astype(np.float32)
    return ((x - mu) / sd * mask[:, :, None]).astype(np.float32)


def speaker_standardise(x: np.ndarray, mask: np.ndarray, actors: np.ndarray, axis: int) -> np.ndarray:
    """Each speaker standardised with its own frames' statistics (labels unused)."""
    out = np.empty_like(x, dtype=np.float32)
    for a in np.unique(actors):
        m = actors == a
        out[m] = apply_standardiser(x[m], mask[m], fit_standardiser(x[m], mask[m], axis), axis)
    return out


def validation_actors(train_actors: np.ndarray, fold: int) -> np.ndarray:
    """Two training actors (a woman and a man when possible) for early stopping."""
    uniq = np.unique(train_actors)
    picks = []
    genders = np.array([gender_of(a) for a in uniq.tolist()])
    for gender in ("female", "male"):
        cands = uniq[genders == gender]
        if len(cands):
            picks.append(cands[fold % len(cands)])
    return np.array(picks if len(uniq) > len(picks) else picks[:1])


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(y, minlength=n_classes).astype(float)
    w = len(y) / (n_classes * np.maximum(counts, 1))
    return w / w[counts > 0].mean()


# ----------------------------------------------------------------------------- models
@functools.cache
def masked_mean_layer():
    """The ``MaskedMean`` Keras layer class, defined (and registered for loading ``.keras``
    files) on first use, so that importing this module does not import TensorFlow."""
    import keras

    @keras.saving.register_keras_serializable(package="speechemo")
    class MaskedMean(keras.layers.Layer):
        """Mean over time of ``h`` weighted by a 0/1 ``mask`` of shape (batch, time, 1)."""

        def call(self, inputs):
            h, m = inputs
            return keras.ops.sum(h * m, axis=1) / (keras.ops.sum(m, axis=1) + 1e-6)

    return MaskedMean


def build_lstm(frames: int, dims: int, heads: dict[str, int], cfg: TrainConfig):
    """Conv1D front end -> LSTM -> masked mean pooling -> one softmax head per task."""
    import keras
    from keras import layers

    MaskedMean = masked_mean_layer()
    x_in = keras.Input((frames, dims), name="sequence")
    m_in = keras.Input((frames,), name="mask")
    h = x_in
    if cfg.input_noise:
        h = layers.GaussianNoise(cfg.input_noise)(h)
        h = layers.SpatialDropout1D(0.1)(h)
    h = layers.Conv1D(cfg.units, 5, padding="same", activation="relu")(h)
    h = layers.BatchNormalization()(h)
    h = layers.MaxPooling1D(2)(h)
    m = layers.MaxPooling1D(2)(layers.Reshape((frames, 1))(m_in))
    rnn = layers.LSTM(cfg.units, return_sequences=True)
    h = (layers.Bidirectional(rnn) if cfg.bidirectional else rnn)(h)
    pooled = MaskedMean(name="masked_mean")([h, m])
    pooled = layers.Dropout(cfg.dropout)(pooled)
    pooled = layers.Dense(cfg.units, activation="relu")(pooled)
    outs = {t: layers.Dense(n, activation="softmax", name=t)(layers.Dropout(cfg.dropout)(pooled))
            for t, n in heads.items()}
    return keras.Model([x_in, m_in], outs, name="lstm")


def _basic_block(x, filters: int, stride: int):
    from keras import layers

    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.ReLU()(layers.Add()([y, shortcut]))


def build_resnet18(rows: int, frames: int, heads: dict[str, int], cfg: TrainConfig,
                   weights: str | None = None):
    """ResNet-18 topology (He et al. 2016: stem, 4 stages of 2 basic blocks, widths w, 2w, 4w, 8w)
    for a one-channel image. ``weights``: optional local file of pretrained weights (by name)."""
    import keras
    from keras import layers

    x_in = keras.Input((rows, frames, 1), name="image")
    w = cfg.width
    x = layers.Conv2D(w, 7, strides=2, padding="same", use_bias=False)(x_in)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for stage, mult in enumerate((1, 2, 4, 8)):
        for block in range(2):
            x = _basic_block(x, w * mult, 2 if (block == 0 and stage > 0) else 1)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(cfg.dropout)(x)
    outs = {t: layers.Dense(n, activation="softmax", name=t)(x) for t, n in heads.items()}
    model = keras.Model(x_in, outs, name="resnet18")
    if weights:
        model.load_weights(weights, skip_mismatch=True)
    return model


# ----------------------------------------------------------------------------- augmentation
def augment_batch(x: np.ndarray, y: dict[str, np.ndarray], mask: np.ndarray, rng: np.random.Generator,
                  which: tuple[str, ...], mel_rows: int = 64) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Training-only augmentation of an image batch ``(n, rows, frames)`` with one-hot labels."""
    x = x.copy()
    n, rows, frames = x.shape
    if "shift" in which:
        for i in range(n):
            valid = int(mask[i].sum())
            s = int(rng.integers(-max(1, frames // 10), max(1, frames // 10) + 1))
            x[i, :, :valid] = np.roll(x[i, :, :valid], s, axis=1)
    if "specaugment" in which:
        for i in range(n):
            f = int(rng.integers(0, mel_rows // 8 + 1))
            f0 = int(rng.integers(0, mel_rows - f + 1))
            x[i, f0:f0 + f, :] = 0.0
            t = int(rng.integers(0, frames // 8 + 1))
            t0 = int(rng.integers(0, frames - t + 1))
            x[i, :, t0:t0 + t] = 0.0
    if "noise" in which:
        x += rng.normal(0, 0.05, size=x.shape).astype(np.float32)
    if "mixup" in which:
        lam = rng.beta(0.2, 0.2, size=n).astype(np.float32)
        lam = np.maximum(lam, 1 - lam)
        perm = rng.permutation(n)
        x = lam[:, None, None] * x + (1 - lam[:, None, None]) * x[perm]
        y = {k: lam[:, None] * v + (1 - lam[:, None]) * v[perm] for k, v in y.items()}
    return x.astype(np.float32), y


def _batches(x, y, mask, cfg: TrainConfig, rng, image: bool, sample_w=None):
    """One epoch of shuffled (and, for images, augmented) batches, as a generator."""
    order = rng.permutation(len(x))
    for s in range(0, len(order), cfg.batch_size):
        idx = order[s:s + cfg.batch_size]
        xb, yb = x[idx], {k: v[idx] for k, v in y.items()}
        if image:
            if cfg.augment:
                xb, yb = augment_batch(xb, yb, mask[idx], rng, cfg.augment)
            yield xb[..., None], yb
        else:
            yield [xb, mask[idx]], yb


# ----------------------------------------------------------------------------- training
@dataclass
class Trained:
    model: object
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int
    seconds: float
    epoch_seconds: list[float] = field(default_factory=list)


class Session:
    """A model with its optimiser and compiled training step, built (and traced) once and
    re-initialised for every fold: tracing a graph per fold would cost more than training
    in the quick profile."""

    def __init__(self, model, heads: list[str], cfg: TrainConfig):
        import keras
        import tensorflow as tf

        self.model, self.heads, self.cfg = model, heads, cfg
        self.init_weights = model.get_weights()
        self.opt = keras.optimizers.Adam(cfg.learning_rate)
        self.opt.build(model.trainable_variables)
        self.cce = keras.losses.CategoricalCrossentropy(reduction="none")
        cce, opt = self.cce, self.opt

        @tf.function(reduce_retracing=True)
        def step(xb, yb, cw):
            with tf.GradientTape() as tape:
                out = model(xb, training=True)
                loss = 0.0
                for h in heads:
                    w = tf.reduce_sum(yb[h] * cw[h], axis=-1)
                    loss += tf.reduce_mean(cce(yb[h], out[h]) * w)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        self.step = step

    def reset(self) -> None:
        self.model.set_weights(self.init_weights)
        for v in self.opt.variables:  # moments and step count; the learning rate stays
            if "learning_rate" not in v.path:
                v.assign(np.zeros(v.shape, dtype=str(v.dtype)))


def train(session: Session, x: np.ndarray, mask: np.ndarray, y: dict[str, np.ndarray], val_idx: np.ndarray,
          cfg: TrainConfig, image: bool, class_w: dict[str, np.ndarray] | None = None) -> Trained:
    """Train with Adam + categorical cross-entropy (class-weighted), early stopping on the
    validation actors' summed loss, best weights restored. ``y`` holds one-hot labels per head."""
    import tensorflow as tf

    session.reset()
    model, heads = session.model, session.heads
    rng = np.random.default_rng(cfg.seed)
    tr_idx = np.setdiff1d(np.arange(len(x)), val_idx)
    cw = {h: tf.constant((class_w or {}).get(h, np.ones(y[h].shape[1])), tf.float32) for h in heads}

    def evaluate(idx):
        out = predict(model, x[idx], mask[idx], image)
        loss = sum(float(np.mean(session.cce(y[h][idx], out[h]))) for h in heads)
        acc = {h: float(np.mean(out[h].argmax(1) == y[h][idx].argmax(1))) for h in heads}
        return loss, acc

    hist: dict[str, list[float]] = {"loss": [], "val_loss": []}
    for h in heads:
        hist[f"{h}_accuracy"], hist[f"val_{h}_accuracy"] = [], []
    best, best_w, best_epoch, wait, times = np.inf, None, 0, 0, []
    start = time.perf_counter()
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        losses = [float(session.step(xb, yb, cw)) for xb, yb in _batches(
            x[tr_idx], {k: v[tr_idx] for k, v in y.items()}, mask[tr_idx], cfg, rng, image)]
        tr_loss, tr_acc = evaluate(tr_idx[:512])
        va_loss, va_acc = evaluate(val_idx)
        times.append(time.perf_counter() - t0)
        hist["loss"].append(float(np.mean(losses)))
        hist["val_loss"].append(va_loss)
        for h in heads:
            hist[f"{h}_accuracy"].append(tr_acc[h])
            hist[f"val_{h}_accuracy"].append(va_acc[h])
        if va_loss < best - 1e-4:
            best, best_w, best_epoch, wait = va_loss, model.get_weights(), epoch, 0
        else:
            wait += 1
            if wait >= cfg.patience:
                break
    if best_w is not None:
        model.set_weights(best_w)
    return Trained(model, hist, len(hist["loss"]), best_epoch + 1, time.perf_counter() - start, times)


def predict(model, x: np.ndarray, mask: np.ndarray, image: bool, batch: int = 256) -> dict[str, np.ndarray]:
    """Softmax outputs per head, in batches, without ``model.predict``'s per-call pipeline."""
    outs: dict[str, list[np.ndarray]] = {}
    for s in range(0, len(x), batch):
        xb = x[s:s + batch][..., None] if image else [x[s:s + batch], mask[s:s + batch]]
        for h, v in model(xb, training=False).items():
            outs.setdefault(h, []).append(np.asarray(v))
    return {h: np.concatenate(v) for h, v in outs.items()}


def one_hot(y: np.ndarray, n: int) -> np.ndarray:
    return np.eye(n, dtype=np.float32)[y]


# ----------------------------------------------------------------------------- cross-validation
class FoldTrainer:
    """Trains one multi-head model per fold (lazily, once) and serves its test probabilities,
    so that several tasks can be scored from the same training run.

    ``targets``: head name -> integer labels of every utterance; ``n_classes``: head -> count.
    ``normalisation``: ``none`` (standardiser fitted on the training actors) or ``speaker``
    (every speaker standardised with its own frames, labels unused).
    """

    def __init__(self, build, x: np.ndarray, mask: np.ndarray, actors: np.ndarray,
                 targets: dict[str, np.ndarray], n_classes: dict[str, int], cfg: TrainConfig,
                 image: bool, normalisation: str = "none", balance: bool = True):
        self.build, self.x, self.mask, self.actors = build, x, mask, actors
        self.targets, self.n_classes, self.cfg, self.image = targets, n_classes, cfg, image
        self.normalisation, self.balance = normalisation, balance
        self.axis = 1 if image else -1
        self.cache: dict[int, dict[str, np.ndarray]] = {}
        self.runs: dict[int, Trained] = {}
        self.billed: set[int] = set()   # folds whose training time a result row has reported
        self.init_fold: int | None = None  # a worker's copy: the fold whose seed draws the initial weights
        self.session: Session | None = None
        if normalisation == "speaker":
            self.x_spk = speaker_standardise(x, mask, actors, self.axis)
        elif normalisation != "none":
            raise ValueError(f"normalisation must be none or speaker, not {normalisation!r}")

    def _inputs(self, tr: np.ndarray, idx: np.ndarray) -> np.ndarray:
        if self.normalisation == "speaker":
            return self.x_spk[idx]
        stats = fit_standardiser(self.x[tr], self.mask[tr], self.axis)  # training actors only
        return apply_standardiser(self.x[idx], self.mask[idx], stats, self.axis)

    def probs(self, fold: int, tr: np.ndarray, te: np.ndarray) -> dict[str, np.ndarray]:
        if fold in self.cache:
            return self.cache[fold]

        # TensorFlow is seeded once, before the model's initial weights are drawn; every fold
        # starts from those weights (Session.reset), and Keras's dropout and noise draw from
        # their own seed generators, so re-seeding it per fold would only re-instantiate the
        # traced training step (reproducibility.seed_everything)
        seed_everything(self.cfg.seed + (self.init_fold or fold), tensorflow=self.session is None)
        if self.session is None:
            self.session = Session(self.build(), list(self.targets), self.cfg)
        val_actors = validation_actors(self.actors[tr], fold)
        val_local = np.flatnonzero(np.isin(self.actors[tr], val_actors))
        x_tr = self._inputs(tr, tr)
        y_tr = {h: one_hot(t[tr], self.n_classes[h]) for h, t in self.targets.items()}
        cw = {h: class_weights(t[tr], self.n_classes[h]) for h, t in self.targets.items()} if self.balance else None
        model = self.session.model
        run = train(self.session, x_tr, self.mask[tr], y_tr, val_local, self.cfg, self.image, cw)
        x_te = self._inputs(tr, te)
        out = predict(model, x_te, self.mask[te], self.image)
        self.cache[fold] = {h: np.asarray(out[h]) for h in self.targets}
        run.model = None  # fold models are not kept
        self.runs[fold] = run
        return self.cache[fold]

    def fit_seconds(self, fold: int) -> float:
        """The training time of ``fold`` the first time it is asked, 0 after (the tasks scored from one
        training run share it): what a result row reports, wherever the fold was trained."""
        first = fold not in self.billed
        self.billed.add(fold)
        return self.runs[fold].seconds if first and fold in self.runs else 0.0

    def detached(self, init_fold: int) -> "FoldTrainer":
        """A copy without the TensorFlow session or results, to send to a worker process; its model
        starts from the weights drawn with ``init_fold``'s seed, as every fold of a run in one process
        does (that of the first fold trained)."""
        out = object.__new__(FoldTrainer)
        out.__dict__.update({**self.__dict__, "session": None, "cache": {}, "runs": {}, "billed": set(),
                             "init_fold": init_fold})
        return out

    def histories(self) -> list[dict[str, list[float]]]:
        return [self.runs[k].history for k in sorted(self.runs)]

    def gap(self, head: str) -> dict[str, float]:
        """Mean over folds of training and validation-actor accuracy at the restored epoch, and at
        the last epoch run: how far the model fits the training voices beyond what transfers."""
        rows = []
        for r in self.runs.values():
            b = r.best_epoch - 1
            rows.append((r.history[f"{head}_accuracy"][b], r.history[f"val_{head}_accuracy"][b],
                         r.history[f"{head}_accuracy"][-1], r.history[f"val_{head}_accuracy"][-1]))
        m = np.mean(rows, axis=0) if rows else np.zeros(4)
        return {"train_acc_at_best": float(m[0]), "val_acc_at_best": float(m[1]),
                "train_acc_last": float(m[2]), "val_acc_last": float(m[3])}

    def timing(self) -> dict[str, float]:
        ep = [t for r in self.runs.values() for t in r.epoch_seconds]
        return {"folds": len(self.runs), "epochs": len(ep), "seconds_per_epoch": float(np.mean(ep)) if ep else 0.0,
                "train_seconds": float(sum(r.seconds for r in self.runs.values())),
                "mean_best_epoch": float(np.mean([r.best_epoch for r in self.runs.values()])) if self.runs else 0.0}


# ----------------------------------------------------------------------------- folds in parallel
def _fold_job(job: tuple) -> tuple:
    """Train one fold of one trainer in this (worker) process, TensorFlow capped at ``threads``:
    returns ``(trainer index, fold, test probabilities, run)``. The fold's model is built afresh from
    the trainer's initial weights (``FoldTrainer.detached``), so a fold's result does not depend on
    which process trains it or on the folds trained before it there."""
    import keras
    import tensorflow  # noqa: F401 - loaded before its pools are capped (limit_threads sets them once)

    from speechemo.foundations.executor import limit_threads

    i, trainer, fold, tr, te, threads = job
    limit_threads(threads)
    keras.backend.clear_session()  # a reused worker frees the previous fold's graph
    probs = trainer.probs(fold, tr, te)
    return i, fold, probs, trainer.runs[fold]


def train_folds(trainers: list[FoldTrainer], splits: list[tuple[np.ndarray, np.ndarray]], executor,
                desc: str = "folds") -> None:
    """Train every fold of every trainer, filling each trainer's fold cache (its ``probs`` then answer
    from it, for folds numbered from 1 as ``evaluation.cross_validate`` numbers them). With
    ``parallel_folds`` in the trainers' configuration and several workers, on ``executor``
    (``foundations.executor``: worker processes with a thread budget each, or Dask): on a 2-core
    machine two LSTM folds at a time with one thread each keep both cores busier than one fold with
    two (``profiles``: the measurement). Otherwise one after the other here, sharing one traced model
    (``Session``)."""
    folds = list(enumerate(splits, 1))  # numbered from 1, as evaluation.cross_validate asks for them
    if executor.workers < 2 or not all(t.cfg.parallel_folds for t in trainers):
        for t in trainers:
            for k, (tr, te) in folds:
                t.probs(k, tr, te)
        return
    jobs = [(i, t.detached(folds[0][0]), k, tr, te, executor.threads) for i, t in enumerate(trainers)
            for k, (tr, te) in folds]
    for i, fold, probs, run in executor.map(_fold_job, jobs, desc=desc, warm_up=False):
        trainers[i].cache[fold], trainers[i].runs[fold] = probs, run
