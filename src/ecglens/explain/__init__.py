"""Explanations: one interface, :func:`attribute`, for every explainer (raw, signed maps at the
input's resolution), display steps apart (:mod:`ecglens.explain.display`), and helpers that
explain a prediction of each task."""

from __future__ import annotations

import numpy as np
import torch

from ecglens.explain.attribute import METHODS, attribute
from ecglens.explain.beats import explain_beats
from ecglens.explain.display import for_display, minmax, relu, scale_by_max
from ecglens.explain.gradcam import conv_layer_names, get_layer
from ecglens.explain.recommended import explainer_summary, recommended_method
from ecglens.explain.twelve_lead import explain_12lead


def grad_cam(
    model: torch.nn.Module,
    inputs: tuple[torch.Tensor, ...] | torch.Tensor,
    target: int | np.ndarray | torch.Tensor,
    layer: str | None = None,
) -> np.ndarray:
    """Grad-CAM in display form: ``attribute(..., method="grad-cam")``, ReLU, each map scaled
    by its maximum to [0, 1]; (B, L) float32."""
    return for_display(attribute(model, inputs, target, "grad-cam", layer), "grad-cam")


__all__ = [
    "METHODS",
    "attribute",
    "conv_layer_names",
    "explain_12lead",
    "explain_beats",
    "explainer_summary",
    "for_display",
    "get_layer",
    "grad_cam",
    "minmax",
    "recommended_method",
    "relu",
    "scale_by_max",
]
