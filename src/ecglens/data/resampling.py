"""Class-imbalance helpers: loss weights, oversampling indices and SMOTE-style synthetic beats.

All functions are pure: randomness comes from the ``rng`` (``np.random.Generator``) passed in.
Labels are integer class indices (N,). Resample the training split only, never validation or
test data.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.neighbors import NearestNeighbors

Scheme = Literal["inverse", "sqrt_inverse", "effective"]
Target = Literal["balanced"] | float


def class_counts(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Beats per class, (n_classes,) int64."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes})")
    return np.bincount(labels, minlength=n_classes)


def class_weights(
    labels: np.ndarray, n_classes: int, scheme: Scheme = "inverse", beta: float = 0.999
) -> np.ndarray:
    """Per-class loss weights (n_classes,) float64, scaled so the mean weight per beat is 1.

    ``inverse``: 1 / n_c (sklearn's "balanced"); ``sqrt_inverse``: 1 / sqrt(n_c), milder;
    ``effective``: (1 - beta) / (1 - beta**n_c), the "effective number of samples" of
    Cui et al. (CVPR 2019), between uniform (beta -> 0) and inverse (beta -> 1). Classes
    absent from ``labels`` get weight 0.
    """
    counts = class_counts(labels, n_classes).astype(np.float64)
    present = counts > 0
    raw = np.zeros(n_classes)
    if scheme == "inverse":
        raw[present] = 1.0 / counts[present]
    elif scheme == "sqrt_inverse":
        raw[present] = 1.0 / np.sqrt(counts[present])
    elif scheme == "effective":
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must lie in [0, 1), got {beta}")
        raw[present] = (1.0 - beta) / (1.0 - beta ** counts[present])
    else:
        raise ValueError(f"unknown scheme {scheme!r}; use inverse, sqrt_inverse or effective")
    total = counts.sum()
    return raw * total / np.sum(raw * counts) if total else raw


def _target_counts(counts: np.ndarray, target: Target) -> np.ndarray:
    """Per-class count after oversampling: never below the current count."""
    if target == "balanced":
        ratio = 1.0
    elif isinstance(target, int | float) and 0.0 < float(target) <= 1.0:
        ratio = float(target)
    else:
        raise ValueError(f"target must be 'balanced' or a ratio in (0, 1], got {target!r}")
    goal = int(np.ceil(ratio * counts.max())) if counts.size else 0
    return np.where(counts > 0, np.maximum(counts, goal), 0)


def oversample_indices(
    labels: np.ndarray, rng: np.random.Generator, target: Target = "balanced"
) -> np.ndarray:
    """Indices into ``labels`` that keep every beat once and repeat minority-class beats.

    Each present class is topped up, by drawing its beats uniformly with replacement, to
    ``target * max_count`` beats (``"balanced"`` = 1.0: all classes as large as the largest).
    Returns a shuffled int64 array of length sum of the new counts.
    """
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = int(labels.max()) + 1 if labels.size else 0
    counts = class_counts(labels, n_classes)
    goals = _target_counts(counts, target)
    parts = [np.arange(len(labels))]
    for c in np.flatnonzero(goals > counts):
        members = np.flatnonzero(labels == c)
        parts.append(rng.choice(members, size=goals[c] - counts[c], replace=True))
    return rng.permutation(np.concatenate(parts))


def smote_beats(
    x: np.ndarray | tuple[np.ndarray, ...],
    y: np.ndarray,
    rng: np.random.Generator,
    k: int = 5,
    target: Target = "balanced",
) -> tuple[np.ndarray | tuple[np.ndarray, ...], np.ndarray]:
    """SMOTE: synthetic minority beats by interpolating between same-class nearest neighbours.

    ``x`` is (N, ...) beats, e.g. (N, L) or (N, K, L), or a tuple of per-beat arrays such as
    ``(x, rr)``: neighbours are found on the first array (flattened, Euclidean) and every
    array is interpolated with the same pair and factor, ``a + u * (b - a)``, u ~ U[0, 1).
    Classes are topped up as in :func:`oversample_indices`; a class needs at least 2 beats
    (k shrinks to count - 1 for small classes, classes with 1 beat are left as they are).

    Returns ``(x_out, y_out)`` of the same structure and dtypes: the input rows first,
    unchanged, then the synthetic ones.
    """
    arrays = x if isinstance(x, tuple) else (x,)
    arrays = tuple(np.asarray(a) for a in arrays)
    y = np.asarray(y, dtype=np.int64)
    if any(len(a) != len(y) for a in arrays):
        raise ValueError("x arrays and y must have the same length")
    counts = class_counts(y, int(y.max()) + 1 if y.size else 0)
    goals = _target_counts(counts, target)
    features = arrays[0].reshape(len(y), -1).astype(np.float64)
    origin, partner, labels = [], [], []
    for c in np.flatnonzero(goals > counts):
        members = np.flatnonzero(y == c)
        if len(members) < 2:
            continue
        n_new = goals[c] - counts[c]
        n_neighbours = min(k, len(members) - 1)
        nn = NearestNeighbors(n_neighbors=n_neighbours + 1).fit(features[members])
        neighbours = nn.kneighbors(features[members], return_distance=False)[:, 1:]
        base = rng.integers(0, len(members), size=n_new)
        pick = neighbours[base, rng.integers(0, n_neighbours, size=n_new)]
        origin.append(members[base])
        partner.append(members[pick])
        labels.append(np.full(n_new, c, dtype=np.int64))
    if not origin:
        return (arrays if isinstance(x, tuple) else arrays[0]), y.copy()
    origin = np.concatenate(origin)
    partner = np.concatenate(partner)
    u = rng.random(len(origin))
    out = []
    for a in arrays:
        shape = (-1,) + (1,) * (a.ndim - 1)
        lam = u.reshape(shape).astype(a.dtype if a.dtype.kind == "f" else np.float64)
        new = a[origin] + lam * (a[partner] - a[origin])
        out.append(np.concatenate([a, new.astype(a.dtype, copy=False)]))
    y_out = np.concatenate([y, *labels])
    return (tuple(out) if isinstance(x, tuple) else out[0]), y_out
