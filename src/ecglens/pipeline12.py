"""12-lead record in, normal/abnormal (or superclasses) out, with the model's own CAM.

>>> from ecglens.io import read_record
>>> from ecglens.models import load_model
>>> from ecglens.pipeline12 import classify_12lead, explain_12lead
>>> pred = classify_12lead(read_record("ptb-xl/records500/00000/00001_hr"),
...                        load_model("ecglens-ptbxl-binary"))
>>> pred.to_dict()["label"], pred.to_dict()["resampled_from"]
('normal', 500.0)

Steps: map the record's leads to the model's order by name (case-insensitive; 12 generically
named leads, e.g. from a CSV file, are taken in the standard order I, II, III, aVR, aVL, aVF,
V1-V6 and the output says so), resample to the model's rate, remove baseline wander over the
record's first 10 s (longer records are cropped, shorter ones zero-padded after baseline
removal; the output says so), scale per lead with the training statistics stored in the model
config, run the network. Its second output, the class activation map, is kept normalised to
[0, 1] for plots; :func:`explain_12lead` also gives Grad-CAM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.errors import EcgLensError
from ecglens.io import Record, read_record
from ecglens.models.registry import LoadedModel
from ecglens.signal.baseline import LeadScaler
from ecglens.signal.resample import resample_signal

MIN_DURATION_S = 2.0
_GENERIC = ("lead", "ch", "channel", "sig", "signal")


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

    @property
    def cam(self) -> np.ndarray:
        return self.cams[self.explained]

    @property
    def binary(self) -> bool:
        return self.task == "ptbxl-binary"

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
            return "abnormal" if self.probabilities[0] >= float(self.threshold) else "normal"
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
        }
        if self.binary:
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


def _is_generic(name: str) -> bool:
    n = name.strip().lower()
    return n.isdigit() or any(
        n.startswith(g) and n[len(g) :].strip("_ ").isdigit() for g in _GENERIC
    )


def lead_order(record: Record, model_leads: list[str]) -> tuple[list[int], str | None]:
    """Column of ``record`` for each model lead, and a note when the order was assumed.

    Raises :class:`EcgLensError` naming the file and its leads when the record does not have
    exactly the model's leads.
    """
    where = record.path or record.name
    names = [str(n) for n in record.lead_names]
    n_model = len(model_leads)
    if len(names) != n_model:
        raise EcgLensError(
            f"{len(names)} leads ({', '.join(names)}); the model needs {n_model}: "
            f"{', '.join(model_leads)}",
            where,
        )
    upper = [n.strip().upper() for n in names]
    if all(_is_generic(n) for n in names):
        return list(range(n_model)), (
            f"lead names {names[0]}..{names[-1]} carry no lead identity: taken in the standard "
            f"order {', '.join(model_leads)}"
        )
    missing = [lead for lead in model_leads if lead.upper() not in upper]
    duplicated = sorted({n for n in upper if upper.count(n) > 1})
    if missing or duplicated:
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"duplicated {', '.join(duplicated)}"] if duplicated else []
        )
        problem = "; ".join(problems)
        raise EcgLensError(
            f"leads {', '.join(names)} do not match the model's {', '.join(model_leads)} "
            f"({problem})",
            where,
        )
    return [upper.index(lead.upper()) for lead in model_leads], None


def prepare_12lead(
    record: Record, config: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, float | None, list[str]]:
    """Record -> (baseline-free (12, T) mV, scaled model input (12, T), resampled_from, notes)."""
    from ecglens.train.ptbxl import preprocess

    where = record.path or record.name
    model_leads = [str(n) for n in config["lead_names"]]
    order, note = lead_order(record, model_leads)
    notes = [note] if note else []
    fs = float(config["fs"])
    length = int(config["length"])
    signals = np.asarray(record.signals, dtype=np.float64)[:, order]
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
        notes.append(f"cropped to the first {length / fs:g} s of {n / fs:g} s")
    clean = preprocess(signals.T, fs, config["preprocessing"]["baseline"])
    if n < length:
        clean = np.pad(clean, ((0, 0), (0, length - n)))
        notes.append(f"zero-padded from {n / fs:g} s to {length / fs:g} s after baseline removal")
    scaler = LeadScaler.from_dict(config["preprocessing"]["scaler"])
    x = scaler.transform(clean).astype(np.float32)
    return clean.astype(np.float32), x, resampled_from, notes


def _check_model(loaded: LoadedModel) -> dict[str, Any]:
    config = loaded.config
    if not str(config.get("task", "")).startswith("ptbxl-"):
        raise EcgLensError(
            f"model {loaded.name} does not classify 12-lead records (task {config.get('task')!r})"
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
    from ecglens.models.cam import normalize_cam

    logits, cam = out[0].float(), out[1].float()
    prob = torch.sigmoid(logits)[0].cpu().numpy().astype(np.float64)
    binary = config["task"] == "ptbxl-binary"
    outputs = list(config.get("outputs", ["abnormal"] if binary else config["classes"]))
    if binary:  # evidence for "normal" is the negated map of the single (abnormal) logit
        cam = torch.cat([-cam, cam], dim=1)
        cam_classes = ["normal", "abnormal"]
    else:
        cam_classes = outputs
    cams = normalize_cam(cam)[0].cpu().numpy()
    return Prediction12(
        record=record.name,
        path=None if record.path is None else str(record.path),
        model=loaded.name,
        task=config["task"],
        outputs=outputs,
        probabilities=prob,
        threshold=config["threshold"],
        fs=float(config["fs"]),
        resampled_from=resampled_from,
        lead_names=list(config["lead_names"]),
        signals=clean,
        x=x,
        cams=cams,
        cam_classes=cam_classes,
        explained=int(prob[0] >= float(config["threshold"])) if binary else int(np.argmax(prob)),
        duration_s=record.n_samples / record.fs,
        notes=notes,
    )


class _SignedBinary(torch.nn.Module):
    """Binary model as two logits (-z, z): "normal" and "abnormal", for Grad-CAM targets."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        z = out[0] if isinstance(out, tuple | list) else out
        return torch.cat([-z, z], dim=1)


def explain_12lead(
    pred: Prediction12,
    loaded: LoadedModel,
    method: str = "cam",
    target: int | str | None = None,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """(T,) relevance in [0, 1] along the record for one class of ``pred.cam_classes``
    (default: the explained one, i.e. the predicted label / most probable class).

    method "cam": the network's class activation map (its second output, min-max scaled);
    "grad-cam": Grad-CAM at the last conv layer (ReLU, scaled by its maximum; all zeros where
    no region raises the class score). For binary models "normal" means the negated logit.
    """
    if isinstance(target, str):
        if target not in pred.cam_classes:
            raise EcgLensError(f"no class {target!r}; classes: {', '.join(pred.cam_classes)}")
        target = pred.cam_classes.index(target)
    k = pred.explained if target is None else int(target)
    if not 0 <= k < len(pred.cam_classes):
        raise EcgLensError(f"target {k} out of range for {', '.join(pred.cam_classes)}")
    if method == "cam":
        return pred.cams[k].astype(np.float32)
    if method in ("grad-cam", "gradcam"):
        from ecglens.explain.gradcam import grad_cam

        module = loaded.module.to(device).eval()
        if pred.binary:
            module = _SignedBinary(module)
        x = torch.from_numpy(pred.x[None]).to(device)
        return grad_cam(module, x, target=k)[0]
    raise EcgLensError(f"method must be 'cam' or 'grad-cam', not {method!r}")
