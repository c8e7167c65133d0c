"""Score beat models on MIT-BIH splits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.data.mitdb import BeatConfig, BeatSet, load_mitdb_beats
from ecglens.data.splits import make_split, split_records
from ecglens.errors import EcgLensError
from ecglens.evaluate.metrics import classification_metrics
from ecglens.models.registry import LoadedModel
from ecglens.train.trainer import predict_logits


def beat_model_inputs(beats: BeatSet, inputs: list[str]) -> tuple[np.ndarray, ...]:
    """The arrays a beat model's forward takes, in order ("x" waveform, "rr" features)."""
    table = {"x": beats.x, "rr": beats.rr}
    unknown = [i for i in inputs if i not in table]
    if unknown:
        raise EcgLensError(f"unknown model inputs {unknown}")
    return tuple(table[i] for i in inputs)


def evaluate_beats(
    model: torch.nn.Module, beats: BeatSet, config: dict[str, Any], device="cpu"
) -> dict[str, Any]:
    """Metrics of ``model`` on ``beats``: accuracy, per-class Se/+P/F1, macro-F1, confusion."""
    logits = predict_logits(model, beat_model_inputs(beats, config["inputs"]), device=device)
    metrics = classification_metrics(beats.y, logits.argmax(1), config["classes"])
    metrics["records"] = sorted({str(r) for r in beats.record})
    return metrics


def evaluate_mitdb(
    loaded: LoadedModel,
    data_dir: str | Path,
    split: str,
    seed: int | None = None,
    progress: bool = True,
    cache_dir: str | Path | None = "runs/cache",
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Evaluate a loaded beat model on the test part of ``split`` (the model's own seed by
    default, so the intra-patient test beats are the ones it never saw)."""
    config = loaded.config
    if config.get("task") != "beats":
        raise EcgLensError(f"model {loaded.name} is not a MIT-BIH beat model")
    beat_config = BeatConfig(**config["beats"])
    seed = config["train"]["seed"] if seed is None else seed
    beats = load_mitdb_beats(data_dir, split_records(split), beat_config, cache_dir, progress)
    parts = make_split(beats, split, seed=seed)
    metrics = evaluate_beats(loaded.module, beats.subset(parts.test), config, device)
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
