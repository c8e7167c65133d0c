"""Gradient and perturbation explainers through captum 0.9; only the ECG-specific parts here.

Each function takes ``(model, inputs, target, layer)`` as an explainer's record expects
(:data:`ecglens.explain.explainers.EXPLAINERS`), explains ``inputs[0]`` (the waveform, the
12-lead record or the image) with the other inputs (e.g. RR features) passed as
``additional_forward_args``, and returns a float32 map of the same shape as ``inputs[0]``
(images: summed over colour channels, (B, H, W)). The output explained is the model's own
(logits; an ensemble's log mean probability), so an ensemble is explained as a whole. Larger
values mean more evidence for ``target`` for every method here (saliency and SmoothGrad are
gradient magnitudes).

ECG-specific choices (stated, fixed):

- SmoothGrad (Smilkov et al. 2017): ``SMOOTHGRAD_SAMPLES`` noisy copies with Gaussian noise of
  ``SMOOTHGRAD_NOISE`` x each example's own standard deviation, seeded.
- Integrated Gradients (Sundararajan et al. 2017): baseline all zeros, i.e. the flat line of a
  normalised beat / standardised record; ``IG_STEPS`` Gauss-Legendre steps.
- Occlusion (Zeiler & Fergus 2014): zero windows. One-lead beats: windows of L / 16 samples
  sliding by half a window; 12-lead records and context windows: one lead (beat) at a time x
  L / 10 samples (1 s of a 10-s record), not overlapping; images: H/16 x W/16 patches, not
  overlapping.
- Shapley sampling (Strumbelj & Kononenko 2010; captum's ``ShapleyValueSampling``) over
  segments given by :func:`segment_mask` (beats: 16 over time; 12-lead: lead x 10; images:
  8 x 8 patches): ``SHAPLEY_SAMPLES`` seeded permutations, absent segments set to zero.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Occlusion, Saliency, ShapleyValueSampling

from ecglens.predict.forward import logits_of

SEED = 0
SMOOTHGRAD_SAMPLES = 16
SMOOTHGRAD_NOISE = 0.15  # x the example's standard deviation
IG_STEPS = 32
BEAT_SEGMENTS = 16  # segments over time of a one-lead beat
RECORD_SEGMENTS = 10  # segments over time of each lead of a 12-lead record (1 s at 10 s)
IMAGE_GRID = 16  # occlusion patches per side of an image
IMAGE_SEGMENTS = 8  # Shapley segments per side of an image
SHAPLEY_SAMPLES = 8
PERTURBATIONS_PER_EVAL = 32


class _Logits(torch.nn.Module):
    """``model``'s logits (first output) for captum; optional per-example input scale."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        return logits_of(self.model(x, *rest))


class _Scaled(torch.nn.Module):
    """``model(x * scale, *rest)`` with ``scale`` (B, 1, ...): SmoothGrad in units of each
    example's standard deviation."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, scale: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        return logits_of(self.model(x * scale, *rest))


def _rest(inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...] | None:
    return tuple(inputs[1:]) or None


def _leaf(x: torch.Tensor) -> torch.Tensor:
    """A copy of ``x`` that requires gradients (so captum need not switch them on)."""
    return x.detach().clone().requires_grad_(True)


def _finish(attr: torch.Tensor) -> np.ndarray:
    """(B, ...) float32; images (B, C, H, W) summed over channels to (B, H, W)."""
    attr = attr.detach().float()
    if attr.dim() == 4:
        attr = attr.sum(dim=1)
    return attr.cpu().numpy().astype(np.float32)


def segment_mask(shape: tuple[int, ...]) -> torch.Tensor:
    """Feature mask (1, *shape) of segment ids for one example of ``shape`` (no batch axis):
    (L,) one-lead beat: ``BEAT_SEGMENTS`` segments over time; (C, L): each lead (or context
    beat) x ``RECORD_SEGMENTS`` (C = 12) or ``BEAT_SEGMENTS`` (context beats) segments;
    (C, H, W) image: ``IMAGE_SEGMENTS`` x ``IMAGE_SEGMENTS`` patches shared by the channels."""
    if len(shape) == 1:
        (length,) = shape
        seg = torch.arange(length) * BEAT_SEGMENTS // length
        return seg[None]
    if len(shape) == 2:
        leads, length = shape
        n = RECORD_SEGMENTS if leads >= 12 else BEAT_SEGMENTS
        seg = torch.arange(length) * n // length
        return (torch.arange(leads)[:, None] * n + seg[None, :])[None]
    channels, height, width = shape
    rows = torch.arange(height) * IMAGE_SEGMENTS // height
    cols = torch.arange(width) * IMAGE_SEGMENTS // width
    grid = rows[:, None] * IMAGE_SEGMENTS + cols[None, :]
    return grid[None].expand(channels, height, width)[None].contiguous()


def n_segments(shape: tuple[int, ...]) -> int:
    """Number of segments :func:`segment_mask` cuts one example of ``shape`` into."""
    return int(segment_mask(shape).max()) + 1


def _window(shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Occlusion window and stride for one example of ``shape``."""
    if len(shape) == 1:
        w = max(1, math.ceil(shape[0] / BEAT_SEGMENTS))
        return (w,), (max(1, w // 2),)
    if len(shape) == 2:
        n = RECORD_SEGMENTS if shape[0] >= 12 else BEAT_SEGMENTS
        w = max(1, math.ceil(shape[1] / n))
        return (1, w), (1, w)
    ph, pw = (max(1, math.ceil(s / IMAGE_GRID)) for s in shape[1:])
    return (shape[0], ph, pw), (shape[0], ph, pw)


def saliency(model, inputs, target, layer=None) -> np.ndarray:
    """|d output / d input| (Simonyan et al. 2014)."""
    explainer = Saliency(_Logits(model))
    with torch.enable_grad():
        attr = explainer.attribute(
            _leaf(inputs[0]), target=target, abs=True, additional_forward_args=_rest(inputs)
        )
    return _finish(attr)


def smoothgrad(model, inputs, target, layer=None, seed: int = SEED) -> np.ndarray:
    """Mean |gradient| over noisy copies (noise: ``SMOOTHGRAD_NOISE`` x each example's std)."""
    x = inputs[0]
    dims = tuple(range(1, x.dim()))
    scale = x.detach().float().std(dim=dims, keepdim=True).clamp_min(1e-6).to(x.dtype)
    explainer = NoiseTunnel(Saliency(_Scaled(model)))
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(seed)
        attr = explainer.attribute(
            _leaf(x / scale),
            nt_type="smoothgrad",
            nt_samples=SMOOTHGRAD_SAMPLES,
            nt_samples_batch_size=SMOOTHGRAD_SAMPLES,
            stdevs=SMOOTHGRAD_NOISE,
            target=target,
            abs=True,
            additional_forward_args=(scale, *inputs[1:]),
        )
    return _finish(attr / scale)  # d/d(x/s) = s d/dx


def integrated_gradients(model, inputs, target, layer=None) -> np.ndarray:
    """Integrated Gradients from an all-zero baseline (signed)."""
    explainer = IntegratedGradients(_Logits(model))
    x = inputs[0]
    with torch.enable_grad():
        attr = explainer.attribute(
            _leaf(x),
            baselines=torch.zeros_like(x),
            target=target,
            n_steps=IG_STEPS,
            internal_batch_size=max(len(x), 1) * 8,
            additional_forward_args=_rest(inputs),
        )
    return _finish(attr)


def occlusion(model, inputs, target, layer=None, show_progress: bool = False) -> np.ndarray:
    """Drop in the output when a window is set to zero (see the module docstring)."""
    x = inputs[0]
    window, stride = _window(tuple(x.shape[1:]))
    with torch.no_grad():
        attr = Occlusion(_Logits(model)).attribute(
            x,
            sliding_window_shapes=window,
            strides=stride,
            baselines=0.0,
            target=target,
            additional_forward_args=_rest(inputs),
            perturbations_per_eval=PERTURBATIONS_PER_EVAL,
            show_progress=show_progress,
        )
    return _finish(attr)


def shapley(
    model, inputs, target, layer=None, seed: int = SEED, show_progress: bool = False
) -> np.ndarray:
    """Shapley values of segments (lead x segment for 12-lead), sampled, seeded."""
    x = inputs[0]
    mask = segment_mask(tuple(x.shape[1:])).to(x.device)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        attr = ShapleyValueSampling(_Logits(model)).attribute(
            x,
            baselines=0.0,
            target=target,
            additional_forward_args=_rest(inputs),
            feature_mask=mask,
            n_samples=SHAPLEY_SAMPLES,
            perturbations_per_eval=PERTURBATIONS_PER_EVAL,
            show_progress=show_progress,
        )
    return _finish(attr)
