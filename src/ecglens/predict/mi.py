"""Myocardial infarction from single-lead beats: a record in, P(MI) for the record out.

The record's beats (R peaks detected on one lead, default II; cut as the model config's
``beats`` says: Kachuee beats or a fixed window) are classified one by one
(:func:`~ecglens.predict.beats.classify_record`), and the record's
probability of MI is the mean of its beats' probabilities (the record is the clinical unit);
the record is called MI when that reaches the threshold chosen on validation records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ecglens.errors import EcgLensError
from ecglens.io import Record
from ecglens.models.registry import LoadedModel
from ecglens.predict.beats import BeatPredictions, classify_record

MI_TASK = "ptbxl-mi"
RECORD_AGGREGATES = {"mean": np.mean, "median": np.median}  # beat P(MI) -> record P(MI)


def record_probability(beat_probability: np.ndarray, how: str = "mean") -> float:
    """The record's P(MI) from its beats' P(MI) (n,), by ``how`` ("mean" or "median")."""
    if how not in RECORD_AGGREGATES:
        raise EcgLensError(f"aggregate must be one of {', '.join(RECORD_AGGREGATES)}, not {how!r}")
    return float(RECORD_AGGREGATES[how](np.asarray(beat_probability, dtype=np.float64)))


@dataclass
class MiPrediction:
    """P(MI) of one record, with its beats (for tables, explanations and plots)."""

    beats: BeatPredictions
    probability: float
    threshold: float
    aggregate: str
    model: str

    @property
    def record(self) -> str:
        return self.beats.record

    @property
    def label(self) -> str:
        return "MI" if self.probability >= self.threshold else "normal"

    @property
    def beat_probability(self) -> np.ndarray:
        """(n,) P(MI) of each beat."""
        return self.beats.probabilities[:, self.beats.classes.index("MI")]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: record-level ``probability`` (of MI) and ``label`` at the top, as the
        12-lead models give them, and per-beat probabilities under ``beats``."""
        b = self.beats
        return {
            "record": b.record,
            "path": b.path,
            "sampling_rate": b.fs,
            "lead": b.lead,
            "model": self.model,
            "task": MI_TASK,
            "label": self.label,
            "probability": round(self.probability, 6),
            "threshold": round(self.threshold, 6),
            "aggregate": self.aggregate,
            "n_beats": len(b.sample),
            "beats": [
                {
                    "sample": int(s),
                    "time_s": round(float(s) / b.fs, 4),
                    "probability": round(float(p), 5),
                }
                for s, p in zip(b.sample, self.beat_probability, strict=True)
            ],
        }


def classify_mi(
    record: Record,
    loaded: LoadedModel,
    lead: str | int | None = None,
    device: str | torch.device = "cpu",
) -> MiPrediction:
    """P(MI) of ``record`` from the beats of ``lead`` (default: the lead the model was
    trained on, as its config names it)."""
    config = loaded.config
    if loaded.task != MI_TASK:
        raise EcgLensError(f"model {loaded.name} is not an MI model (task {loaded.task!r})")
    beats = classify_record(
        record,
        loaded,
        lead=config.lead if lead is None else lead,
        device=device,
        with_reference=False,
        mc_samples=0,
    )
    aggregate = config.aggregate
    prediction = MiPrediction(
        beats=beats,
        probability=0.0,
        threshold=float(config.threshold),
        aggregate=aggregate,
        model=loaded.name,
    )
    prediction.probability = record_probability(prediction.beat_probability, aggregate)
    return prediction
