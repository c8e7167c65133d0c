import functools

import numpy as np
import pytest

from ecglens.data.labels import AAMI_CLASSES
from ecglens.evaluate.bootstrap import bootstrap_metrics, bootstrap_statistic
from ecglens.evaluate.metrics import classification_metrics

METRICS = functools.partial(classification_metrics, classes=AAMI_CLASSES)


def _data(n_groups: int, per_group: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_groups), per_group)
    y = rng.choice(5, size=len(groups), p=[0.7, 0.1, 0.1, 0.05, 0.05])
    skill = rng.uniform(0.6, 1.0, size=n_groups)[groups]  # records differ in difficulty
    y_pred = np.where(rng.random(len(y)) < skill, y, rng.integers(0, 5, len(y)))
    return y, y_pred, groups


def test_structure_and_interval_contains_point():
    y, y_pred, groups = _data(10)
    out = bootstrap_metrics(y, y_pred, groups, METRICS, n_boot=200)
    lo, hi = out["accuracy"]["ci"]
    assert lo <= out["accuracy"]["value"] <= hi
    assert out["accuracy"]["value"] == pytest.approx(np.mean(y == y_pred))
    s = out["per_class"]["S"]["f1"]
    assert s["ci"][0] <= s["value"] <= s["ci"][1]
    assert out["classes"] == list(AAMI_CLASSES)
    assert out["confusion_matrix"] == METRICS(y, y_pred)["confusion_matrix"]


def test_deterministic_with_seed():
    y, y_pred, groups = _data(8)
    a = bootstrap_metrics(y, y_pred, groups, METRICS, n_boot=100, seed=1)
    b = bootstrap_metrics(y, y_pred, groups, METRICS, n_boot=100, seed=1)
    c = bootstrap_metrics(y, y_pred, groups, METRICS, n_boot=100, seed=2)
    assert a == b
    assert a["macro_f1"]["ci"] != c["macro_f1"]["ci"]


def test_narrower_with_more_groups():
    def width(n_groups):
        y, y_pred, groups = _data(n_groups, per_group=100)
        ci = bootstrap_metrics(y, y_pred, groups, METRICS, n_boot=300)["accuracy"]["ci"]
        return ci[1] - ci[0]

    assert width(80) < width(8)


def test_cluster_wider_than_item_bootstrap():
    y, y_pred, groups = _data(10, per_group=500)
    cluster = bootstrap_metrics(y, y_pred, groups, METRICS, n_boot=300)["accuracy"]["ci"]
    items = bootstrap_metrics(y, y_pred, None, METRICS, n_boot=300)["accuracy"]["ci"]
    assert cluster[1] - cluster[0] > items[1] - items[0]


@pytest.mark.parametrize("use_groups", [True, False])
def test_matches_slow_reference_loop(use_groups):
    y, y_pred, groups = _data(6, per_group=30, seed=3)
    labels = np.array(AAMI_CLASSES)
    y_s, y_pred_s = labels[y], labels[y_pred]  # string labels take the same fast path

    index = {c: i for i, c in enumerate(AAMI_CLASSES)}

    def metric(t, p):
        m = METRICS([index[c] for c in t], [index[c] for c in p])
        return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": m["n"]}

    g = groups if use_groups else None
    fast = bootstrap_metrics(y_s, y_pred_s, g, metric, n_boot=50, seed=7, alpha=0.1)
    # Reference: the same draws, pooling the drawn groups' items in order.
    units = np.unique(groups) if use_groups else np.arange(len(y))
    draws = np.random.default_rng(7).integers(0, len(units), size=(50, len(units)))
    reps = []
    for row in draws:
        idx = (
            np.concatenate([np.flatnonzero(groups == units[i]) for i in row]) if use_groups else row
        )
        reps.append(metric(y_s[idx], y_pred_s[idx]))
    for key in ("accuracy", "macro_f1", "n"):
        lo, hi = np.percentile([r[key] for r in reps], [5, 95])
        assert fast[key]["ci"] == pytest.approx([lo, hi], abs=1e-12)
    slow = bootstrap_statistic(metric, y_s, y_pred_s, groups=g, n_boot=50, seed=7, alpha=0.1)
    assert slow == fast


def test_scores_and_nan_replicates():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(3, dtype=int), np.zeros(57, dtype=int)]
    score = y + rng.normal(0, 0.8, size=len(y))

    def auc(t, s):
        pos, neg = s[t == 1], s[t == 0]
        if len(pos) == 0 or len(neg) == 0:
            return float("nan")
        return float((pos[:, None] > neg[None, :]).mean())

    out = bootstrap_metrics(y, score, None, auc, n_boot=300)
    assert out["ci"][0] <= out["value"] <= out["ci"][1] <= 1.0
    mean = bootstrap_statistic(np.mean, score, n_boot=200)
    assert mean["ci"][0] < score.mean() < mean["ci"][1]


def test_timing_22_records_50k_beats():
    import time

    y, y_pred, groups = _data(22, per_group=2300)
    start = time.perf_counter()
    bootstrap_metrics(y, y_pred, groups, METRICS, n_boot=1000)
    assert time.perf_counter() - start < 5.0
