"""Can an explanation be trusted? Sanity checks, faithfulness, plausibility and stability.

Pure functions on arrays and models; ``explain`` callables map a model to raw maps of a fixed
batch (e.g. ``lambda m: attribute(m, inputs, target, method)``).

**Sanity: cascading model-parameter randomisation** (Adebayo et al. 2018). The parameterised
layers are re-initialised (their ``reset_parameters``, seeded) from the output down, in
stages, until all are random; at each stage the Spearman rank correlation between |map| of
the trained and of the randomised model is taken per example, of |map| and of the signed map
(a signed map can keep its ranking where |map| keeps the input's shape, and the other way
round). *Pass rule, fixed before measuring*: an explainer passes on a model when, with every
layer randomised, the median Spearman over the explained examples is below
:data:`PASS_THRESHOLD` (0.5) **and** the upper end of its 95% bootstrap interval (records
resampled) is below it too, for |map| and for the signed map alike. **Data-label
randomisation** (same paper) compares the maps of a model trained on true labels with those
of the same architecture trained on shuffled labels; reported with the same statistic, not
part of the pass rule.

**Faithfulness: deletion and insertion** (Petsiuk et al. 2018) adapted to signals: the
samples (12-lead: lead x time samples) are ranked by the raw map, most relevant first (a map
over time only is shared by all leads); deletion replaces a growing share of them, most
relevant first, by a baseline and follows the target-class probability; insertion starts from
the baseline and puts the samples back in the same order. AUC = the mean probability over the
fractions 0, 0.05, ..., 1 (trapezoid rule); deletion: lower is better; insertion: higher.
Baselines (:func:`baseline_signal`): ``"zero"`` (the flat line of a normalised beat /
standardised record), ``"blur"`` (the signal smoothed by a Gaussian of sigma = L/32
samples along time: the local mean, so removing a sample removes its sharp detail but keeps
the slow wave) and ``"road"`` (ROAD, remove and debias, Rong et al. 2022: the removed samples
are imputed from the kept ones by noisy linear imputation, :func:`road_impute`, so that the
removal leaves no sharp step or flat stretch the model could react to, whatever the map's
shape; a map that ranks steep samples first gains nothing from steepness alone). Compared
with a seeded random map and an edge map (|signal derivative|, :func:`edge_map`), paired per
example, with bootstrap intervals.

**Plausibility**: the share of the display relevance (evidence for the class, >= 0) inside
windows relative to the R peak (:data:`BEAT_WINDOWS_MS`: P wave -250..-80 ms, QRS -80..+80 ms,
ST-T +80..+400 ms; MI beats: ST segment +40..+200 ms), with the window's share of the input
as the chance level. A finding, not a pass/fail.

**Stability**: max-sensitivity (Yeh et al. 2019) through captum's ``sensitivity_max``: the
largest relative change ||map(x + d) - map(x)|| / ||map(x)|| over ``n`` seeded perturbations
d ~ U(-r s, r s) with s each example's standard deviation and r = 0.02; and the Spearman
between the maps of the members of an ensemble.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from scipy.stats import rankdata

from ecglens.evaluate.bootstrap import bootstrap_statistic

PASS_THRESHOLD = 0.5  # fully randomised median Spearman and its upper 95% bound must be below
FRACTIONS = np.linspace(0.0, 1.0, 21)  # shares of samples removed / inserted
BASELINES = ("zero", "blur", "road")
ROAD_NOISE = 0.05  # ROAD: noise sd added to imputed samples, x each row's standard deviation
BLUR_DIVISOR = 32  # blur sigma = L / 32 samples
BEAT_WINDOWS_MS: dict[str, tuple[float, float]] = {
    "P": (-250.0, -80.0),
    "QRS": (-80.0, 80.0),
    "ST-T": (80.0, 400.0),
}
MI_WINDOWS_MS: dict[str, tuple[float, float]] = {"ST": (40.0, 200.0)}
SENSITIVITY_RADIUS = 0.02  # x each example's standard deviation

Explain = Callable[[torch.nn.Module], np.ndarray]


# ---------------------------------------------------------------------------- statistics
def _flat(maps: np.ndarray) -> np.ndarray:
    maps = np.asarray(maps, dtype=np.float64)
    return maps.reshape(len(maps), -1)


def rank_correlation(a: np.ndarray, b: np.ndarray, signed: bool = False) -> np.ndarray:
    """Spearman rank correlation of |a| and |b| (of a and b when ``signed``) per example
    (first axis): (n,) in [-1, 1]; 0 where either map is constant (it ranks nothing)."""
    fa, fb = _flat(a), _flat(b)
    ra = rankdata(fa if signed else np.abs(fa), axis=1)
    rb = rankdata(fb if signed else np.abs(fb), axis=1)
    if ra.shape != rb.shape:
        raise ValueError(f"maps differ in shape: {np.shape(a)} vs {np.shape(b)}")
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    den = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    return np.divide((ra * rb).sum(axis=1), den, out=np.zeros(len(ra)), where=den > 0)


def interval(
    values: np.ndarray,
    groups: np.ndarray | None = None,
    statistic: Callable[[np.ndarray], float] = np.median,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """``{"value", "ci": [lo, hi]}``: ``statistic`` of ``values`` with a 95% percentile
    bootstrap interval, resampling ``groups`` (e.g. records) when given, else examples."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return {"value": float("nan"), "ci": [float("nan"), float("nan")]}
    return bootstrap_statistic(
        lambda v: float(statistic(v)), values, groups=groups, n_boot=n_boot, seed=seed
    )


def passes_sanity(spearman_all_random: dict[str, Any]) -> bool:
    """The pass rule (module docstring) on :func:`interval` of the fully randomised
    Spearman: median and upper 95% bound below :data:`PASS_THRESHOLD`."""
    value, (_, hi) = spearman_all_random["value"], spearman_all_random["ci"]
    return bool(value < PASS_THRESHOLD and hi < PASS_THRESHOLD)


# --------------------------------------------------------------- parameter randomisation
_MEMBER = re.compile(r"(^|\.)members\.\d+\.")


def parameter_layers(model: torch.nn.Module) -> list[list[str]]:
    """The model's parameterised layers, output first, as groups of module names: a module
    with parameters of its own (Conv, Linear, LSTM, BatchNorm...) and ``reset_parameters``;
    the same layer of every member of an ensemble forms one group. Order: the reverse of
    registration order (= forward order for the shipped architectures)."""
    groups: dict[str, list[str]] = {}
    for name, module in model.named_modules():
        own = any(True for _ in module.parameters(recurse=False))
        if own and hasattr(module, "reset_parameters"):
            groups.setdefault(_MEMBER.sub(r"\1", name), []).append(name)
    return list(reversed(list(groups.values())))


def randomize_layers(model: torch.nn.Module, n_layers: int, seed: int = 0) -> torch.nn.Module:
    """A copy of ``model`` with its top ``n_layers`` layer groups (see
    :func:`parameter_layers`) re-initialised, seeded; the original is untouched."""
    out = copy.deepcopy(model)
    modules = dict(out.named_modules())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for group in parameter_layers(out)[:n_layers]:
            for name in group:
                modules[name].reset_parameters()
    return out.eval()


def cascade_stages(n_layers: int) -> list[int]:
    """Numbers of top layers randomised at each stage: the top one, the top half, all."""
    marks = [1, int(np.ceil(n_layers / 2)), n_layers]
    return sorted({max(1, min(m, n_layers)) for m in marks})


def cascading_randomization(
    model: torch.nn.Module,
    explain: Explain,
    maps: np.ndarray | None = None,
    stages: Sequence[int] | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Cascading model-parameter randomisation: for each stage ``{"layers": k, "down_to":
    the lowest layer randomised, "spearman": (n,) per example of |map|, "spearman_signed":
    (n,) of the signed maps}``; the last stage has every layer random. ``maps``: the trained
    model's maps (default ``explain(model)``)."""
    maps = explain(model) if maps is None else maps
    layers = parameter_layers(model)
    out = []
    for k in stages or cascade_stages(len(layers)):
        random_maps = explain(randomize_layers(model, k, seed))
        out.append(
            {
                "layers": int(k),
                "down_to": layers[k - 1][0],
                "spearman": rank_correlation(maps, random_maps),
                "spearman_signed": rank_correlation(maps, random_maps, signed=True),
            }
        )
    return out


# ---------------------------------------------------------------- deletion and insertion
def baseline_signal(x: np.ndarray, kind: str) -> np.ndarray | str:
    """What removed samples are replaced by: ``"zero"``, or ``"blur"`` (Gaussian smoothing
    along the last axis, sigma = L / 32 samples), as an array like ``x``; ``"road"`` is
    returned as is (its values depend on which samples are removed: :func:`road_impute`)."""
    if kind == "road":
        return kind
    x = np.asarray(x, dtype=np.float32)
    if kind == "zero":
        return np.zeros_like(x)
    if kind == "blur":
        sigma = max(x.shape[-1] / BLUR_DIVISOR, 1.0)
        return gaussian_filter1d(x, sigma, axis=-1, mode="nearest").astype(np.float32)
    raise ValueError(f"unknown baseline {kind!r}; choose {', '.join(BASELINES)}")


def road_impute(x: np.ndarray, keep: np.ndarray, seed: int = 0) -> np.ndarray:
    """ROAD's noisy linear imputation (Rong et al. 2022) along the last axis: every sample
    with ``keep`` False is replaced by the linear interpolation between the nearest kept
    samples of its row (the nearest kept value past the ends; the 1-D solution of ROAD's
    neighbour-average system), plus seeded Gaussian noise of sd :data:`ROAD_NOISE` x the
    row's standard deviation; a row with nothing kept becomes zero. ``x``, ``keep``: same
    shape (..., L); returns float32 like ``x``."""
    x = np.asarray(x, dtype=np.float32)
    keep = np.broadcast_to(np.asarray(keep, dtype=bool), x.shape)
    length = x.shape[-1]
    rows, kept = x.reshape(-1, length), keep.reshape(-1, length)
    out = rows.copy()
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(rows.shape).astype(np.float32)
    grid = np.arange(length)
    sd = rows.std(axis=1)
    for r in range(len(rows)):
        k = kept[r]
        if k.all():
            continue
        if not k.any():
            out[r] = 0.0
            continue
        where = np.flatnonzero(k)
        gap = ~k
        line = np.interp(grid[gap], where, rows[r, where])
        out[r, gap] = line + ROAD_NOISE * sd[r] * noise[r, gap]
    return out.reshape(x.shape)


def patch_scores(maps: np.ndarray, patch: int) -> np.ndarray:
    """Image maps (n, H, W) with every ``patch`` x ``patch`` block (edge blocks smaller)
    replaced by its mean, so that deletion and insertion remove whole patches in the order of
    their mean relevance (ties within a patch keep its pixels together: a stable sort)."""
    maps = np.asarray(maps, dtype=np.float32)
    n, h, w = maps.shape
    out = np.empty_like(maps)
    for r in range(0, h, patch):
        for c in range(0, w, patch):
            block = maps[:, r : r + patch, c : c + patch]
            out[:, r : r + patch, c : c + patch] = block.mean(axis=(1, 2))[:, None, None]
    return out


def segment_scores(maps: np.ndarray, segment: int) -> np.ndarray:
    """Maps (..., L) with every run of ``segment`` samples along the last axis (the last one
    shorter) replaced by its mean, so that deletion and insertion remove whole segments in
    the order of their mean relevance: the 1-D form of :func:`patch_scores`. ``segment`` 1:
    the maps as they are."""
    maps = np.asarray(maps, dtype=np.float32)
    if segment <= 1:
        return maps
    out = np.empty_like(maps)
    for start in range(0, maps.shape[-1], segment):
        block = maps[..., start : start + segment]
        out[..., start : start + segment] = block.mean(axis=-1, keepdims=True)
    return out


def edge_map(x: np.ndarray) -> np.ndarray:
    """|d x / dt| along the last axis: a map that knows the signal, not the model."""
    return np.abs(np.gradient(np.asarray(x, dtype=np.float32), axis=-1)).astype(np.float32)


def random_map(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Seeded uniform random map of ``shape``."""
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def _order(x: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(n, D) flat indices into each example of ``x``, most relevant first; a map over time
    only (one dim fewer than ``x``'s examples) is shared by every lead."""
    scores = np.asarray(scores, dtype=np.float32)
    if scores.ndim == x.ndim - 1:
        scores = np.broadcast_to(scores[:, None, :], x.shape)
    if scores.shape != x.shape:
        raise ValueError(f"map shape {scores.shape} does not fit the input {x.shape}")
    return np.argsort(-scores.reshape(len(x), -1), axis=1, kind="stable")


def deletion_insertion(
    probability: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    scores: np.ndarray,
    baseline: np.ndarray | str,
    fractions: np.ndarray = FRACTIONS,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves, each (n, len(fractions)): the target-class probability
    (``probability(x_batch) -> (n,)``, the caller fixes the target) when the top share of
    samples by ``scores`` is replaced by ``baseline`` (deletion) or taken from ``x`` into
    ``baseline`` (insertion). ``baseline`` ``"road"``: the samples not taken from ``x`` are
    imputed from those that are (:func:`road_impute`, seeded by ``seed`` and the step)."""
    x = np.asarray(x, dtype=np.float32)
    order = _order(x, scores)
    n, d = order.shape
    flat_x = x.reshape(n, d)
    road = isinstance(baseline, str)
    if road and baseline != "road":
        raise ValueError(f"unknown baseline {baseline!r}; give an array or 'road'")
    if not road:
        base = np.broadcast_to(np.asarray(baseline, dtype=np.float32), x.shape)
        flat_b = np.ascontiguousarray(base).reshape(n, d)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(d)[None, :].repeat(n, 0), axis=1)
    deletion = np.empty((n, len(fractions)), dtype=np.float64)
    insertion = np.empty_like(deletion)
    for j, f in enumerate(fractions):
        top = rank < int(round(f * d))
        if road:
            kept_del = (~top).reshape(x.shape)
            deleted = road_impute(x, kept_del, seed=seed + 2 * j)
            inserted = road_impute(x, top.reshape(x.shape), seed=seed + 2 * j + 1)
        else:
            deleted = np.where(top, flat_b, flat_x).reshape(x.shape)
            inserted = np.where(top, flat_x, flat_b).reshape(x.shape)
        deletion[:, j] = probability(deleted)
        insertion[:, j] = probability(inserted)
    return deletion, insertion


def curve_auc(curves: np.ndarray, fractions: np.ndarray = FRACTIONS) -> np.ndarray:
    """Area under each curve (n, F) over ``fractions`` in [0, 1] (trapezoid rule): (n,)."""
    return np.trapezoid(curves, fractions, axis=1)


# ------------------------------------------------------------------------- plausibility
def window_masks(
    length: int, fs: float, r_index: int, windows_ms: dict[str, tuple[float, float]]
) -> dict[str, np.ndarray]:
    """Boolean (length,) masks of windows given in ms relative to the R peak at sample
    ``r_index`` of an input sampled at ``fs`` Hz (windows clipped to the input)."""
    t_ms = (np.arange(length) - r_index) * 1000.0 / fs
    return {k: (t_ms >= lo) & (t_ms < hi) for k, (lo, hi) in windows_ms.items()}


def window_shares(relevance: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per example, the share of the (non-negative) ``relevance`` (n, L) inside each mask
    (NaN for an all-zero map)."""
    rel = np.clip(np.asarray(relevance, dtype=np.float64), 0, None)
    total = rel.sum(axis=1)
    out = {}
    for name, mask in masks.items():
        inside = rel[:, mask].sum(axis=1)
        out[name] = np.divide(inside, total, out=np.full(len(rel), np.nan), where=total > 0)
    return out


# ---------------------------------------------------------------------------- stability
def max_sensitivity(
    explain_inputs: Callable[..., torch.Tensor],
    inputs: tuple[torch.Tensor, ...],
    n_perturb: int = 5,
    radius: float = SENSITIVITY_RADIUS,
    seed: int = 0,
    **kwargs: Any,
) -> np.ndarray:
    """Max-sensitivity per example (n,) with captum's ``sensitivity_max``: only the first
    input (the waveform) is perturbed, by U(-r s, r s) noise, s its own standard deviation.
    ``explain_inputs(inputs, **kwargs) -> ((n, ...) tensor,)`` (a 1-tuple: captum iterates
    over it; ``inputs``: a tuple, or the tensor when there is one); ``kwargs`` (e.g. ``target``) are
    expanded by captum."""
    from captum.metrics import sensitivity_max

    x = inputs[0]
    dims = tuple(range(1, x.dim()))

    def perturb(expanded):
        parts = expanded if isinstance(expanded, tuple) else (expanded,)
        first = parts[0]
        scale = first.std(dim=dims, keepdim=True) * radius
        noise = (torch.rand(first.shape, generator=gen) * 2 - 1) * scale
        moved = (first + noise.to(first.dtype), *parts[1:])
        return moved if len(moved) > 1 else moved[0]

    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        values = sensitivity_max(
            explain_inputs, inputs, perturb_func=perturb, n_perturb_samples=n_perturb, **kwargs
        )
    return values.detach().cpu().numpy().astype(np.float64)
