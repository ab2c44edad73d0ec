"""The two profiles, one typed object each: ``quick`` (tests, minutes on synthetic data) and ``full``
(real results). Every size a run depends on lives here -- training budgets of the classical and
ridge models, deep-model settings, robustness-suite sizes, encoder chunking -- and a run writes
the profile it used beside ``summary.csv`` (``steps.start``)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Budget:
    """Sizes chosen per profile (quick for tests, full for real results)."""

    trees: int
    xgb_rounds: int
    svm_grid: tuple[float, ...]
    inner_folds: int
    logreg_grid: tuple[float, ...] = (0.01, 0.1, 1.0)
    max_train: int | None = None   # training rows per fit, as clips per speaker (evaluation.cap_per_speaker)
    loco_max_train: int | None = None  # the same for a leave-one-corpus-out fit (evaluation.budget_for)

    def capped(self, rows: int | None) -> "Budget":
        """This budget with at most ``rows`` training clips per fit, of every protocol (None: unchanged)."""
        if rows is None:
            return self
        return replace(self, **{k: rows if getattr(self, k) is None else min(rows, getattr(self, k))
                                for k in ("max_train", "loco_max_train")})


@dataclass(frozen=True)
class TrainConfig:
    """Training set-up (the seed's: up to 100 epochs, batch 32, Adam, categorical cross-entropy)."""

    epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 12
    width: int = 16                 # ResNet base width (64 = the ImageNet ResNet-18)
    units: int = 64                 # LSTM units
    input_noise: float = 0.0        # LSTM: Gaussian noise on the standardised inputs (training only)
    bidirectional: bool = False     # LSTM reads the sequence both ways
    dropout: float = 0.3
    augment: tuple[str, ...] = ()   # any of: specaugment, shift, noise, mixup
    seed: int = 0
    parallel_folds: bool = False    # folds in worker processes, one thread each (models.deep.train_folds)


@dataclass(frozen=True)
class Profile:
    """Everything a profile sets."""

    name: str
    training: Budget                # classical models and the ridge (notebooks 03, 06, 07, 08)
    lstm: TrainConfig               # notebook 04
    resnet: TrainConfig             # notebook 05
    robustness_clips: int | None    # perturbed test clips in all (None: 4 per actor), notebook 07
    robust_candidates: int          # deployment candidates per task scored under perturbation
    robust_max_train: int | None = None  # training clips per fit of the robustness suite (see below)
    encoder_chunk: int = 256        # clips per encoder pass between two cache writes (Dask: at most 32); the
                                    # batch a clip is padded in moves its embedding by ~1e-6 relative
    notebook_parameters: dict[str, dict[str, object]] = field(default_factory=dict)
    # papermill parameters this profile gives a notebook (by name, e.g. "03_classical_baselines") in
    # place of the defaults of its ``parameters`` cell; the runner injects them, so the executed copy
    # shows them (a value given on the command line still wins)

    def parameters_for(self, notebook: str, declared) -> dict[str, object]:
        """This profile's parameters for ``notebook`` that the notebook declares."""
        return {k: v for k, v in self.notebook_parameters.get(notebook, {}).items() if k in declared}


# max_train: the training rows of one cross-validation fit (a compute budget, not a tuned choice).
# RAVDESS alone trains on 1,200 clips (never capped); a union keeps every training speaker and the
# same number of clips of each. The dual ridge costs about the cube of its rows. With 4,500 rows,
# within-CREMA-D emotion (whisper_base, six actor folds) scored UA 72.8 % against 73.9 % with every
# training clip, and speaker-normalised 80.1 against 80.8 (2026-12-06). The ridge now solves in single
# precision (``models.ridge``), which halves a lone fit (one machine, one after the other: 16.4 -> 8.5 s
# on fold 1's 6,211 CREMA-D clips; 8.5 -> 4.6 s on 4,416 union clips), so the budget is 6,300 rows:
# every training clip of any within-CREMA-D fold (at most 6,229); pooled fits on the union stay capped.
# Notebook 06 on RAVDESS + CREMA-D took 888 s against 742 s with 4,500 rows
# in double precision (two fits at a time there, where single precision gains less), for +1.1 UA within
# CREMA-D, +1.2 pooled and +2.2 speaker-normalised CREMA-D -> RAVDESS; on RAVDESS alone (never capped)
# 128 s against 141 s, same rows to the last digit. A deployed head's final fit (one per head) uses
# every clip.
# loco_max_train: a leave-one-corpus-out run is one fit per held-out corpus, not six, so it trains on
# every clip of the other corpora (None), as the deployed heads' own unseen-corpus scores in 07 do.
# Notebook 06 on RAVDESS + CREMA-D, warm caches, one after the other on one machine: 1,148 s against
# 1,092 s with CREMA-D -> RAVDESS capped at 6,300 of 7,441 clips, for +0.5 to +6.4 points UA on its
# emotion rows (best single clip 63.0 -> 65.8, speaker-normalised 79.3 -> 79.8), -1.5 to +2.8 on
# sentiment's and -0.3 to +0.1 on gender's (2026-12-06); RAVDESS -> CREMA-D (1,440 clips) was never capped.
# robust_max_train: the robustness suite (07) ranks candidates and their two recipes (clean,
# augmented) against each other, 12 fits per candidate; it trains on at most 2,000 clips per fit,
# which RAVDESS (1,200) never reaches. One ridge fit on RAVDESS + CREMA-D (whisper_base, emotion)
# took 1.5 / 3.9 / 8.6 s with 1,500 / 3,000 / 4,500 rows on this machine.
# parallel_folds: side by side on one 2-core machine (AMD EPYC with AVX-512, 2026-12-08, the quick
# synthetic corpus, six folds), two workers with one thread each against one process with both: the
# full LSTM 96 -> 63 s at 20 epochs (6 epochs: 29 -> 26 s); the full ResNet-18 46 -> 44 s at 10 epochs,
# 19 -> 27 s at 3 (its convolutions use both threads well; each worker builds and traces its fold's
# model, a few seconds). So the LSTM's folds train in parallel and the ResNet's, and quick runs, do not.
# Notebook 04 on RAVDESS, same machine, one after the other: 535 / 502 s (seeds 0 / 1) before, 372 / 386 s
# with its twelve trainings two at a time (0.73 x; an epoch takes 2.3 s on one thread against 2.0 s on
# two); emotion UA 58.3 / 59.8 -> 57.4 / 61.7 speaker-normalised, 52.9 / 55.5 -> 51.2 / 54.9 without.
# quick: every notebook runs once, end to end, in minutes (what ``make test`` compares with its references):
# the smallest budgets that still train every kind of model (an epoch, 10 boosting rounds, 20 trees), and
# grids without ComParE (6,373 columns: half of 02's openSMILE time and 03's ridge fits, run on real data
# only; tests/test_opensmile.py checks the set itself), the deep models with one normalisation, a latency
# check on 5 clips and an int8 check on 60.
# Profiled on the 6-actor synthetic corpus (tools/profile_notebook.py, one core of an AMD EPYC with
# AVX-512, 2026-12-08): in 03, 44 of 110 s were XGBoost's 40 rounds and 21 s the forests; in 02, 38 of 69 s
# were openSMILE (eGeMAPS + ComParE) and 20 s the encoder.
QUICK_PARAMETERS: dict[str, dict[str, object]] = {
    "02_features": {"sets": ["seed", "functionals", "sequence", "image", "egemaps", "whisper_base"]},
    "03_classical_baselines": {"feature_sets": ["seed", "functionals", "egemaps"]},
    "04_lstm": {"normalisations": ["speaker"]},  # one normalisation: the other adds six more folds, no new code
    "05_resnet": {"normalisations": ["speaker"]},
    "07_export": {"latency_clips": 5, "int8_clips": 60},
}

PROFILES: dict[str, Profile] = {
    "quick": Profile(
        "quick",
        training=Budget(trees=20, xgb_rounds=10, svm_grid=(1.0, 10.0), inner_folds=2, logreg_grid=(0.01, 1.0)),
        lstm=TrainConfig(epochs=1, units=16, patience=1, input_noise=0.3, bidirectional=True),
        resnet=TrainConfig(epochs=1, width=4, patience=1, augment=("specaugment", "shift", "noise", "mixup")),
        robustness_clips=None, robust_candidates=1, encoder_chunk=256, notebook_parameters=QUICK_PARAMETERS),
    "full": Profile(
        "full",
        training=Budget(trees=300, xgb_rounds=200, svm_grid=(1.0, 3.0, 10.0, 30.0), inner_folds=3,
                        logreg_grid=(0.001, 0.01, 0.1, 1.0), max_train=6300),
        lstm=TrainConfig(epochs=100, units=64, patience=8, input_noise=0.3, bidirectional=True, parallel_folds=True),
        resnet=TrainConfig(epochs=25, width=16, patience=6, batch_size=32,
                           augment=("specaugment", "shift", "noise", "mixup")),
        robustness_clips=576, robust_candidates=3, robust_max_train=2000, encoder_chunk=256),
}


def get(name: str) -> Profile:
    """The profile called ``name`` (``quick`` or ``full``)."""
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, not {name!r} (PROFILE=quick|full)")
    return PROFILES[name]
