"""openSMILE sets in the feature registry: names and widths, no NaN, cache reuse, and equality with
openSMILE reading the file itself."""
import numpy as np
import pytest

from speechemo.data import audio
from speechemo.features import extraction, opensmile_features
from speechemo.features.frames import Frames

opensmile = pytest.importorskip("opensmile")


@pytest.fixture(scope="module")
def smile_extraction(tiny_table, tmp_path_factory):
    sub = tiny_table.iloc[::12]  # 10 files, both actors
    cache = tmp_path_factory.mktemp("smile-cache")
    return sub, cache, extraction.extract(sub, ["egemaps", "compare"], cache, n_jobs=2, progress=False)


def test_names_and_widths(smile_extraction):
    sub, _, ext = smile_extraction
    eg, cp = ext.tables["egemaps"], ext.tables["compare"]
    assert eg.shape == (len(sub), 88) and cp.shape == (len(sub), 6373)
    assert eg.columns[0] == "F0semitoneFrom27.5Hz_sma3nz_amean" and "loudness_sma3_amean" in eg.columns
    assert eg.columns.is_unique and cp.columns.is_unique
    groups = opensmile_features.egemaps_groups(eg.columns)
    assert "other" not in set(groups) and (groups == "pitch").sum() == 10


def test_no_nan_on_synthetic(smile_extraction):
    _, _, ext = smile_extraction
    for s in ("egemaps", "compare"):
        assert np.isfinite(ext.tables[s].to_numpy()).all(), s


def test_cache_reuse(smile_extraction):
    sub, cache, first = smile_extraction
    again = extraction.extract(sub, ["egemaps", "compare"], cache, n_jobs=1, progress=False)
    assert again.computed == 0 and again.cached == len(sub)
    np.testing.assert_array_equal(again.tables["compare"].to_numpy(), first.tables["compare"].to_numpy())


def test_egemaps_equals_opensmile_reading_the_file(tiny_table, tmp_path):
    """Our value path (decode, 16 kHz mono) against openSMILE's own file reader and configuration
    on the same 16 kHz mono file, untrimmed (the wheel ships the SMILE library, not the
    SMILExtract command-line program)."""
    import soundfile as sf

    y = audio.load(tiny_table.path.iloc[3], trim=False)
    path = tmp_path / "clip.wav"
    sf.write(path, y, 16000, subtype="FLOAT")
    fr = Frames.of(audio.load(path, trim=False))
    ours = opensmile_features.opensmile_features(fr, extraction.FEATURE_SETS["egemaps"])
    theirs = opensmile_features.smile("egemaps").process_file(str(path)).to_numpy()[0]
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_works_after_tensorflow_was_loaded():
    """openSMILE's library crashed (SIGSEGV) in a process that had loaded TensorFlow first."""
    import subprocess
    import sys

    code = ("import numpy as np, tensorflow\n"
            "from speechemo.features import opensmile_features\n"
            "v = opensmile_features.smile('egemaps').process_signal(np.random.default_rng(0).standard_normal(16000)"
            ".astype('float32') * 0.1, 16000)\n"
            "print('width', v.shape[1])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "width 88" in out.stdout, out.stderr[-2000:]


def test_voice_view_holds_the_pitch_and_formant_columns(smile_extraction):
    """``egemaps_voice`` is read from the cached eGeMAPS vectors: its 10 pitch and 18 formant
    columns, nothing of loudness, voice quality or spectral balance."""
    sub, cache, ext = smile_extraction
    view = extraction.extract(sub, ["egemaps_voice"], cache, n_jobs=1, progress=False)
    assert view.computed == 0  # no extraction of its own
    v = view.tables["egemaps_voice"]
    groups = opensmile_features.egemaps_groups(v.columns)
    assert v.shape == (len(sub), 28) and (groups == "pitch").sum() == 10 and (groups == "formants").sum() == 18
    np.testing.assert_array_equal(v.to_numpy(), ext.tables["egemaps"][v.columns].to_numpy())
