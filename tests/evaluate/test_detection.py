"""Beat-by-beat matching and EC57 scores."""

from __future__ import annotations

import numpy as np
import pytest

from ecglens.evaluate.detection import (
    detection_scores,
    drop_in_intervals,
    flutter_intervals,
    match_pairs,
    match_peaks,
    reference_beats,
)


def closest_first_greedy(detected, reference, tol):
    """Slow reference: repeatedly pair the globally closest (detection, beat) within tol."""
    det, ref = list(map(int, detected)), list(map(int, reference))
    tp = 0
    while det and ref:
        d, i, j = min((abs(a - b), i, j) for i, a in enumerate(det) for j, b in enumerate(ref))
        if d > tol:
            break
        tp += 1
        det.pop(i)
        ref.pop(j)
    return tp, len(detected) - tp, len(reference) - tp


def test_exact_match_counts_every_beat():
    ref = np.array([100, 400, 700, 1000])
    assert match_peaks(ref + 3, ref, 54) == (4, 0, 0)


def test_misses_and_extras():
    ref = np.array([100, 400, 700, 1000])
    assert match_peaks(np.array([100, 250, 700]), ref, 54) == (2, 1, 2)


def test_tolerance_is_inclusive():
    assert match_peaks([154], [100], 54) == (1, 0, 0)
    assert match_peaks([155], [100], 54) == (0, 1, 1)
    assert match_peaks([45], [100], 54) == (0, 1, 1)


def test_one_to_one_two_detections_on_one_beat():
    assert match_peaks([98, 104], [100], 54) == (1, 1, 0)


def test_one_detection_between_two_beats_counts_once():
    assert match_peaks([150], [110, 190], 54) == (1, 0, 1)


def test_second_choice_is_used_when_nearest_beat_is_taken():
    # 49 is nearest to 0 but 48 is closer to it; 49 still matches 100 (51 <= 54).
    assert match_peaks([48, 49], [0, 100], 54) == (2, 0, 0)


def test_empty_inputs():
    assert match_peaks([], [10, 20], 5) == (0, 0, 2)
    assert match_peaks([10, 20], [], 5) == (0, 2, 0)
    assert match_peaks([], [], 5) == (0, 0, 0)


def test_unsorted_input_and_negative_tolerance():
    assert match_peaks([700, 100, 400], [400, 100, 700], 0) == (3, 0, 0)
    with pytest.raises(ValueError):
        match_peaks([1], [1], -1)


def test_agrees_with_brute_force_on_random_data():
    rng = np.random.default_rng(0)
    for _ in range(200):
        ref = np.unique(rng.integers(0, 2000, rng.integers(0, 25)))
        det = np.unique(rng.integers(0, 2000, rng.integers(0, 25)))
        tol = int(rng.integers(0, 120))
        got = match_peaks(det, ref, tol)
        assert got == closest_first_greedy(det, ref, tol)
        tp, fp, fn = got
        assert tp + fp == det.size and tp + fn == ref.size


def test_detection_scores():
    s = detection_scores(990, 10, 10)
    assert s["se"] == pytest.approx(0.99)
    assert s["ppv"] == pytest.approx(0.99)
    assert s["f1"] == pytest.approx(0.99)
    assert s["der"] == pytest.approx(20 / 1000)
    assert (s["tp"], s["fp"], s["fn"]) == (990, 10, 10)
    empty = detection_scores(0, 0, 0)
    assert np.isnan(empty["se"]) and np.isnan(empty["ppv"])


def test_reference_beats_keeps_beat_symbols_only():
    sample = np.array([10, 20, 30, 40, 50, 60])
    symbol = np.array(["N", "+", "V", "~", "/", "!"], dtype=object)
    assert reference_beats(sample, symbol).tolist() == [10, 30, 50]


def test_flutter_intervals_and_dropping_detections_inside():
    sample = np.array([5, 100, 150, 300, 400, 500])
    symbol = np.array(["N", "[", "!", "]", "N", "["], dtype=object)
    intervals = flutter_intervals(sample, symbol, n_samples=600)
    assert intervals.tolist() == [[100, 301], [500, 600]]
    kept = drop_in_intervals(np.array([50, 100, 200, 300, 301, 450, 550]), intervals)
    assert kept.tolist() == [50, 301, 450]
    assert drop_in_intervals(np.array([1, 2]), np.zeros((0, 2))).tolist() == [1, 2]


def test_match_pairs_agrees_with_match_peaks() -> None:
    rng = np.random.default_rng(0)
    ref = np.sort(rng.choice(100_000, 300, replace=False))
    det = np.concatenate(
        [ref[::2] + rng.integers(-60, 60, ref[::2].size), rng.integers(0, 1e5, 40)]
    )
    rng.shuffle(det)
    d, r = match_pairs(det, ref, 54)
    tp, _, _ = match_peaks(det, ref, 54)
    assert len(d) == len(r) == tp
    assert len(set(d.tolist())) == tp and len(set(r.tolist())) == tp
    assert np.all(np.abs(det[d] - ref[r]) <= 54)
