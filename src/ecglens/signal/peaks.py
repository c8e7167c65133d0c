"""R-peak (QRS) detection for single-lead ECGs.

An offline Pan-Tompkins (1985) / Hamilton-Tompkins (1986) style detector:

1. QRS feature: zero-phase 5-20 Hz band-pass, first difference, root mean square
   over 80 ms.
2. Candidates: local maxima of the feature at least 250 ms apart (refractory period).
3. Adaptive threshold between running signal and noise peak levels, learnt over
   the first seconds; T-wave rejection by slope within 360 ms of the previous
   beat; search-back at half threshold when no beat came for 1.5 RR intervals.
4. Each detection moves to the R peak: the largest absolute sample of the
   cleaned signal within 60 ms.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy import signal as sps
from scipy.ndimage import uniform_filter1d

from ecglens.errors import EcgLensError
from ecglens.signal.filters import bandpass_sos, check_signal, ecg_clean

P = dict(
    band=(5.0, 20.0), win=0.08, refr=0.25, k=0.35, sb=1.5, sbk=0.5, twave=0.36, tslope=0.5,
    a=0.125, clip=3.0, learn=10.0, rrmode="rr2", loc=0.06,
)


def ecg_peaks(signal: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices (int64, sorted, at ``fs``) of a single-lead ECG.

    ``signal`` is (n_samples,) in mV at ``fs`` Hz, raw or cleaned with
    :func:`ecg_clean` (it is band-passed internally, so either gives the same
    beats). Each index is the largest absolute sample of the cleaned signal
    within 60 ms of the QRS: the R peak, or the S/QS trough of a negative QRS.
    """
    x = check_signal(signal, fs)
    if x.ndim != 1:
        raise EcgLensError(f"ecg_peaks needs one lead, got shape {x.shape}")
    clean = ecg_clean(x, fs)
    feature = qrs_feature(x, fs)
    cand, _ = sps.find_peaks(feature, distance=max(int(round(P["refr"] * fs)), 1))
    slopes = _slopes(clean, cand, fs)
    beats = _threshold(cand, feature[cand], slopes, fs)
    return _locate(clean, beats, fs)


def qrs_feature(signal: np.ndarray, fs: float) -> np.ndarray:
    """QRS energy envelope: RMS over 80 ms of the derivative of the 5-20 Hz band, (n,)."""
    band = sps.sosfiltfilt(bandpass_sos(*P["band"], fs, 2), signal)
    deriv = np.diff(band, prepend=band[0])
    window = max(int(round(P["win"] * fs)), 1)
    return np.sqrt(uniform_filter1d(deriv * deriv, window, mode="nearest"))


def _slopes(clean, cand, fs):
    half = max(int(round(0.075 * fs)), 1)
    slope = sps.maximum_filter1d if False else None  # placeholder
    absd = np.abs(np.diff(clean, prepend=clean[0]))
    from scipy.ndimage import maximum_filter1d
    return maximum_filter1d(absd, 2 * half + 1, mode="nearest")[cand]


def _threshold(cand, heights, slopes, fs):
    n = len(cand)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    learn = cand < P["learn"] * fs
    if not learn.any():
        learn[:] = True
    h0 = heights[learn]
    state = {"spk": float(np.percentile(h0, 90)), "npk": float(np.median(h0)) * 0.5}
    _, state = _run(cand[learn], heights[learn], slopes[learn], fs, state)
    beats, _ = _run(cand, heights, slopes, fs, state)
    return beats


def _run(cand, heights, slopes, fs, state):
    k, a, clip = P["k"], P["a"], P["clip"]
    spk = state["spk"]
    npk = state["npk"]
    rr1 = deque(state.get("rr1", []), maxlen=8)
    rr2 = deque(state.get("rr2", []), maxlen=8)
    rr_ref = state.get("rr_ref", fs)
    twave = P["twave"] * fs
    refr = int(P["refr"] * fs)
    beats = []
    last = -(10**9)
    last_slope = 0.0

    def add_rr(v):
        nonlocal rr_ref
        rr1.append(v)
        m1 = sum(rr1) / len(rr1)
        if P["rrmode"] == "rr1":
            rr_ref = m1
        elif P["rrmode"] == "med":
            rr_ref = float(np.median(rr1))
        else:
            if not rr2 or 0.92 * rr_ref <= v <= 1.16 * rr_ref:
                rr2.append(v)
                rr_ref = sum(rr2) / len(rr2)
            elif len(rr1) == 8 and all(0.92 * m1 <= q <= 1.16 * m1 for q in rr1):
                rr_ref = m1

    for i in range(len(cand)):
        p = cand[i]
        h = heights[i]
        while beats and p - last > P["sb"] * rr_ref:
            lo = np.searchsorted(cand, last + max(refr, int(twave)))
            if lo >= i:
                break
            j = lo + int(np.argmax(heights[lo:i]))
            if heights[j] <= P["sbk"] * (npk + k * (spk - npk)):
                break
            spk = 0.25 * min(heights[j], clip * spk) + 0.75 * spk
            add_rr(cand[j] - last)
            beats.append(cand[j])
            last = cand[j]
            last_slope = slopes[j]
        if h > npk + k * (spk - npk):
            if p - last < twave and slopes[i] < P["tslope"] * last_slope:
                npk = a * h + (1 - a) * npk
                continue
            spk = a * min(h, clip * spk) + (1 - a) * spk
            if beats:
                add_rr(p - last)
            beats.append(p)
            last = p
            last_slope = slopes[i]
        else:
            npk = a * h + (1 - a) * npk
    out = {"spk": spk, "npk": npk, "rr1": list(rr1), "rr2": list(rr2), "rr_ref": rr_ref}
    return np.asarray(beats, dtype=np.int64), out


def _locate(clean, beats, fs):
    if beats.size == 0:
        return beats
    half = int(round(P["loc"] * fs))
    idx = np.clip(beats[:, None] + np.arange(-half, half + 1), 0, clean.size - 1)
    pick = np.argmax(np.abs(clean[idx]), axis=1)
    return np.unique(idx[np.arange(beats.size), pick]).astype(np.int64)
