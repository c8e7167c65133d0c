"""Explanations: one interface, :func:`attribute`, for every explainer (raw, signed maps at the
input's resolution; each explainer's facts in :mod:`ecglens.explain.explainers`), display steps
apart (:mod:`ecglens.explain.display`), and helpers that explain a prediction of each task.

The names below load their module when first used, so that reading the explainer table (e.g.
for the CLI's help) imports no torch.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

# name -> the submodule that defines it
_EXPORTS = {
    "METHODS": "attribute",
    "explain_beats": "beats",
    "for_display": "display",
    "minmax": "display",
    "relu": "display",
    "scale_by_max": "display",
    "EXPLAINERS": "explainers",
    "Explainer": "explainers",
    "explainers_for": "explainers",
    "get_explainer": "explainers",
    "methods_help": "explainers",
    "conv_layer_names": "gradcam",
    "get_layer": "gradcam",
    "explainer_summary": "recommended",
    "recommended_method": "recommended",
    "explain_12lead": "twelve_lead",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """This package, whose ``attribute`` stays the function although a submodule has the same
    name (importing a submodule sets the package's attribute of that name to it)."""

    @property
    def attribute(self):  # noqa: D102
        from ecglens.explain.attribute import attribute

        return attribute

    @attribute.setter
    def attribute(self, _submodule: Any) -> None:
        pass  # the submodule stays reachable as ``ecglens.explain.attribute`` in sys.modules


sys.modules[__name__].__class__ = _Package


def grad_cam(
    model: torch.nn.Module,
    inputs: tuple[torch.Tensor, ...] | torch.Tensor,
    target: int | np.ndarray | torch.Tensor,
    layer: str | None = None,
) -> np.ndarray:
    """Grad-CAM in display form: ``attribute(..., method="grad-cam")``, ReLU, each map scaled
    by its maximum to [0, 1]; (B, L) float32."""
    from ecglens.explain.attribute import attribute
    from ecglens.explain.display import for_display

    return for_display(attribute(model, inputs, target, "grad-cam", layer), "grad-cam")


__all__ = [*sorted(_EXPORTS), "attribute", "grad_cam"]  # noqa: PLE0604
