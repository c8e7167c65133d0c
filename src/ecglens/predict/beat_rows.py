"""Beat models on beats already cut: a Kaggle-style beat CSV in, one prediction per row out.

>>> from ecglens.models import load_model
>>> from ecglens.predict.beat_rows import classify_beat_rows
>>> result = classify_beat_rows("mitbih_test.csv", load_model("runs/kaggle-mitbih"))
>>> result.class_counts()

Each row is one beat in the Kachuee format (187 samples at 125 Hz from the R peak, in [0, 1]);
no R peaks are detected and no RR intervals exist, so the model must take the Kachuee beat alone
(inputs ``["x"]``). Probabilities use the model's fitted temperature (1 when it has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.errors import EcgLensError
from ecglens.io.beat_csv import read_beat_csv
from ecglens.models.registry import LoadedModel
from ecglens.predict.forward import TemperatureScaled, predict_logits


@dataclass
class BeatRowPredictions:
    """Predictions for the rows of one beat CSV.

    record: the file; probabilities: (n, k) over ``classes``; reference: (n,) the file's label
    column read as indices into ``classes``, or None (no label column, or labels beyond the
    model's classes: see ``notes``); warning: the model's own caution (optimistic scores).
    """

    record: str
    model: str
    classes: list[str]
    probabilities: np.ndarray
    reference: np.ndarray | None = None
    warning: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [self.classes[i] for i in self.probabilities.argmax(1)]

    def class_counts(self) -> dict[str, int]:
        idx = self.probabilities.argmax(1)
        return {c: int(np.sum(idx == i)) for i, c in enumerate(self.classes)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: {"record", "model", "n_beats", "class_counts", "warning"?, "notes"?,
        "beats": [{"row", "label", "probabilities": {class: p}, "reference"?}]} (rows from 0,
        in file order)."""
        labels = self.labels
        beats = []
        for i, label in enumerate(labels):
            beat: dict[str, Any] = {
                "row": i,
                "label": label,
                "probabilities": {
                    c: round(float(p), 5)
                    for c, p in zip(self.classes, self.probabilities[i], strict=True)
                },
            }
            if self.reference is not None:
                beat["reference"] = self.classes[int(self.reference[i])]
            beats.append(beat)
        out: dict[str, Any] = {
            "record": self.record,
            "model": self.model,
            "n_beats": len(beats),
            "class_counts": self.class_counts(),
        }
        if self.warning:
            out["warning"] = self.warning
        if self.notes:
            out["notes"] = list(self.notes)
        out["beats"] = beats
        return out


def check_takes_kaggle_beats(loaded: LoadedModel, what: str = "a beat CSV") -> None:
    """Raise :class:`EcgLensError` unless ``loaded`` takes Kachuee beats alone: inputs ``["x"]``
    and a ``beats`` config with the kachuee representation and no neighbouring beats."""
    beats = loaded.config.beats
    inputs = list(loaded.config.inputs or [])
    if inputs != ["x"] or beats is None or beats.representation != "kachuee" or beats.context != 1:
        raise EcgLensError(
            f"model {loaded.name} cannot classify {what}: it needs a beat model that takes "
            f"Kachuee beats alone (inputs ['x'], representation kachuee, context 1); it takes "
            f"inputs {inputs}, representation {beats and beats.representation}, context "
            f"{beats.context if beats else 1}"
        )


def classify_beat_rows(
    path: str | Path, loaded: LoadedModel, device: str | torch.device = "cpu"
) -> BeatRowPredictions:
    """Classify every row of the beat CSV ``path`` (see :func:`~ecglens.io.beat_csv.read_beat_csv`)
    with ``loaded``, a model taking Kachuee beats alone; one deterministic pass."""
    check_takes_kaggle_beats(loaded)
    x, labels = read_beat_csv(path)
    config = loaded.config
    scaled = TemperatureScaled(loaded.module, float(config.temperature))
    logits = predict_logits(scaled, (x,), device=device)
    probabilities = torch.softmax(torch.as_tensor(logits), dim=1).numpy()
    classes = list(loaded.classes)
    notes = []
    reference = labels
    if labels is not None and labels.max() >= len(classes):
        notes.append(
            f"the file's labels (up to {int(labels.max())}) do not index the model's "
            f"{len(classes)} classes ({', '.join(classes)}): reference labels left out"
        )
        reference = None
    warning = config.warning if config.optimistic else None
    return BeatRowPredictions(
        record=str(path),
        model=loaded.name,
        classes=classes,
        probabilities=probabilities,
        reference=reference,
        warning=warning,
        notes=notes,
    )
