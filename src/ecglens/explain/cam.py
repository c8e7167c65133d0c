"""The class activation map a CAM network outputs itself (its second output)."""

from __future__ import annotations

import numpy as np
import torch

from ecglens.errors import EcgLensError


def class_activation_map(model, inputs, target, layer=None) -> np.ndarray:
    """The map of class ``target`` (one index per example) from ``model(*inputs)[1]``
    (B, classes, L): (B, L) over time. ``layer`` does not apply."""
    with torch.inference_mode():
        out = model(*inputs)
    if not isinstance(out, tuple | list) or len(out) < 2:
        raise EcgLensError("method 'cam' needs a model with a class activation map output")
    cam = out[1].float()
    index = target.view(-1, 1, 1).expand(-1, 1, cam.shape[-1])
    return cam.gather(1, index)[:, 0].cpu().numpy()
