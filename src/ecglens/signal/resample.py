"""Resampling of signals and sample indices between sampling rates."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly


def resample_signal(signal: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Resample ``signal`` ((n,) or (n, leads), along axis 0) from ``fs_in`` to ``fs_out`` Hz.

    Polyphase filtering with a rational approximation of the rate ratio.
    """
    signal = np.asarray(signal, dtype=np.float64)
    if abs(fs_in - fs_out) < 1e-9:
        return signal.copy()
    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    return resample_poly(signal, ratio.numerator, ratio.denominator, axis=0, padtype="line")


def resample_indices(indices: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Sample indices at ``fs_in`` mapped to the nearest index at ``fs_out`` (int64)."""
    return np.round(np.asarray(indices, dtype=np.float64) * fs_out / fs_in).astype(np.int64)
