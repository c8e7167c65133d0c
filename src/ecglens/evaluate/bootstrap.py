"""Bootstrap confidence intervals, resampling patients (records) rather than beats.

Beats of one record are strongly correlated, so resampling beats gives intervals that are far
too narrow. The cluster bootstrap draws records with replacement, pools their beats and
recomputes the metric; the percentile interval of those replicates is reported.

Results mirror the metric's nested dict: every numeric leaf ``x`` becomes
``{"value": x, "ci": [lo, hi]}`` (``value`` is the metric on the original data); other
leaves (lists such as the confusion matrix, strings, booleans) are copied unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from numbers import Real
from typing import Any

import numpy as np

Metric = Callable[..., Any]


def _draws(n_groups: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_groups) group indices drawn with replacement; the only randomness used."""
    return np.random.default_rng(seed).integers(0, n_groups, size=(n_boot, n_groups))


def _flatten(tree: Any, prefix: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _flatten(value, (*prefix, key))
    else:
        yield prefix, tree


def _is_number(x: Any) -> bool:
    return isinstance(x, Real | np.number) and not isinstance(x, bool | np.bool_)


def _lookup(tree: Any, path: tuple) -> Any:
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return np.nan
        tree = tree[key]
    return tree


def _summarise(point: Any, replicates: list[Any], alpha: float) -> Any:
    """Point-estimate tree with numeric leaves replaced by value + percentile interval."""
    if _is_number(point):
        values = np.array([float(r) for r in replicates], dtype=np.float64)
        if np.all(np.isnan(values)):
            lo = hi = float("nan")
        else:
            lo, hi = np.nanpercentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
        return {"value": float(point), "ci": [float(lo), float(hi)]}
    if not isinstance(point, dict):
        return point
    leaves = dict(_flatten(point))
    columns = {
        path: [_lookup(r, path) for r in replicates]
        for path, leaf in leaves.items()
        if _is_number(leaf)
    }

    def build(tree: Any, prefix: tuple) -> Any:
        if isinstance(tree, dict):
            return {k: build(v, (*prefix, k)) for k, v in tree.items()}
        if prefix in columns:
            return _summarise(tree, columns[prefix], alpha)
        return tree

    return build(point, ())


def _group_members(groups: np.ndarray) -> list[np.ndarray]:
    """Item indices of each distinct group, in ``np.unique`` order."""
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse))
    return np.split(order, bounds[:-1])


def _check(arrays: tuple[np.ndarray, ...], groups: np.ndarray | None, n_boot: int) -> int:
    n = len(arrays[0])
    if any(len(a) != n for a in arrays) or (groups is not None and len(groups) != n):
        raise ValueError("all arrays (and groups) must have the same length")
    if n == 0:
        raise ValueError("nothing to bootstrap: no items")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    return n


def bootstrap_statistic(
    statistic: Metric,
    *arrays: np.ndarray,
    groups: np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Any:
    """Percentile bootstrap of ``statistic(*arrays)`` (a number or a nested dict of numbers).

    With ``groups`` (one label per item, e.g. record ids) whole groups are resampled with
    replacement and their items concatenated; with ``groups=None`` items are resampled
    (e.g. PTB-XL records with ``statistic(y_true, y_score)`` = ROC-AUC). Arrays are indexed on
    their first axis, so (N, C) score matrices work. A statistic undefined on a replicate
    (e.g. ROC-AUC with one class absent) should return NaN there; NaNs are left out of the
    percentiles.
    """
    arrays = tuple(np.asarray(a) for a in arrays)
    n = _check(arrays, groups, n_boot)
    members = _group_members(groups) if groups is not None else None
    draws = _draws(n if members is None else len(members), n_boot, seed)
    replicates = []
    for row in draws:
        idx = row if members is None else np.concatenate([members[g] for g in row])
        replicates.append(statistic(*(a[idx] for a in arrays)))
    return _summarise(statistic(*arrays), replicates, alpha)


def _is_label(a: np.ndarray) -> bool:
    return a.ndim == 1 and a.dtype.kind in "biuUSO"


def bootstrap_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray | None,
    metric_fn: Metric,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Any:
    """Cluster-bootstrap intervals for ``metric_fn(y_true, y_pred)`` (a nested dict of numbers).

    ``groups`` gives each beat's record/patient; ``None`` resamples beats (or PTB-XL records)
    instead. E.g. ``metric_fn=functools.partial(classification_metrics, classes=AAMI_CLASSES)``.

    When ``y_true`` and ``y_pred`` are 1-D labels (integers or strings), a replicate depends
    only on how many beats of each (true, predicted) pair it holds, so counts are computed
    per group once and each replicate's label arrays are rebuilt from summed counts: identical
    results to pooling the drawn groups' beats, for any metric that ignores beat order. Other
    inputs (scores, 2-D arrays) go through :func:`bootstrap_statistic`. Both share the same
    draws for a given ``seed``.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if not (_is_label(y_true) and _is_label(y_pred)):
        return bootstrap_statistic(
            metric_fn, y_true, y_pred, groups=groups, n_boot=n_boot, seed=seed, alpha=alpha
        )
    n = _check((y_true, y_pred), groups, n_boot)
    true_values, true_idx = np.unique(y_true, return_inverse=True)
    pred_values, pred_idx = np.unique(y_pred, return_inverse=True)
    pair_idx = true_idx * len(pred_values) + pred_idx
    pairs, pair_idx = np.unique(pair_idx, return_inverse=True)
    pair_true = true_values[pairs // len(pred_values)]
    pair_pred = pred_values[pairs % len(pred_values)]
    n_pairs = len(pairs)
    if groups is None:
        draws = _draws(n, n_boot, seed)
        pooled = np.stack([np.bincount(pair_idx[row], minlength=n_pairs) for row in draws])
    else:
        _, group_idx = np.unique(np.asarray(groups), return_inverse=True)
        n_groups = int(group_idx.max()) + 1
        # counts[g, p]: beats of group g with (true, pred) pair p.
        counts = np.bincount(group_idx * n_pairs + pair_idx, minlength=n_groups * n_pairs)
        draws = _draws(n_groups, n_boot, seed)
        offsets = (np.arange(n_boot)[:, None] * n_groups + draws).ravel()
        multiplicity = np.bincount(offsets, minlength=n_boot * n_groups)
        pooled = multiplicity.reshape(n_boot, n_groups) @ counts.reshape(n_groups, n_pairs)
    replicates = [metric_fn(np.repeat(pair_true, row), np.repeat(pair_pred, row)) for row in pooled]
    return _summarise(metric_fn(y_true, y_pred), replicates, alpha)
