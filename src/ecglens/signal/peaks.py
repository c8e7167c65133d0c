"""R-peak (QRS) detection for single-lead ECGs.

An offline detector in the style of Pan & Tompkins (1985) and Hamilton &
Tompkins (1986):

1. QRS feature: zero-phase 5-20 Hz band-pass, first difference, root mean
   square over 80 ms.
2. Candidates: local maxima of the feature at least 250 ms apart (refractory
   period), found with :func:`scipy.signal.find_peaks`.
3. Adaptive threshold 40% of the way from a running noise-peak level to a
   running signal-peak level, both learnt on the first 10 s; T-wave rejection
   (a candidate within 360 ms of the last beat with under half its slope);
   search-back at half threshold when no beat came for 1.5 mean RR intervals;
   after 3 RR intervals without a beat, a gap holding a clear peak (3x its
   median candidate) resets the levels, so a sudden amplitude drop is followed.
4. Each detection moves to the R peak: the extremum of the cleaned signal
   within 60 ms, of the record's dominant QRS polarity (the trough of a
   negative QRS) unless the opposite extremum is 1.5 times larger.

On lead 0 of the 48 MIT-BIH Arrhythmia records (EC57 scoring, 150 ms tolerance,
flutter episodes excluded) it reaches Se 99.88% and +P 99.87%; see bench/rpeaks.py.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy import signal as sps
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from ecglens.errors import EcgLensError
from ecglens.signal.filters import bandpass_sos, check_signal, ecg_clean

QRS_BAND_HZ = (5.0, 20.0)
FEATURE_WINDOW_S = 0.08
REFRACTORY_S = 0.25
T_WAVE_WINDOW_S = 0.36
T_WAVE_SLOPE_RATIO = 0.5
SLOPE_WINDOW_S = 0.075
THRESHOLD_FRACTION = 0.4
SEARCH_BACK_RR = 1.5
SEARCH_BACK_FRACTION = 0.5
LEVEL_UPDATE = 0.125
LEARNING_S = 10.0
LOCATE_WINDOW_S = 0.06
OPPOSITE_RATIO = 1.5
N_RR = 8
RELEARN_RR = 3.0
RELEARN_PROMINENCE = 3.0


def ecg_peaks(signal: np.ndarray, fs: float, cleaned: np.ndarray | None = None) -> np.ndarray:
    """R-peak sample indices (int64, sorted, at ``fs``) of a single-lead ECG.

    ``signal`` is (n_samples,) in mV at ``fs`` Hz, raw or already cleaned with
    :func:`ecg_clean`: it is band-passed internally, so both give the same beats.
    ``cleaned``: ``ecg_clean(signal, fs)`` when the caller has it (see
    :func:`~ecglens.signal.process.process_lead`), else computed here.
    Each index sits on the R peak: the extremum of the cleaned signal within
    60 ms of the QRS, of the record's dominant polarity (the S/QS trough when
    the QRS is negative). Raises :class:`EcgLensError` for a flat, non-finite,
    multi-lead or too-short (< 1 s) signal.
    """
    x = single_lead(signal, fs, "ecg_peaks")
    clean = ecg_clean(x, fs) if cleaned is None else cleaned
    feature = qrs_feature(x, fs)
    cand, _ = sps.find_peaks(feature, distance=max(round(REFRACTORY_S * fs), 1))
    if cand.size == 0:
        return np.zeros(0, dtype=np.int64)
    half = max(round(SLOPE_WINDOW_S * fs), 1)
    slope = maximum_filter1d(np.abs(np.diff(clean, prepend=clean[0])), 2 * half + 1)[cand]
    beats = _detect(cand, feature[cand], slope, fs)
    return _locate(clean, beats, fs)


def single_lead(signal: np.ndarray, fs: float, caller: str) -> np.ndarray:
    """``signal`` checked (:func:`~ecglens.signal.filters.check_signal`) as (n_samples,)
    float64; raises :class:`EcgLensError` naming ``caller`` for several leads."""
    x = check_signal(signal, fs)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise EcgLensError(f"{caller} needs a single lead, got shape {x.shape}")
    return x


def qrs_feature(x: np.ndarray, fs: float) -> np.ndarray:
    """RMS over 80 ms of the first difference of the 5-20 Hz band, (n_samples,)."""
    band = sps.sosfiltfilt(bandpass_sos(*QRS_BAND_HZ, fs, 2), x)
    deriv = np.diff(band, prepend=band[0])
    window = max(round(FEATURE_WINDOW_S * fs), 1)
    return np.sqrt(uniform_filter1d(deriv * deriv, window, mode="nearest"))


def _detect(cand: np.ndarray, height: np.ndarray, slope: np.ndarray, fs: float) -> np.ndarray:
    """Threshold the candidates twice: a learning pass on the first seconds, then all of them."""
    learn = cand < LEARNING_S * fs
    if not learn.any():
        learn[:] = True
    first = height[learn]
    state = {"spk": float(np.percentile(first, 90)), "npk": 0.5 * float(np.median(first))}
    _, state = _threshold(cand[learn], height[learn], slope[learn], fs, state)
    beats, _ = _threshold(cand, height, slope, fs, state)
    return beats


def _threshold(
    cand: np.ndarray, height: np.ndarray, slope: np.ndarray, fs: float, state: dict
) -> tuple[np.ndarray, dict]:
    """One pass of the adaptive-threshold rules; returns the beats and the final levels."""
    spk, npk = state["spk"], state["npk"]
    rr = deque(state.get("rr", ()), maxlen=N_RR)
    rr_mean = sum(rr) / len(rr) if rr else fs
    t_wave = T_WAVE_WINDOW_S * fs
    search_from = max(REFRACTORY_S, T_WAVE_WINDOW_S) * fs
    height_list = height.tolist()
    slope_list = slope.tolist()
    beats: list[int] = []
    last = 0
    last_slope = 0.0
    positions = cand.tolist()
    i = 0
    while i < len(positions):
        p, h = positions[i], height_list[i]
        rescan_from = None
        while beats and p - last > SEARCH_BACK_RR * rr_mean:
            lo = int(np.searchsorted(cand, last + search_from))
            if lo >= i:
                break
            j = lo + int(np.argmax(height[lo:i]))
            if height_list[j] <= SEARCH_BACK_FRACTION * (npk + THRESHOLD_FRACTION * (spk - npk)):
                # No beat for RELEARN_RR intervals but a clear peak in the gap: the
                # amplitude dropped. Take the levels from the gap and scan it again
                # (each rescan adds at least that peak as a beat, so this ends).
                floor = float(np.median(height[lo:i]))
                if p - last > RELEARN_RR * max(rr_mean, fs) and height_list[j] > (
                    RELEARN_PROMINENCE * floor
                ):
                    spk, npk = height_list[j], min(npk, 0.5 * floor)
                    rescan_from = lo
                break
            spk += 0.25 * (height_list[j] - spk)
            rr.append(positions[j] - last)
            rr_mean = sum(rr) / len(rr)
            last, last_slope = positions[j], slope_list[j]
            beats.append(last)
        if rescan_from is not None:
            i = rescan_from
            continue
        is_t_wave = beats and p - last < t_wave and slope_list[i] < T_WAVE_SLOPE_RATIO * last_slope
        if h <= npk + THRESHOLD_FRACTION * (spk - npk) or is_t_wave:
            npk += LEVEL_UPDATE * (h - npk)
        else:
            spk += LEVEL_UPDATE * (h - spk)
            if beats:
                rr.append(p - last)
                rr_mean = sum(rr) / len(rr)
            last, last_slope = p, slope_list[i]
            beats.append(p)
        i += 1
    return np.asarray(beats, dtype=np.int64), {"spk": spk, "npk": npk, "rr": list(rr)}


def _locate(clean: np.ndarray, beats: np.ndarray, fs: float) -> np.ndarray:
    """Move each beat to its extremum of ``clean`` within ``LOCATE_WINDOW_S``; sorted, unique.

    The record's dominant QRS polarity (median over beats of peak minus trough)
    picks the maximum or the minimum; a beat whose opposite extremum is more than
    ``OPPOSITE_RATIO`` times larger (an inverted ectopic beat) takes that one.
    """
    if beats.size == 0:
        return beats
    half = max(round(LOCATE_WINDOW_S * fs), 1)
    idx = np.clip(beats[:, None] + np.arange(-half, half + 1), 0, clean.size - 1)
    window = clean[idx]
    peak, trough = window.max(axis=1), -window.min(axis=1)
    upright = np.median(peak - trough) >= 0
    preferred, opposite = (peak, trough) if upright else (trough, peak)
    take_max = (OPPOSITE_RATIO * preferred >= opposite) == upright
    pick = np.where(take_max, window.argmax(axis=1), window.argmin(axis=1))
    return np.unique(idx[np.arange(beats.size), pick]).astype(np.int64)
