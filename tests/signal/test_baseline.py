"""Baseline removal, lead scaling and augmentation of 12-lead arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.signal.baseline import (
    AugmentConfig,
    LeadScaler,
    augment_amplitude_scale,
    augment_baseline_wander,
    augment_batch,
    augment_gaussian_noise,
    augment_time_shift,
    detrend_polynomial,
    highpass_baseline,
    polynomial_trend,
    scale_per_record,
)

FS = 100.0
T = np.arange(1000) / FS


def _sine(freq_hz: float, amp: float = 1.0) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq_hz * T)


def test_detrend_removes_a_degree_10_polynomial_in_every_shape():
    rng = np.random.default_rng(0)
    u = np.linspace(-1, 1, T.size)
    polys = np.stack([np.polynomial.Polynomial(rng.normal(size=11))(u) for _ in range(24)])
    x = polys.reshape(2, 12, -1)
    assert np.abs(detrend_polynomial(x)).max() < 1e-8
    assert np.abs(detrend_polynomial(x[0, 3]) - detrend_polynomial(x)[0, 3]).max() < 1e-10
    assert np.abs(polynomial_trend(x[1]) - x[1]).max() < 1e-8
    out = detrend_polynomial(x.astype(np.float32))
    assert out.dtype == np.float32 and out.shape == x.shape


def test_detrend_keeps_ecg_band_content():
    x = _sine(10.0) + _sine(0.1, 2.0) + 3.0
    y = detrend_polynomial(x)
    core = slice(50, -50)  # the fit bends at the record's ends
    assert np.abs(y - _sine(10.0))[core].max() < 0.05


def test_highpass_removes_wander_keeps_ecg_band():
    x = np.stack([_sine(10.0) + _sine(0.05, 2.0) + 1.0] * 12)
    y = highpass_baseline(x, FS, cutoff_hz=0.5)
    assert y.shape == x.shape
    core = slice(100, -100)
    assert np.abs(y[:, core] - _sine(10.0)[core]).max() < 0.05
    with pytest.raises(EcgLensError):
        highpass_baseline(x, FS, cutoff_hz=60.0)


def test_scale_per_record_range():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 12, 1000)) * 2 + 5
    x[0, 0] = 7.0  # flat lead
    y = scale_per_record(x)
    assert np.abs(y).max() <= 1.0 + 1e-12
    assert np.allclose(np.abs(y[1:]).max(axis=-1), 1.0)
    assert np.allclose(np.median(y[1:], axis=-1), 0.0)
    assert np.all(y[0, 0] == 0.0)


def test_lead_scaler_fit_transform_and_json_round_trip():
    rng = np.random.default_rng(2)
    offsets = np.arange(12)[None, :, None]
    x = rng.normal(size=(20, 12, 500)) * (1 + offsets) + offsets
    scaler = LeadScaler().fit(x)
    z = scaler.transform(x.astype(np.float32))
    assert z.dtype == np.float32
    assert np.allclose(z.mean(axis=(0, 2)), 0.0, atol=1e-4)
    assert np.allclose(z.std(axis=(0, 2)), 1.0, atol=1e-4)
    restored = LeadScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert np.allclose(restored.transform(x[0]), scaler.transform(x)[0])
    assert np.allclose(restored.inverse_transform(restored.transform(x)), x)
    with pytest.raises(EcgLensError):
        LeadScaler().transform(x)
    with pytest.raises(EcgLensError, match="12 leads"):
        scaler.transform(x[:, :3])


def test_augmentations_are_reproducible_and_keep_shape():
    x = np.random.default_rng(3).normal(size=(4, 12, 1000)).astype(np.float32)
    for fn in (
        lambda v, r: augment_gaussian_noise(v, r, 0.1),
        lambda v, r: augment_amplitude_scale(v, r, 0.2),
        lambda v, r: augment_time_shift(v, r, 0.05),
        lambda v, r: augment_baseline_wander(v, r, FS),
    ):
        a = fn(x, np.random.default_rng(7))
        b = fn(x, np.random.default_rng(7))
        assert a.shape == x.shape and a.dtype == np.float32
        assert np.array_equal(a, b) and not np.array_equal(a, x)
        assert fn(x[0, 0], np.random.default_rng(7)).shape == (1000,)


def test_amplitude_scale_is_one_gain_per_record():
    x = np.ones((5, 12, 100))
    y = augment_amplitude_scale(x, np.random.default_rng(0), max_change=0.2)
    gains = y[:, :, 0]
    assert np.allclose(gains, gains[:, :1]) and np.all(np.abs(gains - 1) <= 0.2)


def test_time_shift_moves_all_leads_together():
    x = np.zeros((6, 12, 1000))
    x[:, :, 500] = 1.0
    y = augment_time_shift(x, np.random.default_rng(0), max_fraction=0.03)
    peaks = y.argmax(axis=-1)
    assert np.all(peaks == peaks[:, :1]) and np.all(np.abs(peaks - 500) <= 30)
    assert len(set(peaks[:, 0])) > 1


def test_baseline_wander_is_low_frequency_and_bounded():
    x = np.zeros((8, 12, 1000))
    w = augment_baseline_wander(x, np.random.default_rng(0), FS, max_amplitude=0.3)
    assert np.abs(w).max() <= 0.3 + 1e-12 and np.abs(w).max() > 0.01
    spectrum = np.abs(np.fft.rfft(w, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(1000, 1 / FS)
    assert spectrum[..., freqs > 1.0].sum() < 0.05 * spectrum.sum()


def test_augment_batch_probabilities():
    x = np.random.default_rng(4).normal(size=(16, 12, 1000)).astype(np.float32)
    off = AugmentConfig(p_noise=0, p_scale=0, p_shift=0, p_wander=0)
    assert np.array_equal(augment_batch(x, np.random.default_rng(0), off), x)
    on = AugmentConfig(p_noise=1, p_scale=1, p_shift=1, p_wander=1)
    y = augment_batch(x, np.random.default_rng(0), on)
    assert y.shape == x.shape and y.dtype == np.float32
    assert all(not np.array_equal(y[i], x[i]) for i in range(len(x)))
    half = augment_batch(x, np.random.default_rng(0), AugmentConfig(p_noise=0.5, p_scale=0,
                         p_shift=0, p_wander=0))  # fmt: skip
    changed = [not np.array_equal(half[i], x[i]) for i in range(len(x))]
    assert 0 < sum(changed) < len(x)
