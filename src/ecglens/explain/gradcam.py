"""Grad-CAM (Selvaraju et al. 2017) for 1-D and 2-D CNNs through captum's ``LayerGradCam``."""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import LayerAttribution, LayerGradCam

from ecglens.errors import EcgLensError
from ecglens.predict.forward import logits_of

CONV_LAYERS = (torch.nn.Conv1d, torch.nn.Conv2d)


def conv_layer_names(model: torch.nn.Module) -> list[str]:
    """Dotted names of the model's Conv1d and Conv2d layers, first to last."""
    return [n for n, m in model.named_modules() if isinstance(m, CONV_LAYERS)]


def get_layer(model: torch.nn.Module, name: str | None) -> torch.nn.Module:
    """The named submodule, or the last convolution when ``name`` is None."""
    names = conv_layer_names(model)
    if name is None:
        if not names:
            raise EcgLensError("model has no Conv1d or Conv2d layer for Grad-CAM")
        name = names[-1]
    modules = dict(model.named_modules())
    if name not in modules:
        raise EcgLensError(f"no layer {name!r}; conv layers: {', '.join(names)}")
    return modules[name]


class LogitsOnly(torch.nn.Module):
    """Wrap models whose forward returns a tuple (e.g. logits and CAM)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return logits_of(self.model(*inputs))


def grad_cam_raw(
    model: torch.nn.Module,
    inputs: tuple[torch.Tensor, ...],
    target: torch.Tensor | int,
    layer: str | None = None,
) -> np.ndarray:
    """Signed Grad-CAM of ``target`` at conv ``layer`` (default: the last), upsampled to the
    input's resolution: (B, L) for inputs (B, L) or (B, C, L); (B, H, W) for (B, C, H, W).
    Models that encode each beat of a (B, K, L) context window give (B * K, L).

    For an ensemble (a model whose ``explain_by_members`` is true: its output averages its
    ``members``) and no ``layer``: the mean of the members' maps. No ReLU and no scaling
    (see :mod:`ecglens.explain.display`).
    """
    if layer is None and getattr(model, "explain_by_members", False):
        maps = [grad_cam_raw(m, inputs, target, None) for m in model.members]
        return np.mean(maps, axis=0).astype(np.float32)
    x = inputs[0]
    size = tuple(x.shape[-2:]) if x.dim() == 4 else (x.shape[-1],)
    explainer = LayerGradCam(LogitsOnly(model), get_layer(model, layer))
    with torch.enable_grad():
        attribution = explainer.attribute(inputs, target=target, relu_attributions=False)
    mode = "bilinear" if len(size) == 2 else "linear"
    up = LayerAttribution.interpolate(attribution, size, interpolate_mode=mode)
    return up.detach().reshape(up.shape[0], *size).float().cpu().numpy()
