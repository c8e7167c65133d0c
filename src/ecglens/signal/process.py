"""One lead processed once: cleaned, its R peaks detected, its quality assessed.

As NeuroKit2's ``ecg_process`` passes ``ecg_cleaned`` on, :func:`process_lead` band-passes
the lead once (:func:`~ecglens.signal.filters.ecg_clean`) and hands the cleaned signal to the
R-peak detector (:func:`~ecglens.signal.peaks.ecg_peaks`) and the quality step
(:func:`~ecglens.signal.quality.assess_quality`); the beat inputs take it from
:attr:`LeadProcessing.cleaned` (:func:`~ecglens.inputs.beats.cut_beat_inputs`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecglens.signal.filters import ecg_clean
from ecglens.signal.peaks import ecg_peaks, single_lead
from ecglens.signal.quality import SignalQuality, assess_quality


@dataclass(frozen=True)
class LeadProcessing:
    """One lead, processed: ``cleaned`` (n,) float64 mV (the 0.5-40 Hz band-pass of
    :func:`~ecglens.signal.filters.ecg_clean`), ``peaks`` (m,) int64 R-peak indices at the
    lead's rate, ``quality`` its :class:`~ecglens.signal.quality.SignalQuality`."""

    cleaned: np.ndarray
    peaks: np.ndarray
    quality: SignalQuality


def process_lead(
    signal: np.ndarray, fs: float, peaks: np.ndarray | None = None
) -> LeadProcessing:
    """Clean one lead once, detect its R peaks (or take ``peaks``, e.g. reference
    annotations) and assess its quality.

    ``signal``: (n_samples,) or (n_samples, 1) raw, in mV at ``fs`` Hz. Raises
    :class:`~ecglens.errors.EcgLensError` for a flat, non-finite, multi-lead or too-short
    (< 1 s) signal, or ``peaks`` that are not indices inside it.
    """
    x = single_lead(signal, fs, "process_lead")
    cleaned = ecg_clean(x, fs)
    if peaks is None:
        peaks = ecg_peaks(x, fs, cleaned=cleaned)
    quality = assess_quality(x, fs, peaks, cleaned=cleaned)
    return LeadProcessing(cleaned=cleaned, peaks=peaks, quality=quality)
