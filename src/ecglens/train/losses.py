"""Loss functions: cross-entropy (optionally class-weighted), focal loss, BCE."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecglens.errors import EcgLensError

LOSSES = ("ce", "focal", "bce")


def inverse_frequency_weights(
    labels: np.ndarray, n_classes: int, max_weight: float | None = None
) -> np.ndarray:
    """Class weights n / (k * count_c) over the k present classes; absent classes get 0.

    ``max_weight`` caps the weight of very rare classes (MIT-BIH DS1 has 8 Q beats
    among 46,000: uncapped, one Q beat would weigh as much as 1,000 N beats).
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).astype(float)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    if max_weight is not None:
        weights = np.minimum(weights, max_weight)
    return weights


class FocalLoss(nn.Module):
    """Focal loss of Lin et al. 2017: mean of -w_c (1 - p_t)^gamma log p_t."""

    def __init__(self, gamma: float = 2.0, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("weight", weight if weight is not None else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits, dim=1)
        log_pt = log_p.gather(1, target[:, None]).squeeze(1)
        loss = -((1.0 - log_pt.exp()) ** self.gamma) * log_pt
        if self.weight is not None:
            loss = loss * self.weight[target]
        return loss.mean()


def make_loss(
    name: str, class_weights: np.ndarray | None = None, focal_gamma: float = 2.0
) -> nn.Module:
    """Build a loss by name. ``class_weights`` (n_classes,) for "ce"/"focal",
    positive-class weights (n_outputs,) for "bce"."""
    weight = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
    if name == "ce":
        return nn.CrossEntropyLoss(weight=weight)
    if name == "focal":
        return FocalLoss(focal_gamma, weight)
    if name == "bce":
        return nn.BCEWithLogitsLoss(pos_weight=weight)
    raise EcgLensError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
