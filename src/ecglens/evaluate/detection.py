"""Beat-by-beat scoring of R-peak detections against reference annotations (ANSI/AAMI EC57).

All positions are integer sample indices at one sampling rate.
"""

from __future__ import annotations

import numpy as np

from ecglens.data.labels import SYMBOL_TO_AAMI


def match_peaks(
    detected: np.ndarray, reference: np.ndarray, tolerance_samples: int
) -> tuple[int, int, int]:
    """Match detections to reference beats one-to-one; return ``(tp, fp, fn)``.

    A detection matches a reference beat at most ``tolerance_samples`` away
    (EC57: 150 ms). Pairs are taken closest first (repeated mutual nearest
    neighbours, vectorised with :func:`numpy.searchsorted`), so each reference
    beat and each detection is used at most once.
    """
    det = np.sort(np.asarray(detected, dtype=np.int64).ravel())
    ref = np.sort(np.asarray(reference, dtype=np.int64).ravel())
    if tolerance_samples < 0:
        raise ValueError("tolerance_samples must be >= 0")
    n_det, n_ref = det.size, ref.size
    tp = 0
    while det.size and ref.size:
        to_ref, dist = nearest(det, ref)
        to_det, _ = nearest(ref, det)
        mutual = (to_det[to_ref] == np.arange(det.size)) & (dist <= tolerance_samples)
        if not mutual.any():
            break
        tp += int(mutual.sum())
        keep_ref = np.ones(ref.size, dtype=bool)
        keep_ref[to_ref[mutual]] = False
        det, ref = det[~mutual], ref[keep_ref]
    return tp, n_det - tp, n_ref - tp


def nearest(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index into sorted ``b`` of the element nearest each of ``a`` (ties go left), and distance."""
    right = np.clip(np.searchsorted(b, a), 0, b.size - 1)
    left = np.clip(right - 1, 0, b.size - 1)
    d_left = np.abs(a - b[left])
    d_right = np.abs(b[right] - a)
    take_left = d_left <= d_right
    return np.where(take_left, left, right), np.where(take_left, d_left, d_right)


def detection_scores(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Sensitivity ``se``, positive predictivity ``ppv``, ``f1`` and detection error rate ``der``.

    Ratios are fractions in [0, 1] (NaN when undefined); the counts are passed through.
    """
    tp, fp, fn = int(tp), int(fp), int(fn)

    def ratio(num: float, den: float) -> float:
        return num / den if den > 0 else float("nan")

    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "se": ratio(tp, tp + fn),
        "ppv": ratio(tp, tp + fp),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "der": ratio(fp + fn, tp + fn),
    }


def reference_beats(sample: np.ndarray, symbol: np.ndarray) -> np.ndarray:
    """Sample indices of the annotations that are beats (symbols of ``SYMBOL_TO_AAMI``)."""
    symbol = np.asarray(symbol, dtype=object)
    is_beat = np.isin(symbol.astype(str), list(SYMBOL_TO_AAMI))
    return np.asarray(sample, dtype=np.int64)[is_beat]


def flutter_intervals(sample: np.ndarray, symbol: np.ndarray, n_samples: int) -> np.ndarray:
    """(k, 2) sample ranges ``[start, stop)`` of ventricular flutter/fibrillation episodes.

    MIT-BIH marks them with ``[`` and ``]``; an episode left open runs to ``n_samples``.
    EC57 leaves these episodes out of QRS detection statistics.
    """
    sample = np.asarray(sample, dtype=np.int64)
    symbol = np.asarray(symbol, dtype=object).astype(str)
    intervals = []
    start = None
    for pos, sym in zip(sample, symbol, strict=True):
        if sym == "[" and start is None:
            start = int(pos)
        elif sym == "]" and start is not None:
            intervals.append((start, int(pos) + 1))
            start = None
    if start is not None:
        intervals.append((start, int(n_samples)))
    return np.asarray(intervals, dtype=np.int64).reshape(-1, 2)


def drop_in_intervals(positions: np.ndarray, intervals: np.ndarray) -> np.ndarray:
    """``positions`` minus those inside any ``[start, stop)`` of sorted, disjoint ``intervals``."""
    positions = np.asarray(positions, dtype=np.int64)
    intervals = np.asarray(intervals, dtype=np.int64).reshape(-1, 2)
    if intervals.size == 0:
        return positions
    slot = np.searchsorted(intervals[:, 0], positions, side="right") - 1
    inside = (slot >= 0) & (positions < intervals[np.clip(slot, 0, None), 1])
    return positions[~inside]
