"""Grad-CAM for 1-D CNNs (Selvaraju et al. 2017) through captum's ``LayerGradCam``."""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import LayerAttribution, LayerGradCam

from ecglens.errors import EcgLensError
from ecglens.train.trainer import logits_of


def conv_layer_names(model: torch.nn.Module) -> list[str]:
    """Dotted names of the model's Conv1d layers, first to last."""
    return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv1d)]


def get_layer(model: torch.nn.Module, name: str | None) -> torch.nn.Module:
    """The named submodule, or the last Conv1d when ``name`` is None."""
    names = conv_layer_names(model)
    if name is None:
        if not names:
            raise EcgLensError("model has no Conv1d layer for Grad-CAM")
        name = names[-1]
    modules = dict(model.named_modules())
    if name not in modules:
        raise EcgLensError(f"no layer {name!r}; conv layers: {', '.join(names)}")
    return modules[name]


class _LogitsOnly(torch.nn.Module):
    """Wrap models whose forward returns a tuple (e.g. logits and CAM)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return logits_of(self.model(*inputs))


def grad_cam(
    model: torch.nn.Module,
    inputs: tuple[torch.Tensor, ...] | torch.Tensor,
    target: int | torch.Tensor | np.ndarray,
    layer: str | None = None,
    relu: bool = True,
    batch_size: int = 512,
) -> np.ndarray:
    """Grad-CAM of ``target`` class(es) at conv ``layer``, upsampled to the input length.

    ``layer`` None: the last Conv1d; for an ensemble, the mean of each member's map.

    inputs: the model's forward arguments, the first of shape (B, L) or (B, C, L).
    Returns (B, L) float32, each row scaled to [0, 1] (all zeros where the map is 0).
    Computed in batches of ``batch_size`` beats.
    """
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    if isinstance(target, np.ndarray):
        target = torch.as_tensor(target, dtype=torch.long)
    n = inputs[0].shape[0]
    if n > batch_size:
        chunks = []
        for start in range(0, n, batch_size):
            part = tuple(t[start : start + batch_size] for t in inputs)
            part_target = (
                target[start : start + batch_size]
                if torch.is_tensor(target) and target.dim() > 0
                else target
            )
            chunks.append(grad_cam(model, part, part_target, layer, relu, batch_size))
        return np.concatenate(chunks)
    model.eval()
    if layer is None and hasattr(model, "members"):
        # an ensemble: the mean of its members' own maps for the target class
        maps = sum(grad_cam(m, inputs, target, None, relu, batch_size) for m in model.members)
    else:
        explainer = LayerGradCam(_LogitsOnly(model), get_layer(model, layer))
        with torch.enable_grad():
            attribution = explainer.attribute(inputs, target=target, relu_attributions=relu)
        up = LayerAttribution.interpolate(
            attribution, (inputs[0].shape[-1],), interpolate_mode="linear"
        )
        maps = up.detach().reshape(up.shape[0], -1).float().numpy()
    peak = np.abs(maps).max(axis=1, keepdims=True)
    return np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0).astype(np.float32)
