"""Per-record context features on synthetic rhythms where the answer is known."""

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.inputs.beats import (
    RR_OPTIONS,
    RR_WIDTHS,
    BeatConfig,
    beat_inputs,
    model_input_arrays,
)
from ecglens.inputs.rhythm import (
    CONTEXT_FEATURE_NAMES,
    RHYTHM_CONTEXT_NAMES,
    kmeans,
    morphology_clusters,
    record_context_features,
    rhythm_context,
)

R = {name: i for i, name in enumerate(RHYTHM_CONTEXT_NAMES)}


def _peaks(intervals, fs=250.0):
    return np.round(np.cumsum([0.5, *intervals]) * fs).astype(np.int64)


def test_runs_of_premature_beats_are_premature_against_the_slow_cycle():
    # record 232's pattern: a slow sinus cycle (1.8 s) interrupted by runs of premature
    # beats at 0.75 s that outnumber the sinus beats
    intervals = []
    for _ in range(20):
        intervals += [1.8] + [0.75] * 4
    feats = rhythm_context(_peaks(intervals), 250.0)
    pre = np.concatenate([[intervals[0]], intervals])
    in_run = np.isclose(pre, 0.75)
    assert in_run.sum() > (~in_run).sum()
    ratio = feats[:, R["pre_over_local_p90"]]
    assert ratio[in_run].max() < 0.5 < 0.9 < ratio[~in_run].min()
    assert np.all(feats[in_run, R["short_run_length"]] >= 0.5)
    assert np.all(feats[~in_run, R["short_run_length"]] == 0)


def test_atrial_fibrillation_is_irregular_and_runs_are_not():
    rng = np.random.default_rng(0)
    af = rng.uniform(0.4, 1.2, 200)
    runs = np.tile([1.0] * 6 + [0.6] * 3 + [1.0], 20)
    irregular_af = np.median(rhythm_context(_peaks(af), 250.0)[:, R["segment_irregularity"]])
    irregular_runs = np.median(rhythm_context(_peaks(runs), 250.0)[:, R["segment_irregularity"]])
    assert irregular_af > 0.3 > 0.05 > irregular_runs


def test_bigeminy_alternates():
    bigeminy = np.tile([0.6, 1.2], 50)
    sinus_arrhythmia = 1.0 + 0.1 * np.sin(np.arange(100) / 5)
    alt = R["segment_alternation"]
    assert np.median(rhythm_context(_peaks(bigeminy), 250.0)[:, alt]) > 0.9
    assert np.median(rhythm_context(_peaks(sinus_arrhythmia), 250.0)[:, alt]) < 0.3


def test_rhythm_features_do_not_depend_on_the_rate():
    intervals = np.tile([1.0, 1.0, 0.6, 1.4], 25)
    a = rhythm_context(_peaks(intervals, 250.0), 250.0)
    b = rhythm_context(_peaks(intervals, 500.0), 500.0)
    np.testing.assert_allclose(a, b, atol=0.02)


def test_kmeans_separates_two_morphologies_and_is_seeded():
    fs = 250.0
    t = np.arange(int(90 * fs)) / fs
    peaks = np.round(np.arange(1.0, 88.0, 1.0) * fs).astype(np.int64)
    wide = np.arange(len(peaks)) % 3 == 0  # every third beat: a wide, inverted complex
    x = np.zeros(len(t))
    for p, w in zip(peaks, wide, strict=True):
        shape = (
            -1.5 * np.exp(-0.5 * ((t - p / fs) / 0.04) ** 2)
            if w
            else np.exp(-0.5 * ((t - p / fs) / 0.01) ** 2)
        )
        x += shape
    labels, points = morphology_clusters(x, fs, peaks, k=2)
    assert points.shape[0] == len(peaks)
    assert len(set(labels[wide])) == 1 and len(set(labels[~wide])) == 1
    assert labels[wide][0] != labels[~wide][0]
    again, _ = kmeans(points, 2, seed=0)
    np.testing.assert_array_equal(again, kmeans(points, 2, seed=0)[0])


def test_context_option_and_model_inputs():
    fs = 360.0
    rng = np.random.default_rng(0)
    t = np.arange(int(30 * fs)) / fs
    peaks = np.round(np.arange(0.8, 29.5, 0.8) * fs).astype(np.int64)
    x = rng.normal(0, 0.01, len(t))
    for p in peaks:
        x += np.exp(-0.5 * ((t - p / fs) / 0.012) ** 2)
    feats = record_context_features(x, fs, peaks)
    assert feats.shape == (len(peaks), len(CONTEXT_FEATURE_NAMES)) and np.isfinite(feats).all()
    config = BeatConfig(representation="window", window_fs=180.0, record_features=True)
    xb, rr = beat_inputs(x, fs, peaks, config)
    arrays = model_input_arrays(xb, rr, ["x", *RR_OPTIONS["context"]])
    assert arrays[1].shape == (len(peaks), RR_WIDTHS["context"])
    # the existing options are unchanged by the extra columns
    plain = beat_inputs(x, fs, peaks, BeatConfig(representation="window", window_fs=180.0))[1]
    assert plain.shape[1] == 13
    np.testing.assert_array_equal(
        model_input_arrays(xb, rr, ["rr_rhythm"])[0],
        model_input_arrays(xb, plain, ["rr_rhythm"])[0],
    )
    with pytest.raises(EcgLensError, match="record_features"):
        model_input_arrays(xb, plain, ["x", "rr_context"])
    assert model_input_arrays(xb[:0], rr[:0, :13], ["rr_context"])[0].shape == (
        0,
        RR_WIDTHS["context"],
    )


def test_short_records_give_finite_features():
    assert record_context_features(np.zeros(1000), 250.0, np.array([100, 400])).shape == (
        2,
        len(CONTEXT_FEATURE_NAMES),
    )
    assert rhythm_context(np.array([5]), 250.0).shape == (1, len(RHYTHM_CONTEXT_NAMES))
