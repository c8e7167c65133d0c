"""Change the sampling rate of signals and of sample indices consistently."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import signal as sps

from ecglens.errors import EcgLensError

MAX_DENOMINATOR = 1000


def resample_signal(signal: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Resample ``signal`` from ``fs_in`` to ``fs_out`` Hz along axis 0 (time).

    ``signal`` is (n_samples,) or (n_samples, n_leads); returns float64 with
    ``ceil(n_samples * up / down)`` rows, where ``up / down`` is the ratio
    ``fs_out / fs_in`` as a fraction with denominator at most 1000. Polyphase
    filtering (:func:`scipy.signal.resample_poly`) removes aliasing when
    downsampling. Sample 0 stays at time 0.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise EcgLensError(f"expected (samples,) or (samples, leads), got shape {x.shape}")
    up, down = _ratio(fs_in, fs_out)
    if up == down:
        return x.copy()
    if x.shape[0] == 0:
        return x.copy()
    return sps.resample_poly(x, up, down, axis=0)


def resample_indices(
    indices: np.ndarray, fs_in: float, fs_out: float, length: int | None = None
) -> np.ndarray:
    """Sample indices at ``fs_in`` mapped to the nearest sample at ``fs_out`` (int64).

    Uses the same rational ratio as :func:`resample_signal`, so indices stay
    aligned with a signal resampled by it. ``length`` (the resampled signal's
    number of samples), when given, clips the result to ``[0, length - 1]``.
    """
    up, down = _ratio(fs_in, fs_out)
    idx = np.asarray(indices, dtype=np.int64)
    out = (2 * idx * up + down) // (2 * down)
    if length is not None:
        out = np.clip(out, 0, max(int(length) - 1, 0))
    return out.astype(np.int64)


def _ratio(fs_in: float, fs_out: float) -> tuple[int, int]:
    """``fs_out / fs_in`` as ``(up, down)`` integers; raise for non-positive rates."""
    for name, fs in (("fs_in", fs_in), ("fs_out", fs_out)):
        if not np.isfinite(fs) or fs <= 0:
            raise EcgLensError(f"{name} must be a positive sampling rate, got {fs!r}")
    frac = Fraction(float(fs_out) / float(fs_in)).limit_denominator(MAX_DENOMINATOR)
    if frac == 0:
        raise EcgLensError(f"cannot resample from {fs_in:g} Hz to {fs_out:g} Hz")
    return frac.numerator, frac.denominator
