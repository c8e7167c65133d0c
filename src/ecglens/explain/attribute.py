"""One interface for every explainer, as captum's: ``attribute(model, inputs, target, method)``.

Returns raw maps at the input's resolution, one per example; display steps (ReLU, scaling)
live in :mod:`ecglens.explain.display`. Larger values mean more evidence for ``target``.

Shape contract (the figures rely on it): with ``inputs[0]`` of shape (B, *S),

- per-input methods ("saliency", "smoothgrad", "integrated-gradients", "occlusion",
  "shapley") return (B, *S): (B, L) for one-lead beats, (B, 12, L) for 12-lead records (one
  map per lead), (B, K, L) for context windows of K beats (one map per beat), and (B, H, W)
  for images (B, C, H, W) (summed over colour channels);
- "grad-cam" returns (B, L) over time for beats and 12-lead records alike (one map shared by
  all leads), (B, H, W) for images, and (B * K, L) for models that encode each beat of a
  (B, K, L) context window; "cam" returns (B, L) over time.

So a per-example map with as many dimensions as one example of the input (``maps.ndim ==
inputs[0].ndim`` for 1-D signals) is per lead; one with a single dimension is over time.

Methods (each one's facts in :data:`ecglens.explain.explainers.EXPLAINERS`; captum 0.9
implementations, ECG-specific choices in :mod:`ecglens.explain.captum_methods`):

- ``"grad-cam"``: Grad-CAM at a Conv1d/Conv2d layer (``layer``; default the last), upsampled
  linearly over time (and height for images); signed (no ReLU).
- ``"cam"``: the class activation map a CAM network outputs itself (its second output).
- ``"saliency"``: |gradient| of the output (Simonyan et al. 2014).
- ``"smoothgrad"``: mean |gradient| over 16 noisy copies, noise 0.15 x the example's
  standard deviation, seeded (Smilkov et al. 2017).
- ``"integrated-gradients"``: from an all-zero baseline (the flat line of a normalised
  beat / standardised record), 32 steps (Sundararajan et al. 2017); signed.
- ``"occlusion"``: output drop when a window is zeroed (beats: L/16 samples sliding by half;
  12-lead: lead x 1 s segment; images: H/16 x W/16 patches); signed.
- ``"shapley"``: Shapley value sampling over segments (beats: 16 over time; 12-lead: lead x
  10 segments; images: 8 x 8 patches), 8 seeded permutations, absent = zero; signed.

Multi-input models (waveform + RR features): the first input is explained, the others are
passed to the model unchanged. Ensembles: the ensemble's output is explained (Grad-CAM
without ``layer``: the mean of its members' maps).
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from ecglens.errors import EcgLensError
from ecglens.explain import captum_methods as cm
from ecglens.explain.explainers import EXPLAINERS, get_explainer
from ecglens.predict.forward import logits_of
from ecglens.progress import track

BATCH_SIZE = 512  # examples per backward pass
PROGRESS_BATCH = 16  # examples per step of a progress bar
METHODS = tuple(EXPLAINERS)  # the explainers' names (their facts: ecglens.explain.explainers)


def show_progress(method: str, progress: bool | None) -> bool:
    """Whether to draw a progress bar: ``progress`` when given; None: for the slow methods
    (SmoothGrad, Integrated Gradients, occlusion, Shapley) when stderr is a terminal."""
    if progress is not None:
        return progress
    return get_explainer(method).slow and sys.stderr.isatty()


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
    seed: int = cm.SEED,
    progress: bool = False,
) -> np.ndarray:
    """Raw relevance maps of ``method`` for class ``target`` (an index, one per example, or
    None for the predicted class), float32, shaped as the module docstring states; computed
    in batches of ``batch_size`` examples (slow methods with ``progress``: batches of
    ``PROGRESS_BATCH`` under a progress bar). ``seed`` seeds SmoothGrad's noise and the
    Shapley permutations (each batch starts from it). ``layer`` applies to Grad-CAM only."""
    explainer = get_explainer(method)
    if layer is not None and not explainer.takes_layer:
        takers = ", ".join(e.name for e in EXPLAINERS.values() if e.takes_layer)
        raise EcgLensError(f"layer applies to {takers} only, not to method {method!r}")
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    model.eval()
    n = inputs[0].shape[0]
    show = progress and explainer.slow
    if show:
        batch_size = min(batch_size, PROGRESS_BATCH)
    options: dict = {"seed": seed} if explainer.seeded else {}
    if show and n == 1 and explainer.own_progress:
        options["show_progress"] = True  # captum's own bar over the perturbations
    starts = range(0, n, batch_size)
    chunks = []
    for start in track(starts, f"Explaining ({method})", enabled=show and n > 1):
        part = tuple(t[start : start + batch_size] for t in inputs)
        if target is None:
            part_target = _predicted(model, part)
        elif isinstance(target, int | np.integer):
            part_target = torch.full((len(part[0]),), int(target), dtype=torch.long)
        else:
            part_target = torch.as_tensor(np.asarray(target)[start : start + batch_size])
        part_target = part_target.to(part[0].device, dtype=torch.long)
        chunks.append(explainer.attribute(model, part, part_target, layer, **options))
    if not chunks:
        shape = inputs[0].shape[1:] if explainer.per_input else inputs[0].shape[-1:]
        return np.zeros((0, *shape), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32)
