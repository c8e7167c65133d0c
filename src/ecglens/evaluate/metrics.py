"""Classification metrics in AAMI terms: Se (recall) and +P (precision) per class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts; rows are the reference, columns the prediction."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes**2).reshape(
        n_classes, n_classes
    )


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[str],
    scored: Sequence[str] | None = None,
) -> dict:
    """Accuracy, per-class precision/recall/F1/support, macro-F1 and the confusion matrix.

    ``scored`` names the classes averaged into ``macro_f1`` (default: all classes
    with support > 0). Precision of a class never predicted is 0, as is F1.
    """
    classes = list(classes)
    cm = confusion_matrix(y_true, y_pred, len(classes))
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    per_class = {
        c: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, c in enumerate(classes)
    }
    if scored is None:
        scored = [c for i, c in enumerate(classes) if support[i] > 0]
    total = int(cm.sum())
    return {
        "n": total,
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "macro_f1": float(np.mean([per_class[c]["f1"] for c in scored])) if scored else 0.0,
        "macro_f1_classes": list(scored),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "classes": classes,
    }
