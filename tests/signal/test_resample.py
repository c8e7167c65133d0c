"""resample_signal / resample_indices: lengths, content, alignment, errors."""

from __future__ import annotations

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.signal import resample_indices, resample_signal


@pytest.mark.parametrize(
    ("fs_in", "fs_out", "n_out"),
    [(360, 250, 2500), (360, 500, 5000), (250, 360, 3600), (360, 360, 3600)],
)
def test_output_length(fs_in, fs_out, n_out):
    x = np.random.default_rng(0).normal(size=int(10 * fs_in))
    assert resample_signal(x, fs_in, fs_out).shape == (n_out,)


@pytest.mark.parametrize(("fs_in", "fs_out"), [(360, 250), (360, 500), (500, 128), (1000, 360)])
def test_sine_is_preserved(fs_in, fs_out):
    hz = 5.0
    x = np.sin(2 * np.pi * hz * np.arange(int(10 * fs_in)) / fs_in)
    y = resample_signal(x, fs_in, fs_out)
    expected = np.sin(2 * np.pi * hz * np.arange(y.size) / fs_out)
    core = slice(int(fs_out), -int(fs_out))
    np.testing.assert_allclose(y[core], expected[core], atol=1e-2)


def test_downsampling_removes_what_would_alias():
    fs_in, fs_out = 360.0, 100.0
    t = np.arange(int(10 * fs_in)) / fs_in
    y = resample_signal(np.sin(2 * np.pi * 70 * t), fs_in, fs_out)  # above the new Nyquist
    assert np.sqrt(np.mean(y[100:-100] ** 2)) < 0.01


def test_multilead_along_time_axis():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3600, 3))
    y = resample_signal(x, 360, 250)
    assert y.shape == (2500, 3)
    for lead in range(3):
        np.testing.assert_allclose(y[:, lead], resample_signal(x[:, lead], 360, 250))


def test_same_rate_returns_a_copy():
    x = np.arange(10.0)
    y = resample_signal(x, 360, 360)
    np.testing.assert_array_equal(x, y)
    y[0] = 99
    assert x[0] == 0


def test_indices_follow_the_resampled_signal():
    fs_in, fs_out = 360.0, 250.0
    peaks = np.array([400, 1234, 2000, 3001])
    t = np.arange(3600)
    x = sum(np.exp(-0.5 * ((t - p) / 4.0) ** 2) for p in peaks)
    y = resample_signal(x, fs_in, fs_out)
    mapped = resample_indices(peaks, fs_in, fs_out)
    assert mapped.dtype == np.int64
    for m in mapped:
        assert abs(int(np.argmax(y[m - 10 : m + 11])) - 10) <= 1


def test_indices_values_and_round_trip():
    assert resample_indices([0, 360, 720], 360, 250).tolist() == [0, 250, 500]
    assert resample_indices([0, 250], 250, 360).tolist() == [0, 360]
    idx = np.arange(0, 10_000, 7)
    back = resample_indices(resample_indices(idx, 360, 128), 128, 360)
    assert np.abs(back - idx).max() <= 2  # one 128 Hz sample is 2.8 samples at 360 Hz
    assert resample_indices([3599], 360, 250, length=2500).tolist() == [2499]
    assert resample_indices([], 360, 250).shape == (0,)


@pytest.mark.parametrize(("fs_in", "fs_out"), [(0, 250), (360, -1), (360, float("nan"))])
def test_bad_rates_raise(fs_in, fs_out):
    with pytest.raises(EcgLensError, match="sampling rate"):
        resample_signal(np.zeros(100), fs_in, fs_out)
    with pytest.raises(EcgLensError, match="sampling rate"):
        resample_indices([1, 2], fs_in, fs_out)


def test_bad_shape_raises():
    with pytest.raises(EcgLensError, match="shape"):
        resample_signal(np.zeros((2, 2, 2)), 360, 250)
