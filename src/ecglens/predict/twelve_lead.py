"""12-lead models at inference: a record in, normal/abnormal (or superclasses) out, with the
model's own class activation map.

>>> from ecglens.io import read_record
>>> from ecglens.models import load_model
>>> from ecglens.predict import classify_12lead
>>> pred = classify_12lead(read_record("ptb-xl/records500/00000/00001_hr"),
...                        load_model("ecglens-ptbxl-binary"))
>>> pred.to_dict()["label"], pred.to_dict()["resampled_from"]
('normal', 500.0)

Steps: the record becomes the model's input (:func:`~ecglens.inputs.twelve_lead.prepare_12lead`:
leads matched by name, resampled, cropped or zero-padded to 10 s, baseline removed, scaled
per lead; the output's ``notes`` say what was assumed or changed), then one forward pass. The
network's second output, the class activation map, is kept normalised to [0, 1] for plots;
:func:`ecglens.explain.explain_12lead` gives raw maps and other explainers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.errors import EcgLensError
from ecglens.inputs.twelve_lead import prepare_12lead
from ecglens.io import Record, read_record
from ecglens.models.cam import normalize_cam
from ecglens.models.config import ModelConfig
from ecglens.models.registry import LoadedModel
from ecglens.predict.summary import twelve_lead_summary

TWELVE_LEAD_TASKS = ("ptbxl-binary", "ptbxl-superclass", "ptbxl-mi-12lead")
BINARY_TASKS = ("ptbxl-binary", "ptbxl-mi-12lead")  # one output: P(positive class)


@dataclass
class Prediction12:
    """The prediction for one 12-lead record, with what is needed to explain and plot it.

    probabilities: (K,) sigmoid outputs (binary: K = 1, the abnormal probability);
    signals: (12, T) baseline-free input in mV at ``fs`` (model rate), lead order ``lead_names``;
    x: (12, T) the scaled model input; cams: (C, T) the network's CAM for each of
    ``cam_classes``, each scaled to [0, 1] (binary: "normal", the negated abnormal map, and
    "abnormal"; superclass: the five classes); cam: (T,) the map of the explained class (the
    predicted label; superclass: the most probable class), shared by all leads.
    """

    record: str
    path: str | None
    model: str
    task: str
    outputs: list[str]
    probabilities: np.ndarray
    threshold: float | dict[str, float]
    fs: float
    resampled_from: float | None
    lead_names: list[str]
    signals: np.ndarray
    x: np.ndarray
    cams: np.ndarray
    cam_classes: list[str]
    explained: int
    duration_s: float
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None  # ecglens.predict.summary.twelve_lead_summary

    @property
    def cam(self) -> np.ndarray:
        return self.cams[self.explained]

    @property
    def binary(self) -> bool:
        return self.task in BINARY_TASKS

    @property
    def probability(self) -> float | None:
        return float(self.probabilities[0]) if self.binary else None

    @property
    def labels(self) -> list[str]:
        """Superclasses at or above their threshold (binary: the one label)."""
        if self.binary:
            return [self.label]
        thr = self.threshold
        assert isinstance(thr, dict)
        return [c for c, p in zip(self.outputs, self.probabilities, strict=True) if p >= thr[c]]

    @property
    def label(self) -> str:
        """Binary: "abnormal" when its probability reaches the threshold, else "normal";
        superclass: the most probable class."""
        if self.binary:
            return self.outputs[0] if self.probabilities[0] >= float(self.threshold) else "normal"
        return self.outputs[int(np.argmax(self.probabilities))]

    @property
    def explained_class(self) -> str:
        return self.cam_classes[self.explained]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no arrays)."""
        out: dict[str, Any] = {
            "record": self.record,
            "path": self.path,
            "sampling_rate": self.fs,
            "resampled_from": _number(self.resampled_from),
            "duration_s": round(self.duration_s, 3),
            "model": self.model,
            "task": self.task,
            "label": self.label,
            "summary": self.summary,
        }
        if self.binary:
            out["positive"] = self.outputs[0]  # the class "probability" is of
            out["probability"] = round(float(self.probabilities[0]), 6)
            out["threshold"] = round(float(self.threshold), 6)
        else:
            assert isinstance(self.threshold, dict)
            out["probabilities"] = {
                c: round(float(p), 6) for c, p in zip(self.outputs, self.probabilities, strict=True)
            }
            out["labels"] = self.labels
            out["threshold"] = {c: round(float(t), 6) for c, t in self.threshold.items()}
        out["leads"] = list(self.lead_names)
        out["notes"] = list(self.notes)
        out.update(self.extra)
        return out


def _number(v: float | None) -> float | int | None:
    return int(v) if v is not None and float(v).is_integer() else v


def _check_model(loaded: LoadedModel) -> ModelConfig:
    config = loaded.config
    if loaded.task not in TWELVE_LEAD_TASKS:
        raise EcgLensError(
            f"model {loaded.name} does not classify 12-lead records (task {config.task!r})"
        )
    return config


def classify_12lead(
    record: Record | str | Path, loaded: LoadedModel, device: str | torch.device = "cpu"
) -> Prediction12:
    """Classify one 12-lead record (a :class:`~ecglens.io.Record` or a path to read)."""
    if not isinstance(record, Record):
        record = read_record(record)
    config = _check_model(loaded)
    clean, x, resampled_from, notes = prepare_12lead(record, config)
    module = loaded.module.to(device).eval()
    with torch.inference_mode():
        out = module(torch.from_numpy(x[None]).to(device))
    if not isinstance(out, tuple | list) or len(out) < 2:
        raise EcgLensError(f"model {loaded.name} has no CAM output")
    logits, cam = out[0].float(), out[1].float()
    prob = torch.sigmoid(logits)[0].cpu().numpy().astype(np.float64)
    binary = config.task in BINARY_TASKS
    default_outputs = ["abnormal"] if binary else config.classes
    outputs = list(default_outputs if config.outputs is None else config.outputs)
    if binary:  # evidence for "normal" is the negated map of the single (abnormal) logit
        cam = torch.cat([-cam, cam], dim=1)
        cam_classes = ["normal", outputs[0]]
    else:
        cam_classes = outputs
    cams = normalize_cam(cam)[0].cpu().numpy()
    return Prediction12(
        record=record.name,
        path=None if record.path is None else str(record.path),
        model=loaded.name,
        task=config.task,
        outputs=outputs,
        probabilities=prob,
        threshold=config.threshold,
        fs=float(config.fs),
        resampled_from=resampled_from,
        lead_names=list(config.lead_names),
        signals=clean,
        x=x,
        cams=cams,
        cam_classes=cam_classes,
        explained=int(prob[0] >= float(config.threshold)) if binary else int(np.argmax(prob)),
        duration_s=record.n_samples / record.fs,
        notes=notes,
        summary=twelve_lead_summary(
            clean, float(config.fs), list(config.lead_names), clean.shape[1] / float(config.fs)
        ),
    )
