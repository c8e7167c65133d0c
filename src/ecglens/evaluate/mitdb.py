"""Score beat models on MIT-BIH splits."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.data.mitdb import BeatSet, load_mitdb_beats
from ecglens.data.splits import make_split, split_records
from ecglens.errors import EcgLensError
from ecglens.evaluate.metrics import classification_metrics
from ecglens.inputs.beats import model_input_arrays
from ecglens.models.config import ModelConfig
from ecglens.models.registry import LoadedModel
from ecglens.predict.clusters import cluster_ids, with_model_cluster_vote
from ecglens.predict.forward import predict_logits
from ecglens.predict.rhythm import p_corr_previous, with_af_rule, with_model_rhythm_rule
from ecglens.predict.tasks import task_of


def beat_model_inputs(beats: BeatSet, inputs: list[str]) -> tuple[np.ndarray, ...]:
    """The arrays a beat model's forward takes for ``beats`` (see :func:`model_input_arrays`)."""
    return model_input_arrays(beats.x, beats.rr, inputs)


SCORED_CLASSES = ("N", "S", "V", "F")  # Q (7 beats in DS2) is reported but not scored


MITDB_FS = 360.0  # Hz: every MIT-BIH Arrhythmia record


def predicted_classes(
    model: torch.nn.Module,
    beats: BeatSet,
    config: ModelConfig | Mapping[str, Any],
    device="cpu",
    fs: float = MITDB_FS,
) -> np.ndarray:
    """(n,) class index per beat: the logits' argmax after the config's rhythm rule
    (``rhythm_rule``), cluster vote (``cluster_vote``) and the AF rule (S inside atrial
    fibrillation is N; :mod:`ecglens.predict.rhythm`), as at inference; ``config`` is the
    model's config or the dict training builds; ``fs``: the records' rate (``beats.sample``
    to seconds)."""
    config = ModelConfig.from_dict(config)
    logits = predict_logits(model, beat_model_inputs(beats, config.inputs), device=device)
    logits, _ = with_model_rhythm_rule(logits, beats.rr, config.classes, config, beats.record)
    logits, _ = with_model_cluster_vote(
        logits, cluster_ids(beats.rr), config.classes, config, beats.record
    )
    logits, _ = with_af_rule(
        logits, beats.sample / fs, config.classes, beats.record, p_corr=p_corr_previous(beats.rr)
    )
    return logits.argmax(1)


def evaluate_beats(
    model: torch.nn.Module,
    beats: BeatSet,
    config: ModelConfig | Mapping[str, Any],
    device="cpu",
    n_boot: int = 0,
    seed: int = 0,
    predicted: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics of ``model`` on ``beats``: accuracy, per-class Se/+P/F1, macro-F1, confusion.

    ``predicted``: the model's classes for ``beats`` when already computed, else
    :func:`predicted_classes`. ``macro_f1`` averages the classes present; ``macro_f1_nsvf``
    only N, S, V and F, as inter-patient studies report. ``n_boot > 0`` adds ``bootstrap``:
    record-level intervals (see :func:`record_bootstrap`) of the same predictions. ``config``
    is the model's config or the dict training builds.
    """
    config = ModelConfig.from_dict(config)
    if predicted is None:
        predicted = predicted_classes(model, beats, config, device)
    metrics = classification_metrics(beats.y, predicted, config.classes)
    nsvf = classification_metrics(beats.y, predicted, config.classes, SCORED_CLASSES)
    metrics["macro_f1_nsvf"] = nsvf["macro_f1"]
    metrics["records"] = sorted({str(r) for r in beats.record})
    metrics["per_record"] = per_record_metrics(
        beats.y, predicted, beats.record.astype(str), list(config.classes)
    )
    if n_boot:
        metrics["bootstrap"] = record_bootstrap(
            beats.y, predicted, beats.record.astype(str), list(config.classes), n_boot, seed
        )
    return metrics


PER_RECORD_CLASSES = ("S", "V")


def per_record_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    records: np.ndarray,
    classes: list[str],
    of: tuple[str, ...] = PER_RECORD_CLASSES,
) -> dict[str, dict[str, Any]]:
    """Per record: beats, and for each class in ``of`` its support, beats predicted as it,
    Se (recall) and +P (precision); None where undefined (no such beats, none predicted)."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(records.tolist())):
        m = records == name
        row: dict[str, Any] = {"n": int(m.sum())}
        for c in of:
            k = classes.index(c)
            true, called = y_true[m] == k, y_pred[m] == k
            hit = int((true & called).sum())
            row[c] = {
                "support": int(true.sum()),
                "predicted": int(called.sum()),
                "Se": hit / int(true.sum()) if true.any() else None,
                "+P": hit / int(called.sum()) if called.any() else None,
            }
        out[name] = row
    return out


def metrics_without(
    beats: BeatSet,
    predicted: np.ndarray,
    classes: list[str],
    left_out: tuple[str, ...],
    n_boot: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Accuracy, macro-F1 (N,S,V,F) and S/V Se, +P, F1 without the records ``left_out``
    (record 232 holds 75% of DS2's S beats), with record-bootstrap intervals."""
    keep = ~np.isin(beats.record.astype(str), left_out)
    y, p = beats.y[keep], predicted[keep]
    m = classification_metrics(y, p, classes, SCORED_CLASSES)
    out: dict[str, Any] = {
        "left_out": list(left_out),
        "n": int(keep.sum()),
        "accuracy": m["accuracy"],
        "macro_f1_nsvf": m["macro_f1"],
        "per_class": {c: m["per_class"][c] for c in ("S", "V")},
    }
    if n_boot:
        out["bootstrap"] = record_bootstrap(
            y, p, beats.record[keep].astype(str), classes, n_boot, seed
        )
    return out


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
    beat_config = config.beats
    seed = config.train["seed"] if seed is None else seed
    beats = load_mitdb_beats(data_dir, split_records(split), beat_config, cache_dir, progress)
    parts = make_split(beats, split, seed=seed)
    test = beats.subset(parts.test)
    if split == "inter-patient":  # whole records: their rhythm is read from the test beats
        predicted = predicted_classes(loaded.module, test, config, device)
    else:  # a share of each record's beats: rhythm rules read every beat of the record
        predicted = predicted_classes(loaded.module, beats, config, device)[parts.test]
    metrics = evaluate_beats(loaded.module, test, config, n_boot=n_boot, predicted=predicted)
    if split == "inter-patient" and "232" in metrics["records"]:
        metrics["without_232"] = metrics_without(
            test, predicted, list(config.classes), ("232",), n_boot
        )
    trained_on = config.split
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
