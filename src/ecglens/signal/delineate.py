"""Intervals on the median beat: PR, QRS, QT, QTc, and the frontal QRS axis.

The median beat is the sample-wise median of the beats of one cleaned lead (0.5-40 Hz),
aligned on their R peaks, resampled to 1 kHz. On it:

- QRS onset / offset: where the slope envelope (|first difference| smoothed over 10 ms)
  stays under ``QRS_SLOPE_SHARE`` of its QRS maximum for ``QUIET_MS`` (so a Q or S turning
  point is not taken for the end), searched out from the steepest slopes around the R peak;
- T end and P onset: the tangent method (the line through the steepest point of the T wave's
  descending limb, or of the P wave's rising limb, meets the isoelectric level, the median
  of the PR segment);
- P wave: the largest deflection from the isoelectric level 280 to 30 ms before the QRS
  onset, at least ``MIN_P_SHARE`` of the QRS amplitude; none (no PR) otherwise (AF).

QTc: Bazett (QT / sqrt(RR)) and Fridericia (QT / RR^(1/3)), RR in s. Axis: the angle of
(net QRS area in lead I, net QRS area in aVF), in degrees (-180, 180].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

FS_MEDIAN = 1000.0  # Hz: the median beat's rate
QRS_SLOPE_SHARE = 0.12
QUIET_MS = 16
MIN_P_SHARE = 0.03
MIN_BEATS = 3


@dataclass(frozen=True)
class Intervals:
    """Intervals of a median beat in ms (None where a wave was not found); rr_ms the median
    RR; axis_deg the frontal QRS axis (12-lead records only)."""

    rr_ms: float
    pr_ms: float | None
    qrs_ms: float | None
    qt_ms: float | None
    qtc_bazett_ms: float | None
    qtc_fridericia_ms: float | None
    axis_deg: float | None = None
    n_beats: int = 0

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            k: (round(float(v), 1) if isinstance(v, float | np.floating) else v)
            for k, v in asdict(self).items()
        }


@dataclass(frozen=True)
class Waves:
    """Fiducial points of a median beat, in ms from its R peak (negative: before)."""

    p_onset: float | None
    qrs_onset: float
    qrs_offset: float
    t_end: float | None
    baseline: float  # mV: the isoelectric level


def median_beat(
    clean: np.ndarray, fs: float, peaks: np.ndarray, rr_s: float
) -> tuple[np.ndarray, int] | None:
    """The median of the beats at ``peaks`` from 0.45 x ``rr_s`` before to 0.75 x after the
    R peak (at most 0.5 s before and 0.8 s after), resampled to 1 kHz: ``(beat, r_index)``,
    None under ``MIN_BEATS`` beats."""
    before = min(0.45 * rr_s, 0.5)
    after = min(0.75 * rr_s, 0.8)
    t = np.arange(-before, after, 1.0 / FS_MEDIAN)
    peaks = np.asarray(peaks, dtype=np.float64)
    peaks = peaks[(peaks - before * fs >= 0) & (peaks + after * fs < len(clean) - 1)]
    if len(peaks) < MIN_BEATS:
        return None
    pos = peaks[:, None] + t[None, :] * fs
    low = np.floor(pos).astype(np.int64)
    frac = pos - low
    x = np.asarray(clean, dtype=np.float64)
    beats = x[low] * (1 - frac) + x[low + 1] * frac
    return np.median(beats, axis=0), int(round(before * FS_MEDIAN))


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    return np.convolve(x, np.ones(width) / width, mode="same")


def _quiet_from(envelope: np.ndarray, start: int, step: int, thr: float, stop: int) -> int:
    """First index from ``start`` (moving by ``step``) where ``envelope`` stays under ``thr``
    for ``QUIET_MS`` samples; ``stop`` if none."""
    i = start
    while (i - stop) * step < 0:
        seg = envelope[i : i + QUIET_MS] if step > 0 else envelope[max(i - QUIET_MS + 1, 0) : i + 1]
        if len(seg) and (seg < thr).all():
            return i
        i += step
    return stop


def _tangent_end(x: np.ndarray, slope: np.ndarray, at: int, baseline: float) -> float:
    """Where the tangent at ``at`` meets ``baseline`` (index, may be fractional)."""
    if abs(slope[at]) < 1e-9:
        return float(at)
    return at + (baseline - x[at]) / slope[at]


def delineate(beat: np.ndarray, r: int) -> Waves | None:
    """Fiducial points of a 1-kHz median ``beat`` with its R peak at index ``r``."""
    beat = np.asarray(beat, dtype=np.float64)
    slope = np.gradient(beat)
    env = _smooth(np.abs(slope), 10)
    lo, hi = max(r - 120, 0), min(r + 150, len(beat) - 1)
    if hi - lo < 40:
        return None
    peak_env = float(env[lo:hi].max())
    if peak_env <= 0:
        return None
    thr = QRS_SLOPE_SHARE * peak_env
    steep_before = lo + int(np.argmax(env[lo : r + 1]))
    steep_after = r + int(np.argmax(env[r:hi]))
    onset = _quiet_from(env, steep_before, -1, thr, lo)
    offset = _quiet_from(env, steep_after, 1, thr, hi)
    # isoelectric level: the median of the 20 ms before the QRS onset
    baseline = float(np.median(beat[max(onset - 20, 0) : onset + 1]))
    qrs_amp = float(np.ptp(beat[onset : offset + 1]))
    t_end = _t_end(beat, slope, offset, baseline)
    p_onset = _p_onset(beat, slope, onset, baseline, qrs_amp)
    to_ms = lambda i: None if i is None else float(i - r)  # noqa: E731 (1 kHz: one sample = 1 ms)
    return Waves(to_ms(p_onset), float(onset - r), float(offset - r), to_ms(t_end), baseline)


def _t_end(beat: np.ndarray, slope: np.ndarray, offset: int, baseline: float) -> float | None:
    a, b = offset + 60, len(beat) - 1
    if b - a < 60:
        return None
    dev = beat[a:b] - baseline
    peak = a + int(np.argmax(np.abs(dev)))
    sign = np.sign(beat[peak] - baseline)
    after = slope[peak:b] * -sign  # descending limb: the slope back toward the baseline
    if len(after) < 5:
        return None
    steepest = peak + int(np.argmax(after))
    end = _tangent_end(beat, slope, steepest, baseline)
    return end if peak < end < len(beat) else None


def _p_onset(
    beat: np.ndarray, slope: np.ndarray, onset: int, baseline: float, qrs_amp: float
) -> float | None:
    a, b = max(onset - 280, 0), onset - 30
    if b - a < 40:
        return None
    dev = beat[a:b] - baseline
    peak = a + int(np.argmax(np.abs(dev)))
    if abs(dev[peak - a]) < MIN_P_SHARE * qrs_amp or peak - a < 10:
        return None
    sign = np.sign(beat[peak] - baseline)
    rising = slope[a:peak] * sign
    steepest = a + int(np.argmax(rising))
    start = _tangent_end(beat, slope, steepest, baseline)
    return start if a - 40 <= start < peak else None


def intervals_of(
    clean: np.ndarray,
    fs: float,
    peaks: np.ndarray,
    axis_leads: tuple[np.ndarray, np.ndarray] | None = None,
    rr_s: float | None = None,
) -> Intervals | None:
    """Intervals of the median beat of one cleaned lead (n,) at ``fs`` Hz with R peaks
    ``peaks`` (the beats to use: normal, usable ones); ``axis_leads``: leads I and aVF
    (cleaned, same length) for the frontal axis; ``rr_s``: the median RR (s) for QTc,
    default the median interval of ``peaks``. None under ``MIN_BEATS`` beats."""
    peaks = np.asarray(peaks)
    if len(peaks) < MIN_BEATS:
        return None
    if rr_s is None:
        rr_s = float(np.median(np.diff(peaks))) / fs
    got = median_beat(clean, fs, peaks, rr_s)
    if got is None:
        return None
    beat, r = got
    waves = delineate(beat, r)
    if waves is None:
        return None
    qrs = waves.qrs_offset - waves.qrs_onset
    pr = None if waves.p_onset is None else waves.qrs_onset - waves.p_onset
    qt = None if waves.t_end is None else waves.t_end - waves.qrs_onset
    axis = None
    if axis_leads is not None:
        axis = _axis(
            axis_leads, fs, peaks, rr_s, r + int(waves.qrs_onset), r + int(waves.qrs_offset)
        )
    return Intervals(
        rr_ms=1000 * rr_s,
        pr_ms=pr,
        qrs_ms=qrs,
        qt_ms=qt,
        qtc_bazett_ms=None if qt is None else qt / np.sqrt(rr_s),
        qtc_fridericia_ms=None if qt is None else qt / np.cbrt(rr_s),
        axis_deg=axis,
        n_beats=int(len(peaks)),
    )


def _axis(
    leads: tuple[np.ndarray, np.ndarray], fs: float, peaks: np.ndarray, rr_s: float, a: int, b: int
) -> float | None:
    areas = []
    for lead in leads:
        got = median_beat(lead, fs, peaks, rr_s)
        if got is None:
            return None
        beat = got[0]
        base = float(np.median(beat[max(a - 20, 0) : a + 1]))
        areas.append(float(np.sum(beat[a : b + 1] - base)))
    if not any(areas):
        return None
    return float(np.degrees(np.arctan2(areas[1], areas[0])))
