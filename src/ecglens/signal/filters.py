"""Filters for ECG signals: zero-phase band-pass cleaning and input checks."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal as sps

from ecglens.errors import EcgLensError

MIN_DURATION_S = 1.0


def ecg_clean(
    signal: np.ndarray,
    fs: float,
    lowcut: float = 0.5,
    highcut: float = 40.0,
    order: int = 3,
    powerline: float | None = None,
) -> np.ndarray:
    """Remove baseline wander and high-frequency noise (EMG, powerline) from an ECG.

    A zero-phase Butterworth band-pass (``lowcut``-``highcut`` Hz, run forwards and
    backwards with :func:`scipy.signal.sosfiltfilt`), so waves are not shifted;
    ``highcut`` is capped at 0.45 ``fs``. The defaults attenuate 60 Hz by about
    25 dB; pass ``powerline=50`` (or 60) to add a zero-phase notch there.
    ``signal`` is (n_samples,) or (n_samples, n_leads) in mV at ``fs`` Hz; returns
    float64 of the same shape and units.
    """
    x = check_signal(signal, fs)
    out = sps.sosfiltfilt(bandpass_sos(lowcut, highcut, fs, order), x, axis=0)
    if powerline is not None and 0 < powerline < fs / 2:
        b, a = sps.iirnotch(powerline, Q=30.0, fs=fs)
        out = sps.filtfilt(b, a, out, axis=0)
    return out


def check_signal(
    signal: np.ndarray, fs: float, min_duration_s: float = MIN_DURATION_S
) -> np.ndarray:
    """``signal`` as float64 (n_samples,) or (n_samples, n_leads), or raise :class:`EcgLensError`.

    Rejects a non-positive rate, fewer than ``min_duration_s`` seconds of samples,
    NaN or infinite values and flat (zero-variance) leads.
    """
    if not np.isfinite(fs) or fs <= 0:
        raise EcgLensError(f"sampling rate must be a positive number, got {fs!r}")
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise EcgLensError(f"expected (samples,) or (samples, leads), got shape {x.shape}")
    n_min = max(int(np.ceil(min_duration_s * fs)), 16)
    if x.shape[0] < n_min:
        raise EcgLensError(
            f"signal too short: {x.shape[0]} samples, need {n_min} "
            f"({min_duration_s:g} s at {fs:g} Hz)"
        )
    finite = np.isfinite(x)
    if not finite.all():
        raise EcgLensError(f"signal holds {int(x.size - finite.sum())} NaN or infinite values")
    flat = np.ptp(x, axis=0) == 0
    if np.any(flat):
        raise EcgLensError("signal is a flat line (zero variance): no ECG to analyse")
    return x


@lru_cache(maxsize=32)
def bandpass_sos(lowcut: float, highcut: float, fs: float, order: int) -> np.ndarray:
    """Second-order sections of a Butterworth band-pass; ``highcut`` capped at 0.45 ``fs``."""
    highcut = min(highcut, 0.45 * fs)
    if not 0 < lowcut < highcut:
        raise EcgLensError(f"band {lowcut:g}-{highcut:g} Hz is empty at {fs:g} Hz")
    return sps.butter(order, [lowcut, highcut], btype="bandpass", fs=fs, output="sos")
