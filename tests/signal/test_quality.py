"""assess_quality: synthetic beats with noise, wander or a flat stretch where we put them;
input checks; (slow) clean MIT-BIH records and the 6 dB noise stress record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import signal as sps

from ecglens.errors import EcgLensError
from ecglens.signal import ecg_peaks
from ecglens.signal.quality import SEGMENT_S, SignalQuality, assess_quality

FS = 250.0
DURATION_S = 90.0
BAD_FROM_S, BAD_TO_S = 36.0, 60.0
NOISE_RMS_MV = 0.8  # 1-30 Hz, against a 1.2 mV R wave
WANDER_RMS_MV = 1.5  # 0.5-8 Hz, motion-like


def spike_train(fs: float = FS, duration_s: float = DURATION_S, rr_s: float = 0.8) -> np.ndarray:
    """(n,) mV: P, QRS and T as Gaussians every ``rr_s`` s, slow wander and a little noise."""
    t = np.arange(int(duration_s * fs)) / fs
    x = np.zeros_like(t)
    waves = [(-0.2, 0.15, 0.025), (-0.03, -0.12, 0.01), (0.0, 1.2, 0.01), (0.03, -0.3, 0.01)]
    waves.append((0.28, 0.3, 0.045))
    for r in np.arange(0.5, duration_s - 0.5, rr_s):
        for offset, height, width in waves:
            x += height * np.exp(-0.5 * ((t - r - offset) / width) ** 2)
    x += 0.2 * np.sin(2 * np.pi * 0.2 * t)
    return x + 0.01 * np.random.default_rng(0).normal(size=t.size)


def band_noise(n: int, band_hz: tuple[float, float], rms_mv: float, seed: int) -> np.ndarray:
    """(n,) Gaussian noise in ``band_hz`` (Hz) at ``FS``, scaled to ``rms_mv``."""
    sos = sps.butter(2, band_hz, btype="bandpass", fs=FS, output="sos")
    noise = sps.sosfiltfilt(sos, np.random.default_rng(seed).normal(size=n))
    return rms_mv * noise / noise.std()


def with_stretch(x: np.ndarray, kind: str) -> np.ndarray:
    """``x`` with strong noise, motion-like wander or a flat line from BAD_FROM_S to BAD_TO_S."""
    a, b = int(BAD_FROM_S * FS), int(BAD_TO_S * FS)
    y = x.copy()
    if kind == "noise":
        y[a:b] += band_noise(b - a, (1.0, 30.0), NOISE_RMS_MV, seed=1)
    elif kind == "wander":
        y[a:b] += band_noise(b - a, (0.5, 8.0), WANDER_RMS_MV, seed=2)
    else:
        y[a:b] = y[a]
    return y


def quality_of(x: np.ndarray) -> tuple[SignalQuality, np.ndarray]:
    peaks = ecg_peaks(x, FS)
    return assess_quality(x, FS, peaks), peaks


def covered_s(intervals: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Seconds of [lo, hi) inside ``intervals``."""
    return sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in intervals)


def test_clean_signal_is_fully_usable():
    quality, _ = quality_of(spike_train())
    assert quality.usable_fraction == 1.0
    assert quality.intervals == []
    assert quality.usable.all()
    assert np.all(quality.score == 1.0)
    assert quality.usable.shape == quality.score.shape == quality.noise.shape
    assert quality.bounds_s[0] == 0.0 and quality.bounds_s[-1] == pytest.approx(DURATION_S)


@pytest.mark.parametrize("kind", ["noise", "wander", "flat"])
def test_unusable_intervals_land_on_the_bad_stretch(kind):
    quality, peaks = quality_of(with_stretch(spike_train(), kind))
    assert quality.intervals, "nothing marked"
    inside = covered_s(quality.intervals, BAD_FROM_S, BAD_TO_S)
    outside = covered_s(quality.intervals, 0.0, DURATION_S) - inside
    # every segment wholly inside the stretch is marked; at most the segments that straddle
    # its edges spill over
    assert inside >= BAD_TO_S - BAD_FROM_S - 2 * SEGMENT_S
    assert outside <= 2 * SEGMENT_S
    assert quality.usable_fraction == pytest.approx(1 - (inside + outside) / DURATION_S)
    artefact = quality.beat_is_artifact(peaks, FS)
    t = peaks / FS
    well_inside = (t > BAD_FROM_S + SEGMENT_S) & (t < BAD_TO_S - SEGMENT_S)
    well_outside = (t < BAD_FROM_S - SEGMENT_S) | (t > BAD_TO_S + SEGMENT_S)
    assert artefact[well_inside].all()
    assert not artefact[well_outside].any()


def test_intervals_are_merged_and_sorted():
    quality, _ = quality_of(with_stretch(spike_train(), "noise"))
    starts = [a for a, _ in quality.intervals]
    assert starts == sorted(starts)
    for (_, end), (start, _) in zip(quality.intervals[:-1], quality.intervals[1:], strict=True):
        assert start > end


def test_beat_is_artifact_takes_any_positions():
    quality, _ = quality_of(with_stretch(spike_train(), "wander"))
    (start, end), *_ = quality.intervals
    probe = np.array([0, round(start * FS), round((end - 0.01) * FS), round(end * FS)])
    np.testing.assert_array_equal(quality.beat_is_artifact(probe, FS), [False, True, True, False])
    assert quality.beat_is_artifact(np.zeros(0, dtype=np.int64), FS).shape == (0,)


def test_to_dict_is_json_ready():
    quality, _ = quality_of(with_stretch(spike_train(), "noise"))
    out = json.loads(json.dumps(quality.to_dict(), allow_nan=False))
    assert set(out) == {"usable_fraction", "unusable_intervals_s", "segment_s", "method"}
    assert 0.0 <= out["usable_fraction"] < 1.0
    assert out["segment_s"] == SEGMENT_S
    assert all(len(pair) == 2 and pair[0] < pair[1] for pair in out["unusable_intervals_s"])


def test_no_beats_means_nothing_usable():
    x = band_noise(int(20 * FS), (0.5, 8.0), 1.0, seed=3)
    quality = assess_quality(x, FS, np.zeros(0, dtype=np.int64))
    assert quality.usable_fraction == 0.0
    assert quality.intervals == [(0.0, 20.0)]


def test_single_column_and_unsorted_float_peaks_are_accepted():
    x = with_stretch(spike_train(), "noise")
    peaks = ecg_peaks(x, FS)
    expected = assess_quality(x, FS, peaks)
    other = assess_quality(x[:, None], FS, peaks[::-1].astype(np.float64))
    assert other.intervals == expected.intervals


@pytest.mark.parametrize(
    ("signal", "fs", "peaks", "message"),
    [
        (np.random.default_rng(0).normal(size=(2250, 2)), FS, [10], "single lead"),
        (np.ones((50, 50, 3)), FS, [10], "expected"),
        (np.ones(100), FS, [10], "too short"),
        (np.r_[np.ones(2000), np.nan, np.ones(249)], FS, [10], "NaN"),
        (np.ones(2250), FS, [10], "flat"),
        ("train", 0.0, [10], "sampling rate"),
        ("train", -250.0, [10], "sampling rate"),
        ("train", float("nan"), [10], "sampling rate"),
        ("train", FS, [[10, 20]], "1-D"),
        ("train", FS, [10.5, 20.0], "integer"),
        ("train", FS, [-1, 20], r"\[0, 22500\)"),
        ("train", FS, [10, 22500], r"\[0, 22500\)"),
    ],
)
def test_bad_input_raises(signal, fs, peaks, message):
    x = spike_train() if isinstance(signal, str) else signal
    with pytest.raises(EcgLensError, match=message):
        assess_quality(x, fs, np.asarray(peaks))


@pytest.mark.parametrize("segment_s", [0.0, -6.0, float("inf")])
def test_bad_segment_length_raises(segment_s):
    with pytest.raises(EcgLensError, match="segment length"):
        assess_quality(spike_train(), FS, np.array([10]), segment_s=segment_s)


@pytest.mark.parametrize(("peaks", "fs"), [([1, 2], 0.0), ([1, 2], -1.0), ([[1, 2]], FS)])
def test_beat_is_artifact_bad_input_raises(peaks, fs):
    quality, _ = quality_of(spike_train())
    with pytest.raises(EcgLensError):
        quality.beat_is_artifact(np.asarray(peaks), fs)


# ---- real data (ECGLENS_DATA) ----


@pytest.fixture
def shared_data(mitdb_dir, nstdb_dir) -> Path:
    """The shared data folder with mitdb/ and nstdb/; skips when ECGLENS_DATA is unset."""
    return mitdb_dir.parent


def record_quality(path: Path) -> tuple[SignalQuality, float]:
    from ecglens.io import read_record

    record = read_record(path)
    x = record.signals[:, 0]
    return assess_quality(x, record.fs, ecg_peaks(x, record.fs)), record.duration_s


@pytest.mark.slow
def test_mitdb_clean_and_nstdb_noise(shared_data):
    # the clean records that come closest to the 1% limit (noise, flutter, ectopic runs)
    for name in ("100", "105", "108", "114", "203", "207"):
        quality, _ = record_quality(shared_data / "mitdb" / name)
        assert 1.0 - quality.usable_fraction < 0.01, (name, quality.intervals)

    quality, duration_s = record_quality(shared_data / "nstdb" / "118e06")
    starts = np.arange(300.0, duration_s, 240.0)  # 2-min noise segments, every 4 min from 5 min
    noisy = sum(covered_s(quality.intervals, a, min(a + 120.0, duration_s)) for a in starts)
    noisy_total = sum(min(a + 120.0, duration_s) - a for a in starts)
    marked = covered_s(quality.intervals, 0.0, duration_s)
    assert noisy / noisy_total > 0.5
    assert marked - noisy < 0.01 * (duration_s - noisy_total)
