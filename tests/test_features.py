import numpy as np
import pytest

from speechemo.data import audio
from speechemo.features import extraction
from speechemo.features.extraction import FEATURE_SETS


@pytest.fixture(scope="module")
def extracted(tiny_table, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    sub = tiny_table.iloc[::6]  # 20 files, both actors, every emotion
    return sub, cache, extraction.extract(sub, list(FEATURE_SETS), cache, n_jobs=1, progress=False)


def test_shapes_dtypes_names(extracted):
    sub, _, ext = extracted
    assert ext.failures == [] and len(ext.files) == len(sub)
    seed = ext.tables["seed"]
    assert list(seed.columns) == [f"mfcc{i}" for i in range(16)] + [
        "zcr", "rms", "spectral_centroid", "spectral_bandwidth"]
    func = ext.tables["functionals"]
    assert func.shape[1] > 150 and func.columns.is_unique
    for col in ("f0_mean", "voiced_ratio", "mfcc0_mean", "mfcc_d0_std", "logmel23_mean", "chroma11_mean"):
        assert col in func.columns
    assert ext.arrays["sequence"]["x"].shape == (len(sub), 128, 48)
    assert ext.arrays["sequence"]["mask"].shape == (len(sub), 128)
    assert ext.arrays["image"]["x"].shape == (len(sub), 72, 128)
    for a in ext.arrays.values():
        assert a["x"].dtype == np.float32


def test_no_nan_or_inf_on_synthetic(extracted):
    _, _, ext = extracted
    for t in ext.tables.values():
        assert np.isfinite(t.to_numpy()).all()
    for a in ext.arrays.values():
        assert np.isfinite(a["x"]).all()
    img = ext.arrays["image"]["x"]
    assert img.min() >= 0 and img.max() <= 1


def test_cache_hit_and_miss(extracted, monkeypatch):
    sub, cache, first = extracted
    again = extraction.extract(sub, list(FEATURE_SETS), cache, n_jobs=1, progress=False)
    assert again.computed == 0 and again.cached == len(sub)
    np.testing.assert_array_equal(again.arrays["image"]["x"], first.arrays["image"]["x"])
    # a configuration change recomputes only that set
    changed = dict(FEATURE_SETS)
    changed["sequence"] = extraction.FeatureConfig("sequence", "sequence", n_mfcc=13, frames=64)
    monkeypatch.setattr(extraction, "FEATURE_SETS", changed)
    calls = []
    real = extraction.extract_file
    monkeypatch.setattr(extraction, "extract_file", lambda p, s: calls.append(tuple(s)) or real(p, s))
    third = extraction.extract(sub.iloc[:3], list(changed), cache, n_jobs=1, progress=False)
    assert third.computed == 3 and set(calls) == {("sequence",)}
    assert third.arrays["sequence"]["x"].shape == (3, 64, 26)


def test_deterministic(extracted, tmp_path):
    sub, _, first = extracted
    fresh = extraction.extract(sub.iloc[:4], ["functionals", "image"], tmp_path / "a", n_jobs=1, progress=False)
    np.testing.assert_array_equal(fresh.tables["functionals"].to_numpy(),
                                  first.tables["functionals"].iloc[:4].to_numpy())
    np.testing.assert_array_equal(fresh.arrays["image"]["x"], first.arrays["image"]["x"][:4])
    # in parallel workers (BLAS on one thread) only the float rounding may differ
    par = extraction.extract(sub.iloc[:4], ["functionals"], tmp_path / "b", n_jobs=2, progress=False)
    np.testing.assert_allclose(par.tables["functionals"].to_numpy(),
                               first.tables["functionals"].iloc[:4].to_numpy(), rtol=1e-5, atol=1e-6)


def test_corrupt_and_empty_files_are_named(tiny_table, tmp_path):
    empty = tmp_path / "03-01-01-01-01-01-01.wav"
    empty.write_bytes(b"")
    corrupt = tmp_path / "03-01-02-01-01-01-01.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    with pytest.raises(audio.AudioError, match="03-01-01-01-01-01-01.wav: empty file"):
        audio.load(str(empty))
    with pytest.raises(audio.AudioError, match="03-01-02-01-01-01-01.wav: cannot decode"):
        audio.load(str(corrupt))
    table = tiny_table.iloc[:2].copy()
    table.loc[table.index[1], ["path", "md5"]] = [str(corrupt), "corrupt"]
    ext = extraction.extract(table, ["seed"], tmp_path / "c", n_jobs=1, progress=False)
    assert len(ext.files) == 1 and len(ext.failures) == 1
    assert "cannot decode" in ext.failures[0][1]


def test_front_end_downmix_resample_trim(tmp_path):
    import soundfile as sf
    sr = 48_000
    t = np.arange(int(2.0 * sr)) / sr
    tone = 0.5 * np.sin(2 * np.pi * 220 * t) * ((t > 0.5) & (t < 1.5))
    sf.write(tmp_path / "x.wav", np.stack([tone, tone], 1), sr)
    y = audio.load(str(tmp_path / "x.wav"))
    assert y.ndim == 1 and 0.9 * 16000 < y.size < 1.2 * 16000
    raw = audio.load(str(tmp_path / "x.wav"), trim=False)
    assert raw.size == 32000
    loud = audio.load(str(tmp_path / "x.wav"), normalise=True)
    assert abs(20 * np.log10(np.sqrt(np.mean(loud ** 2))) - audio.TARGET_RMS_DBFS) < 0.5
