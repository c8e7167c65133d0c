"""The beat-classification report: model card and metrics, then for each record its
beat strip, class counts, agreement with reference annotations and Grad-CAM examples."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.evaluate.metrics import classification_metrics
from ecglens.explain.beats import explain_beats
from ecglens.inputs.beats import BeatConfig
from ecglens.io import read_record
from ecglens.models.registry import LoadedModel, load_model
from ecglens.plot import (
    plot_beat_grid,
    plot_class_counts,
    plot_confusion_matrix,
    plot_record_strip,
)
from ecglens.predict.beats import BeatPredictions, classify_record, display_beat
from ecglens.report.html import (
    ReportSection,
    add_history_and_card,
    metrics_table,
    record_sections,
    write_report,
)

REVIEW_THRESHOLD = 0.5


def build_beat_report(
    record_paths: Sequence[Path],
    model: str | Path,
    out: str | Path,
    lead: str | int | None = None,
    fs: float | None = None,
    device: str | torch.device = "cpu",
    metrics: Sequence[dict[str, Any]] = (),
    progress: bool = True,
    command: str = "",
    errors: list[str] | None = None,
) -> Path:
    """Classify and explain ``record_paths`` with ``model`` and write one HTML file;
    ``metrics`` (from ``ecglens evaluate``) are shown after the model's section."""
    loaded = load_model(model, device)
    sections = [model_section(loaded)]
    for extra in metrics:
        sections.append(metrics_section(extra))
    sections += record_sections(
        record_paths,
        lambda path: record_section(
            classify_record(read_record(path, fs=fs), loaded, lead=lead, device=device), loaded
        ),
        progress,
        errors,
    )
    cfg = loaded.config
    split = cfg.get("split", "")
    if cfg.get("optimistic"):
        split += " (optimistic: patients in both train and test)"
    metadata = {
        "model": loaded.name,
        "architecture": cfg.get("architecture"),
        "split": split,
        "seed": cfg.get("train", {}).get("seed"),
        "command": command,
    }
    return write_report(out, f"ecglens beat report: {loaded.name}", sections, metadata)


def model_section(loaded: LoadedModel) -> ReportSection:
    cfg = loaded.config
    section = ReportSection(title=f"Model {loaded.name}")
    metrics = cfg.get("metrics")
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
    add_history_and_card(section, cfg.get("history"), loaded.card)
    return section


def metrics_section(metrics: dict[str, Any]) -> ReportSection:
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


def record_section(pred: BeatPredictions, loaded: LoadedModel) -> ReportSection:
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
    section.figures.append(
        (
            "First 10 seconds, beats coloured by predicted class",
            plot_record_strip(
                pred.signal, pred.fs, pred.sample, labels, 0.0, 10.0, reference_labels=reference,
                unusable=unusable,
            ),
        )
    )
    if unusable:
        start = max(unusable[0][0] - 2.0, 0.0)
        section.figures.append(
            (
                f"10 seconds from the first unusable stretch ({unusable[0][0]:.0f} s), shaded: "
                "its beats are flagged as artifacts and not counted",
                plot_record_strip(pred.signal, pred.fs, pred.sample, labels, start, 10.0,
                                  reference_labels=reference, unusable=unusable),
            )
        )
    counted = np.ones(len(labels), dtype=bool) if pred.artifact is None else ~pred.artifact
    abnormal = np.flatnonzero((labels != "N") & counted)
    if len(abnormal):
        start = max(pred.sample[abnormal[0]] / pred.fs - 4.0, 0.0)
        section.figures.append(
            (
                f"10 seconds around the first non-N beat (beat {abnormal[0]})",
                plot_record_strip(
                    pred.signal,
                    pred.fs,
                    pred.sample,
                    labels,
                    start,
                    10.0,
                    reference_labels=reference,
                    unusable=unusable,
                ),
            )
        )
    examples = _examples_per_class(pred)
    if examples:
        maps = explain_beats(pred, loaded, examples)
        beats = BeatConfig(**loaded.config["beats"])
        titles = [f"beat {i} ({pred.sample[i] / pred.fs:.1f} s)" for i in examples]
        probs = [
            dict(zip(pred.classes, map(float, pred.probabilities[i]), strict=True))
            for i in examples
        ]
        waveforms = [display_beat(x) for x in pred.x[examples]]
        section.figures.append(
            (
                "Grad-CAM (last conv layer) of the most confident beat of each predicted class: "
                "the coloured background shows where the network looked",
                plot_beat_grid(
                    waveforms,
                    maps,
                    list(labels[examples]),
                    beats.beat_fs,
                    probabilities=probs,
                    titles=titles,
                    r_index=beats.r_index,
                    amplitude_label=beats.amplitude_label,
                ),
            )
        )
    return section


def _examples_per_class(pred: BeatPredictions) -> list[int]:
    idx = pred.probabilities.argmax(1)
    out = []
    for k in range(len(pred.classes)):
        members = np.flatnonzero(idx == k)
        if len(members):
            out.append(int(members[np.argmax(pred.probabilities[members, k])]))
    return out
