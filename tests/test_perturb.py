"""The robustness suite's perturbations do what their names say, reproducibly."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from speechemo.data import perturb

SR = 16_000


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(2 * SR) / SR
    voiced = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((150, 300, 450, 900, 2500, 5000, 7000), 1))
    return (0.2 * voiced * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.normal(size=t.size)).astype(np.float32)


def _band_db(y, lo, hi):
    f, p = welch(y, SR, nperseg=1024)
    return 10 * np.log10(p[(f >= lo) & (f < hi)].sum() + 1e-20)


@pytest.mark.parametrize("snr", [20.0, 10.0])
def test_noise_at_the_requested_snr(clip, snr):
    noisy = perturb.add_noise(clip, snr, np.random.default_rng(1))
    noise = noisy - clip
    assert 10 * np.log10(np.mean(clip ** 2) / np.mean(noise ** 2)) == pytest.approx(snr, abs=0.05)
    assert np.array_equal(noisy, perturb.add_noise(clip, snr, np.random.default_rng(1)))  # seeded
    assert not np.array_equal(noisy, perturb.add_noise(clip, snr, np.random.default_rng(2)))


def test_telephone_band(clip):
    tel = perturb.telephone(clip)
    assert tel.shape == clip.shape
    # 5 and 7 kHz partials gone (8 kHz channel); 900 Hz and 2.5 kHz kept; 150 Hz attenuated
    assert _band_db(tel, 4500, 8000) - _band_db(clip, 4500, 8000) < -40
    assert abs(_band_db(tel, 800, 3000) - _band_db(clip, 800, 3000)) < 1.5
    assert _band_db(tel, 100, 200) - _band_db(clip, 100, 200) < -10


def test_gain_mp3_reverb_tilt(clip):
    assert np.allclose(perturb.gain(clip, -20), clip * 0.1, atol=1e-7)
    m = perturb.mp3(clip)
    assert m.shape == clip.shape and np.corrcoef(m[2000:-2000], clip[2000:-2000])[0, 1] > 0.7
    assert 16 <= perturb.mp3_kbps(clip) <= 32
    r = perturb.reverb(clip, np.random.default_rng(0))
    assert np.sqrt(np.mean(r ** 2)) == pytest.approx(np.sqrt(np.mean(clip ** 2)), rel=1e-3)
    assert np.corrcoef(r, clip)[0, 1] < 0.99
    tilt = perturb.eq_tilt(clip, -3.0)
    lo, hi = (_band_db(tilt, 100, 500) - _band_db(clip, 100, 500)), (_band_db(tilt, 4000, 8000) - _band_db(clip, 4000, 8000))
    assert lo - hi > 9  # about 3 dB per octave over the ~4 octaves between the bands


def test_apply_names_every_perturbation(clip):
    for name in perturb.PERTURBATIONS:
        out = perturb.apply(name, clip, seed=3)
        assert out.dtype == np.float32 and out.shape == clip.shape and np.isfinite(out).all()
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturb.apply("underwater", clip, 0)
