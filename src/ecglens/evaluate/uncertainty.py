"""Flagging uncertain beats for human review, and what it buys.

The uncertainty itself (MC dropout, :func:`mc_dropout_predict`) is computed at inference, in
:mod:`ecglens.predict.uncertainty`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ecglens.predict.uncertainty import mc_dropout_mode, mc_dropout_predict

__all__ = [
    "mc_dropout_mode",
    "mc_dropout_predict",
    "review_flags",
    "review_summary",
    "threshold_for_fraction",
]


def review_flags(uncertainty: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean mask of beats to send for review: ``uncertainty >= threshold``."""
    return np.asarray(uncertainty) >= threshold


def threshold_for_fraction(uncertainty: np.ndarray, fraction: float) -> float:
    """Uncertainty threshold that flags (about, ties aside) the top ``fraction`` of beats."""
    u = np.sort(np.asarray(uncertainty, dtype=np.float64))[::-1]
    k = int(round(fraction * len(u)))
    return float(u[k - 1]) if k > 0 else math.inf


def review_summary(
    uncertainty: np.ndarray,
    correct: np.ndarray,
    fractions: Sequence[float] = (0.01, 0.05, 0.10),
) -> list[dict]:
    """What flagging the most uncertain beats buys, one dict per fraction.

    For each fraction f the round(f * N) most uncertain beats are flagged (ties broken by
    position). Keys: ``fraction``, ``n_flagged``, ``threshold`` (lowest flagged uncertainty),
    ``error_rate_flagged``, ``error_rate_rest``, ``error_rate_all``, ``errors_caught`` (share
    of all errors that are flagged; NaN where undefined).
    """
    u = np.asarray(uncertainty, dtype=np.float64)
    wrong = ~np.asarray(correct, dtype=bool)
    if u.shape != wrong.shape or u.ndim != 1:
        raise ValueError(f"uncertainty {u.shape} and correct {wrong.shape} must be equal 1-D")
    n = len(u)
    order = np.argsort(-u, kind="stable")
    errors_sorted = np.concatenate([[0], np.cumsum(wrong[order])])
    n_errors = int(errors_sorted[-1])

    def rate(errors: int, count: int) -> float:
        return errors / count if count else math.nan

    rows = []
    for f in fractions:
        k = min(n, int(round(f * n)))
        caught = int(errors_sorted[k])
        rows.append(
            {
                "fraction": float(f),
                "n_flagged": k,
                "threshold": float(u[order[k - 1]]) if k else math.inf,
                "error_rate_flagged": rate(caught, k),
                "error_rate_rest": rate(n_errors - caught, n - k),
                "error_rate_all": rate(n_errors, n),
                "errors_caught": rate(caught, n_errors),
            }
        )
    return rows
