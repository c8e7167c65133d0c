"""The beat-classification report: model card and metrics, then for each record its
beat strips (the first non-N beat, the most uncertain beat), class counts, agreement with
reference annotations and explained examples; the model's measured explainers when there are
any."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ecglens.evaluate.metrics import classification_metrics
from ecglens.explain.beats import explain_beats
from ecglens.explain.recommended import model_explainers, trust_of
from ecglens.models.registry import LoadedModel
from ecglens.plot import plot_class_counts, plot_confusion_matrix, plot_record_strip
from ecglens.plot.explain_beats import (
    format_clock,
    input_differs,
    method_name,
    plot_beats_with_relevance,
    recommended_method,
    uncertainty_source,
)
from ecglens.predict.beats import BeatPredictions
from ecglens.report.explanations import trust_caption
from ecglens.report.html import (
    ReportSection,
    add_history_and_card,
    metrics_table,
)

REVIEW_THRESHOLD = 0.5
STRIP_S = 10.0  # seconds per record strip


TITLE = "ecglens beat report"


def report_metadata(loaded: LoadedModel) -> dict[str, Any]:
    """The report's header facts about the model."""
    cfg = loaded.config
    split = cfg.split or ""
    if cfg.optimistic:
        split += " (optimistic: patients in both train and test)"
    return {
        "model": loaded.name,
        "architecture": cfg.architecture,
        "split": split,
        "seed": (cfg.train or {}).get("seed"),
    }


def model_section(loaded: LoadedModel) -> ReportSection:
    cfg = loaded.config
    section = ReportSection(title=f"Model {loaded.name}")
    metrics = cfg.metrics
    if metrics:
        section.tables.append(
            (
                f"Test metrics of the shipped model ({cfg.get('split')}, "
                f"{metrics['n']} beats, accuracy {metrics['accuracy']:.4f})",
                metrics_table(metrics),
            )
        )
        section.figures.append(
            (
                "Confusion matrix on the test beats (rows: reference)",
                plot_confusion_matrix(np.array(metrics["confusion_matrix"]), metrics["classes"]),
            )
        )
    add_history_and_card(section, cfg.history, loaded.card)
    return section


def evaluation_section(metrics: dict[str, Any]) -> ReportSection:
    title = f"Evaluation: {metrics.get('model', '')} on {metrics.get('split', '')}"
    section = ReportSection(title=title, text=metrics.get("split_description", ""))
    section.tables.append(
        (
            f"accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}",
            metrics_table(metrics),
        )
    )
    section.figures.append(
        (
            "Confusion matrix",
            plot_confusion_matrix(np.array(metrics["confusion_matrix"]), metrics["classes"]),
        )
    )
    return section


def record_section(
    pred: BeatPredictions, loaded: LoadedModel, device: str | torch.device = "cpu"
) -> ReportSection:
    labels = np.array(pred.labels)
    section = ReportSection(
        title=f"Record {pred.record}",
        text=f"{len(labels)} beats detected in lead {pred.lead} ({pred.fs:g} Hz, "
        f"{len(pred.signal) / pred.fs / 60:.1f} min).",
    )
    if pred.uncertainty is not None:
        flagged = int(np.sum(pred.uncertainty > REVIEW_THRESHOLD))
        section.text += (
            f" {flagged} beats ({100 * flagged / max(len(labels), 1):.1f}%) have an uncertainty "
            f"above {REVIEW_THRESHOLD} and would be flagged for review "
            f"(`ecglens predict --review-threshold {REVIEW_THRESHOLD}`)."
        )
    unusable = [] if pred.quality is None else list(pred.quality.intervals)
    if pred.quality is not None:
        n_artifact = int(pred.artifact.sum())
        section.text += (
            f" Signal quality: {100 * pred.quality.usable_fraction:.1f}% of the lead is usable;"
            f" {n_artifact} beats fall in unusable stretches, are flagged as artifacts and are "
            "not counted below."
        )
    if pred.by_rhythm is not None and pred.by_rhythm.any():
        section.text += (
            f" {int(pred.by_rhythm.sum())} beats are S by the model's rhythm rule: the network "
            "called them N, and they come early against the sinus cycle in a regular stretch."
        )
    counts = pred.class_counts()
    section.tables.append(
        (
            "Predicted beats per class",
            [{"class": c, "beats": n, "share": n / max(len(labels), 1)} for c, n in counts.items()],
        )
    )
    reference = None
    if pred.reference is not None:
        matched = pred.reference >= 0
        reference = np.array([pred.classes[r] if r >= 0 else "?" for r in pred.reference])
        m = classification_metrics(
            pred.reference[matched], pred.probabilities[matched].argmax(1), pred.classes
        )
        section.tables.append(
            (
                f"Agreement with the reference annotations ({int(matched.sum())} detected beats "
                f"matched within 150 ms; accuracy {m['accuracy']:.4f})",
                metrics_table(m),
            )
        )
        section.figures.append(
            (
                "Confusion matrix against the reference annotations",
                plot_confusion_matrix(np.array(m["confusion_matrix"]), pred.classes),
            )
        )
    else:
        section.figures.append(("Predicted class counts", plot_class_counts(counts)))
    for choice in choose_strips(pred):
        section.figures.append(
            (
                choice.caption,
                plot_record_strip(
                    pred.signal,
                    pred.fs,
                    pred.sample,
                    labels,
                    choice.start_s,
                    STRIP_S,
                    reference_labels=reference,
                    unusable=unusable,
                    highlight=choice.beat,
                    reason=choice.reason,
                ),
            )
        )
    if unusable:
        start = max(unusable[0][0] - 2.0, 0.0)
        section.figures.append(
            (
                f"10 seconds from the first unusable stretch ({unusable[0][0]:.0f} s), shaded: "
                "its beats are flagged as artifacts and not counted",
                plot_record_strip(pred.signal, pred.fs, pred.sample, labels, start, STRIP_S,
                                  reference_labels=reference, unusable=unusable),
            )
        )
    examples = _examples_per_class(pred)
    if examples:
        method = recommended_method(loaded.name, model_explainers(loaded)[0])
        maps = explain_beats(pred, loaded, examples, method=method)
        config = loaded.config.beats
        beside = "; right, the model's input" if input_differs(config) else ""
        trust = trust_of(loaded.name, method)
        section.figures.append(
            (
                f"{method_name(method)} of the most confident beat of each predicted class, "
                "for its predicted class: left, the beat as recorded (mV) with its neighbours "
                f"and the relevance behind the model's window{beside}" + trust_caption(trust),
                plot_beats_with_relevance(
                    pred,
                    examples,
                    maps.reshape(len(examples), -1),
                    config,
                    method=method,
                    uncertainty_label=uncertainty_source(loaded),
                    trust=trust,
                ),
            )
        )
    return section


@dataclass(frozen=True)
class StripChoice:
    """A window of the record shown as a strip: its start (s), the beat it was chosen for
    (index into the predictions, or None) and why (the strip's title and caption)."""

    start_s: float
    beat: int | None
    reason: str

    @property
    def caption(self) -> str:
        return f"{self.reason}; beats coloured by predicted class"


def _window_start(t: float, duration_s: float) -> float:
    """Start of a ``STRIP_S`` window holding time ``t`` 4 s from its left edge, inside the
    record."""
    return float(max(min(t - 4.0, duration_s - STRIP_S), 0.0))


def choose_strips(pred: BeatPredictions) -> list[StripChoice]:
    """Two different places of the record to show: the first beat not classed N (else the
    first 10 s) and the most uncertain beat outside that window (uncertainty score, else the
    lowest top probability); beats in unusable stretches are not chosen."""
    labels = np.array(pred.labels)
    duration = len(pred.signal) / pred.fs
    times = pred.sample / pred.fs
    counted = np.ones(len(labels), dtype=bool) if pred.artifact is None else ~pred.artifact
    abnormal = np.flatnonzero((labels != "N") & counted)
    choices = []
    if len(abnormal):
        a = int(abnormal[0])
        choices.append(
            StripChoice(
                _window_start(times[a], duration),
                a,
                f"First non-N beat: beat {a}, predicted {labels[a]} at {format_clock(times[a])}",
            )
        )
    else:
        choices.append(StripChoice(0.0, None, "First 10 s (every beat was classed N)"))
    first = choices[0].start_s
    if pred.uncertainty is not None:
        score, what = np.asarray(pred.uncertainty, dtype=float), "uncertainty"
    else:
        score, what = 1.0 - pred.probabilities.max(1), "1 - top probability"
    outside = counted & ((times < first) | (times >= first + STRIP_S))
    candidates = np.flatnonzero(outside)
    if len(candidates):
        j = int(candidates[np.argmax(score[candidates])])
        overall = int(np.flatnonzero(counted)[np.argmax(score[counted])])
        where = "" if overall == j else " outside the strip above"
        choices.append(
            StripChoice(
                _window_start(times[j], duration),
                j,
                f"Most uncertain beat{where}: beat {j}, predicted {labels[j]}, "
                f"{what} {score[j]:.3f}, at {format_clock(times[j])}",
            )
        )
    return choices


def _examples_per_class(pred: BeatPredictions) -> list[int]:
    idx = pred.probabilities.argmax(1)
    out = []
    for k in range(len(pred.classes)):
        members = np.flatnonzero(idx == k)
        if len(members):
            out.append(int(members[np.argmax(pred.probabilities[members, k])]))
    return out
