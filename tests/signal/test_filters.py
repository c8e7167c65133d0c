"""ecg_clean: baseline and noise removal, shapes, input checks."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.signal import ecg_clean

FS = 360.0


def synthetic_ecg(seconds: float = 20.0, fs: float = FS) -> np.ndarray:
    """A sum-of-Gaussians ECG (P, Q, R, S, T waves) at 70 bpm, in mV, no noise."""
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros_like(t)
    waves = [(-0.2, 0.15, 0.025), (-0.03, -0.12, 0.01), (0.0, 1.2, 0.01), (0.03, -0.3, 0.01)]
    waves.append((0.28, 0.35, 0.045))
    for r in np.arange(0.5, seconds - 0.5, 60 / 70):
        for offset, amplitude, width in waves:
            x += amplitude * np.exp(-0.5 * ((t - r - offset) / width) ** 2)
    return x


@pytest.fixture(scope="module")
def ecg():
    return synthetic_ecg()


def rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


CORE = slice(int(2 * FS), -int(2 * FS))  # away from the filter's edge transients


def test_removes_baseline_wander(ecg):
    t = np.arange(ecg.size) / FS
    wander = 1.5 + 0.8 * np.sin(2 * np.pi * 0.15 * t) + 0.3 * t / t[-1]
    diff = ecg_clean(ecg + wander, FS) - ecg_clean(ecg, FS)
    assert np.abs(diff[CORE]).max() < 0.01  # mV, from a 2.3 mV swing
    assert abs(np.mean(ecg_clean(ecg + wander, FS)[CORE])) < 0.05


def test_attenuates_60_hz_and_notches_50_hz(ecg):
    t = np.arange(ecg.size) / FS
    for hz, notch, most in ((60, None, 0.1), (50, 50, 0.02)):
        hum = 0.2 * np.sin(2 * np.pi * hz * t)
        diff = ecg_clean(ecg + hum, FS, powerline=notch) - ecg_clean(ecg, FS, powerline=notch)
        assert rms(diff[CORE]) < most * rms(hum)


@pytest.mark.parametrize(("hz", "gain"), [(3.0, 1.0), (10.0, 1.0), (20.0, 1.0), (0.05, 0.0)])
def test_passes_the_ecg_band_and_stops_baseline(hz, gain):
    t = np.arange(int(60 * FS)) / FS
    wave = np.sin(2 * np.pi * hz * t)
    out = ecg_clean(wave, FS)
    assert rms(out[CORE]) / rms(wave[CORE]) == pytest.approx(gain, abs=0.02)


def test_zero_phase_keeps_r_peaks_in_place(ecg):
    from scipy.signal import find_peaks

    clean = ecg_clean(ecg, FS)
    r_peaks, _ = find_peaks(ecg, height=0.6 * ecg.max(), distance=int(0.3 * FS))
    assert r_peaks.size >= 20
    for r in r_peaks:
        window = clean[r - 10 : r + 11]
        assert abs(int(np.argmax(window)) - 10) <= 1


def test_shape_dtype_and_multilead(ecg):
    two = np.column_stack([ecg, -2 * ecg])
    out = ecg_clean(two, FS)
    assert out.shape == two.shape and out.dtype == np.float64
    np.testing.assert_allclose(out[:, 0], ecg_clean(ecg, FS))
    np.testing.assert_allclose(out[:, 1], -2 * out[:, 0])
    assert ecg_clean(ecg.astype(np.float32).tolist(), FS).shape == ecg.shape


def test_low_sampling_rate_caps_the_high_cut(ecg):
    out = ecg_clean(ecg[::4], FS / 4)  # 90 Hz: 40 Hz is below Nyquist but near it
    assert out.shape == ecg[::4].shape and np.all(np.isfinite(out))
    assert np.all(np.isfinite(ecg_clean(ecg[::6], FS / 6)))  # 60 Hz: high cut capped at 27 Hz


def test_half_hour_record_is_fast():
    x = np.random.default_rng(0).normal(size=650_000)
    ecg_clean(x[:10_000], FS)
    start = time.perf_counter()
    ecg_clean(x, FS)
    assert time.perf_counter() - start < 1.0  # about 0.03 s on one core; generous for CI


@pytest.mark.parametrize(
    ("signal", "fs", "message"),
    [
        (np.zeros(3600), FS, "flat line"),
        (np.full((3600, 2), 1.2), FS, "flat line"),
        (np.r_[np.ones(1000), np.nan, np.ones(2599)], FS, "NaN"),
        (np.r_[np.zeros(1000), np.inf, np.ones(2599)], FS, "NaN or infinite"),
        (np.random.default_rng(0).normal(size=100), FS, "too short"),
        (np.random.default_rng(0).normal(size=3600), 0.0, "sampling rate"),
        (np.random.default_rng(0).normal(size=(10, 10, 10)), FS, "shape"),
    ],
)
def test_bad_input_raises(signal, fs, message):
    with pytest.raises(EcgLensError, match=message):
        ecg_clean(signal, fs)


def test_one_flat_lead_among_several_raises(ecg):
    with pytest.raises(EcgLensError, match="flat"):
        ecg_clean(np.column_stack([ecg, np.zeros_like(ecg)]), FS)
