"""A 12-lead record on ECG paper with its relevance (``ecglens explain``).

Two kinds of maps (see :func:`ecglens.explain.attribute`):

- per lead, (12, T) (saliency, SmoothGrad, Integrated Gradients, occlusion, Shapley): each
  lead's trace is coloured by its own relevance, and a lead-by-segment heatmap below the paper
  (mean |relevance| per lead and ``SEGMENT_S`` seconds, aligned with the paper's time axis)
  shows which leads and which stretches carry it; the title names the most relevant leads;
- over time only, (T,) (Grad-CAM, the network's CAM): one shared band behind all leads, and
  the title says so.
"""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from ecglens.errors import EcgLensError
from ecglens.explain.explainers import BOTH, BOTH_PARTS, label_of
from ecglens.explain.recommended import Trust, measured_or, trust_of
from ecglens.explain.twelve_lead import explain_12lead
from ecglens.models.registry import LoadedModel
from ecglens.plot.paper import _CAL_WIDTH_MM, plot_ecg_paper
from ecglens.plot.style import close_figure, figure_to_png_bytes
from ecglens.plot.trust import mark_trust
from ecglens.predict.twelve_lead import Prediction12

DEFAULT_METHOD = BOTH  # when the model's explainer is unmeasured: CAM above Grad-CAM
SEGMENT_S = 0.5  # seconds per heatmap column
LEAD_RATIO = 0.75  # leads whose share is at least this fraction of the top share are named
MAX_NAMED_LEADS = 3
TRACE_QUANTILE = 0.99  # trace colours saturate at this quantile of |relevance|
HEATMAP_IN = 2.9  # inches added below the paper for the heatmap
SIGNED_TRACE_CMAP = "ecglens-signed-trace"
UNSIGNED_TRACE_CMAP = "ecglens-unsigned-trace"
BAND_CMAP = "YlOrRd"
SIGNED_BAND_CMAP = "RdBu_r"
HEATMAP_CMAP = "magma_r"


def _register_trace_cmaps() -> None:
    """Trace colours that stay visible on the pink paper: dark grey at no relevance, towards
    red for evidence for the class (and blue against it, for signed maps)."""
    maps = {
        SIGNED_TRACE_CMAP: ["#1f4fd1", "#6b8de6", "#333333", "#f07a3a", "#d7191c"],
        UNSIGNED_TRACE_CMAP: ["#333333", "#8c5a2b", "#f07a3a", "#d7191c"],
    }
    for name, colours in maps.items():
        if name not in colormaps:
            colormaps.register(LinearSegmentedColormap.from_list(name, colours))


def per_lead(relevance: np.ndarray, n_leads: int) -> bool:
    """True for a (n_leads, T) map (one per lead), False for a (T,) map over time only;
    anything else is an error."""
    rel = np.asarray(relevance)
    if rel.ndim == 1:
        return False
    if rel.ndim == 2 and rel.shape[0] == n_leads:
        return True
    raise EcgLensError(
        f"relevance must be (T,) over time or ({n_leads}, T) per lead, got shape {rel.shape}"
    )


def lead_shares(relevance: np.ndarray) -> np.ndarray:
    """Each lead's share of the total |relevance| of a (leads, T) map; (leads,), sums to 1
    (all zeros for an all-zero map)."""
    mass = np.abs(np.nan_to_num(np.asarray(relevance, dtype=float))).sum(axis=1)
    total = mass.sum()
    return mass / total if total > 0 else np.zeros_like(mass)


def most_relevant_leads(
    relevance: np.ndarray,
    lead_names: list[str],
    ratio: float = LEAD_RATIO,
    top: int = MAX_NAMED_LEADS,
) -> list[str]:
    """The leads holding the most |relevance| of a (leads, T) map: the top lead and those with
    at least ``ratio`` of its share, at most ``top``, most relevant first; [] for a zero map."""
    shares = lead_shares(relevance)
    if not shares.any():
        return []
    order = np.argsort(-shares, kind="stable")
    keep = [i for i in order if shares[i] >= ratio * shares[order[0]]][:top]
    return [lead_names[i] for i in keep]


def trace_colour_limit(relevance: np.ndarray, quantile: float = TRACE_QUANTILE) -> float:
    """The |relevance| at which trace colours saturate: its ``quantile`` over the record (so
    that a few sharp peaks do not leave every other sample grey), else its maximum, else 1."""
    mag = np.abs(np.nan_to_num(np.asarray(relevance, dtype=float))).ravel()
    for value in (np.quantile(mag, quantile) if mag.size else 0.0, mag.max(initial=0.0)):
        if value > 0:
            return float(value)
    return 1.0


def segment_relevance(relevance: np.ndarray, fs: float, segment_s: float = SEGMENT_S):
    """Mean |relevance| of a (leads, T) map per lead and ``segment_s``-second segment:
    ``(leads, n_segments)`` and the segment edges in seconds (n_segments + 1,)."""
    rel = np.abs(np.nan_to_num(np.asarray(relevance, dtype=float)))
    n = rel.shape[1]
    step = max(int(round(segment_s * fs)), 1)
    starts = np.arange(0, n, step)
    means = np.add.reduceat(rel, starts, axis=1) / np.diff(np.append(starts, n))
    return means, np.append(starts, n) / fs


def _title(pred: Prediction12, method: str, where: str) -> str:
    return (
        f"{pred.record}: {pred.label} ({_probability_text(pred)})  |  {method} for "
        f"{pred.explained_class}, {where}"
    )


def _probability_text(pred: Prediction12) -> str:
    if pred.binary:
        return f"P({pred.outputs[0]}) = {pred.probability:.2f}"
    return ", ".join(f"{c} {p:.2f}" for c, p in zip(pred.outputs, pred.probabilities, strict=True))


def _add_heatmap(
    fig: Figure, pred: Prediction12, relevance: np.ndarray, named: list[str], paper_speed: float
) -> None:
    """Grow ``fig`` (a paper printout) by :data:`HEATMAP_IN` at the bottom and draw the
    lead-by-segment heatmap there, its time axis under the paper's."""
    width_in, height_in = fig.get_size_inches()
    new_h = height_in + HEATMAP_IN
    boxes = [ax.get_position(original=True) for ax in fig.axes]  # before the resize
    fig.set_size_inches(width_in, new_h)
    for ax, pos in zip(fig.axes, boxes, strict=True):
        ax.set_position(
            (pos.x0, (pos.y0 * height_in + HEATMAP_IN) / new_h, pos.width,
             pos.height * height_in / new_h)
        )
    for text in fig.texts:
        x, y = text.get_position()
        text.set_position((x, (y * height_in + HEATMAP_IN) / new_h))
    paper = fig.axes[0]
    pos = paper.get_position(original=True)
    width_mm = paper.get_xlim()[1]
    x0 = pos.x0 + pos.width * _CAL_WIDTH_MM / width_mm
    duration = pred.signals.shape[1] / pred.fs
    span = pos.width * duration * paper_speed / width_mm
    ax = fig.add_axes((x0, 0.62 / new_h, span, (HEATMAP_IN - 1.0) / new_h))
    means, edges = segment_relevance(relevance, pred.fs)
    shares = lead_shares(relevance)
    mesh = ax.pcolormesh(
        edges, np.arange(len(pred.lead_names) + 1), means, cmap=HEATMAP_CMAP, vmin=0.0,
        shading="flat",
    )
    ax.set_ylim(len(pred.lead_names), 0)
    ax.set_yticks(np.arange(len(pred.lead_names)) + 0.5)
    ax.set_yticklabels(
        [f"{name} {100 * s:.0f}%" for name, s in zip(pred.lead_names, shares, strict=True)],
        fontsize=7,
    )
    for label, name in zip(ax.get_yticklabels(), pred.lead_names, strict=True):
        if name in named:
            label.set_fontweight("bold")
            label.set_color("#d7191c")
    ax.set_xlim(0.0, duration)
    ax.set_xlabel(
        "Time (s). Above, each lead of the 3 x 4 printout covers a quarter of the record and the "
        "rhythm strip shows the most relevant lead in full; trace colours saturate at the 99th "
        "percentile of |relevance|",
        fontsize=7,
    )
    ax.tick_params(labelsize=7)
    ax.set_title(
        f"Mean |relevance| per lead and {SEGMENT_S:g}-s segment (lead: its share of the total); "
        f"most relevant: {', '.join(named) or 'none'}",
        loc="left",
        fontsize=8,
    )
    cax = fig.add_axes((x0 + span + 0.01, 0.62 / new_h, 0.008, (HEATMAP_IN - 1.0) / new_h))
    fig.colorbar(mesh, cax=cax).ax.tick_params(labelsize=6)


def plot_12lead_relevance(
    pred: Prediction12,
    relevance: np.ndarray,
    method: str,
    paper_speed: float = 25.0,
    trust: Trust | None = None,
) -> Figure:
    """``pred``'s record on ECG paper with ``relevance`` in display form, titled with the
    prediction and ``method`` (e.g. "CAM", "Integrated Gradients").

    (T,): over time only, one translucent band behind every lead, [0, 1] (or [-1, 1] if
    signed). (12, T): each lead's trace coloured by its own relevance, plus a lead-by-segment
    heatmap of mean |relevance| under the paper; the title names the most relevant leads.
    ``trust`` (:func:`~ecglens.explain.recommended.trust_of`): how far the map can be
    trusted, written at the bottom.
    """
    rel = np.nan_to_num(np.asarray(relevance, dtype=float))
    signed = bool((rel < 0).any())
    limits = (-1.0, 1.0) if signed else (0.0, 1.0)
    if not per_lead(rel, len(pred.lead_names)):
        band = plot_ecg_paper(
            pred.signals,
            pred.fs,
            pred.lead_names,
            relevance=rel,
            overlay="background",
            cmap=SIGNED_BAND_CMAP if signed else BAND_CMAP,
            vmin=limits[0],
            vmax=limits[1],
            paper_speed=paper_speed,
            title=_title(pred, method, "over time only (same for all leads)"),
        )
        return mark_trust(band, trust)
    _register_trace_cmaps()
    n_samples = pred.signals.shape[1]
    if rel.shape[1] != n_samples:  # as the paper does: resample each lead's map to the record
        src, dst = np.linspace(0.0, 1.0, rel.shape[1]), np.linspace(0.0, 1.0, n_samples)
        rel = np.stack([np.interp(dst, src, r) for r in rel])
    named = most_relevant_leads(rel, pred.lead_names)
    top = trace_colour_limit(rel)
    fig = plot_ecg_paper(
        pred.signals,
        pred.fs,
        pred.lead_names,
        relevance=rel,
        overlay="line",
        cmap=SIGNED_TRACE_CMAP if signed else UNSIGNED_TRACE_CMAP,
        vmin=-top if signed else 0.0,
        vmax=top,
        paper_speed=paper_speed,
        rhythm_lead=named[0] if named else "II",
        title=_title(pred, method, f"per lead; most relevant: {', '.join(named) or 'none'}"),
    )
    _add_heatmap(fig, pred, rel, named, paper_speed)
    return mark_trust(fig, trust)


def plot_12lead_explanation(
    pred: Prediction12,
    loaded: LoadedModel,
    method: str | None = None,
    device: str | torch.device = "cpu",
    beats: list[int] | None = None,
    layer: str | None = None,
) -> Figure:
    """The record on ECG paper with the relevance of ``method``: an explainer of
    :func:`~ecglens.explain.twelve_lead.explain_12lead` ("cam", "grad-cam", per-lead ones such
    as "integrated-gradients"), or :data:`~ecglens.explain.explainers.BOTH` (CAM above
    Grad-CAM). Default: the model's measured recommended explainer, else "both". ``beats``
    and ``layer`` do not apply."""
    method = method or measured_or(loaded.name, DEFAULT_METHOD)
    if beats:
        raise EcgLensError("--beat applies to beat models; a 12-lead record is explained whole")
    if layer is not None:
        raise EcgLensError("--layer applies to beat models")
    if method != BOTH:
        maps = explain_12lead(pred, loaded, method, device=device)
        return plot_12lead_relevance(
            pred, maps, label_of(method), trust=trust_of(loaded.name, method)
        )
    panels = [plot_12lead_explanation(pred, loaded, part, device) for part in BOTH_PARTS]
    images = []
    for fig in panels:
        images.append(mpimg.imread(io.BytesIO(figure_to_png_bytes(fig, dpi=110)), format="png"))
        close_figure(fig)
    height = sum(img.shape[0] for img in images) / 110
    fig = Figure(figsize=(images[0].shape[1] / 110, height))
    for i, img in enumerate(images):
        ax = fig.add_axes((0, 1 - (i + 1) / len(images), 1, 1 / len(images)))
        ax.imshow(img)
        ax.set_axis_off()
    return fig
