"""Is a lead, at the rate it was given, a plausible ECG? Checks on its R peaks, made after
peak detection for every input (:func:`ecglens.predict.run` calls :func:`check_lead`).

- Rate: the median RR interval and the median QRS width (the span around each R peak
  above 30% of its deflection), in seconds at the given rate. An ECG has RR 0.25-3 s
  (20-240 bpm); on 51 validation records at their true rates (the 29 of svdb-dev, and the first
  lead of the 22 MIT-BIH DS1 records, bundle branch blocks included) the median QRS width
  measured so was 0.022-0.086 s (median 0.033). Outside RR 0.25-3 s or above
  ``WARN_QRS_S`` the rate is likely wrong (a warning); above ``STOP_QRS_S``, or with RR
  and QRS both too long or both too short, it is clearly wrong: an error where the user
  gave the rate (``--fs`` of a CSV/NPY file), a warning where a header gave it.
- Polarity: a lead whose QRS complexes are mostly negative where they are positive in most
  people (lead I, II, MLII, aVF, V4-V6) is likely inverted (swapped
  electrodes or a reversed sign): a warning. Unnamed leads are not judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ecglens.signal.filters import ecg_clean

RR_RANGE_S = (0.25, 3.0)  # median RR of a plausible ECG (240-20 bpm)
WARN_QRS_S = 0.15  # median QRS wider than this: check the rate (1.7x the widest seen)
STOP_QRS_S = 0.2  # wider than this: the rate is wrong (2.3x the widest seen)
MIN_QRS_S = 0.01  # narrower than this: the rate is wrong too
QRS_LEVEL = 0.3  # the QRS spans samples above this fraction of its peak deviation
INVERTED_SHARE = 0.7  # a lead is inverted when this share of its QRS complexes is negative
# Leads whose QRS points up in most people: only their polarity is judged (an unnamed lead
# such as "ECG1" may be any lead: svdb-dev record 802's ECG1 is 88% negative).
POSITIVE_LEADS = {"I", "II", "MLII", "DII", "V4", "V5", "V6", "AVF"}


@dataclass(frozen=True)
class LeadCheck:
    """What :func:`lead_findings` measured: seconds at the given rate; negative_share: the
    share of QRS complexes whose largest deflection is negative."""

    median_rr_s: float
    median_qrs_s: float
    negative_share: float


def measure_lead(signal: np.ndarray, fs: float, peaks: np.ndarray) -> LeadCheck | None:
    """Median RR, median QRS width and the share of negative QRS complexes of a lead (n,) in
    mV with R peaks ``peaks`` (sample indices at ``fs`` Hz); None with fewer than 3 peaks."""
    peaks = np.asarray(peaks, dtype=np.int64)
    if len(peaks) < 3:
        return None
    cleaned = ecg_clean(np.asarray(signal, dtype=np.float64), fs)
    half = max(2, int(round(0.3 * fs)))  # QRS search: 300 ms each side of the peak
    widths, negative = [], []
    for p in peaks:
        lo, hi = max(0, p - half), min(len(cleaned), p + half + 1)
        window = cleaned[lo:hi] - np.median(cleaned[lo:hi])
        near = slice(max(0, p - lo - half // 3), p - lo + half // 3 + 1)  # +-100 ms
        core = window[near]
        if len(core) == 0:
            continue
        top, bottom = core.max(), core.min()
        negative.append(-bottom > top)
        centre = near.start + int(np.argmax(np.abs(core)))
        level = QRS_LEVEL * abs(window[centre])
        if level <= 0:
            continue
        above = np.abs(window) > level
        left = centre
        while left > 0 and above[left - 1]:
            left -= 1
        right = centre
        while right < len(window) - 1 and above[right + 1]:
            right += 1
        widths.append((right - left + 1) / fs)
    rr = np.diff(peaks) / fs
    return LeadCheck(
        median_rr_s=float(np.median(rr)),
        median_qrs_s=float(np.median(widths)) if widths else float("nan"),
        negative_share=float(np.mean(negative)) if negative else 0.0,
    )


def lead_findings(
    check: LeadCheck, fs: float, lead: str, rate_given: bool = True
) -> tuple[list[str], str | None]:
    """Warnings on a lead measured at ``fs`` Hz, and an error message when the rate is clearly
    wrong and ``rate_given`` by the user (None otherwise; a warning when a header gave it)."""
    warnings: list[str] = []
    low, high = RR_RANGE_S
    rr, qrs = check.median_rr_s, check.median_qrs_s
    wide = np.isfinite(qrs) and qrs > STOP_QRS_S
    slow = rr > high and np.isfinite(qrs) and qrs > WARN_QRS_S  # fs given too high
    fast = rr < low and np.isfinite(qrs) and qrs < MIN_QRS_S  # fs given too low
    if wide or slow or fast:
        message = (
            f"at {fs:g} Hz the beats of lead {lead} are {rr:.2f} s apart with QRS complexes "
            f"{1000 * qrs:.0f} ms wide, which no ECG has: the sampling rate is likely wrong"
        )
        if rate_given:
            return warnings, f"{message}; give the right --fs"
        return [f"{message} (the header's rate; check the file)"], None
    if not low <= rr <= high:
        warnings.append(
            f"median RR interval {rr:.2f} s ({60 / rr:.0f} bpm) at {fs:g} Hz is outside "
            f"{low:g}-{high:g} s: check the sampling rate (--fs)"
        )
    if np.isfinite(qrs) and qrs > WARN_QRS_S:
        warnings.append(
            f"median QRS width {1000 * qrs:.0f} ms at {fs:g} Hz is wider than "
            f"{1000 * WARN_QRS_S:.0f} ms: check the sampling rate (--fs)"
        )
    name = re.sub(r"^(ECG|EKG)?\s*(LEAD)?\s*", "", lead.upper().strip())
    if name in POSITIVE_LEADS and check.negative_share >= INVERTED_SHARE:
        warnings.append(
            f"lead {lead} looks inverted ({100 * check.negative_share:.0f}% of its QRS "
            "complexes point down): swapped electrodes or a reversed sign? Its beats were "
            "classified as they are"
        )
    return warnings, None
