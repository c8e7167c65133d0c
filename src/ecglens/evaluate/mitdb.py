"""Score beat models on MIT-BIH splits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.data.mitdb import BeatSet, load_mitdb_beats
from ecglens.data.splits import make_split, split_records
from ecglens.errors import EcgLensError
from ecglens.evaluate.metrics import classification_metrics
from ecglens.inputs.beats import BeatConfig, model_input_arrays
from ecglens.models.registry import LoadedModel
from ecglens.predict.forward import predict_logits
from ecglens.predict.tasks import task_of


def beat_model_inputs(beats: BeatSet, inputs: list[str]) -> tuple[np.ndarray, ...]:
    """The arrays a beat model's forward takes for ``beats`` (see :func:`model_input_arrays`)."""
    return model_input_arrays(beats.x, beats.rr, inputs)


SCORED_CLASSES = ("N", "S", "V", "F")  # Q (7 beats in DS2) is reported but not scored


def evaluate_beats(
    model: torch.nn.Module,
    beats: BeatSet,
    config: dict[str, Any],
    device="cpu",
    n_boot: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics of ``model`` on ``beats``: accuracy, per-class Se/+P/F1, macro-F1, confusion.

    ``macro_f1`` averages the classes present; ``macro_f1_nsvf`` only N, S, V and F, as
    inter-patient studies report. ``n_boot > 0`` adds ``bootstrap``: record-level intervals
    (see :func:`record_bootstrap`) of the same predictions.
    """
    logits = predict_logits(model, beat_model_inputs(beats, config["inputs"]), device=device)
    predicted = logits.argmax(1)
    metrics = classification_metrics(beats.y, predicted, config["classes"])
    nsvf = classification_metrics(beats.y, predicted, config["classes"], SCORED_CLASSES)
    metrics["macro_f1_nsvf"] = nsvf["macro_f1"]
    metrics["records"] = sorted({str(r) for r in beats.record})
    if n_boot:
        metrics["bootstrap"] = record_bootstrap(
            beats.y, predicted, beats.record.astype(str), list(config["classes"]), n_boot, seed
        )
    return metrics


def record_bootstrap(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    records: np.ndarray,
    classes: list[str],
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """95% intervals from resampling whole records (patients) with replacement."""
    from ecglens.evaluate.bootstrap import bootstrap_metrics

    def summary(t: np.ndarray, p: np.ndarray) -> dict[str, Any]:
        m = classification_metrics(t, p, classes)
        nsvf = classification_metrics(t, p, classes, SCORED_CLASSES)
        return {
            "accuracy": m["accuracy"],
            "macro_f1": m["macro_f1"],
            "macro_f1_nsvf": nsvf["macro_f1"],
            "per_class": {
                c: {k: v[k] for k in ("precision", "recall", "f1")}
                for c, v in m["per_class"].items()
            },
        }

    out = bootstrap_metrics(y_true, y_pred, records, summary, n_boot=n_boot, seed=seed)
    return {"unit": "record", "n_boot": n_boot, "seed": seed, "level": 0.95, "metrics": out}


def evaluate_mitdb(
    loaded: LoadedModel,
    data_dir: str | Path,
    split: str,
    seed: int | None = None,
    progress: bool = True,
    cache_dir: str | Path | None = "runs/cache",
    device: str | torch.device = "cpu",
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Evaluate a loaded beat model on the test part of ``split`` (the model's own seed by
    default, so the intra-patient test beats are the ones it never saw)."""
    config = loaded.config
    if task_of(loaded).family != "beats":
        raise EcgLensError(f"model {loaded.name} is not a MIT-BIH beat model")
    beat_config = BeatConfig(**config["beats"])
    seed = config["train"]["seed"] if seed is None else seed
    beats = load_mitdb_beats(data_dir, split_records(split), beat_config, cache_dir, progress)
    parts = make_split(beats, split, seed=seed)
    test = beats.subset(parts.test)
    metrics = evaluate_beats(loaded.module, test, config, device, n_boot=n_boot)
    trained_on = config.get("split")
    return {
        "model": loaded.name,
        "split": split,
        "optimistic": parts.optimistic,
        "split_description": parts.description,
        "trained_on_split": trained_on,
        "warning": None
        if trained_on == split
        else (
            f"model was trained on the {trained_on} split; its training beats may be in this "
            "test set"
        ),
        "seed": seed,
        **metrics,
        "data_checksums": {r: beats.checksums[r] for r in metrics["records"]},
    }
