"""The recording summary a reader wants first: heart rate, HRV, counts, episodes, intervals.

Pure functions on arrays. :func:`beat_summary` reads the classified beats of one lead (times,
labels, the beats in unusable stretches, the beats inside atrial fibrillation) and the
cleaned lead (for the median beat's intervals); :func:`twelve_lead_summary` reads a 12-lead
record's leads. Both return a JSON-ready dict:

- ``duration_s``, ``analysed_s`` (the duration less the unusable stretches);
- ``heart_rate``: ``mean_bpm`` (60 x usable RR intervals / their total time), ``min_bpm`` and
  ``max_bpm`` (of the rate over ``RATE_WINDOW_BEATS`` consecutive intervals; of the minutes
  for records of ``PER_MINUTE_FROM_S`` or more), ``per_minute_bpm`` (one value per started
  minute, None where a minute has under two usable beats; only for those records);
- ``hrv``: ``sdnn_ms``, ``rmssd_ms`` over normal-to-normal intervals (both beats N, usable,
  outside AF, 0.3-2 s), ``n_nn``;
- ``counts`` (beats per class, usable beats only) and ``per_hour`` (over ``analysed_s``);
- ``episodes``: ``{"type", "start_s", "end_s"}``, types ``AF``, ``SVT``, ``VT``,
  ``bigeminy``, ``trigeminy``, ``pause``, ``noise`` (:mod:`ecglens.signal.rhythm_episodes`);
- ``af_burden``: the share of ``analysed_s`` in AF, in [0, 1];
- ``intervals``: PR, QRS, QT, QTc (Bazett, Fridericia) in ms on the median normal beat
  (:mod:`ecglens.signal.delineate`), and the frontal axis for 12-lead records.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ecglens.errors import EcgLensError
from ecglens.signal import rhythm_episodes as rhythm
from ecglens.signal.delineate import intervals_of

RATE_WINDOW_BEATS = 8
PER_MINUTE_FROM_S = 120.0
NN_RANGE_S = (0.3, 2.0)
EPISODE_TYPES = ("AF", "SVT", "VT", "bigeminy", "trigeminy", "pause", "noise")
MAX_MEDIAN_BEATS = 600  # the median beat of long records: this many beats, spread evenly


def _r(x: float | None, digits: int = 1) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), digits)


def heart_rate(times: np.ndarray, usable: np.ndarray, duration_s: float) -> dict[str, Any]:
    """Mean, min and max heart rate (beats/min) and, for records of ``PER_MINUTE_FROM_S`` or
    more, the rate of each minute; ``times`` (n,) s, ``usable`` (n,) bool."""
    times = np.asarray(times, dtype=np.float64)
    usable = np.asarray(usable, dtype=bool)
    rr = np.diff(times)
    ok = usable[:-1] & usable[1:] if len(times) > 1 else np.zeros(0, dtype=bool)
    mean = 60.0 * ok.sum() / rr[ok].sum() if ok.any() else float("nan")
    out: dict[str, Any] = {"mean_bpm": _r(mean), "min_bpm": None, "max_bpm": None}
    if duration_s >= PER_MINUTE_FROM_S:
        minutes = []
        for m in range(int(np.ceil(duration_s / 60.0))):
            sel = ok & (times[1:] >= 60 * m) & (times[1:] < 60 * (m + 1))
            minutes.append(60.0 * sel.sum() / rr[sel].sum() if sel.sum() >= 1 else None)
        known = [v for v in minutes if v is not None]
        out["per_minute_bpm"] = [_r(v) for v in minutes]
        if known:
            out["min_bpm"], out["max_bpm"] = _r(min(known)), _r(max(known))
        return out
    k = RATE_WINDOW_BEATS
    if ok.sum() >= k:
        good = np.flatnonzero(ok)
        rates = 60.0 / np.convolve(rr[good], np.ones(k) / k, mode="valid")
        out["min_bpm"], out["max_bpm"] = _r(rates.min()), _r(rates.max())
    elif ok.any():
        out["min_bpm"] = out["max_bpm"] = out["mean_bpm"]
    return out


def hrv(times: np.ndarray, labels: np.ndarray, usable: np.ndarray, in_af: np.ndarray) -> dict:
    """SDNN and RMSSD (ms) over normal-to-normal intervals, and their number."""
    times = np.asarray(times, dtype=np.float64)
    if len(times) < 3:
        return {"sdnn_ms": None, "rmssd_ms": None, "n_nn": 0}
    normal = (np.asarray(labels) == "N") & usable & ~in_af
    rr = np.diff(times)
    nn = normal[:-1] & normal[1:] & (rr >= NN_RANGE_S[0]) & (rr <= NN_RANGE_S[1])
    sdnn = float(np.std(rr[nn] * 1000, ddof=1)) if nn.sum() >= 2 else None
    pair = nn[:-1] & nn[1:]
    rmssd = float(np.sqrt(np.mean((np.diff(rr) * 1000)[pair] ** 2))) if pair.any() else None
    return {"sdnn_ms": _r(sdnn), "rmssd_ms": _r(rmssd), "n_nn": int(nn.sum())}


def episodes(
    times: np.ndarray,
    labels: np.ndarray,
    usable: np.ndarray,
    in_af: np.ndarray,
    noise: list[tuple[float, float]],
) -> list[dict[str, Any]]:
    """The record's episodes, sorted by start (see the module docstring)."""
    times = np.asarray(times, dtype=np.float64)
    labels = np.where(usable, np.asarray(labels), "Q")  # unusable beats break every run
    found: list[tuple[str, float, float]] = []
    found += [("AF", a, b) for a, b in rhythm.beat_span_episodes(times, rhythm.runs(in_af))]
    for kind, label in (("SVT", "S"), ("VT", "V")):
        spans = rhythm.label_runs(labels, label)
        found += [(kind, a, b) for a, b in rhythm.beat_span_episodes(times, spans)]
    for kind, period in (("bigeminy", 2), ("trigeminy", 3)):
        spans = rhythm.allorhythmia_runs(labels, period)
        found += [(kind, float(times[a]), float(times[b - 1])) for a, b in spans]
    found += [("pause", a, b) for a, b in rhythm.pauses(times, usable)]
    found += [("noise", float(a), float(b)) for a, b in noise]
    found.sort(key=lambda e: (e[1], EPISODE_TYPES.index(e[0])))
    return [{"type": k, "start_s": round(a, 3), "end_s": round(b, 3)} for k, a, b in found]


def beat_summary(
    times: np.ndarray,
    labels: np.ndarray | list[str],
    classes: list[str],
    duration_s: float,
    *,
    artifact: np.ndarray | None = None,
    in_af: np.ndarray | None = None,
    noise: list[tuple[float, float]] | None = None,
    clean: np.ndarray | None = None,
    fs: float | None = None,
    peaks: np.ndarray | None = None,
) -> dict[str, Any]:
    """The summary of one record's classified beats.

    times: (n,) beat times in s; labels: (n,) class letters; classes: the model's classes (the
    keys of ``counts``); duration_s: the record's length; artifact: (n,) bool, beats in
    unusable stretches; in_af: (n,) bool, beats inside AF; noise: unusable stretches
    ``(start_s, end_s)``; clean, fs, peaks: the cleaned lead (m,), its rate and the beats'
    sample indices, for the median beat's intervals (left out when None).
    """
    times = np.asarray(times, dtype=np.float64)
    labels = np.asarray(labels, dtype=object).astype(str)
    n = len(times)
    usable = np.ones(n, dtype=bool) if artifact is None else ~np.asarray(artifact, dtype=bool)
    in_af = np.zeros(n, dtype=bool) if in_af is None else np.asarray(in_af, dtype=bool)
    noise = list(noise or [])
    analysed = max(duration_s - sum(b - a for a, b in noise), 0.0)
    counts = {c: int(np.sum((labels == c) & usable)) for c in classes}
    hours = analysed / 3600.0
    spans = rhythm.beat_span_episodes(times, rhythm.runs(in_af))
    af_s = sum(b - a for a, b in spans)
    intervals = None
    if clean is not None and fs is not None and peaks is not None:
        chosen = np.flatnonzero((labels == "N") & usable)
        if len(chosen) > MAX_MEDIAN_BEATS:
            chosen = chosen[np.linspace(0, len(chosen) - 1, MAX_MEDIAN_BEATS).astype(int)]
        rr = np.diff(times)
        nn = usable[:-1] & usable[1:] & (labels[:-1] == "N") & (labels[1:] == "N")
        rr_s = float(np.median(rr[nn])) if nn.any() else None
        found = intervals_of(clean, fs, np.asarray(peaks)[chosen], rr_s=rr_s)
        intervals = None if found is None else found.to_dict()
        if intervals is not None and n and in_af.mean() > 0.5:
            intervals["pr_ms"] = None  # no P wave in AF
    return {
        "duration_s": round(float(duration_s), 3),
        "analysed_s": round(float(analysed), 3),
        "heart_rate": heart_rate(times, usable, duration_s),
        "hrv": hrv(times, labels, usable, in_af),
        "counts": counts,
        "per_hour": {c: (round(v / hours, 1) if hours > 0 else None) for c, v in counts.items()},
        "episodes": episodes(times, labels, usable, in_af, noise),
        "af_burden": round(af_s / analysed, 4) if analysed > 0 else None,
        "intervals": intervals,
    }


def twelve_lead_summary(
    signals: np.ndarray, fs: float, lead_names: list[str], duration_s: float
) -> dict[str, Any]:
    """The summary of a 12-lead record: rate, HRV, pauses and intervals from lead II's beats
    (every beat counted as N: 12-lead models do not classify beats), axis from I and aVF.
    ``signals``: (12, T) baseline-free leads in mV at ``fs``."""
    from ecglens.signal.filters import ecg_clean
    from ecglens.signal.peaks import ecg_peaks

    names = [n.upper() for n in lead_names]
    rhythm_lead = names.index("II") if "II" in names else 0
    try:
        clean = ecg_clean(np.asarray(signals[rhythm_lead], dtype=np.float64), fs)
        peaks = ecg_peaks(clean, fs)
    except EcgLensError:  # a flat or unreadable rhythm lead: no beats to summarise
        clean, peaks = None, np.zeros(0, dtype=np.int64)
    summary = beat_summary(peaks / fs, np.full(len(peaks), "N"), ["N"], duration_s)
    summary["rhythm_lead"] = lead_names[rhythm_lead]
    if clean is None or len(peaks) < 3:
        return summary
    axis_leads = None
    if "I" in names and "AVF" in names:
        try:
            axis_leads = tuple(
                ecg_clean(np.asarray(signals[names.index(k)], dtype=np.float64), fs)
                for k in ("I", "AVF")
            )
        except EcgLensError:  # a flat limb lead: no axis
            axis_leads = None
    found = intervals_of(clean, fs, peaks, axis_leads)
    summary["intervals"] = None if found is None else found.to_dict()
    return summary
