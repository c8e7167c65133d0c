"""A small ensemble: members that take the same inputs, averaged in probability space.

``forward(*inputs)`` returns the log of the members' mean softmax, (B, n_classes): its
softmax is the ensemble's probability, so argmax, temperature scaling and the predictive
entropy (the uncertainty score, which grows when members disagree; Lakshminarayanan et
al. 2017) work on it as on any classifier's logits.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ecglens.errors import EcgLensError
from ecglens.models.registry import create_model, register_model


class SoftmaxEnsemble(nn.Module):
    """Mean of the members' softmax, returned as log-probabilities (B, n_classes)."""

    explain_by_members = True  # an explanation is the mean of the members' own

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise EcgLensError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([torch.softmax(m(*inputs), dim=-1) for m in self.members])
        return torch.logsumexp(torch.log(probs.clamp_min(1e-30)), dim=0) - math.log(len(probs))


@register_model("ensemble")
def ensemble(members: list[dict[str, Any]], n_classes: int | None = None) -> SoftmaxEnsemble:
    """``members``: ``[{"architecture": name, "kwargs": {...}}, ...]``, each built with
    :func:`create_model`; ``n_classes``, when given, must match every member's."""
    modules = []
    for spec in members:
        kwargs = dict(spec.get("kwargs", {}))
        if n_classes is not None and kwargs.setdefault("n_classes", n_classes) != n_classes:
            got = kwargs["n_classes"]
            raise EcgLensError(f"ensemble member has {got} classes, not {n_classes}")
        modules.append(create_model(spec["architecture"], **kwargs))
    return SoftmaxEnsemble(modules)
