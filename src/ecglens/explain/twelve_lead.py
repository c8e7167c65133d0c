"""Explain a 12-lead prediction: relevance along the record for one class."""

from __future__ import annotations

import numpy as np
import torch

from ecglens.errors import EcgLensError
from ecglens.explain.attribute import attribute, show_progress
from ecglens.explain.display import for_display
from ecglens.explain.explainers import get_explainer
from ecglens.explain.recommended import recommended_method
from ecglens.models.registry import LoadedModel
from ecglens.predict.twelve_lead import Prediction12


class SignedBinary(torch.nn.Module):
    """A binary model as two outputs (-z, z), "normal" and "abnormal", so that either class
    can be a target; its CAM (when it has one) likewise as (-cam, cam)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        out = self.model(x)
        if isinstance(out, tuple | list):
            z, cam = out[0], out[1]
            return torch.cat([-z, z], dim=1), torch.cat([-cam, cam], dim=1)
        return torch.cat([-out, out], dim=1)


def explain_12lead(
    pred: Prediction12,
    loaded: LoadedModel,
    method: str | None = None,
    target: int | str | None = None,
    device: str | torch.device = "cpu",
    raw: bool = False,
    progress: bool | None = None,
) -> np.ndarray:
    """Relevance for one class of ``pred.cam_classes`` (default: the explained one, i.e. the
    predicted label / most probable class), in display form unless ``raw``: (T,) along the
    record for "cam" and "grad-cam", (12, T) one map per lead for the per-input methods
    (saliency, smoothgrad, integrated-gradients, occlusion, shapley).

    method "cam": the network's class activation map (its second output; display: min-max
    scaled); "grad-cam": Grad-CAM at the last conv layer (display: ReLU, scaled by its maximum;
    all zeros where no region raises the class score); None: the model's recommended
    explainer. For binary models "normal" means the negated logit.
    """
    method = method or recommended_method(loaded)
    if method == "gradcam":
        method = "grad-cam"
    get_explainer(method)  # an unknown name fails here, before the target is checked
    if isinstance(target, str):
        if target not in pred.cam_classes:
            raise EcgLensError(f"no class {target!r}; classes: {', '.join(pred.cam_classes)}")
        target = pred.cam_classes.index(target)
    k = pred.explained if target is None else int(target)
    if not 0 <= k < len(pred.cam_classes):
        raise EcgLensError(f"target {k} out of range for {', '.join(pred.cam_classes)}")
    if method == "cam" and not raw:
        return pred.cams[k].astype(np.float32)  # computed with the prediction
    module = loaded.module.to(device).eval()
    if pred.binary:
        module = SignedBinary(module)
    x = torch.from_numpy(pred.x[None]).to(device)
    maps = attribute(module, x, k, method=method, progress=show_progress(method, progress))
    return (maps if raw else for_display(maps, method))[0]
