import numpy as np
import pytest
import torch
from scipy.special import softmax

from ecglens.evaluate.calibration import (
    apply_temperature,
    brier_score,
    calibrated_probs,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_table,
)


def _sample(true_t: float, n: int = 20000, c: int = 5, seed: int = 0):
    """Logits z whose labels are drawn from softmax(z / true_t)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 3.0, size=(n, c))
    p = softmax(z / true_t, axis=1)
    y = (rng.random((n, 1)) > p.cumsum(axis=1)).sum(axis=1)
    return z, np.minimum(y, c - 1)


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_known_t(true_t):
    z, y = _sample(true_t)
    t = fit_temperature(z, y)
    assert t == pytest.approx(true_t, rel=0.08)
    assert negative_log_likelihood(z, y, t) <= negative_log_likelihood(z, y, 1.0) + 1e-12


def test_temperature_accepts_tensors_and_keeps_argmax():
    z, y = _sample(2.0, n=2000)
    t = fit_temperature(torch.from_numpy(z), torch.from_numpy(y))
    scaled = apply_temperature(torch.from_numpy(z), t)
    assert isinstance(scaled, torch.Tensor)
    assert np.array_equal(scaled.argmax(1).numpy(), z.argmax(1))
    assert calibrated_probs(z, t).sum(axis=1) == pytest.approx(np.ones(len(z)))
    with pytest.raises(ValueError):
        apply_temperature(z, 0.0)


def test_ece_zero_when_calibrated_and_positive_when_overconfident():
    # Two bins' worth of beats, each bin's accuracy equal to its confidence.
    probs = np.array([[0.8, 0.2]] * 10 + [[0.4, 0.6]] * 10)
    targets = np.array([0] * 8 + [1] * 2 + [1] * 6 + [0] * 4)
    assert expected_calibration_error(probs, targets) == pytest.approx(0.0, abs=1e-12)
    overconfident = np.array([[0.99, 0.01]] * 10)
    targets = np.array([0] * 7 + [1] * 3)
    assert expected_calibration_error(overconfident, targets) == pytest.approx(0.29)


def test_temperature_scaling_reduces_ece():
    z, y = _sample(3.0)
    p_raw = softmax(z, axis=1)
    p_cal = calibrated_probs(z, fit_temperature(z, y))
    assert expected_calibration_error(p_cal, y) < 0.03 < expected_calibration_error(p_raw, y)
    assert brier_score(p_cal, y) < brier_score(p_raw, y)


def test_reliability_table_bins():
    probs = np.array([[1.0, 0.0], [0.5, 0.5], [0.7, 0.3]])
    table = reliability_table(probs, np.array([0, 1, 1]), n_bins=10)
    assert table["count"].sum() == 3
    assert table["count"][9] == 1 and table["count"][4] == 1 and table["count"][6] == 1
    assert table["accuracy"][9] == 1.0 and table["accuracy"][6] == 0.0
    assert np.isnan(table["confidence"][0])
    assert table["lower"][0] == 0.0 and table["upper"][-1] == 1.0
