"""Adding a feature set or an encoder is one registry entry in one file: here, this test file.
A toy per-clip set and a toy encoder are registered, extracted through the cache and scored by a
speaker-independent cross-validation; nothing else in the package is touched."""
import numpy as np
import pytest

from speechemo.protocol import evaluation as ev
from speechemo.deployment import export
from speechemo.features import registry as reg, extraction
from speechemo.models.calibration import LinearHead
from speechemo.features.registry import (Encoder, FeatureConfig, View, register, register_encoder,
    register_view)


@pytest.fixture()
def clean_registry():
    """The registries are module-level: every entry a test adds is removed afterwards."""
    saved = {name: dict(getattr(reg, name)) for name in ("FEATURE_SETS", "EXTRACTORS", "ENCODERS", "VIEWS")}
    yield
    for name, copy in saved.items():
        live = getattr(reg, name)
        live.clear()
        live.update(copy)


class ToyModel:
    """Stands in for a pretrained encoder: pools its front end's frames (mean, max)."""

    def embed_mels(self, inputs):
        for i, x in enumerate(inputs):
            yield i, np.concatenate([x.mean(axis=0), x.max(axis=0)])


def frames_of(y: np.ndarray) -> np.ndarray:
    n = len(y) // 400
    return np.abs(y[: n * 400]).reshape(n, 400)[:, :4]


def toy_cv(table, ext, name):
    X = ext.tables[name].to_numpy()
    meta = table.set_index("file").loc[ext.files]
    y, actors = meta["emotion"].to_numpy(), meta["actor"].to_numpy()

    def fit_predict(tr, te, fold):
        centroids = {c: X[tr][y[tr] == c].mean(axis=0) for c in np.unique(y[tr])}
        names = list(centroids)
        d = np.stack([np.linalg.norm(X[te] - centroids[c], axis=1) for c in names], axis=1)
        return np.array(names)[d.argmin(axis=1)]

    return ev.cross_validate(fit_predict, y, ev.speaker_folds(actors), sorted(set(y)))


def test_a_new_per_clip_set_is_one_entry(clean_registry, tiny_table, tmp_path):
    @register(FeatureConfig("toy_energy", "table"))
    def toy_energy(fr, cfg):
        llf = fr.llf()
        return {"rms_mean": float(llf["rms"].mean()), "rms_max": float(llf["rms"].max()),
                "zcr_mean": float(llf["zcr"].mean())}

    sub = tiny_table.iloc[::3]
    # n_jobs=1: in this process (worker processes import the package's own set modules, not this test)
    ext = extraction.extract(sub, ["toy_energy"], tmp_path, n_jobs=1, progress=False)
    assert list(ext.tables["toy_energy"].columns) == ["rms_mean", "rms_max", "zcr_mean"]
    assert ext.computed == len(sub) and (tmp_path / FeatureConfig("toy_energy", "table").key()).is_dir()
    again = extraction.extract(sub, ["toy_energy"], tmp_path, n_jobs=1, progress=False)
    assert again.cached == len(sub) and again.computed == 0
    res = toy_cv(sub, again, "toy_energy")
    assert len(res.folds) == 2 and np.isfinite(res.folds.ua).all()


def test_a_second_encoder_is_one_entry(clean_registry, tiny_table, tmp_path):
    enc = Encoder("toy_encoder", load=lambda models_dir, weights_dir: ToyModel(), front_end=frames_of,
                  columns=lambda: [f"{s}{i}" for s in ("mean", "max") for i in range(4)], weights_id="toy-v1")
    register_encoder(enc, FeatureConfig("toy_pooled", "table", engine="toy_encoder"))
    sub = tiny_table.iloc[::3]
    ext = extraction.extract(sub, ["toy_pooled", "seed"], tmp_path, n_jobs=1, progress=False)
    assert ext.tables["toy_pooled"].shape == (len(sub), 8) and "seed" in ext.tables
    assert list(ext.tables["toy_pooled"].columns)[:2] == ["mean0", "mean1"]
    res = toy_cv(sub, ext, "toy_pooled")
    assert len(res.folds) == 2
    # the weights' id is part of the cache key: new weights never read the old vectors
    old_key = reg.FEATURE_SETS["toy_pooled"].key()
    register_encoder(Encoder(enc.name, enc.load, enc.front_end, enc.columns, "toy-v2"))
    assert reg.FEATURE_SETS["toy_pooled"].key() != old_key
    assert extraction.extract(sub, ["toy_pooled"], tmp_path, n_jobs=1, progress=False).computed == len(sub)


def test_a_view_reads_its_base_set_and_is_served_on_it(clean_registry, tiny_table, tmp_path):
    register_view(View("seed_mfcc", "seed", keep=lambda c: c.startswith("mfcc")))
    sub = tiny_table.iloc[::3]
    ext = extraction.extract(sub, ["seed_mfcc", "functionals"], tmp_path, n_jobs=1, progress=False)
    assert set(ext.tables) == {"seed_mfcc", "functionals"}          # the base is read, not returned
    again = extraction.extract(sub, ["seed"], tmp_path, n_jobs=1, progress=False)
    assert again.computed == 0                                      # the view cached nothing of its own
    base = again.tables["seed"]
    assert list(ext.tables["seed_mfcc"].columns) == [c for c in base.columns if c.startswith("mfcc")]
    assert 0 < ext.tables["seed_mfcc"].shape[1] < base.shape[1]
    # a head fitted on view + another set answers the same on the bundle's sets (base set, zeros elsewhere)
    tables = {**ext.tables, "seed": base}
    width = ext.tables["seed_mfcc"].shape[1] + ext.tables["functionals"].shape[1]
    head = LinearHead(["a", "b"], np.random.default_rng(0).normal(size=(2, width)), np.array([0.1, -0.2]), 2.0)
    served = export.served_head(head, "seed_mfcc+functionals", tables)
    assert export.served_features("seed_mfcc+functionals") == "seed+functionals"
    X_fit, _, _ = export.feature_matrix(tables, "seed_mfcc+functionals")
    X_served, _, _ = export.feature_matrix(tables, "seed+functionals")
    assert np.allclose(head.proba(X_fit), served.proba(X_served)) and served.temperature == 2.0
    assert "seed_mfcc" in export.bundle_sets()
    with pytest.raises(ValueError, match="base set"):
        register_view(View("orphan", "no_such_set", keep=bool))


def test_registry_refuses_mismatched_engines(clean_registry):
    with pytest.raises(ValueError, match="engine"):
        register(FeatureConfig("bad", "table", engine="whisper"))(lambda fr, cfg: {})
    with pytest.raises(ValueError, match="not the encoder"):
        register_encoder(Encoder("e1", None, None, lambda: [], "w"), FeatureConfig("bad", "table", engine="e2"))


def test_the_workbook_sets_are_registered():
    """Importing ``features`` registers every set (the registry's order follows import order and
    nothing depends on it)."""
    assert set(extraction.FEATURE_SETS) == {"seed", "functionals", "sequence", "image", "egemaps", "compare",
                                          "whisper_base"}
    assert extraction.FEATURE_SETS["whisper_base"].engine in extraction.ENCODERS


def test_whisper_views_hold_the_columns_they_name():
    from speechemo.features import encoders, whisper
    cols = whisper.column_names()
    mean = [cols[i] for i in reg.VIEWS[encoders.WHISPER_BASE_MEAN.name].positions(cols)]
    upper = [cols[i] for i in reg.VIEWS[encoders.WHISPER_BASE_UPPER.name].positions(cols)]
    assert len(mean) == whisper.N_STATES * whisper.D_MODEL and all("_mean" in c for c in mean)
    assert len(upper) == 4 * whisper.D_MODEL and set(upper) < set(mean)
    assert {c.split("_")[0] for c in upper} == {"L3", "L4", "L5", "L6"}
