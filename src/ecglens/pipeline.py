"""Record in, classified beats out: the API behind ``ecglens predict`` and ``explain``.

>>> from ecglens.io import read_record
>>> from ecglens.models import load_model
>>> from ecglens.pipeline import classify_record
>>> result = classify_record(read_record("mitdb/208"), load_model("kachuee-mitdb-inter"))
>>> result.class_counts()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.data.labels import aami_labels
from ecglens.data.mitdb import BeatConfig, BeatSet, beat_inputs
from ecglens.errors import EcgLensError
from ecglens.evaluate.mitdb import beat_model_inputs
from ecglens.io import Record, read_annotations, select_lead
from ecglens.models.registry import LoadedModel
from ecglens.signal.peaks import ecg_peaks
from ecglens.train.trainer import predict_logits

MIN_FS = 50.0


@dataclass
class BeatPredictions:
    """Per-beat predictions of one record.

    sample: (n,) R-peak indices at the record's rate; probabilities: (n, k);
    x / rr: the model inputs (for explanations); signal: the raw lead in mV.
    """

    record: str
    path: str | None
    fs: float
    lead: str
    classes: list[str]
    sample: np.ndarray
    probabilities: np.ndarray
    x: np.ndarray
    rr: np.ndarray
    signal: np.ndarray
    model: str
    uncertainty: np.ndarray | None = None
    reference: np.ndarray | None = None  # AAMI labels from annotations, when available
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return [self.classes[i] for i in self.probabilities.argmax(1)]

    def class_counts(self) -> dict[str, int]:
        idx = self.probabilities.argmax(1)
        return {c: int(np.sum(idx == i)) for i, c in enumerate(self.classes)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: {"record", "sampling_rate", "lead", "model", "beats": [...]}."""
        labels = self.labels
        beats = []
        for i, s in enumerate(self.sample):
            beat = {
                "sample": int(s),
                "time_s": round(float(s) / self.fs, 4),
                "label": labels[i],
                "probabilities": {
                    c: round(float(p), 5)
                    for c, p in zip(self.classes, self.probabilities[i], strict=True)
                },
            }
            if self.uncertainty is not None:
                beat["uncertainty"] = round(float(self.uncertainty[i]), 5)
            beats.append(beat)
        return {
            "record": self.record,
            "path": self.path,
            "sampling_rate": self.fs,
            "lead": self.lead,
            "model": self.model,
            "n_beats": len(beats),
            "class_counts": self.class_counts(),
            "beats": beats,
            **self.extra,
        }


def detect_beats(
    record: Record, lead: str | int | None = None
) -> tuple[np.ndarray, str, np.ndarray]:
    """R peaks of one lead: ``(signal (n,), lead name, peaks (m,))`` at the record's rate."""
    where = record.path or record.name
    if record.fs < MIN_FS:
        raise EcgLensError(
            f"sampling rate {record.fs:g} Hz is too low (need >= {MIN_FS:g} Hz)", where
        )
    signal, name = select_lead(record, lead)
    peaks = ecg_peaks(signal, record.fs)
    if len(peaks) == 0:
        raise EcgLensError(f"no heartbeats found in lead {name}", where)
    return signal, name, peaks


def classify_record(
    record: Record,
    loaded: LoadedModel,
    lead: str | int | None = None,
    peaks: np.ndarray | None = None,
    device: str | torch.device = "cpu",
    with_reference: bool = True,
) -> BeatPredictions:
    """Detect beats in ``record`` (or use ``peaks``) and classify each with a beat model.

    Any sampling rate is resampled to the model's beat representation. When the
    record has reference annotations (``.atr``), they are matched to the beats.
    """
    config = loaded.config
    if config.get("task") != "beats":
        raise EcgLensError(f"model {loaded.name} does not classify single-lead beats")
    if peaks is None:
        signal, lead_name, peaks = detect_beats(record, lead)
    else:
        signal, lead_name = select_lead(record, lead)
    beat_config = BeatConfig(**config["beats"])
    x, rr = beat_inputs(signal, record.fs, peaks, beat_config)
    beats = BeatSet(
        x, rr, np.full(len(peaks), -1), np.full(len(peaks), record.name, dtype=object), peaks
    )
    logits = predict_logits(
        loaded.module, beat_model_inputs(beats, config["inputs"]), device=device
    )
    probabilities = torch.softmax(torch.as_tensor(logits), dim=1).numpy()
    reference = _reference_labels(record, peaks) if with_reference else None
    return BeatPredictions(
        record=record.name,
        path=None if record.path is None else str(record.path),
        fs=record.fs,
        lead=lead_name,
        classes=list(loaded.classes),
        sample=np.asarray(peaks),
        probabilities=probabilities,
        x=x,
        rr=rr,
        signal=signal,
        model=loaded.name,
        reference=reference,
    )


def _reference_labels(
    record: Record, peaks: np.ndarray, tolerance_s: float = 0.15
) -> np.ndarray | None:
    """AAMI class index of the annotated beat within 150 ms of each peak (-1 if none)."""
    if record.path is None or not Path(record.path).with_suffix(".atr").exists():
        return None
    try:
        ann = read_annotations(record.path)
    except EcgLensError:
        return None
    keep, labels = aami_labels(ann.symbol)
    ref_samples = ann.sample[keep]
    out = np.full(len(peaks), -1, dtype=np.int64)
    if len(ref_samples) == 0:
        return out
    pos = np.clip(np.searchsorted(ref_samples, peaks), 1, len(ref_samples) - 1)
    left, right = ref_samples[pos - 1], ref_samples[pos]
    nearest = np.where(np.abs(peaks - left) <= np.abs(right - peaks), pos - 1, pos)
    close = np.abs(ref_samples[nearest] - peaks) <= tolerance_s * record.fs
    out[close] = labels[nearest[close]]
    return out


def explain_beats(
    predictions: BeatPredictions,
    loaded: LoadedModel,
    beat_indices: np.ndarray | list[int],
    layer: str | None = None,
    target: str = "predicted",
) -> np.ndarray:
    """Grad-CAM maps (len(beat_indices), L) for the chosen beats, for their predicted class."""
    from ecglens.explain.gradcam import grad_cam

    idx = np.asarray(beat_indices, dtype=np.int64)
    if len(idx) and (idx.min() < 0 or idx.max() >= len(predictions.sample)):
        raise EcgLensError(
            f"beat index out of range: the record has {len(predictions.sample)} beats (0-based)",
            predictions.path,
        )
    beats = BeatSet(
        predictions.x[idx],
        predictions.rr[idx],
        np.zeros(len(idx), dtype=np.int64),
        np.full(len(idx), predictions.record, dtype=object),
        predictions.sample[idx],
    )
    inputs = tuple(torch.as_tensor(a) for a in beat_model_inputs(beats, loaded.config["inputs"]))
    classes = predictions.probabilities[idx].argmax(1)
    if target != "predicted":
        if target not in predictions.classes:
            raise EcgLensError(f"unknown target class {target!r}")
        classes = np.full(len(idx), predictions.classes.index(target))
    return grad_cam(loaded.module, inputs, classes, layer)
