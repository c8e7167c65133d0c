"""12-lead models' inputs: a record -> the (12, T) array a 12-lead model's forward takes.

Used alike by training, evaluation and inference. Steps: map the record's leads to the model's
order by name (:func:`~ecglens.inputs.leads.lead_order`), crop to the model's length (10 s) at
the record's rate (with a margin, so that the resampling filter sees the same samples), resample
to the model's rate and crop again to the exact length, remove baseline wander per lead
(:func:`preprocess`), zero-pad a short record after baseline removal, and scale per lead with
the training statistics stored in the model config (:class:`~ecglens.signal.baseline.LeadScaler`).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ecglens.errors import EcgLensError
from ecglens.inputs.leads import lead_order
from ecglens.io import Record
from ecglens.signal.baseline import LeadScaler, detrend_polynomial, highpass_baseline
from ecglens.signal.resample import resample_signal

BASELINES = ("polynomial", "highpass")
POLY_DEGREE = 10  # degree of the detrend polynomial over one 10-s record
HIGHPASS_HZ = 0.5  # cut-off of the Butterworth high-pass, Hz
HIGHPASS_ORDER = 2
MIN_DURATION_S = 2.0  # shorter records are refused, s
CROP_MARGIN_S = 1.0  # kept beyond the model's length before resampling, s


def preprocess(x: np.ndarray, fs: float, baseline: str = "polynomial") -> np.ndarray:
    """Remove baseline wander from ``x`` (..., leads, T) in mV; returns float32 mV.

    "polynomial": subtract a degree-10 polynomial fitted per lead over the whole record (the
    paper's method; removes wander below about 0.5 Hz on 10 s); "highpass": zero-phase
    2nd-order Butterworth high-pass at 0.5 Hz.
    """
    x = np.asarray(x)
    if baseline == "polynomial":
        out = detrend_polynomial(x, POLY_DEGREE)
    elif baseline == "highpass":
        out = highpass_baseline(x, fs, HIGHPASS_HZ, HIGHPASS_ORDER)
    elif baseline == "none":
        out = x
    else:
        raise EcgLensError(f"baseline must be one of {', '.join(BASELINES)}, not {baseline!r}")
    return np.ascontiguousarray(out, dtype=np.float32)


def preprocessing_config(baseline: str, scaler: LeadScaler) -> dict[str, Any]:
    """The ``preprocessing`` entry of a model config."""
    return {
        "baseline": baseline,
        "polynomial_degree": POLY_DEGREE,
        "highpass_cutoff_hz": HIGHPASS_HZ,
        "highpass_order": HIGHPASS_ORDER,
        "scaler": scaler.to_dict(),
        "order": "baseline removal per lead, then (x - mean) / std per lead",
    }


def model_inputs(x: np.ndarray, fs: float, preprocessing: dict[str, Any]) -> np.ndarray:
    """Raw (n, 12, T) mV records at the model rate -> model inputs (float32), as at training."""
    clean = preprocess(x, fs, preprocessing["baseline"])
    scaler = LeadScaler.from_dict(preprocessing["scaler"])
    return scaler.transform(clean).astype(np.float32)


class TwelveLeadInput(Protocol):
    """What a 12-lead model takes, as its config (:class:`ecglens.models.config.ModelConfig`)
    says: lead order, rate (Hz), length (samples) and :func:`preprocessing_config`."""

    lead_names: list[str] | None
    fs: float | None
    length: int | None
    preprocessing: dict[str, Any] | None


def prepare_12lead(
    record: Record, config: TwelveLeadInput
) -> tuple[np.ndarray, np.ndarray, float | None, list[str]]:
    """Record -> (baseline-free (12, T) mV, scaled model input (12, T), resampled_from, notes)."""
    where = record.path or record.name
    model_leads = [str(n) for n in config.lead_names]
    order, note = lead_order(record.lead_names, model_leads, where)
    notes = [note] if note else []
    fs = float(config.fs)
    length = int(config.length)
    duration_s = record.signals.shape[0] / record.fs
    if duration_s < MIN_DURATION_S:
        raise EcgLensError(
            f"record lasts {duration_s:.2f} s; need at least {MIN_DURATION_S:g} s", where
        )
    # crop at the record's rate first: resampling costs memory and time in its length
    keep = int(np.ceil((length / fs + CROP_MARGIN_S) * record.fs))
    signals = np.asarray(record.signals[:keep], dtype=np.float64)[:, order]
    if not np.all(np.isfinite(signals)):
        raise EcgLensError("record holds NaN or infinite samples", where)
    resampled_from = None
    if abs(record.fs - fs) > 1e-6:
        signals = resample_signal(signals, record.fs, fs)
        resampled_from = float(record.fs)
        notes.append(f"resampled from {record.fs:g} Hz to {fs:g} Hz")
    n = signals.shape[0]
    if n < MIN_DURATION_S * fs:
        raise EcgLensError(
            f"record lasts {n / fs:.2f} s; need at least {MIN_DURATION_S:g} s", where
        )
    if n > length:
        signals = signals[:length]
        notes.append(f"cropped to the first {length / fs:g} s of {duration_s:g} s")
        n = length
    clean = preprocess(signals.T, fs, config.preprocessing["baseline"])
    if n < length:
        clean = np.pad(clean, ((0, 0), (0, length - n)))
        notes.append(f"zero-padded from {n / fs:g} s to {length / fs:g} s after baseline removal")
    scaler = LeadScaler.from_dict(config.preprocessing["scaler"])
    x = scaler.transform(clean).astype(np.float32)
    return clean.astype(np.float32), x, resampled_from, notes
