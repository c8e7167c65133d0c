"""Monte-Carlo dropout uncertainty (Gal & Ghahramani 2016).

:func:`mc_dropout_predict` runs the model ``n_samples`` times with dropout active and
BatchNorm frozen (running statistics), averages the softmax outputs and scores each beat by
the predictive entropy of that average, divided by log(n_classes) so it lies in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn.modules.dropout import _DropoutNd


def has_dropout(model: nn.Module) -> bool:
    """True when ``model`` has a dropout layer with p > 0."""
    return any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.modules())


@contextmanager
def mc_dropout_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (BatchNorm uses running statistics) with every dropout layer in train mode.

    The modules' previous ``training`` flags are restored on exit.
    """
    previous = {m: m.training for m in model.modules()}
    model.eval()
    n_dropout = 0
    for m in model.modules():
        if isinstance(m, _DropoutNd):
            m.train()
            n_dropout += 1
    try:
        if n_dropout == 0:
            raise ValueError(f"{type(model).__name__} has no dropout layers; MC dropout needs some")
        yield model
    finally:
        for m, flag in previous.items():
            m.training = flag


def _entropy(p: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) along the last axis; 0 log 0 = 0."""
    return -(p * torch.log(p.clamp_min(1e-12))).sum(dim=-1)


def mc_dropout_predict(
    model: nn.Module,
    inputs: tuple[torch.Tensor | np.ndarray, ...] | torch.Tensor | np.ndarray,
    n_samples: int = 20,
    batch_size: int = 1024,
    seed: int = 0,
    return_mutual_information: bool = False,
):
    """MC-dropout predictive distribution of ``model(*inputs)`` (logits (B, C)).

    ``inputs`` are the model's positional inputs (e.g. ``(x,)`` or ``(x, rr)``), each with N
    rows; they are moved in batches to the model's device. The global RNG is left untouched
    (sampling uses a forked generator seeded with ``seed``).

    Returns ``(mean_probs, uncertainty)``: (N, C) float64 mean softmax and (N,) normalised
    predictive entropy in [0, 1]. With ``return_mutual_information`` also (N,) mutual
    information between prediction and weights (the epistemic part of the entropy, normalised
    by the same log C), i.e. ``(mean_probs, uncertainty, mutual_information)``.
    """
    if isinstance(inputs, torch.Tensor | np.ndarray):
        inputs = (inputs,)
    tensors = [torch.as_tensor(a) for a in inputs]
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"inputs have different lengths: {[len(t) for t in tensors]}")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    fork = [device.index or 0] if device.type == "cuda" else []
    means, entropies, expected = [], [], []
    with (
        mc_dropout_mode(model),
        torch.random.fork_rng(devices=fork),
        torch.inference_mode(),
    ):
        torch.manual_seed(seed)
        for start in range(0, n, batch_size):
            batch = [t[start : start + batch_size].to(device) for t in tensors]
            total = None
            sample_entropy = None
            for _ in range(n_samples):
                p = torch.softmax(model(*batch).double(), dim=1)
                h = _entropy(p)
                total = p if total is None else total + p
                sample_entropy = h if sample_entropy is None else sample_entropy + h
            mean = total / n_samples
            means.append(mean.cpu())
            entropies.append(_entropy(mean).cpu())
            expected.append((sample_entropy / n_samples).cpu())
    mean_probs = torch.cat(means).numpy()
    log_c = math.log(mean_probs.shape[1])
    entropy = torch.cat(entropies).numpy()
    uncertainty = np.clip(entropy / log_c, 0.0, 1.0)
    if not return_mutual_information:
        return mean_probs, uncertainty
    mutual_information = np.clip((entropy - torch.cat(expected).numpy()) / log_c, 0.0, 1.0)
    return mean_probs, uncertainty, mutual_information
