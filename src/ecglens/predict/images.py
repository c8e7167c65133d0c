"""ECG printout images at inference: an image file in, one of the four classes of the
Mendeley printout set out (normal, MI, post-MI, abnormal heartbeat), with probabilities.

The file becomes the model input (:func:`~ecglens.inputs.images.printout_input` with the
``input`` settings of the model config: the printout found in the photo or scan and
straightened, grayscale, cropped to the trace area, resized, normalised; an image with no ECG
printout is refused with an :class:`EcgLensError`), then one forward pass; the
probabilities are the softmax of the output (for a committee of fold models or a
probability fusion, the members' mean probability).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.errors import EcgLensError
from ecglens.inputs.images import ImageInputConfig, printout_input
from ecglens.inputs.page import PageFound
from ecglens.io.images import decode_image
from ecglens.models.registry import LoadedModel
from ecglens.predict.forward import logits_of

IMAGE_TASK = "images"


@dataclass
class ImagePrediction:
    """The prediction for one image: ``probabilities`` (k,) over ``classes``, summing to 1;
    ``x`` the model input (C, H, W) it was computed from; ``page``: what was found in the
    image (:class:`~ecglens.inputs.page.PageFound`: corners, rotation, correction, and the
    straightened page the input was cut from)."""

    record: str
    path: str
    model: str
    classes: list[str]
    probabilities: np.ndarray
    x: np.ndarray
    page: PageFound | None = field(default=None, repr=False)

    @property
    def index(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def label(self) -> str:
        return self.classes[self.index]

    @property
    def probability(self) -> float:
        """The probability of the predicted class."""
        return float(self.probabilities[self.index])

    def page_image(self) -> np.ndarray:
        """The straightened page the input was cut from, float32 (3, H, W) in [0, 1] (the
        file as it is when no page was recorded)."""
        if self.page is not None and self.page.warped is not None:
            rgb = np.asarray(self.page.warped)
            rgb = np.repeat(rgb[..., None], 3, axis=-1) if rgb.ndim == 2 else rgb
            return rgb.transpose(2, 0, 1).astype(np.float32) / 255.0
        return (
            decode_image(self.path, grayscale=False).transpose(2, 0, 1).astype(np.float32) / 255.0
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "path": self.path,
            "model": self.model,
            "task": IMAGE_TASK,
            "label": self.label,
            "probabilities": {
                c: round(float(p), 6) for c, p in zip(self.classes, self.probabilities, strict=True)
            },
            **(self.page.to_dict() if self.page is not None else {}),
        }


def input_config(loaded: LoadedModel) -> ImageInputConfig:
    """The model's input settings, from its config's ``input``."""
    if loaded.task != IMAGE_TASK:
        raise EcgLensError(f"model {loaded.name} is not an image model (task {loaded.task!r})")
    if loaded.config.input is None:
        raise EcgLensError(f"model {loaded.name}: config has no valid 'input' (none given)")
    return loaded.config.input


@torch.inference_mode()
def image_probabilities(
    module: torch.nn.Module, x: np.ndarray, device: str | torch.device = "cpu"
) -> np.ndarray:
    """Softmax of ``module`` over inputs (n, C, H, W): (n, k) float64."""
    module.eval()
    logits = logits_of(module(torch.as_tensor(x, dtype=torch.float32).to(device)))
    return torch.softmax(logits.double(), dim=-1).cpu().numpy()


def classify_image(
    path: str | Path,
    loaded: LoadedModel,
    device: str | torch.device = "cpu",
    **options: Any,
) -> ImagePrediction:
    """Classify the printout in ``path`` (none found: EcgLensError "no ECG printout found in
    the image"). ``options`` of other tasks (lead, fs, ...) are
    accepted when None; given a value they are an error."""
    given = sorted(k for k, v in options.items() if v is not None)
    if given:
        raise EcgLensError(
            f"option {', '.join(given)} does not apply to image models (model {loaded.name})"
        )
    config = input_config(loaded)
    x, page = printout_input(decode_image(path, grayscale=False), config, path)
    probabilities = image_probabilities(loaded.module, x[None], device)[0]
    return ImagePrediction(
        record=Path(path).name,
        path=str(path),
        model=loaded.name,
        classes=loaded.classes,
        probabilities=probabilities,
        x=x,
        page=page,
    )
