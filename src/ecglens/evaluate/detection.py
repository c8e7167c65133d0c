"""Beat-by-beat scoring of R-peak detections against reference annotations (ANSI/AAMI EC57).

All positions are integer sample indices at one sampling rate.
"""

from __future__ import annotations

import numpy as np

from ecglens.data.labels import SYMBOL_TO_AAMI


def match_peaks(
    detected: np.ndarray, reference: np.ndarray, tolerance_samples: int
) -> tuple[int, int, int]:
    """Match detections to reference beats one-to-one (:func:`match_pairs`); return
    ``(tp, fp, fn)``."""
    det_index, _ = match_pairs(detected, reference, tolerance_samples)
    tp = len(det_index)
    return tp, np.size(detected) - tp, np.size(reference) - tp


def match_pairs(
    detected: np.ndarray, reference: np.ndarray, tolerance_samples: int
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matches of detections to reference beats: ``(det_index, ref_index)``.

    A detection matches a reference beat at most ``tolerance_samples`` away (EC57: 150 ms).
    Pairs are taken closest first (repeated mutual nearest neighbours, vectorised with
    :func:`numpy.searchsorted`), so each reference beat and each detection is used at most
    once. Indices are into the arrays as given (any order).
    """
    if tolerance_samples < 0:
        raise ValueError("tolerance_samples must be >= 0")
    det = np.asarray(detected, dtype=np.int64).ravel()
    ref = np.asarray(reference, dtype=np.int64).ravel()
    d_idx = np.argsort(det, kind="stable")
    r_idx = np.argsort(ref, kind="stable")
    d, r = det[d_idx], ref[r_idx]
    out_d: list[np.ndarray] = []
    out_r: list[np.ndarray] = []
    while d.size and r.size:
        to_r, dist = nearest(d, r)
        to_d, _ = nearest(r, d)
        mutual = (to_d[to_r] == np.arange(d.size)) & (dist <= tolerance_samples)
        if not mutual.any():
            break
        out_d.append(d_idx[mutual])
        out_r.append(r_idx[to_r[mutual]])
        keep_r = np.ones(r.size, dtype=bool)
        keep_r[to_r[mutual]] = False
        d, d_idx = d[~mutual], d_idx[~mutual]
        r, r_idx = r[keep_r], r_idx[keep_r]
    empty = np.zeros(0, dtype=np.int64)
    return (
        np.concatenate(out_d) if out_d else empty,
        np.concatenate(out_r) if out_r else empty,
    )


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
