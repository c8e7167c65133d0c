"""Score 12-lead PTB-XL models on the test fold (10) with bootstrap intervals.

Binary (normal vs abnormal; abnormal is the positive class): accuracy, precision, recall
(sensitivity), specificity, F1 and ROC-AUC, each ``{"value", "ci": [lo, hi]}`` with a 95 %
percentile bootstrap over records (records, not patients: PTB-XL folds are patient-disjoint
and fold 10 has about one record per patient), plus record counts, the confusion matrix, the
decision threshold (chosen on fold 9 at training time) and the ROC curve.

Superclass (multi-label NORM, MI, STTC, CD, HYP): macro ROC-AUC and per class ROC-AUC, F1,
precision, recall (thresholds chosen per class on fold 9), each with an interval, and counts.

Every number is a plain Python type, so results go straight to JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata

from ecglens.data.ptbxl import PtbxlConfig, load_ptbxl, split_by_fold
from ecglens.errors import EcgLensError
from ecglens.evaluate.bootstrap import bootstrap_statistic
from ecglens.inputs.twelve_lead import model_inputs
from ecglens.models.config import ModelConfig
from ecglens.models.registry import LoadedModel
from ecglens.predict.forward import predict_logits
from ecglens.predict.twelve_lead import BINARY_TASKS, TWELVE_LEAD_TASKS

DATA_TASKS = {"ptbxl-binary": "binary", "ptbxl-superclass": "superclass", "ptbxl-mi-12lead": "mi"}

THRESHOLD_RULES = ("youden", "f1", "accuracy", "fixed")


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits, float64 (numerically stable)."""
    from scipy.special import expit

    return expit(np.asarray(logits, dtype=np.float64))


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC by the rank-sum (Mann-Whitney) formula, ties counted half; NaN with one class.

    Equal to :func:`sklearn.metrics.roc_auc_score` and much faster inside a bootstrap.
    """
    y = np.asarray(y_true).astype(bool).ravel()
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(score, dtype=np.float64).ravel())
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _counts(y: np.ndarray, pred: np.ndarray) -> tuple[int, int, int, int]:
    y = np.asarray(y).astype(bool)
    pred = np.asarray(pred).astype(bool)
    tp = int(np.sum(y & pred))
    fp = int(np.sum(~y & pred))
    fn = int(np.sum(y & ~pred))
    tn = int(np.sum(~y & ~pred))
    return tp, fp, fn, tn


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else 0.0


def binary_scores(y_true: np.ndarray, prob: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, precision, recall, specificity, F1 (abnormal positive, ``prob >= threshold``)
    and ROC-AUC of one set of records."""
    pred = np.asarray(prob) >= threshold
    tp, fp, fn, tn = _counts(y_true, pred)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "accuracy": _ratio(tp + tn, tp + fp + fn + tn),
        "precision": precision,
        "recall": recall,
        "specificity": _ratio(tn, tn + fp),
        "f1": _ratio(2 * precision * recall, precision + recall),
        "roc_auc": roc_auc(y_true, prob),
    }


def choose_threshold(y_true: np.ndarray, prob: np.ndarray, rule: str = "youden") -> float:
    """Decision threshold on probabilities (predict positive when ``prob >= threshold``).

    rule: "youden" maximises sensitivity + specificity - 1; "f1" maximises F1; "accuracy"
    maximises accuracy; "fixed" returns 0.5. Ties go to the threshold nearest 0.5. The
    threshold is placed midway between the chosen score and the next lower distinct score, so
    it does not sit on a record of the data it was chosen on. Use validation data only.
    """
    if rule not in THRESHOLD_RULES:
        raise EcgLensError(f"threshold rule must be one of {', '.join(THRESHOLD_RULES)}")
    y = np.asarray(y_true).astype(bool).ravel()
    p = np.asarray(prob, dtype=np.float64).ravel()
    if rule == "fixed" or y.all() or not y.any():
        return 0.5
    cands = np.unique(p)[::-1]  # descending distinct scores: predict positive when p >= c
    lower = np.append(cands[1:], 0.0)
    thresholds = 0.5 * (cands + lower)
    scores = []
    for t in thresholds:
        tp, fp, fn, tn = _counts(y, p >= t)
        if rule == "youden":
            scores.append(_ratio(tp, tp + fn) + _ratio(tn, tn + fp) - 1.0)
        elif rule == "f1":
            scores.append(_ratio(2 * tp, 2 * tp + fp + fn))
        else:
            scores.append(_ratio(tp + tn, len(y)))
    scores = np.asarray(scores)
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return float(thresholds[best[np.argmin(np.abs(thresholds[best] - 0.5))]])


def roc_points(y_true: np.ndarray, prob: np.ndarray) -> dict[str, list[float]]:
    """ROC curve {"fpr", "tpr", "thresholds"} (collinear points dropped); thresholds are
    probabilities, the first one (+inf in sklearn) written as 1.0."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(np.asarray(y_true).astype(int), np.asarray(prob, dtype=np.float64))
    thr = np.minimum(thr, 1.0)
    return {
        "fpr": [float(v) for v in fpr],
        "tpr": [float(v) for v in tpr],
        "thresholds": [float(v) for v in thr],
    }


def score_binary(
    y_true: np.ndarray,
    prob: np.ndarray,
    threshold: float,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Binary metrics with bootstrap intervals over records (see the module docstring)."""
    y = np.asarray(y_true).astype(np.int64).ravel()
    p = np.asarray(prob, dtype=np.float64).ravel()
    if len(y) == 0:
        raise EcgLensError("no records to score")
    boot = bootstrap_statistic(
        lambda a, b: binary_scores(a, b, threshold), y, p, n_boot=n_boot, seed=seed, alpha=alpha
    )
    tp, fp, fn, tn = _counts(y, p >= threshold)
    return {
        **boot,
        "n_records": int(len(y)),
        "n_normal": int(np.sum(y == 0)),
        "n_abnormal": int(np.sum(y == 1)),
        "threshold": float(threshold),
        "classes": ["normal", "abnormal"],
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "roc_curve": roc_points(y, p),
        "bootstrap": {
            "n_boot": int(n_boot),
            "seed": int(seed),
            "unit": "record",
            "interval": f"{100 * (1 - alpha):g}% percentile",
        },
    }


def superclass_scores(
    y_true: np.ndarray, prob: np.ndarray, thresholds: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Macro ROC-AUC (over classes present), macro F1 and per-class AUC/F1/precision/recall."""
    per_class = {}
    aucs = []
    f1s = []
    for k, c in enumerate(classes):
        s = binary_scores(y_true[:, k], prob[:, k], float(thresholds[k]))
        per_class[c] = {
            "roc_auc": s["roc_auc"],
            "f1": s["f1"],
            "precision": s["precision"],
            "recall": s["recall"],
        }
        aucs.append(s["roc_auc"])
        f1s.append(s["f1"])
    aucs = np.asarray(aucs)
    return {
        "macro_auc": float(np.nanmean(aucs)) if np.any(~np.isnan(aucs)) else float("nan"),
        "macro_f1": float(np.mean(f1s)),
        "per_class": per_class,
    }


def score_superclass(
    y_true: np.ndarray,
    prob: np.ndarray,
    thresholds: Sequence[float],
    classes: Sequence[str],
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Multi-label metrics with bootstrap intervals over records."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(prob, dtype=np.float64)
    thr = np.asarray(thresholds, dtype=np.float64)
    classes = [str(c) for c in classes]
    if y.ndim != 2 or y.shape != p.shape or not y.shape[1] == len(classes) == len(thr):
        raise EcgLensError(f"labels {y.shape} and probabilities {p.shape} do not match {classes}")
    boot = bootstrap_statistic(
        lambda a, b: superclass_scores(a, b, thr, classes),
        y,
        p,
        n_boot=n_boot,
        seed=seed,
        alpha=alpha,
    )
    counts = {c: int(y[:, k].sum()) for k, c in enumerate(classes)}
    for k, c in enumerate(classes):
        boot["per_class"][c]["n_positive"] = counts[c]
        boot["per_class"][c]["threshold"] = float(thr[k])
    return {
        **boot,
        "n_records": int(len(y)),
        "n_positive": counts,
        "n_normal": int(np.sum((y[:, classes.index("NORM")] == 1) & (y.sum(1) == 1)))
        if "NORM" in classes
        else None,
        "classes": classes,
        "thresholds": {c: float(thr[k]) for k, c in enumerate(classes)},
        "roc_curves": {
            c: roc_points(y[:, k], p[:, k])
            for k, c in enumerate(classes)
            if 0 < y[:, k].sum() < len(y)
        },
        "bootstrap": {
            "n_boot": int(n_boot),
            "seed": int(seed),
            "unit": "record",
            "interval": f"{100 * (1 - alpha):g}% percentile",
        },
    }


def score_model(
    model: torch.nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    config: ModelConfig | Mapping[str, Any],
    device: str | torch.device = "cpu",
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics of ``model`` on model-ready inputs ``x`` (n, 12, T) with labels ``y``.

    ``config`` is the model's config (task, classes, threshold), or the dict training builds.
    """
    config = ModelConfig.from_dict(config)
    prob = sigmoid(predict_logits(model, x.astype(np.float32), batch_size=256, device=device))
    if config.task in BINARY_TASKS:
        return score_binary(y, prob[:, 0], float(config.threshold), n_boot, seed)
    if config.task == "ptbxl-superclass":
        classes = list(config.classes)
        thr = [float(config.threshold[c]) for c in classes]
        return score_superclass(y, prob, thr, classes, n_boot, seed)
    raise EcgLensError(f"task {config.task!r} is not a PTB-XL task")


def evaluate_ptbxl(
    loaded: LoadedModel,
    data_root: str | Path,
    task: str | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
    n_boot: int = 1000,
    seed: int = 0,
    cache_dir: str | Path | None = "runs/cache",
) -> dict[str, Any]:
    """Score a PTB-XL model on its test fold (10) of the PTB-XL data under ``data_root``.

    ``task`` ("binary" / "superclass", default the model's) must match the model. The data are
    preprocessed exactly as at training time (the baseline removal and per-lead scaler stored
    in the model's JSON config). With the defaults (``n_boot=1000``, ``seed=0``) the result
    equals the ``metrics`` saved in the config by :func:`ecglens.train.ptbxl.train_ptbxl`.
    """
    config = loaded.config
    model_task = loaded.task
    if model_task not in TWELVE_LEAD_TASKS:
        raise EcgLensError(f"model {loaded.name} is not a PTB-XL model (task {model_task!r})")
    short = DATA_TASKS[model_task]
    if task is not None and task != short:
        raise EcgLensError(f"model {loaded.name} was trained for {short}, not {task}")
    split = config.split if isinstance(config.split, dict) else {}
    data_config = PtbxlConfig(
        root=data_root,
        sampling_rate=int(config.fs),
        task=short,
        min_likelihood=float((config.data or {}).get("min_likelihood", 0.0)),
        train_folds=tuple(split.get("train_folds", (1, 2, 3, 4, 5, 6, 7, 8))),
        val_folds=tuple(split.get("val_folds", (9,))),
        test_folds=tuple(split.get("test_folds", (10,))),
    )
    data = load_ptbxl(data_config, progress=progress, cache_dir=cache_dir)
    _, _, test = split_by_fold(data, data_config)
    if len(test) == 0:
        raise EcgLensError(f"no records of folds {data_config.test_folds} found", data_root)
    x = model_inputs(test.x, test.fs, config.preprocessing)
    metrics = score_model(loaded.module, x, test.y, config, device, n_boot, seed)
    return {
        "model": loaded.name,
        "task": model_task,
        "folds": list(data_config.test_folds),
        "ecg_ids": [int(i) for i in test.ecg_id],
        **metrics,
    }
