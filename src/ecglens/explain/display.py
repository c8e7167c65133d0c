"""Display steps for raw attribution maps, kept apart from the explainers (as captum does).

Explainers (:func:`ecglens.explain.attribute`) return raw, signed maps; figures and reports
show them after these steps. Faithfulness measures use the raw maps.
"""

from __future__ import annotations

import numpy as np

from ecglens.explain.explainers import get_explainer


def relu(maps: np.ndarray) -> np.ndarray:
    """Keep the evidence for the class (positive values), zero elsewhere."""
    return np.maximum(np.asarray(maps, dtype=np.float32), 0.0)


def scale_by_max(maps: np.ndarray) -> np.ndarray:
    """Divide each map (first axis: one map per example) by its largest magnitude, so the
    strongest relevance is 1 (or -1); an all-zero map stays zero."""
    maps = np.asarray(maps, dtype=np.float32)
    flat = maps.reshape(len(maps), -1)
    peak = np.abs(flat).max(axis=1, keepdims=True) if flat.size else flat[:, :0]
    out = np.divide(flat, peak, out=np.zeros_like(flat), where=peak > 0)
    return out.reshape(maps.shape).astype(np.float32)


def minmax(maps: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Min-max scale each map (first axis: one map per example) to [0, 1]."""
    maps = np.asarray(maps, dtype=np.float32)
    flat = maps.reshape(len(maps), -1)
    lo = flat.min(axis=1, keepdims=True)
    hi = flat.max(axis=1, keepdims=True)
    return ((flat - lo) / np.maximum(hi - lo, eps)).reshape(maps.shape).astype(np.float32)


def for_display(maps: np.ndarray, method: str) -> np.ndarray:
    """The display form of raw maps of ``method``, in [0, 1] with the same shape, as its
    record's ``display`` says: "minmax" (a CAM: its sign carries no fixed meaning) min-max
    scaled; "magnitude" (saliency, SmoothGrad) |maps| scaled by their maximum; "evidence"
    (the signed methods: Grad-CAM, Integrated Gradients, occlusion, Shapley) only the
    evidence for the class (ReLU), scaled by its maximum. Per-lead maps (B, 12, L) are
    scaled by each example's maximum over all leads, so leads stay comparable."""
    kind = get_explainer(method).display
    if kind == "minmax":
        return minmax(maps)
    if kind == "magnitude":
        return scale_by_max(np.abs(np.asarray(maps, dtype=np.float32)))
    return scale_by_max(relu(maps))
