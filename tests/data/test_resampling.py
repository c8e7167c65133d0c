import numpy as np
import pytest

from ecglens.data.resampling import class_counts, class_weights, oversample_indices, smote_beats

LABELS = np.array([0] * 80 + [1] * 15 + [2] * 5)


@pytest.mark.parametrize("scheme", ["inverse", "sqrt_inverse", "effective"])
def test_class_weights_mean_one_and_ordered(scheme):
    w = class_weights(LABELS, 4, scheme=scheme)
    counts = class_counts(LABELS, 4)
    assert w.shape == (4,)
    assert np.sum(w * counts) / counts.sum() == pytest.approx(1.0)
    assert w[0] < w[1] < w[2] and w[3] == 0.0


def test_class_weight_values():
    w = class_weights(LABELS, 3, scheme="inverse")
    assert w == pytest.approx(100 / (3 * np.array([80, 15, 5])))
    # effective number: beta -> 0 is uniform weighting.
    assert class_weights(LABELS, 3, "effective", beta=0.0) == pytest.approx(np.ones(3))
    with pytest.raises(ValueError):
        class_weights(LABELS, 3, scheme="bogus")
    with pytest.raises(ValueError):
        class_weights(LABELS, 2)


def test_oversample_balanced_keeps_every_beat():
    idx = oversample_indices(LABELS, np.random.default_rng(0))
    assert np.bincount(LABELS[idx]).tolist() == [80, 80, 80]
    assert set(range(len(LABELS))) <= set(idx.tolist())
    again = oversample_indices(LABELS, np.random.default_rng(0))
    assert np.array_equal(idx, again)


def test_oversample_ratio():
    idx = oversample_indices(LABELS, np.random.default_rng(0), target=0.25)
    assert np.bincount(LABELS[idx]).tolist() == [80, 20, 20]
    with pytest.raises(ValueError):
        oversample_indices(LABELS, np.random.default_rng(0), target=1.5)


def test_smote_beats_interpolates_within_class():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (80, 3, 20)), rng.normal(10, 1, (20, 3, 20))])
    x = x.astype(np.float32)
    y = np.array([0] * 80 + [1] * 20)
    rr = np.arange(100, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    (x_out, rr_out), y_out = smote_beats((x, rr), y, np.random.default_rng(1), k=3)
    assert x_out.dtype == np.float32 and x_out.shape == (160, 3, 20)
    assert np.array_equal(x_out[:100], x) and np.array_equal(y_out[:100], y)
    assert np.bincount(y_out).tolist() == [80, 80]
    new = x_out[100:]
    assert np.all(np.abs(new.mean(axis=(1, 2)) - 10) < 1)  # stays in the class-1 cluster
    assert np.all((rr_out[100:] >= 80) & (rr_out[100:] <= 99))  # rr interpolated within class 1
    assert not any(np.array_equal(b, a) for b in new[:5] for a in x[80:])
    single, y_single = smote_beats(x[:, 0], y, np.random.default_rng(1), k=3, target=0.5)
    assert single.shape == (120, 20) and np.bincount(y_single).tolist() == [80, 40]


def test_smote_tiny_classes():
    x = np.random.default_rng(0).normal(size=(13, 4))
    y = np.array([0] * 10 + [1] * 2 + [2])
    x_out, y_out = smote_beats(x, y, np.random.default_rng(0), k=5)
    assert np.bincount(y_out).tolist() == [10, 10, 1]
    assert x_out.shape == (21, 4)
