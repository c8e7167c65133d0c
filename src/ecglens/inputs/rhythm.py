"""Per-record context of each beat, computed at inference from the unlabelled record.

Three groups of features, each relative to the record itself so that a patient's own
rate and morphology do not leak in:

* rhythm (:func:`rhythm_context`): RR intervals over the record's mean, over a long
  (+-32 beats) window mean and over the longest regular cycle nearby (the 90th
  percentile of +-16 beats, robust to runs of premature beats and to a rhythm whose
  median is premature), the rank of the beat's RR in the record, irregularity and
  alternation of the surrounding segment (atrial fibrillation vs runs and bigeminy), the
  length of the run of short cycles the beat belongs to;
* P wave and QRS (:func:`~ecglens.signal.pwave.pwave_features`);
* morphology clusters (:func:`morphology_clusters`): the record's beats clustered by
  QRS + P shape without labels; each beat's distance to its cluster and to the record's
  slowest-rhythm cluster, and its cluster's share, median RR and P-wave agreement (a Holter
  analyst's template view: in a record where premature beats outnumber sinus beats,
  "dominant" does not mean "normal").

Any record at any rate: windows are in seconds, counts in beats.
"""

from __future__ import annotations

import numpy as np

from ecglens.signal.pwave import (
    N_POINTS,
    P_END_S,
    P_START_S,
    PWAVE_FEATURE_NAMES,
    QRS_HALF_S,
    detrend_windows,
    pwave_features,
    wave_windows,
)

RHYTHM_CONTEXT_NAMES = (
    "pre_over_record_mean",
    "post_over_record_mean",
    "pre_over_long_mean",  # +-32 beats
    "post_over_long_mean",
    "pre_rank_record",  # 0 shortest .. 1 longest pre-RR of the record
    "pre_over_local_p90",  # +-16 beats: the longest regular cycle nearby
    "post_over_local_p90",
    "segment_irregularity",  # median |dRR| / median RR over +-8 beats
    "segment_alternation",  # share of sign changes of dRR over +-8 beats (bigeminy)
    "short_run_length",  # beats in the run of short cycles holding this beat, / 8, capped 1
    "post_over_pre",
    "pre_over_previous_pre",
)
CLUSTER_FEATURE_NAMES = (
    "cluster_distance",  # to the beat's own cluster centre, over the record's median distance
    "cluster_share",  # share of the record's beats in the beat's cluster
    "cluster_pre_over_record_mean",  # cluster's median pre-RR over the record mean
    "cluster_post_over_pre",  # cluster's median post/pre RR
    "cluster_p_corr",  # cluster's median P-wave correlation with the sinus template
    "distance_to_slow_cluster",  # to the centre of the cluster with the longest median pre-RR
)
CONTEXT_FEATURE_NAMES = RHYTHM_CONTEXT_NAMES + PWAVE_FEATURE_NAMES + CLUSTER_FEATURE_NAMES
N_CLUSTERS = 4


def _windows(values: np.ndarray, half: int) -> np.ndarray:
    """(n, 2 * half + 1) windows centred on each element, NaN outside the array."""
    padded = np.concatenate([np.full(half, np.nan), values, np.full(half, np.nan)])
    return np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)


def _intervals(peaks: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    rr = np.diff(np.asarray(peaks, dtype=np.float64)) / fs
    return np.concatenate([[rr[0]], rr]), np.concatenate([rr, [rr[-1]]])


def rhythm_context(peaks: np.ndarray, fs: float) -> np.ndarray:
    """Rhythm context per beat: (n_beats, 12) float32 (see :data:`RHYTHM_CONTEXT_NAMES`).

    ``peaks``: R-peak indices at ``fs`` Hz. Fewer than three beats give ones.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    n = len(peaks)
    out = np.ones((n, len(RHYTHM_CONTEXT_NAMES)), dtype=np.float32)
    if n < 3:
        return out
    pre, post = _intervals(peaks, fs)
    record_mean = float(np.mean(pre[1:]))
    long_mean = np.nanmean(_windows(pre, 32), axis=1)
    p90 = np.nanpercentile(_windows(pre, 16), 90, axis=1)
    d = np.diff(pre, prepend=pre[0])
    near = _windows(d, 8)
    irregular = np.nanmedian(np.abs(near), axis=1) / np.nanmedian(_windows(pre, 8), axis=1)
    signs = np.sign(near)
    flips = (signs[:, 1:] * signs[:, :-1]) < 0
    valid = ~(np.isnan(near[:, 1:]) | np.isnan(near[:, :-1]))
    alternation = flips.sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
    short = pre < 0.85 * p90
    run = _run_lengths(short)
    rank = np.argsort(np.argsort(pre, kind="stable"), kind="stable") / max(n - 1, 1)
    previous = np.concatenate([[pre[0]], pre[:-1]])
    cols = [
        pre / record_mean, post / record_mean, pre / long_mean, post / long_mean, rank,
        pre / p90, post / p90, irregular, alternation, np.minimum(run / 8.0, 1.0),
        post / pre, pre / previous,
    ]  # fmt: skip
    out[:] = np.clip(np.stack(cols, axis=1), 0, 10)
    return out


def _run_lengths(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True each element belongs to (0 for False elements)."""
    n = len(flags)
    out = np.zeros(n)
    i = 0
    while i < n:
        if not flags[i]:
            i += 1
            continue
        j = i
        while j < n and flags[j]:
            j += 1
        out[i:j] = j - i
        i = j
    return out


def kmeans(
    points: np.ndarray, k: int = N_CLUSTERS, iterations: int = 15, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding: ``(labels (n,), centres (k, d))``.

    ``k`` is lowered to the number of points; deterministic for a given ``seed``.
    """
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    centres = [points[rng.integers(n)]]
    for _ in range(k - 1):
        d2 = ((points[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1).min(1)
        if d2.sum() <= 0:
            break
        centres.append(points[rng.choice(n, p=d2 / d2.sum())])
    c = np.asarray(centres)
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        d2 = ((points[:, None, :] - c[None]) ** 2).sum(-1)
        new = d2.argmin(1)
        if _ > 0 and np.array_equal(new, labels):
            break
        labels = new
        c = np.stack(
            [points[labels == j].mean(0) if np.any(labels == j) else c[j] for j in range(len(c))]
        )
    return labels, c


def morphology_clusters(
    clean: np.ndarray, fs: float, peaks: np.ndarray, k: int = N_CLUSTERS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster one record's beats by QRS + P-wave shape (no labels).

    Returns ``(labels (n,), points (n, d))``: the points are the QRS window and the
    detrended P window (see :mod:`ecglens.signal.pwave`), each divided by the record's
    median QRS range (the P part weighted double, so that atrial activity counts).
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    qrs = wave_windows(clean, fs, peaks, -QRS_HALF_S[0], QRS_HALF_S[1], N_POINTS)
    qrs = qrs - np.median(qrs, axis=1, keepdims=True)
    p = detrend_windows(wave_windows(clean, fs, peaks, -P_START_S, -P_END_S, N_POINTS))
    scale = max(float(np.median(np.ptp(qrs, axis=1))), 1e-6)
    points = np.concatenate([qrs, 2.0 * p], axis=1) / scale
    labels, _ = kmeans(points, k, seed=seed)
    return labels, points


def cluster_features(
    labels: np.ndarray, points: np.ndarray, pre: np.ndarray, post: np.ndarray, p_corr: np.ndarray
) -> np.ndarray:
    """Per-beat summaries of its cluster: (n, 6) float32 (see :data:`CLUSTER_FEATURE_NAMES`)."""
    n = len(labels)
    out = np.zeros((n, len(CLUSTER_FEATURE_NAMES)), dtype=np.float32)
    if n == 0:
        return out
    ids = np.unique(labels)
    centres = {j: np.median(points[labels == j], axis=0) for j in ids}
    own = np.stack([centres[j] for j in labels])
    dist = np.sqrt(((points - own) ** 2).sum(1))
    out[:, 0] = dist / max(float(np.median(dist)), 1e-6)
    record_mean = float(np.mean(pre))
    slow = max(ids, key=lambda j: (np.median(pre[labels == j]), np.sum(labels == j)))
    for j in ids:
        m = labels == j
        out[m, 1] = m.mean()
        out[m, 2] = np.median(pre[m]) / record_mean
        out[m, 3] = np.median(post[m] / pre[m])
        out[m, 4] = np.median(p_corr[m])
    to_slow = np.sqrt(((points - centres[slow]) ** 2).sum(1))
    out[:, 5] = to_slow / max(float(np.median(to_slow)), 1e-6)
    return np.clip(out, -10, 10)


def record_context_features(clean: np.ndarray, fs: float, peaks: np.ndarray) -> np.ndarray:
    """All context features of one record's beats: (n_beats, 26) float32, columns
    :data:`CONTEXT_FEATURE_NAMES` (rhythm, P wave and QRS, clusters).

    ``clean``: one band-passed lead (n_samples,) at ``fs`` Hz; ``peaks``: R-peak indices.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    n = len(peaks)
    if n < 3:
        return np.ones((n, len(CONTEXT_FEATURE_NAMES)), dtype=np.float32)
    rhythm = rhythm_context(peaks, fs)
    pwave = pwave_features(clean, fs, peaks)
    labels, points = morphology_clusters(clean, fs, peaks)
    pre, post = _intervals(peaks, fs)
    clusters = cluster_features(labels, points, pre, post, pwave[:, 0])
    return np.concatenate([rhythm, pwave, clusters], axis=1).astype(np.float32)
