"""P-wave evidence before each QRS, against the record's own sinus P wave.

Supraventricular (S) premature beats differ from sinus beats mainly before the QRS: an
ectopic P wave of another shape, or one buried in the preceding T wave; atrial
fibrillation has no P wave at all. These functions read the window before each R peak
(the P wave and PR segment) and compare it with a sinus template built, without labels,
from the record's beats that end long intervals (after a pause or in the slow part of the
rhythm, a beat is most likely conducted from the sinus node; Teijeiro et al. 2018 read
records the same way).

All windows are placed in seconds and sampled at a fixed number of points, so the
features do not depend on the sampling rate.

Teijeiro T, Felix P, Presedo J, Castro D. Heartbeat classification using abstract features
from the abductive interpretation of the ECG. IEEE J Biomed Health Inform 22(2) 2018.
"""

from __future__ import annotations

import numpy as np

P_START_S = 0.30  # P window: from 300 ms before the R peak ...
P_END_S = 0.06  # ... to 60 ms before it (QRS onset)
QRS_HALF_S = (0.06, 0.10)  # QRS window: 60 ms before to 100 ms after the R peak
N_POINTS = 24  # samples per window, whatever the rate

PWAVE_FEATURE_NAMES = (
    "p_corr_sinus",  # Pearson correlation of the P window with the sinus template
    "p_corr_minus_record",  # the same minus the record's median correlation
    "p_amplitude_ratio",  # P window's range over the template's range
    "p_over_qrs",  # P window's range over the record's median QRS range
    "p_corr_previous",  # correlation with the previous beat's P window
    "p_template_quality",  # record: median correlation of the template's own beats
    "qrs_corr_record",  # correlation of the QRS window with the record's median QRS
    "qrs_amplitude_ratio",  # QRS range over the record's median QRS range
)


def wave_windows(
    signal: np.ndarray, fs: float, peaks: np.ndarray, start_s: float, end_s: float, n_points: int
) -> np.ndarray:
    """Windows from ``start_s`` to ``end_s`` seconds around each R peak (negative = before),
    ``n_points`` evenly spaced samples each (linear interpolation): (n_beats, n_points).

    ``signal``: one cleaned lead (n_samples,) at ``fs`` Hz; ``peaks``: R-peak indices.
    Times outside the record repeat the edge value.
    """
    signal = np.asarray(signal, dtype=np.float64)
    peaks = np.asarray(peaks, dtype=np.float64)
    t = np.linspace(start_s, end_s, n_points) * fs
    pos = np.clip(peaks[:, None] + t[None, :], 0, len(signal) - 1)
    low = np.floor(pos).astype(np.int64)
    high = np.minimum(low + 1, len(signal) - 1)
    frac = pos - low
    return signal[low] * (1 - frac) + signal[high] * frac


def detrend_windows(windows: np.ndarray) -> np.ndarray:
    """Remove the straight line through each window's first and last samples (T-wave tail
    and baseline), so the window shows the P wave's shape."""
    n = windows.shape[1]
    ramp = np.linspace(0.0, 1.0, n)[None, :]
    line = windows[:, :1] + (windows[:, -1:] - windows[:, :1]) * ramp
    return windows - line


def row_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of matching rows of ``a`` and ``b`` (or each row of ``a`` with a
    single row ``b``); 0 where a row is flat."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = np.broadcast_to(b - b.mean(axis=-1, keepdims=True), a.shape)
    num = (a * b).sum(axis=-1)
    den = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    return np.where(den > 1e-12, num / np.maximum(den, 1e-12), 0.0)


def sinus_reference(pre_rr: np.ndarray, p_windows: np.ndarray) -> np.ndarray:
    """(n,) bool: beats presumed sinus, to build the P template from, without labels.

    Beats ending an interval at least as long as the record's median (the slow part of the
    rhythm, beats after pauses); of those, the half whose P windows agree best with their
    median shape (drops beats without P wave and noisy ones).
    """
    n = len(pre_rr)
    if n == 0:
        return np.zeros(0, dtype=bool)
    slow = pre_rr >= np.median(pre_rr)
    if slow.sum() < 3:
        return np.ones(n, dtype=bool)
    first = np.median(p_windows[slow], axis=0)
    corr = row_correlation(p_windows, first)
    keep = slow & (corr >= np.median(corr[slow]))
    return keep if keep.sum() >= 3 else slow


def pwave_features(clean: np.ndarray, fs: float, peaks: np.ndarray) -> np.ndarray:
    """P-wave and QRS evidence per beat: (n_beats, 8) float32 (see :data:`PWAVE_FEATURE_NAMES`).

    ``clean``: one band-passed lead (n_samples,) in mV at ``fs`` Hz (see
    :func:`~ecglens.signal.filters.ecg_clean`); ``peaks``: R-peak indices at ``fs``. The
    sinus P template is the median P window of :func:`sinus_reference` beats.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    n = len(peaks)
    out = np.zeros((n, len(PWAVE_FEATURE_NAMES)), dtype=np.float32)
    if n < 3:
        return out
    p = detrend_windows(wave_windows(clean, fs, peaks, -P_START_S, -P_END_S, N_POINTS))
    qrs = wave_windows(clean, fs, peaks, -QRS_HALF_S[0], QRS_HALF_S[1], N_POINTS)
    pre = np.diff(peaks, prepend=peaks[0] - (peaks[1] - peaks[0])) / fs
    reference = sinus_reference(pre, p)
    template = np.median(p[reference], axis=0)
    corr = row_correlation(p, template)
    p_range = np.ptp(p, axis=1)
    template_range = max(float(np.ptp(template)), 1e-6)
    qrs_range = np.ptp(qrs, axis=1)
    median_qrs_range = max(float(np.median(qrs_range)), 1e-6)
    previous = np.concatenate([p[:1], p[:-1]])
    out[:, 0] = corr
    out[:, 1] = corr - np.median(corr)
    out[:, 2] = np.clip(p_range / template_range, 0, 10)
    out[:, 3] = np.clip(p_range / median_qrs_range, 0, 10)
    out[:, 4] = row_correlation(p, previous)
    out[:, 5] = float(np.median(corr[reference]))
    out[:, 6] = row_correlation(qrs, np.median(qrs, axis=0))
    out[:, 7] = np.clip(qrs_range / median_qrs_range, 0, 10)
    return out
