"""P-wave evidence on synthetic records where the answer is known."""

import numpy as np
import pytest

from ecglens.signal.pwave import (
    PWAVE_FEATURE_NAMES,
    pwave_features,
    row_correlation,
    sinus_reference,
    wave_windows,
)

COL = {name: i for i, name in enumerate(PWAVE_FEATURE_NAMES)}


def _gauss(t, centre, width, height):
    return height * np.exp(-0.5 * ((t - centre) / width) ** 2)


def synthetic_record(fs, intervals, premature, seed=0):
    """A lead with a QRS spike at every beat, a P wave 160 ms before the sinus beats' R
    peaks and none before the ``premature`` ones; returns (signal, peaks)."""
    rng = np.random.default_rng(seed)
    times = np.cumsum([1.0, *intervals])
    t = np.arange(int((times[-1] + 1.0) * fs)) / fs
    x = rng.normal(0, 0.005, len(t))
    for k, r in enumerate(times):
        x += _gauss(t, r, 0.012, 1.0) - _gauss(t, r + 0.03, 0.01, 0.2)
        x += _gauss(t, r + 0.3, 0.05, 0.25)  # T wave
        if k not in premature:
            x += _gauss(t, r - 0.16, 0.025, 0.15)  # P wave
    return x, np.round(times * fs).astype(np.int64)


@pytest.mark.parametrize("fs", [250.0, 360.0, 500.0])
def test_sinus_beats_have_the_template_p_wave_and_premature_beats_do_not(fs):
    intervals = [1.0] * 60
    premature = set()
    for k in range(8, 58, 10):  # a premature beat without P wave, then a pause
        intervals[k - 1], intervals[k] = 0.6, 1.4
        premature.add(k)
    signal, peaks = synthetic_record(fs, intervals, premature)
    feats = pwave_features(signal, fs, peaks)
    assert feats.shape == (len(peaks), len(PWAVE_FEATURE_NAMES)) and feats.dtype == np.float32
    is_premature = np.isin(np.arange(len(peaks)), sorted(premature))
    corr = feats[:, COL["p_corr_sinus"]]
    assert np.median(corr[~is_premature]) > 0.9
    assert corr[is_premature].max() < corr[~is_premature].min()
    assert feats[0, COL["p_template_quality"]] > 0.9
    # QRS unchanged: the premature beats are supraventricular
    assert np.all(feats[:, COL["qrs_corr_record"]] > 0.95)


def test_sinus_reference_prefers_beats_after_long_intervals():
    rng = np.random.default_rng(1)
    template = np.sin(np.linspace(0, np.pi, 24))
    windows = np.stack([template + rng.normal(0, 0.05, 24) for _ in range(40)])
    windows[::2] = rng.normal(0, 1, (20, 24))  # the short-interval beats: no P wave
    pre = np.where(np.arange(40) % 2 == 0, 0.6, 1.2)
    reference = sinus_reference(pre, windows)
    assert reference.any() and not reference[::2].any()


def test_windows_and_correlation_basics():
    signal = np.arange(100, dtype=float)
    w = wave_windows(signal, 10.0, np.array([50]), -0.5, 0.5, 11)
    np.testing.assert_allclose(w[0], np.arange(45, 56))
    a = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(row_correlation(a, np.array([2.0, 4.0, 6.0])), [1.0, 0.0])
    assert pwave_features(signal, 10.0, np.array([10, 50])).shape == (2, len(PWAVE_FEATURE_NAMES))
