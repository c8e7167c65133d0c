"""Probability calibration: temperature scaling, expected calibration error, reliability tables.

Logits are (N, C) arrays (numpy or torch), targets (N,) integer class indices, probabilities
(N, C) rows summing to 1. Fit the temperature on validation logits, never on the test set.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax


def _numpy(a: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def negative_log_likelihood(
    logits: np.ndarray | torch.Tensor,
    targets: np.ndarray | torch.Tensor,
    temperature: float = 1.0,
) -> float:
    """Mean NLL (nats) of ``targets`` under ``softmax(logits / temperature)``."""
    z = _numpy(logits).astype(np.float64) / temperature
    t = _numpy(targets).astype(np.int64)
    return float(-log_softmax(z, axis=1)[np.arange(len(t)), t].mean())


def fit_temperature(
    logits: np.ndarray | torch.Tensor,
    targets: np.ndarray | torch.Tensor,
    bounds: tuple[float, float] = (0.05, 20.0),
) -> float:
    """Temperature T > 0 minimising the NLL of ``softmax(logits / T)`` (bounded search on log T).

    Scaling by one scalar keeps the argmax, so accuracy is unchanged; T > 1 softens an
    overconfident model.
    """
    z = _numpy(logits).astype(np.float64)
    t = _numpy(targets).astype(np.int64)
    if z.ndim != 2 or len(z) != len(t) or len(t) == 0:
        raise ValueError(f"need logits (N, C) and targets (N,), got {z.shape} and {t.shape}")
    rows = np.arange(len(t))

    def nll(log_t: float) -> float:
        return float(-log_softmax(z / np.exp(log_t), axis=1)[rows, t].mean())

    res = minimize_scalar(
        nll,
        bounds=(np.log(bounds[0]), np.log(bounds[1])),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(np.exp(res.x))


def apply_temperature(logits: np.ndarray | torch.Tensor, temperature: float):
    """``logits / temperature`` (same type as ``logits``); apply softmax for probabilities."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits / temperature


def calibrated_probs(logits: np.ndarray | torch.Tensor, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)`` as a float64 numpy array (N, C)."""
    return softmax(_numpy(apply_temperature(logits, temperature)).astype(np.float64), axis=1)


def reliability_table(
    probs: np.ndarray | torch.Tensor, targets: np.ndarray | torch.Tensor, n_bins: int = 15
) -> dict[str, np.ndarray]:
    """Top-label reliability diagram data over ``n_bins`` equal-width confidence bins.

    Bin b holds beats whose top probability lies in (b/n_bins, (b+1)/n_bins] (the first bin
    also takes 0). Returns arrays of length ``n_bins``: ``lower``, ``upper`` (bin edges),
    ``count``, ``confidence`` (mean top probability), ``accuracy`` (fraction whose argmax is
    the target); the last two are NaN for empty bins.
    """
    p = _numpy(probs).astype(np.float64)
    t = _numpy(targets).astype(np.int64)
    if p.ndim != 2 or len(p) != len(t):
        raise ValueError(f"need probs (N, C) and targets (N,), got {p.shape} and {t.shape}")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == t).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(bins, weights=conf, minlength=n_bins) / count
        accuracy = np.bincount(bins, weights=correct, minlength=n_bins) / count
    return {
        "lower": edges[:-1],
        "upper": edges[1:],
        "count": count,
        "confidence": confidence,
        "accuracy": accuracy,
    }


def expected_calibration_error(
    probs: np.ndarray | torch.Tensor, targets: np.ndarray | torch.Tensor, n_bins: int = 15
) -> float:
    """Top-label ECE: sum over equal-width bins of (bin share) * |accuracy - mean confidence|."""
    table = reliability_table(probs, targets, n_bins)
    filled = table["count"] > 0
    if not filled.any():
        return 0.0
    weights = table["count"][filled] / table["count"].sum()
    gaps = np.abs(table["accuracy"][filled] - table["confidence"][filled])
    return float(np.sum(weights * gaps))


def brier_score(probs: np.ndarray | torch.Tensor, targets: np.ndarray | torch.Tensor) -> float:
    """Multi-class Brier score: mean over beats of the squared distance to the one-hot target."""
    p = _numpy(probs).astype(np.float64)
    onehot = np.eye(p.shape[1])[_numpy(targets).astype(np.int64)]
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))
