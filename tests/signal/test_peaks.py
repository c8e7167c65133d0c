"""ecg_peaks: synthetic beats with known R peaks, real MIT-BIH records, input checks."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.evaluate.detection import (
    detection_scores,
    drop_in_intervals,
    flutter_intervals,
    match_peaks,
    reference_beats,
)
from ecglens.signal import ecg_clean, ecg_peaks

FS = 360.0


def synthetic_ecg(
    rr: np.ndarray,
    fs: float = FS,
    amplitude: np.ndarray | float = 1.0,
    t_wave: float = 0.35,
    noise: float = 0.02,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Sum-of-Gaussians ECG with baseline wander and noise, in mV; returns (signal, R samples)."""
    r_times = 0.6 + np.concatenate([[0.0], np.cumsum(rr)])
    amplitude = np.broadcast_to(amplitude, r_times.shape)
    t = np.arange(int((r_times[-1] + 0.8) * fs)) / fs
    x = np.zeros_like(t)
    waves = [(-0.2, 0.15, 0.025), (-0.03, -0.12, 0.01), (0.0, 1.2, 0.01), (0.03, -0.3, 0.01)]
    waves.append((0.28, t_wave, 0.045))
    for r, gain in zip(r_times, amplitude, strict=True):
        lo, hi = np.searchsorted(t, [r - 0.4, r + 0.6])
        for offset, height, width in waves:
            x[lo:hi] += gain * height * np.exp(-0.5 * ((t[lo:hi] - r - offset) / width) ** 2)
    x += 0.3 * np.sin(2 * np.pi * 0.2 * t) + noise * np.random.default_rng(seed).normal(size=t.size)
    return x, np.round(r_times * fs).astype(np.int64)


def assert_all_found(peaks, truth, fs=FS, within=0.15):
    assert peaks.dtype == np.int64
    assert np.all(np.diff(peaks) > 0)
    tp, fp, fn = match_peaks(peaks, truth, int(within * fs))
    assert (fp, fn) == (0, 0), f"{fp} false, {fn} missed of {truth.size}"


def test_regular_rhythm_all_beats_on_the_r_peak():
    x, truth = synthetic_ecg(np.full(80, 60 / 70))
    peaks = ecg_peaks(x, FS)
    assert_all_found(peaks, truth)
    assert_all_found(peaks, truth, within=0.006)  # on the R peak: within 2 samples


def test_negative_qrs_lands_on_the_trough():
    x, truth = synthetic_ecg(np.full(60, 0.8))
    peaks = ecg_peaks(-x, FS)
    assert_all_found(peaks, truth, within=0.006)
    clean = ecg_clean(-x, FS)
    np.testing.assert_array_equal(clean[peaks], window_extrema(clean, peaks)[1])
    assert np.all(clean[peaks] < -0.8)


def window_extrema(clean, peaks, fs=FS):
    half = int(0.06 * fs)
    windows = [clean[max(p - half, 0) : p + half + 1] for p in peaks]
    return np.array([w.max() for w in windows]), np.array([w.min() for w in windows])


def test_index_is_the_local_maximum_of_an_upright_qrs():
    x, _ = synthetic_ecg(np.random.default_rng(3).uniform(0.5, 1.2, 60), noise=0.05)
    clean = ecg_clean(x, FS)
    peaks = ecg_peaks(x, FS)
    high, _ = window_extrema(clean, peaks)
    np.testing.assert_array_equal(clean[peaks], high)


def test_inverted_ectopic_beats_land_on_their_trough():
    gains = np.ones(81)
    gains[5::10] = -2.0
    x, truth = synthetic_ecg(np.full(80, 0.8), amplitude=gains)
    clean = ecg_clean(x, FS)
    peaks = ecg_peaks(x, FS)
    assert_all_found(peaks, truth, within=0.006)
    high, low = window_extrema(clean, peaks)
    inverted = gains < 0
    np.testing.assert_array_equal(clean[peaks][inverted], low[inverted])
    np.testing.assert_array_equal(clean[peaks][~inverted], high[~inverted])


@pytest.mark.parametrize("bpm", [35, 60, 120, 180, 220])
def test_heart_rates(bpm):
    x, truth = synthetic_ecg(np.full(int(bpm * 1.5), 60 / bpm))
    assert_all_found(ecg_peaks(x, FS), truth)


def test_irregular_rhythm():
    rr = np.random.default_rng(7).uniform(0.35, 1.4, 200)
    x, truth = synthetic_ecg(rr, seed=7)
    assert_all_found(ecg_peaks(x, FS), truth)


@pytest.mark.parametrize("fs", [128.0, 250.0, 500.0, 1000.0])
def test_sampling_rates(fs):
    x, truth = synthetic_ecg(np.full(60, 0.75), fs=fs)
    peaks = ecg_peaks(x, fs)
    assert_all_found(peaks, truth, fs=fs)
    assert np.abs(peaks - truth).max() <= max(2, int(0.006 * fs))


def test_raw_and_cleaned_input_give_the_same_beats():
    x, truth = synthetic_ecg(np.random.default_rng(5).uniform(0.5, 1.1, 120), noise=0.05)
    raw, clean = ecg_peaks(x, FS), ecg_peaks(ecg_clean(x, FS), FS)
    assert_all_found(raw, truth)
    assert_all_found(clean, truth)
    assert np.abs(raw - clean).max() <= 1


def test_follows_an_amplitude_drop_and_rise():
    gains = np.r_[np.ones(40), np.full(40, 0.15), np.ones(40), np.full(41, 2.5)]
    x, truth = synthetic_ecg(np.full(160, 0.8), amplitude=gains, noise=0.01)
    assert_all_found(ecg_peaks(x, FS), truth)


def test_large_ectopic_beats_do_not_hide_normal_ones():
    gains = np.ones(121)
    gains[::6] = 4.0
    rr = np.full(120, 0.8)
    rr[5::6] = 0.55  # early beat, then a compensatory pause
    rr[6::6] = 1.05
    x, truth = synthetic_ecg(rr, amplitude=gains)
    assert_all_found(ecg_peaks(x, FS), truth)


def test_tall_t_waves_are_not_beats():
    x, truth = synthetic_ecg(np.full(80, 0.9), t_wave=0.9)
    assert_all_found(ecg_peaks(x, FS), truth)


def test_half_hour_is_fast():
    x, _ = synthetic_ecg(np.random.default_rng(2).uniform(0.6, 1.0, 2300), noise=0.05)
    assert x.size > 640_000
    ecg_peaks(x[:36_000], FS)
    start = time.perf_counter()
    ecg_peaks(x, FS)
    assert time.perf_counter() - start < 2.0  # about 0.1 s on one core; generous for CI


@pytest.mark.parametrize(
    ("signal", "message"),
    [
        (np.zeros(3600), "flat line"),
        (np.r_[np.ones(1800), np.nan, np.ones(1799)], "NaN"),
        (np.ones(100), "too short"),
        (np.random.default_rng(0).normal(size=(3600, 2)), "single lead"),
    ],
)
def test_bad_input_raises(signal, message):
    with pytest.raises(EcgLensError, match=message):
        ecg_peaks(signal, FS)


def test_single_column_is_accepted():
    x, truth = synthetic_ecg(np.full(30, 0.8))
    assert_all_found(ecg_peaks(x[:, None], FS), truth)


def score_record(db: Path, name: str) -> tuple[int, int, int]:
    from ecglens.io import read_annotations, read_record

    record, ann = read_record(db / name), read_annotations(db / name)
    peaks = ecg_peaks(record.signals[:, 0], record.fs)
    flutter = flutter_intervals(ann.sample, ann.symbol, record.n_samples)
    reference = reference_beats(ann.sample, ann.symbol)
    return match_peaks(drop_in_intervals(peaks, flutter), reference, int(0.15 * record.fs))


@pytest.mark.parametrize(("name", "least"), [("100", 0.999), ("208", 0.995), ("114", 0.995)])
def test_real_records(name, least, mitdb_dir):
    scores = detection_scores(*score_record(mitdb_dir, name))
    assert scores["se"] >= least and scores["ppv"] >= least, scores


@pytest.mark.slow
def test_mitdb_pooled_se_and_ppv_at_least_99_7(mitdb_dir):
    db = mitdb_dir
    names = (db / "RECORDS").read_text().split()
    assert len(names) == 48
    totals = np.sum([score_record(db, name) for name in names], axis=0)
    scores = detection_scores(*totals)
    assert scores["se"] >= 0.997 and scores["ppv"] >= 0.997, scores
