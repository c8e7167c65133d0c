"""Score MI beat models on PTB-XL: at record level (the clinical unit: a record's beat
probabilities averaged) and at beat level, with intervals from resampling records.

Positive class: MI. ``sensitivity`` = recall of MI records, ``specificity`` = recall of
normal records; the threshold is the model's own (chosen on fold 9).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.data.ptbxl_mi import load_mi_beats, record_probability
from ecglens.errors import EcgLensError
from ecglens.evaluate.bootstrap import bootstrap_statistic
from ecglens.evaluate.ptbxl import binary_scores, score_binary
from ecglens.models.registry import LoadedModel
from ecglens.predict.forward import predict_logits
from ecglens.predict.mi import MI_TASK

TEST_FOLDS = (10,)


def beat_mi_probability(
    module: torch.nn.Module, x: np.ndarray, device: str | torch.device = "cpu"
) -> np.ndarray:
    """P(MI) (n,) of beats x (n, L) from a two-class (normal, MI) beat model."""
    logits = predict_logits(module, (x,), device=device)
    return torch.softmax(torch.as_tensor(logits), dim=1)[:, 1].numpy().astype(np.float64)


def _with_sensitivity(scores: dict[str, Any]) -> dict[str, Any]:
    scores["sensitivity"] = scores["recall"]
    return scores


def score_mi(
    beat_probability: np.ndarray,
    beat_label: np.ndarray,
    beat_record: np.ndarray,
    threshold: float,
    aggregate: str = "mean",
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Record-level scores at the top (``accuracy``, ``sensitivity``, ``specificity``,
    ``f1``, ``roc_auc``, ... each ``{"value", "ci"}``), beat-level ones under ``"beat"``."""
    records, p_record = record_probability(beat_probability, beat_record, aggregate)
    first = {r: i for i, r in reversed(list(enumerate(np.asarray(beat_record))))}
    y_record = np.asarray(beat_label)[[first[r] for r in records]]
    out = _with_sensitivity(score_binary(y_record, p_record, threshold, n_boot, seed))
    out["classes"] = ["normal", "MI"]
    out["level"] = "record"
    out["aggregate"] = aggregate
    out["records"] = [str(r) for r in records]
    beat = bootstrap_statistic(
        lambda y, p: binary_scores(y, p, threshold),
        np.asarray(beat_label),
        np.asarray(beat_probability),
        groups=np.asarray(beat_record),
        n_boot=n_boot,
        seed=seed,
    )
    out["beat"] = {
        **_with_sensitivity(beat),
        "n_beats": int(len(beat_label)),
        "n_mi_beats": int(np.sum(beat_label == 1)),
        "bootstrap_unit": "record",
    }
    return out


def evaluate_mi(
    loaded: LoadedModel,
    data_root: str | Path,
    progress: bool = True,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = "runs/cache",
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Score an MI model on PTB-XL fold 10 (its lead, its threshold): equals the ``metrics``
    its training saved (with the defaults ``n_boot=1000``, ``seed=0``)."""
    config = loaded.config
    if loaded.task != MI_TASK:
        raise EcgLensError(f"model {loaded.name} is not an MI model (task {loaded.task!r})")
    split = config.split if isinstance(config.split, dict) else {}
    folds = tuple(split.get("test_folds", TEST_FOLDS))
    data = load_mi_beats(
        data_root,
        lead=config.lead,
        folds=folds,
        progress=progress,
        cache_dir=cache_dir,
        config=config.beats,
    )
    p = beat_mi_probability(loaded.module, data.beats.x, device)
    metrics = score_mi(
        p,
        data.beats.y,
        data.beats.record,
        float(config.threshold),
        config.aggregate,
        n_boot,
        seed,
    )
    return {
        "model": loaded.name,
        "task": MI_TASK,
        "folds": list(folds),
        "lead": config.lead,
        **metrics,
    }
