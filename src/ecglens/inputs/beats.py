"""Beat models' inputs: one lead of a record -> the arrays a beat model's forward takes.

Used alike by training (``ecglens.data.mitdb`` cuts annotated beats with it), evaluation and
inference. Steps: band-pass (:func:`~ecglens.signal.filters.ecg_clean`), resample to the beat
rate, cut each beat at its R peak (:func:`~ecglens.signal.beats.kachuee_beats` or
:func:`~ecglens.signal.beats.window_beats`), normalise per record, add neighbours for context
models, and compute RR features (:func:`~ecglens.signal.beats.rr_features`); the model config's
``inputs`` then picks the arrays (:func:`model_input_arrays`).
"""

from __future__ import annotations

import numpy as np

from ecglens.errors import EcgLensError
from ecglens.inputs.beat_config import BeatConfig
from ecglens.inputs.rhythm import CONTEXT_FEATURE_NAMES, record_context_features
from ecglens.signal.beats import (
    KACHUEE_FS,
    RR_RATIO_COLUMNS,
    RR_RHYTHM_COLUMNS,
    beat_context,
    kachuee_beats,
    rr_features,
    window_beats,
)

N_RR_COLUMNS = 13  # columns of rr_features; record context features follow them
N_CONTEXT_FEATURES = len(CONTEXT_FEATURE_NAMES)

# ``--rr`` options: the model inputs beside the waveform, and their width (n_rr_features)
RR_OPTIONS: dict[str, tuple[str, ...]] = {
    "none": (),
    "ratios": ("rr_ratios",),
    "rhythm": ("rr_rhythm",),
    "all": ("rr",),
    # the rhythm ratios + per-record context (rhythm, P wave, morphology clusters; see
    # ecglens.inputs.rhythm): needs BeatConfig(record_features=True)
    "context": ("rr_context",),
}
RR_WIDTHS = {"none": 0, "ratios": 4, "rhythm": 6, "all": 7, "context": 6 + N_CONTEXT_FEATURES}
RR_NEEDS_RECORD_FEATURES = frozenset({"context"})  # options whose inputs need record features


def normalize_beats(x: np.ndarray, how: str) -> np.ndarray:
    """Per-record normalisation of window beats (n, L): see :class:`BeatConfig`."""
    if how == "none" or len(x) == 0:
        return x
    scale = float(np.median(np.ptp(x, axis=1)))
    scale = scale if scale > 0 else 1.0
    if how == "median-beat":
        x = x - np.median(x, axis=0, keepdims=True)
    return (x / scale).astype(np.float32)


def beat_inputs(
    signal: np.ndarray, fs: float, peaks: np.ndarray, config: BeatConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Waveforms and RR features of the beats at ``peaks`` of one raw lead: the lead
    cleaned (:func:`~ecglens.signal.filters.ecg_clean`), then :func:`cut_beat_inputs`.

    signal: (n_samples,) in mV at ``fs`` Hz; peaks: R-peak indices at ``fs``.
    """
    from ecglens.signal.filters import ecg_clean  # scipy.signal: imported when first used

    return cut_beat_inputs(ecg_clean(signal, fs), fs, peaks, config)


def cut_beat_inputs(
    cleaned: np.ndarray, fs: float, peaks: np.ndarray, config: BeatConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Waveforms and RR features of the beats at ``peaks`` of one cleaned lead.

    cleaned: (n_samples,) in mV at ``fs`` Hz, as :func:`~ecglens.signal.filters.ecg_clean`
    (or :func:`~ecglens.signal.process.process_lead`) gives it; peaks: R-peak indices at
    ``fs``. Returns ``(x (n_beats, L) float32, rr (n_beats, 13) float32)``; with
    ``config.record_features``, rr is (n_beats, 13 + 26): the context features of
    :func:`~ecglens.inputs.rhythm.record_context_features` follow the RR features.
    """
    from ecglens.signal.resample import resample_indices, resample_signal

    clean = cleaned
    target_fs = KACHUEE_FS if config.representation == "kachuee" else config.window_fs
    if abs(target_fs - fs) > 1e-9:
        clean = resample_signal(clean, fs, target_fs)
        at_rate = resample_indices(peaks, fs, target_fs)
    else:
        at_rate = np.asarray(peaks, dtype=np.int64)
    at_rate = np.clip(at_rate, 0, len(clean) - 1)
    if config.representation == "kachuee":
        x = kachuee_beats(clean, at_rate, target_fs)
    else:
        x = window_beats(clean, at_rate, target_fs, config.before_s, config.after_s)
        x = normalize_beats(x, config.normalize)
    if config.context > 1:
        x = beat_context(x, config.context)
    rr = rr_features(peaks, fs)
    if config.record_features:
        context = record_context_features(clean, target_fs, at_rate)
        rr = np.concatenate([rr, context], axis=1)
    return x, rr



def model_input_arrays(x: np.ndarray, rr: np.ndarray, inputs: list[str]) -> tuple[np.ndarray, ...]:
    """The arrays a beat model's forward takes, in order: "x" waveform, "rr" the first seven
    RR features (absolute RR included), "rr_ratios" the four ratios to the local and record
    mean RR, "rr_rhythm" the six rhythm ratios (see :func:`~ecglens.signal.beats.rr_features`),
    "rr_context" the six rhythm ratios and the record context features (rr from
    :func:`beat_inputs` with ``record_features``).
    """
    table = {
        "x": lambda: x,
        "rr": lambda: rr[:, :7],
        "rr_ratios": lambda: rr[:, RR_RATIO_COLUMNS],
        "rr_rhythm": lambda: rr[:, RR_RHYTHM_COLUMNS],
        "rr_context": lambda: _context_columns(rr),
    }
    unknown = [i for i in inputs if i not in table]
    if unknown:
        raise EcgLensError(f"unknown model inputs {unknown}")
    return tuple(table[i]() for i in inputs)


def _context_columns(rr: np.ndarray) -> np.ndarray:
    """The rhythm ratios and the record context features, (n, 6 + 26) float32."""
    width = N_RR_COLUMNS + N_CONTEXT_FEATURES
    if len(rr) == 0:
        return np.zeros((0, 6 + N_CONTEXT_FEATURES), dtype=np.float32)
    if rr.shape[1] < width:
        raise EcgLensError(
            "model input rr_context needs the record context features: cut beats with "
            "BeatConfig(record_features=True)"
        )
    return np.ascontiguousarray(
        np.concatenate([rr[:, RR_RHYTHM_COLUMNS], rr[:, N_RR_COLUMNS:width]], axis=1)
    )
