"""One interface for every explainer, as captum's: ``attribute(model, inputs, target, method)``.

Returns raw, signed maps at the input's resolution, one per example; display steps (ReLU,
scaling) live in :mod:`ecglens.explain.display`. Methods:

- ``"grad-cam"``: Grad-CAM at a Conv1d/Conv2d layer (``layer``; default the last), upsampled
  linearly over time (and height for images). Over time only: one map shared by all leads.
- ``"cam"``: the class activation map a CAM network outputs itself (its second output).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ecglens.errors import EcgLensError
from ecglens.explain.gradcam import grad_cam_raw
from ecglens.predict.forward import logits_of

BATCH_SIZE = 512  # examples per backward pass


def _cam(model, inputs, target, layer) -> np.ndarray:
    with torch.inference_mode():
        out = model(*inputs)
    if not isinstance(out, tuple | list) or len(out) < 2:
        raise EcgLensError("method 'cam' needs a model with a class activation map output")
    cam = out[1].float()
    index = target.view(-1, 1, 1).expand(-1, 1, cam.shape[-1])
    return cam.gather(1, index)[:, 0].cpu().numpy()


METHODS: dict[str, Callable[..., np.ndarray]] = {"grad-cam": grad_cam_raw, "cam": _cam}


def _predicted(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    with torch.no_grad():  # not inference_mode: the targets then enter autograd
        return logits_of(model(*inputs)).argmax(1)


def attribute(
    model: torch.nn.Module,
    inputs: tuple[torch.Tensor, ...] | torch.Tensor,
    target: int | np.ndarray | torch.Tensor | None = None,
    method: str = "grad-cam",
    layer: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> np.ndarray:
    """Raw relevance maps of ``method`` for class ``target`` (an index, one per example, or
    None for the predicted class): float32, (B, L) for beats and 12-lead records, (B, H, W)
    for images; computed in batches of ``batch_size`` examples."""
    if method not in METHODS:
        raise EcgLensError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    model.eval()
    n = inputs[0].shape[0]
    chunks = []
    for start in range(0, n, batch_size):
        part = tuple(t[start : start + batch_size] for t in inputs)
        if target is None:
            part_target = _predicted(model, part)
        elif isinstance(target, int):
            part_target = torch.full((len(part[0]),), target, dtype=torch.long)
        else:
            part_target = torch.as_tensor(np.asarray(target)[start : start + batch_size])
        part_target = part_target.to(part[0].device, dtype=torch.long)
        chunks.append(METHODS[method](model, part, part_target, layer))
    if not chunks:
        return np.zeros((0, *inputs[0].shape[-1:]), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32)
