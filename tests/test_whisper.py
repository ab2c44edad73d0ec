"""Whisper base encoder: weights (join, hash check), CTranslate2 reader, log-mel front end,
parity with the independent CTranslate2 engine, batching, and the feature cache."""
import hashlib
import struct

import numpy as np
import pytest

from speechemo.data import audio
from speechemo.features import extraction, whisper


# ----------------------------------------------------------------------------- weights
def _parts(tmp_path, payload: bytes):
    a, b = tmp_path / "p1", tmp_path / "p2"
    a.write_bytes(payload[:7])
    b.write_bytes(payload[7:])
    return [a, b]


def test_join_parts_verifies_size_and_hash(tmp_path):
    payload = bytes(range(256)) * 3
    parts = _parts(tmp_path, payload)
    dest = tmp_path / "cache" / "model.bin"
    whisper.join_parts(parts, dest, size=len(payload), sha256=hashlib.sha256(payload).hexdigest())
    assert dest.read_bytes() == payload


def test_corrupt_part_gives_clear_error_and_caches_nothing(tmp_path):
    payload = bytes(range(256)) * 3
    parts = _parts(tmp_path, payload)
    good = hashlib.sha256(payload).hexdigest()
    parts[1].write_bytes(b"\x00" + parts[1].read_bytes()[1:])  # one flipped byte
    dest = tmp_path / "cache" / "model.bin"
    with pytest.raises(whisper.WeightsError, match="a part is corrupt.*make setup"):
        whisper.join_parts(parts, dest, size=len(payload), sha256=good)
    assert not dest.exists() and list(dest.parent.iterdir()) == []  # no half-written file either


def test_local_folder_with_wrong_file_is_refused(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"not a model")
    with pytest.raises(whisper.WeightsError, match=r"model.bin: 11 bytes, expected 145,217,532"):
        whisper.model_bin(tmp_path / "models", whisper_dir=tmp_path)


def _write_ct2(path, variables: dict[str, np.ndarray]):
    """A CTranslate2 v6 file written here independently of the reader, from its documented layout."""
    ids = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.int16): 2, np.dtype(np.float16): 4}

    def string(s):
        b = s.encode() + b"\0"
        return struct.pack("<H", len(b)) + b

    out = struct.pack("<I", 6) + string("WhisperSpec") + struct.pack("<I", 3) + struct.pack("<I", len(variables))
    for name, v in variables.items():
        out += string(name) + struct.pack("<B", v.ndim) + struct.pack(f"<{v.ndim}I", *v.shape)
        out += struct.pack("<B", ids[v.dtype]) + struct.pack("<I", v.nbytes) + v.tobytes()
    out += struct.pack("<I", 1) + string("alias") + string("encoder/a")
    path.write_bytes(out)


def test_read_ct2_layout(tmp_path):
    rng = np.random.default_rng(0)
    variables = {"encoder/a": rng.standard_normal((3, 4)).astype(np.float16),
                 "decoder/b": rng.standard_normal(5).astype(np.float32),
                 "encoder/num_heads": np.array(8, np.int16)}
    _write_ct2(tmp_path / "model.bin", variables)
    got = whisper.read_ct2(tmp_path / "model.bin", prefix="encoder/")
    assert set(got) == {"encoder/a", "encoder/num_heads"}
    np.testing.assert_array_equal(got["encoder/a"], variables["encoder/a"])
    assert got["encoder/a"].dtype == np.float16 and int(got["encoder/num_heads"]) == 8


# ----------------------------------------------------------------------------- front end
def _reference_log_mel(y: np.ndarray) -> np.ndarray:
    """Whisper's recipe, written out with NumPy: reflect-padded frames, periodic Hann, |rfft|^2."""
    import librosa

    pad = np.pad(y, (200, 200), mode="reflect")
    n = 1 + (len(pad) - 400) // 160
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    frames = np.stack([pad[i * 160:i * 160 + 400] * window for i in range(n)])
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2)[:-1].T          # drop the last frame
    mel = librosa.filters.mel(sr=16000, n_fft=400, n_mels=80) @ power    # Whisper's filterbank asset
    logm = np.log10(np.maximum(mel, 1e-10))
    logm = np.maximum(logm, logm.max() - 8.0)
    return ((logm + 4.0) / 4.0).T


def test_log_mel_matches_whisper_recipe():
    rng = np.random.default_rng(1)
    t = np.arange(int(1.37 * 16000)) / 16000
    y = (0.3 * np.sin(2 * np.pi * 180 * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    got = whisper.log_mel(y)
    ref = _reference_log_mel(y.astype(np.float64))
    assert got.shape == ref.shape == (y.size // 160, 80)
    np.testing.assert_allclose(got, ref, atol=2e-4)


# ----------------------------------------------------------------------------- the encoder (real weights)
@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return whisper.Encoder.load(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def clips(tiny_table):
    return [audio.load(p) for p in tiny_table.path.iloc[[0, 37, 80]]]


def test_matches_ctranslate2_engine(encoder, clips, tmp_path_factory):
    ctranslate2 = pytest.importorskip("ctranslate2")
    folder = whisper.model_bin(tmp_path_factory.mktemp("m2")).parent
    engine = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="float32")
    mel = whisper.log_mel(clips[0])
    ours = encoder.states([mel])[0][-1][0]
    theirs = np.array(engine.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.T[None])),
                                    to_cpu=True))[0]
    assert ours.shape == theirs.shape == ((mel.shape[0] + 1) // 2, 512)
    assert np.abs(ours - theirs).max() / np.abs(theirs).max() < 1e-3


def test_seven_states_and_batching_equals_single(encoder, clips):
    mels = [whisper.log_mel(y) for y in clips]
    single = [encoder.states([m])[0] for m in mels]
    batch, tmask = encoder.states(mels)
    assert len(batch) == whisper.N_STATES
    for i, m in enumerate(mels):
        t = (m.shape[0] + 1) // 2
        assert tmask[i].sum() == t
        for layer in range(whisper.N_STATES):
            np.testing.assert_allclose(batch[layer][i, :t], single[i][layer][0], atol=1e-3)
    pooled = encoder.embed(clips)
    assert pooled.shape == (3, 7168) and np.isfinite(pooled).all()
    alone = encoder.embed(clips[1:2])
    np.testing.assert_allclose(pooled[1], alone[0], atol=1e-3)


def test_feature_set_uses_the_cache(tiny_table, tmp_path):
    sub = tiny_table.iloc[:5]
    cache = tmp_path / "features"
    first = extraction.extract(sub, ["whisper_base"], cache, n_jobs=1, progress=False)
    assert first.computed == 5 and first.tables["whisper_base"].shape == (5, 7168)
    assert list(first.tables["whisper_base"].columns[:2]) == ["L0_mean0", "L0_mean1"]
    assert (tmp_path / "models" / "whisper-base" / "model.bin").exists()
    assert not list(cache.rglob("*.tmp*"))
    again = extraction.extract(sub, ["whisper_base"], cache, n_jobs=1, progress=False)
    assert again.computed == 0 and again.cached == 5
    np.testing.assert_array_equal(again.tables["whisper_base"].to_numpy(), first.tables["whisper_base"].to_numpy())
