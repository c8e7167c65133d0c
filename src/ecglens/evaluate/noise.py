"""Noise robustness of R-peak detection and beat classification (MIT-BIH Noise Stress Test).

The Noise Stress Test Database adds electrode-motion noise to MIT-BIH record 118
(and 119) at a chosen SNR, from minute 5 on, in 2-minute noisy segments that
alternate with 2-minute clean ones; the beat annotations are those of the clean
record. Scoring the clean record and its noisy copies with the same code shows
how much noise costs the detector and the classifiers.

Record 118 is in DS1, the training set of the inter-patient split (and its beats
feed the intra-patient split too): the shipped beat models have seen its clean
beats, so these numbers measure robustness to noise, not generalisation to new
patients.

>>> from ecglens.evaluate.noise import default_records, noise_robustness
>>> result = noise_robustness(default_records("../shared/data"), ["kachuee-mitdb-inter"])
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from ecglens.data.labels import AAMI_CLASSES, aami_labels
from ecglens.data.mitdb import annotated_record_beats
from ecglens.errors import EcgLensError
from ecglens.evaluate.detection import detection_scores, match_pairs, reference_beats
from ecglens.evaluate.metrics import classification_metrics
from ecglens.evaluate.mitdb import predicted_classes
from ecglens.inputs.beats import BeatConfig
from ecglens.io import Record, read_annotations, read_record, select_lead
from ecglens.models.registry import LoadedModel, load_model
from ecglens.predict.beats import classify_record
from ecglens.predict.tasks import task_of
from ecglens.signal.peaks import ecg_peaks

NO_BEAT = "-"  # the extra class of the end-to-end confusion matrix: no beat / no detection

DS1_NOTE = (
    "Record 118 belongs to DS1, the training set of the inter-patient split (and its beats "
    "are in the intra-patient training pool too): the models saw its clean beats in training. "
    "These numbers measure robustness to electrode-motion noise, not performance on new "
    "patients."
)

PARTS = {
    "all": "the whole record",
    "after_onset": "t >= noisy_from_s (noise starts here in the nstdb records; it then "
    "alternates with clean 2-minute segments)",
    "noise_on": "inside the 2-minute segments where the nstdb records carry noise: "
    "[noisy_from_s + 2k * segment_s, noisy_from_s + (2k + 1) * segment_s)",
}


def default_records(data_dir: str | Path) -> dict[str, Path]:
    """Clean MIT-BIH 118 and its 24 dB and 6 dB noise stress versions under ``data_dir``."""
    data_dir = Path(data_dir)
    return {
        "118 (clean)": data_dir / "mitdb" / "118",
        "118e24 (24 dB)": data_dir / "nstdb" / "118e24",
        "118e06 (6 dB)": data_dir / "nstdb" / "118e06",
    }


def part_masks(
    sample: np.ndarray, fs: float, noisy_from_s: float, segment_s: float
) -> dict[str, np.ndarray]:
    """Boolean masks of ``sample`` (indices at ``fs``) for each of :data:`PARTS`."""
    t = np.asarray(sample, dtype=np.float64) / fs
    after = t >= noisy_from_s
    phase = np.floor((t - noisy_from_s) / segment_s).astype(np.int64)
    return {
        "all": np.ones(t.shape, dtype=bool),
        "after_onset": after,
        "noise_on": after & (phase % 2 == 0),
    }


def noise_robustness(
    records: dict[str, Path],
    models: list[str | Path],
    tolerance_s: float = 0.15,
    noisy_from_s: float = 300.0,
    segment_s: float = 120.0,
) -> dict[str, Any]:
    """Detector and beat-classifier scores on clean and noisy versions of a record.

    ``records`` maps a label (e.g. ``"118e06 (6 dB)"``) to an annotated WFDB record
    path (without extension); ``models`` are shipped model names or weight paths.
    Each record is scored on three parts (:data:`PARTS`): the whole record,
    ``t >= noisy_from_s``, and only the noisy segments. On the clean record the
    parts are the same time spans without noise, for a like-for-like comparison.
    A beat belongs to a part by its reference annotation time (detections that
    match no annotation by their own time).

    Reference beats are the annotations with a beat symbol (AAMI classes N, S, V,
    F, Q). For each record:

    - ``detector``: the R-peak detector (:func:`ecglens.signal.peaks.ecg_peaks`,
      on the default lead, MLII) against the reference beats, matched one-to-one
      within ``tolerance_s`` (EC57: 150 ms): tp/fp/fn, Se, +P, F1, DER.
    - ``models[m]["reference_beats"]``: the classifier at the annotated beat
      positions (the usual MIT-BIH protocol; it isolates the classifier from the
      detector): accuracy and macro-F1 over the AAMI classes present.
    - ``models[m]["end_to_end"]``: beats found by the detector (on the model's lead)
      and classified from them, as ``ecglens predict`` does. Detections are matched
      one-to-one to the annotations as above. ``accuracy`` is the **end-to-end
      accuracy** = correctly classified matched beats / (matched + FP + FN), i.e. a
      missed beat (FN) and a detection with no annotated beat (FP) both count as
      errors. ``macro_f1`` is on the same footing: a confusion matrix with an extra
      "no beat" class (``"-"``), where a missed beat of class c is a false negative
      of c and a false detection classified as c a false positive of c; the macro
      average runs over the AAMI classes present in the part. ``matched_accuracy``
      and ``matched_macro_f1`` score the matched beats only.

    Ratios are floats in [0, 1] (None where undefined: no beats); everything is
    plain Python (JSON-ready).
    """
    loaded = [(str(m), load_model(m)) for m in models]
    for _, lm in loaded:
        if task_of(lm).family != "beats":
            raise EcgLensError(f"model {lm.name} does not classify single-lead beats")
        if list(lm.classes) != list(AAMI_CLASSES):
            raise EcgLensError(
                f"model {lm.name} has classes {lm.classes}; the noise benchmark needs the "
                f"AAMI classes {list(AAMI_CLASSES)}"
            )
    out_records = {
        label: _score_record(Path(path), loaded, tolerance_s, noisy_from_s, segment_s)
        for label, path in records.items()
    }
    return {
        "note": DS1_NOTE,
        "tolerance_s": float(tolerance_s),
        "noisy_from_s": float(noisy_from_s),
        "segment_s": float(segment_s),
        "parts": dict(PARTS),
        "end_to_end_accuracy": "correct matched / (matched + FP + FN)",
        "models": {
            key: {
                "name": lm.name,
                "path": None if lm.path is None else str(lm.path),
                "split": lm.config.split,
                "architecture": lm.config.architecture,
            }
            for key, lm in loaded
        },
        "records": out_records,
    }


def _snr_db(record: Record) -> float | None:
    for comment in record.comments:
        m = re.search(r"SNR\s*=\s*(-?\d+(?:\.\d+)?)\s*dB", comment)
        if m:
            return float(m.group(1))
    return None


def _score_record(
    path: Path,
    loaded: list[tuple[str, LoadedModel]],
    tolerance_s: float,
    noisy_from_s: float,
    segment_s: float,
) -> dict[str, Any]:
    record = read_record(path)
    fs = record.fs
    ann = read_annotations(path)
    ref = reference_beats(ann.sample, ann.symbol)
    _, ref_y = aami_labels(ann.symbol)
    if len(ref_y) != len(ref):
        raise EcgLensError("beat annotations and AAMI labels disagree", path)
    tol = int(round(tolerance_s * fs))

    peaks_by_lead: dict[str, np.ndarray] = {}

    def peaks_of(lead: str | int | None) -> tuple[np.ndarray, str]:
        signal, name = select_lead(record, lead)
        if name not in peaks_by_lead:
            peaks_by_lead[name] = ecg_peaks(signal, fs)
        return peaks_by_lead[name], name

    peaks, lead = peaks_of(None)
    ref_parts = part_masks(ref, fs, noisy_from_s, segment_s)
    det_i, ref_i = match_pairs(peaks, ref, tol)
    detector = {
        part: _detection(det_i, ref_i, peaks, ref_parts[part], mask_det)
        for part, mask_det in part_masks(peaks, fs, noisy_from_s, segment_s).items()
    }

    model_scores: dict[str, Any] = {}
    for key, lm in loaded:
        config = lm.config
        beat_config = config.beats
        # (a) at the reference annotations
        beats = annotated_record_beats(path, beat_config)
        pred_ref = predicted_classes(lm.module, beats, config)
        parts_ref = part_masks(beats.sample, fs, noisy_from_s, segment_s)
        # (b) end to end from the detector's beats
        m_peaks, m_lead = peaks_of(beat_config.lead)
        pred_det = _classify_peaks(record, lm, beat_config, m_peaks)
        m_det_i, m_ref_i = match_pairs(m_peaks, ref, tol)
        det_parts = part_masks(m_peaks, fs, noisy_from_s, segment_s)
        scores = {}
        for part in PARTS:
            scores[part] = {
                "reference_beats": _classification(
                    beats.y[parts_ref[part]], pred_ref[parts_ref[part]], config.classes
                ),
                "end_to_end": _end_to_end(
                    ref_y,
                    pred_det,
                    m_det_i,
                    m_ref_i,
                    ref_parts[part],
                    det_parts[part],
                    config.classes,
                ),
            }
        model_scores[key] = {"lead": m_lead, "parts": scores}

    return {
        "record": record.name,
        "path": str(path),
        "snr_db": _snr_db(record),
        "fs": float(fs),
        "duration_s": float(record.duration_s),
        "lead": lead,
        "n_reference_beats": {p: int(m.sum()) for p, m in ref_parts.items()},
        "reference_class_counts": {c: int(np.sum(ref_y == i)) for i, c in enumerate(AAMI_CLASSES)},
        "detector": detector,
        "models": model_scores,
    }


def _classify_peaks(
    record: Record, lm: LoadedModel, beat_config: BeatConfig, peaks: np.ndarray
) -> np.ndarray:
    """Predicted class index per detected beat, through the ``ecglens predict`` pipeline."""
    if len(peaks) == 0:
        return np.zeros(0, dtype=np.int64)
    pred = classify_record(record, lm, lead=beat_config.lead, peaks=peaks, with_reference=False)
    return pred.probabilities.argmax(1).astype(np.int64)


def _clean(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _detection(
    det_i: np.ndarray,
    ref_i: np.ndarray,
    peaks: np.ndarray,
    ref_mask: np.ndarray,
    det_mask: np.ndarray,
) -> dict[str, Any]:
    """Detection counts in one part: matches by reference time, FPs by detection time."""
    matched_det = np.zeros(len(peaks), dtype=bool)
    matched_det[det_i] = True
    matched_ref = np.zeros(len(ref_mask), dtype=bool)
    matched_ref[ref_i] = True
    tp = int(ref_mask[ref_i].sum())
    fn = int((ref_mask & ~matched_ref).sum())
    fp = int((det_mask & ~matched_det).sum())
    return {
        k: (_clean(v) if isinstance(v, float) else v)
        for k, v in detection_scores(tp, fp, fn).items()
    }


def _classification(y: np.ndarray, pred: np.ndarray, classes: list[str]) -> dict[str, Any]:
    if len(y) == 0:
        return {"n": 0, "accuracy": None, "macro_f1": None, "macro_f1_classes": []}
    m = classification_metrics(y, pred, classes)
    return {
        "n": m["n"],
        "accuracy": m["accuracy"],
        "macro_f1": m["macro_f1"],
        "macro_f1_classes": m["macro_f1_classes"],
        "per_class": m["per_class"],
        "confusion_matrix": m["confusion_matrix"],
    }


def _end_to_end(
    ref_y: np.ndarray,
    pred_det: np.ndarray,
    det_i: np.ndarray,
    ref_i: np.ndarray,
    ref_mask: np.ndarray,
    det_mask: np.ndarray,
    classes: list[str],
) -> dict[str, Any]:
    """End-to-end scores in one part; the extra class ``NO_BEAT`` holds FPs and FNs."""
    none = len(classes)
    matched_det = np.zeros(len(pred_det), dtype=bool)
    matched_det[det_i] = True
    matched_ref = np.zeros(len(ref_y), dtype=bool)
    matched_ref[ref_i] = True
    in_part = ref_mask[ref_i]
    y_m, p_m = ref_y[ref_i[in_part]], pred_det[det_i[in_part]]
    fn_y = ref_y[ref_mask & ~matched_ref]
    fp_p = pred_det[det_mask & ~matched_det]
    y_true = np.concatenate([y_m, fn_y, np.full(len(fp_p), none)]).astype(np.int64)
    y_pred = np.concatenate([p_m, np.full(len(fn_y), none), fp_p]).astype(np.int64)
    result: dict[str, Any] = {
        "n_matched": int(len(y_m)),
        "fp": int(len(fp_p)),
        "fn": int(len(fn_y)),
        "correct": int(np.sum(y_m == p_m)),
    }
    if len(y_true) == 0:
        return {
            **result,
            "accuracy": None,
            "macro_f1": None,
            "macro_f1_classes": [],
            "matched_accuracy": None,
            "matched_macro_f1": None,
        }
    present = [c for i, c in enumerate(classes) if np.any(np.concatenate([y_m, fn_y]) == i)]
    full = classification_metrics(y_true, y_pred, [*classes, NO_BEAT], scored=present)
    matched = _classification(y_m, p_m, classes)
    return {
        **result,
        "accuracy": full["accuracy"],
        "macro_f1": full["macro_f1"] if present else None,
        "macro_f1_classes": present,
        "matched_accuracy": matched["accuracy"],
        "matched_macro_f1": matched["macro_f1"],
        "confusion_matrix": full["confusion_matrix"],
        "confusion_classes": [*classes, NO_BEAT],
    }
