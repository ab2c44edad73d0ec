"""Perturbed copies (written once, atomically) and the robustness table."""
from __future__ import annotations

import numpy as np
import pandas as pd

from speechemo.features import extraction
from speechemo.foundations import profiles
from speechemo.deployment import robustness


def test_subset_is_balanced(tiny_table):
    meta = tiny_table.set_index("file")
    sub = robustness.subset(meta, 8, seed=0)
    assert sub.groupby("actor").size().tolist() == [8, 8]
    assert sub.groupby("actor").emotion.nunique().min() == 8  # one clip of each emotion first
    assert robustness.subset(meta, None) is meta


def test_copies_cached_and_scored(tiny_table, tmp_path):
    meta = tiny_table.set_index("file")
    sub = robustness.subset(meta, 6, seed=0)
    names = ["gain_-20db", "noise_10db"]
    table = robustness.perturbed_copies(sub, names, tmp_path / "perturbed", progress=False)
    assert len(table) == 2 * len(sub) and set(table.perturbation) == set(names)
    stamps = {p: (tmp_path / p).stat().st_mtime_ns for p in table.path}
    again = robustness.perturbed_copies(sub, names, tmp_path / "perturbed", progress=False)
    assert again.equals(table) and all((tmp_path / p).stat().st_mtime_ns == t for p, t in stamps.items())
    assert not list((tmp_path / "perturbed").rglob("*.tmp"))
    clean = extraction.extract(tiny_table, ["seed"], tmp_path / "f", n_jobs=1, progress=False)
    pert = extraction.extract(table, ["seed"], tmp_path / "f", n_jobs=1, progress=False)
    meta = tiny_table.set_index("file").loc[clean.files]
    cands = pd.DataFrame([{"task": "emotion", "model": "logreg", "features": "seed", "normalisation": "none", "ua": 0.9}])
    aug_table = robustness.perturbed_copies(sub, names, tmp_path / "perturbed", seed=1, progress=False, one_each=True)
    assert len(aug_table) == len(sub) and set(aug_table.perturbation) <= set(names)  # one family per clip
    aug = extraction.extract(aug_table, ["seed"], tmp_path / "f", n_jobs=1, progress=False)
    per_fold = robustness.perturbed_scores(cands, clean.tables, pert.tables, table, meta, profiles.get("quick").training, 1, False,
                                 augment=(aug.tables, aug_table))
    assert len(per_fold) == 2 * 2 * 3 and set(per_fold.perturbation) == {"clean", *names}
    assert set(per_fold.training) == {"clean", "augmented"}
    assert per_fold.n.tolist() == [6] * 12 and per_fold.ua.between(0, 1).all()
    X, y, actors = robustness.training_rows((aug.tables, aug_table), "seed", meta, "emotion")
    src = aug_table.set_index("file").loc[aug.files, "source"]
    assert (y == meta.loc[src, "emotion"].to_numpy()).all() and (actors == meta.loc[src, "actor"].to_numpy()).all()


def test_table_takes_the_worst_case():
    rows = [{"task": "emotion", "model": m, "features": "f", "normalisation": "none", "fold": k, "perturbation": p, "ua": u}
            for m, vals in (("a", {"clean": 0.8, "x": 0.5, "y": 0.7}), ("b", {"clean": 0.7, "x": 0.65, "y": 0.6}))
            for p, u in vals.items() for k in (1, 2)]
    t = robustness.table(pd.DataFrame(rows)).set_index("model")
    assert t.loc["a", "ua_robust"] == 0.5 and t.loc["a", "worst"] == "x"
    assert t.loc["b", "ua_robust"] == 0.6 and np.isclose(t.loc["b", "drop_worst"], 0.1)
    assert robustness.table(pd.DataFrame(rows), worst="mean").set_index("model").loc["a", "ua_robust"] == 0.6


def test_suite_budget_caps_a_union_only():
    """The suite's cap binds only above it: RAVDESS's 1,200 training clips are never capped, a
    union's are, and a cap never raises a smaller budget."""
    full = profiles.get("full")
    suite = full.training.capped(full.robust_max_train)
    assert suite.max_train == full.robust_max_train < full.training.max_train
    assert full.robust_max_train > 1200
    assert full.training.capped(None) is full.training
    assert full.training.capped(10 ** 6).max_train == full.training.max_train
    assert profiles.get("quick").training.capped(300).max_train == 300
