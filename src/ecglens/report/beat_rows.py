"""The report section of a Kaggle-style CSV of beats: class counts, agreement with the file's
label column when it has one, and the first rows. The model's sections are the beat report's
(:mod:`ecglens.report.beats`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ecglens.models.registry import LoadedModel
from ecglens.plot import plot_class_counts
from ecglens.predict.beat_rows import BeatRowPredictions
from ecglens.report.html import ReportSection

ROWS_SHOWN = 20  # first rows of the file listed in the report


def record_section(
    pred: BeatRowPredictions, loaded: LoadedModel, device: str | torch.device = "cpu"
) -> ReportSection:
    """Counts per predicted class, agreement with the label column, the first rows."""
    counts = pred.class_counts()
    n = len(pred.probabilities)
    text = f"{n} beats (rows) classified by {pred.model}."
    if pred.reference is not None:
        agree = float(np.mean(pred.probabilities.argmax(1) == pred.reference))
        text += f" {100 * agree:.1f}% agree with the file's label column."
    if pred.warning:
        text += f" Caution: {pred.warning}"
    section = ReportSection(title=f"CSV of beats {pred.record}", text=text)
    section.figures.append(("Beats per predicted class", plot_class_counts(counts)))
    rows: list[dict[str, Any]] = []
    for beat in pred.to_dict()["beats"][:ROWS_SHOWN]:
        row = {"row": beat["row"], "label": beat["label"],
               "p(label)": beat["probabilities"][beat["label"]]}
        if "reference" in beat:
            row["reference"] = beat["reference"]
        rows.append(row)
    section.tables.append((f"The first {len(rows)} of {n} rows", rows))
    return section
