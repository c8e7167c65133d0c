"""Adapt a beat network to the record under test, without its labels.

:func:`adapt_batchnorm` is AdaBN (Li et al., "Adaptive batch normalization for practical
domain adaptation", Pattern Recognition 2018): the batch-norm layers' running mean and
variance are re-estimated on the beats of the record being classified, so that features are
normalised as in training although the recorder, lead and patient differ. The weights are
not touched and nothing is learnt from labels; the network's statistics are blended with the
record's (``weight`` 1: the record's alone).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm

ADAPT_BATCH = 4096  # beats per pass while the statistics are gathered


def has_batchnorm(model: torch.nn.Module) -> bool:
    """Whether ``model`` has batch-norm layers (the ones :func:`adapt_batchnorm` adapts)."""
    return any(isinstance(m, _BatchNorm) for m in model.modules())


@torch.no_grad()
def adapt_batchnorm(
    model: torch.nn.Module,
    inputs: tuple[np.ndarray, ...],
    weight: float = 1.0,
    device: str | torch.device = "cpu",
) -> torch.nn.Module:
    """A copy of ``model`` (in eval mode) whose batch-norm statistics are ``weight`` x those
    of ``inputs`` (one record's model inputs, each (n, ...)) + (1 - ``weight``) x its own.
    ``model`` itself is left as it was; without batch norm or beats it is returned as is."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be within [0, 1], not {weight}")
    n = len(inputs[0])
    if weight == 0.0 or n < 2 or not has_batchnorm(model):
        return model
    adapted = copy.deepcopy(model).to(device).eval()
    layers = [m for m in adapted.modules() if isinstance(m, _BatchNorm)]
    source = [(m.running_mean.clone(), m.running_var.clone()) for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the passes below
        m.train()
    for start in range(0, n, ADAPT_BATCH):
        batch = [torch.as_tensor(a[start : start + ADAPT_BATCH]).to(device) for a in inputs]
        if len(batch[0]) < 2 and start > 0:
            break  # a batch of one beat has no variance
        adapted(*batch)
    for m, (mean, var) in zip(layers, source, strict=True):
        m.running_mean.mul_(weight).add_(mean, alpha=1.0 - weight)
        m.running_var.mul_(weight).add_(var, alpha=1.0 - weight)
        m.eval()
    return adapted
