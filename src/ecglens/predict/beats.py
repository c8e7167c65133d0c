"""Beat models at inference: a record in, classified beats out.

>>> from ecglens.io import read_record
>>> from ecglens.models import load_model
>>> from ecglens.predict import classify_record
>>> result = classify_record(read_record("mitdb/208"), load_model("kachuee-mitdb-inter"))
>>> result.class_counts()

Steps: clean one lead once, detect its R peaks and assess its quality
(:func:`~ecglens.signal.process.process_lead`), turn the beats
into the model's inputs (:mod:`ecglens.inputs.beats`), one deterministic forward pass with the
model's fitted temperature, an uncertainty score per beat (MC dropout, or the entropy of
the calibrated probabilities), and the model's rhythm rule when it has one
(:mod:`ecglens.predict.rhythm`: N or S by the beat's rhythm).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.data.labels import AAMI_CLASSES, aami_labels
from ecglens.errors import EcgLensError
from ecglens.inputs.beats import cut_beat_inputs, model_input_arrays
from ecglens.io import Record, read_annotations, select_lead
from ecglens.models.registry import LoadedModel
from ecglens.predict.clusters import cluster_ids, with_model_cluster_vote
from ecglens.predict.forward import TemperatureScaled, predict_logits
from ecglens.predict.rhythm import p_corr_previous, with_af_rule, with_model_rhythm_rule
from ecglens.predict.summary import beat_summary
from ecglens.predict.uncertainty import has_dropout, mc_dropout_predict
from ecglens.signal.peaks import ecg_peaks
from ecglens.signal.process import LeadProcessing, process_lead
from ecglens.signal.quality import SignalQuality

MIN_FS = 50.0
BEAT_TASKS = ("beats", "ptbxl-mi", "kaggle-ptb")  # tasks whose models classify one lead's beats


class _Features(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)


class _ScaledHead(torch.nn.Module):
    def __init__(self, head: torch.nn.Module, temperature: float) -> None:
        super().__init__()
        self.head = head
        self.temperature = temperature

    def forward(self, features: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        return self.head(features, *rest) / self.temperature


def _dropout_only_in_head(model: torch.nn.Module) -> bool:
    """True for models built as ``head(forward_features(x), *rest)`` with dropout only in
    ``head`` (such as cnn-lstm)."""
    if not (
        hasattr(model, "forward_features")
        and isinstance(getattr(model, "head", None), torch.nn.Module)
    ):
        return False
    in_head = {id(m) for m in model.head.modules()}
    return not any(
        isinstance(m, torch.nn.Dropout) and m.p > 0 and id(m) not in in_head
        for m in model.modules()
    ) and has_dropout(model.head)


def beat_probabilities(
    model: torch.nn.Module,
    inputs: tuple[np.ndarray, ...],
    temperature: float = 1.0,
    mc_samples: int = 0,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated class probabilities (n, k) and an uncertainty score per beat (n,) in [0, 1].

    Probabilities (and so labels) come from one deterministic pass, as ``evaluate``
    scores them. The uncertainty is the normalised predictive entropy: of the mean of
    ``mc_samples`` MC-dropout passes when ``mc_samples > 0`` and the model has dropout,
    else of the deterministic softmax.
    """
    scaled = TemperatureScaled(model, temperature)
    logits = predict_logits(scaled, inputs, device=device)
    probs = torch.softmax(torch.as_tensor(logits), dim=1).numpy()
    if mc_samples > 0 and has_dropout(model):
        sampled, sampled_inputs = scaled, inputs
        if _dropout_only_in_head(model):
            # the encoder is deterministic: run it once, sample only the head
            features = predict_logits(_Features(model), inputs[:1], device=device)
            sampled, sampled_inputs = _ScaledHead(model.head, temperature), (features, *inputs[1:])
        _, uncertainty = mc_dropout_predict(
            sampled, sampled_inputs, n_samples=mc_samples, seed=seed
        )
        return probs, uncertainty.astype(np.float32)
    entropy = -(probs * np.log(np.clip(probs, 1e-12, None))).sum(1) / np.log(probs.shape[1])
    return probs, np.clip(entropy, 0, 1).astype(np.float32)


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
    review_threshold: float | None = None  # beats with uncertainty above it need review
    extra: dict[str, Any] = field(default_factory=dict)
    quality: SignalQuality | None = None  # usable and unusable stretches of the lead
    artifact: np.ndarray | None = None  # (n,) bool: beat inside an unusable stretch
    # (n,) bool: S by the model's rhythm rule, where the network said N (ecglens.predict.rhythm)
    by_rhythm: np.ndarray | None = None
    # (n,) bool: inside an atrial fibrillation episode (S beats there are N by AAMI)
    in_af: np.ndarray | None = None
    # (n,) int: the beat's morphology cluster in this record (0: the largest), for models
    # with record context features (ecglens.predict.clusters.cluster_ids)
    cluster: np.ndarray | None = None
    # (n,) bool: V by the model's cluster vote, where the network said N
    by_cluster: np.ndarray | None = None
    summary: dict[str, Any] | None = None  # ecglens.predict.summary.beat_summary

    def _counted(self) -> np.ndarray:
        """(n,) bool: beats that count (not artifacts)."""
        n = len(self.sample)
        return np.ones(n, dtype=bool) if self.artifact is None else ~self.artifact

    @property
    def labels(self) -> list[str]:
        return [self.classes[i] for i in self.probabilities.argmax(1)]

    def class_counts(self) -> dict[str, int]:
        """Beats per predicted class, artifacts (beats in unusable stretches) left out."""
        idx = self.probabilities.argmax(1)[self._counted()]
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
                if self.review_threshold is not None:
                    beat["review"] = bool(self.uncertainty[i] > self.review_threshold)
            if self.artifact is not None:
                beat["artifact"] = bool(self.artifact[i])
            if self.by_rhythm is not None:
                beat["by_rhythm_rule"] = bool(self.by_rhythm[i])
            if self.cluster is not None:
                beat["cluster"] = int(self.cluster[i])
            if self.by_cluster is not None:
                beat["by_cluster_vote"] = bool(self.by_cluster[i])
            if self.in_af is not None:
                beat["in_af"] = bool(self.in_af[i])
            if self.reference is not None:  # the .atr's AAMI class within 150 ms, or null
                r = int(self.reference[i])
                beat["reference"] = AAMI_CLASSES[r] if r >= 0 else None
            beats.append(beat)
        return {
            "record": self.record,
            "summary": self.summary,
            "path": self.path,
            "sampling_rate": self.fs,
            "lead": self.lead,
            "model": self.model,
            "n_beats": len(beats),
            "class_counts": self.class_counts(),
            "review_threshold": self.review_threshold,
            "n_review": None
            if self.review_threshold is None or self.uncertainty is None
            else int(np.sum(self.uncertainty > self.review_threshold)),
            "n_artifact": 0 if self.artifact is None else int(self.artifact.sum()),
            "n_by_rhythm_rule": None if self.by_rhythm is None else int(self.by_rhythm.sum()),
            "n_by_cluster_vote": None if self.by_cluster is None else int(self.by_cluster.sum()),
            "n_in_af": None if self.in_af is None else int(self.in_af.sum()),
            "signal_quality": None if self.quality is None else self.quality.to_dict(),
            "beats": beats,
            **self.extra,
        }


@contextmanager
def _naming(where) -> Iterator[None]:
    """Add the record's file to errors raised on its signal (which name no file)."""
    try:
        yield
    except EcgLensError as exc:
        if exc.path is None:
            raise EcgLensError(str(exc), where) from exc
        raise


def check_beat_options(review_threshold: float | None, mc_samples: int | None) -> None:
    """Refuse a review threshold outside [0, 1] (it compares an uncertainty) and a negative
    number of MC-dropout passes, naming the option."""
    if review_threshold is not None and not 0 <= review_threshold <= 1:
        raise EcgLensError(
            f"--review-threshold must be in [0, 1] (an uncertainty), not {review_threshold:g}"
        )
    if mc_samples is not None and mc_samples < 0:
        raise EcgLensError(f"--mc-samples must be 0 or more, not {mc_samples}")


def detect_beats(
    record: Record, lead: str | int | None = None
) -> tuple[np.ndarray, str, np.ndarray]:
    """R peaks of one lead: ``(signal (n,), lead name, peaks (m,))`` at the record's rate."""
    _check_rate(record)
    where = record.path or record.name
    signal, name = select_lead(record, lead)
    with _naming(where):
        peaks = ecg_peaks(signal, record.fs)
    _check_beats(peaks, name, where)
    return signal, name, peaks


def process_record_lead(
    record: Record, lead: str | int | None = None, peaks: np.ndarray | None = None
) -> tuple[np.ndarray, str, LeadProcessing]:
    """One lead of ``record`` cleaned once, its R peaks (detected, or ``peaks`` as given) and
    its quality: ``(signal (n,), lead name, LeadProcessing)``
    (:func:`~ecglens.signal.process.process_lead`)."""
    where = record.path or record.name
    if peaks is None:
        _check_rate(record)
    signal, name = select_lead(record, lead)
    with _naming(where):
        processed = process_lead(signal, record.fs, peaks)
    if peaks is None:
        _check_beats(processed.peaks, name, where)
    return signal, name, processed


def _check_rate(record: Record) -> None:
    if record.fs < MIN_FS:
        raise EcgLensError(
            f"sampling rate {record.fs:g} Hz is too low (need >= {MIN_FS:g} Hz)",
            record.path or record.name,
        )


def _check_beats(peaks: np.ndarray, lead_name: str, where) -> None:
    if len(peaks) == 0:
        raise EcgLensError(f"no heartbeats found in lead {lead_name}", where)


def classify_record(
    record: Record,
    loaded: LoadedModel,
    lead: str | int | None = None,
    peaks: np.ndarray | None = None,
    device: str | torch.device = "cpu",
    with_reference: bool = True,
    mc_samples: int | None = None,
    review_threshold: float | None = None,
) -> BeatPredictions:
    """Detect beats in ``record`` (or use ``peaks``) and classify each with a beat model.

    Any sampling rate is resampled to the model's beat representation. When the
    record has reference annotations (``.atr``), they are matched to the beats.
    Probabilities use the model's fitted temperature; ``mc_samples`` (default: the
    model's ``mc_samples``, 0 for none) MC-dropout passes give the uncertainty score,
    and beats above ``review_threshold`` are flagged for human review.
    """
    config = loaded.config
    if loaded.task not in BEAT_TASKS:
        raise EcgLensError(f"model {loaded.name} does not classify single-lead beats")
    check_beat_options(review_threshold, mc_samples)
    signal, lead_name, processed = process_record_lead(record, lead, peaks)
    peaks, quality = processed.peaks, processed.quality
    beat_config = config.beats
    with _naming(record.path or record.name):
        x, rr = cut_beat_inputs(processed.cleaned, record.fs, peaks, beat_config)
    if mc_samples is None:
        mc_samples = config.mc_samples
    probabilities, uncertainty = beat_probabilities(
        loaded.module,
        model_input_arrays(x, rr, config.inputs),
        float(config.temperature),
        mc_samples,
        device,
    )
    probabilities, by_rhythm = with_model_rhythm_rule(probabilities, rr, loaded.classes, config)
    cluster = cluster_ids(rr)
    probabilities, by_cluster = with_model_cluster_vote(
        probabilities, cluster, loaded.classes, config
    )
    artifact = quality.beat_is_artifact(peaks, record.fs)
    probabilities, in_af = with_af_rule(
        probabilities, peaks / record.fs, loaded.classes, usable=~artifact,
        p_corr=p_corr_previous(rr),
    )
    reference = _reference_labels(record, peaks) if with_reference else None
    classes = list(loaded.classes)
    summary = beat_summary(
        peaks / record.fs,
        [classes[i] for i in probabilities.argmax(1)],
        classes,
        record.n_samples / record.fs,
        artifact=artifact,
        in_af=in_af,
        noise=quality.intervals,
        clean=processed.cleaned,
        fs=record.fs,
        peaks=peaks,
    )
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
        uncertainty=uncertainty,
        review_threshold=review_threshold,
        quality=quality,
        artifact=artifact,
        by_rhythm=by_rhythm,
        cluster=cluster,
        by_cluster=by_cluster,
        in_af=in_af if "S" in classes and "N" in classes else None,
        summary=summary,
    )


def display_beat(x: np.ndarray) -> np.ndarray:
    """The waveform to draw for one model input: the beat itself, or the middle beat of a
    (K, L) context window."""
    return x[len(x) // 2] if x.ndim == 2 else x


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
