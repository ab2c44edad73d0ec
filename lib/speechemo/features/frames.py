"""Frame-level descriptors of one clip: one STFT (n_fft 1024, hop 256 at 16 kHz) shared by every
per-clip feature set, plus the low-level descriptors (RMS, ZCR, spectral shape, F0, voicing)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from speechemo.data import audio

SR = audio.TARGET_SR
N_FFT = 1024
HOP = 256
LLF_ROWS = ["rms", "zcr", "centroid", "bandwidth", "rolloff", "flatness", "f0", "voiced"]


@dataclass
class Frames:
    """Frame-level descriptors of one clip, computed once and shared by every set."""

    y: np.ndarray
    power: np.ndarray = field(repr=False)
    mel_db: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, y: np.ndarray) -> "Frames":
        import librosa

        if y.size < N_FFT:
            y = np.pad(y, (0, N_FFT - y.size))
        S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, center=True)) ** 2
        return cls(y=y, power=S)

    def logmel(self, n_mels: int) -> np.ndarray:
        import librosa

        if n_mels not in self.mel_db:
            mel = librosa.feature.melspectrogram(S=self.power, sr=SR, n_mels=n_mels, fmax=SR / 2)
            self.mel_db[n_mels] = librosa.power_to_db(mel, ref=1.0, top_db=None).astype(np.float32)
        return self.mel_db[n_mels]

    def mfcc(self, n: int) -> np.ndarray:
        import librosa

        return librosa.feature.mfcc(S=self.logmel(64), n_mfcc=n)

    def cached(self, name: str, fn):  # small memo for shared descriptors
        memo = self.__dict__.setdefault("_memo", {})
        if name not in memo:
            memo[name] = fn()
        return memo[name]

    def llf(self) -> dict[str, np.ndarray]:
        """Low-level descriptors, one value per frame."""
        import librosa

        def compute() -> dict[str, np.ndarray]:
            S = np.sqrt(self.power)
            n = S.shape[1]
            rms = librosa.feature.rms(S=S, frame_length=N_FFT)[0]
            zcr = librosa.feature.zero_crossing_rate(self.y, frame_length=N_FFT, hop_length=HOP)[0][:n]
            centroid = librosa.feature.spectral_centroid(S=S, sr=SR)[0]
            bandwidth = librosa.feature.spectral_bandwidth(S=S, sr=SR)[0]
            rolloff = librosa.feature.spectral_rolloff(S=S, sr=SR)[0]
            flatness = librosa.feature.spectral_flatness(S=S)[0]
            f0 = librosa.yin(self.y, fmin=60, fmax=500, sr=SR, frame_length=N_FFT, hop_length=HOP)[:n]
            # voicing: loud enough (within 30 dB of the loudest frame), low ZCR, F0 inside the range
            rms_db = 20 * np.log10(rms + 1e-10)
            voiced = ((rms_db > rms_db.max() - 30) & (zcr < 0.2) & (f0 > 62) & (f0 < 495)).astype(np.float32)
            return {"rms": rms, "zcr": zcr, "centroid": centroid, "bandwidth": bandwidth,
                    "rolloff": rolloff, "flatness": flatness, "f0": f0, "voiced": voiced}

        return self.cached("llf", compute)
