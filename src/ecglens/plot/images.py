"""An ECG printout with the Grad-CAM map of its prediction (``ecglens explain IMAGE``), and
which lead panel of the printout gets the most relevance.

Panel layout of the Mendeley printouts (3 rows x 4 columns of 2.5-s leads, then a 10-s
rhythm strip; 25 mm/s, 10 mm/mV), measured on all 928 files of 738 x 524 pixels:

* columns: the printer draws a vertical separator at x = 214.5, 378.5 and 542.5 px (found
  as 230-px vertical runs of pixels darker than 0.6, rows 140-370: both columns of each
  pair in 841 of 928 files, one of them in the rest); columns are 164 px wide (2.5 s at
  65.6 px/s), so the first starts at 50.5 px (after the calibration pulses at x = 32-48)
  and the last ends at 706.5 px (the traces end at x = 706 in every file);
* rows: the calibration pulses' baselines (their bottom edges: rows with 8+ pixels darker
  than 0.6 in x = 20-55) lie at y = 154, 254, 355 and 455 px in every file (some files
  also one row above); the bands are split halfway between them (204, 304.5, 405 px) and
  end at the grid's edges (94 and 506 px);
* leads: I, aVR, V1, V4 / II, aVL, V2, V5 / III, aVF, V3, V6 (the printed labels), and the
  rhythm strip (printed as lead II or III) across the fourth band. The margins left of
  50.5 px and right of 706.5 px (calibration pulses) belong to no panel.

Other printers or layouts have other geometry: the panel names then do not apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ecglens.errors import EcgLensError
from ecglens.explain.attribute import attribute
from ecglens.explain.display import for_display
from ecglens.explain.explainers import explainers_for
from ecglens.explain.gradcam import conv_layer_names
from ecglens.explain.recommended import Trust, trust_of
from ecglens.inputs.images import TRACE_BOTTOM, TRACE_TOP, crop_rows
from ecglens.models.images import ImageFusion
from ecglens.models.registry import LoadedModel
from ecglens.plot.trust import mark_trust
from ecglens.predict.images import ImagePrediction, input_config

PAGE_HEIGHT_PX = 524  # the dataset's copies
PAGE_WIDTH_PX = 738
PANEL_ROW_EDGES_PX = (94.0, 204.0, 304.5, 405.0, 506.0)  # y, page pixels
PANEL_COLUMN_EDGES_PX = (50.5, 214.5, 378.5, 542.5, 706.5)  # x, page pixels
LEAD_GRID = (
    ("I", "aVR", "V1", "V4"),
    ("II", "aVL", "V2", "V5"),
    ("III", "aVF", "V3", "V6"),
)
RHYTHM_STRIP = "rhythm strip"

OVERLAY_ALPHA = 0.45
OVERLAY_FLOOR = 0.05  # display relevance below this is not drawn
IMAGE_METHODS = explainers_for("image")  # the first is the default


@dataclass(frozen=True)
class Panel:
    """One lead panel: its name and edges as fractions of the trace area (0 = its top or
    left edge, 1 = its bottom or right edge)."""

    name: str
    top: float
    bottom: float
    left: float
    right: float


def _row_fraction(y_px: float) -> float:
    top, bottom = TRACE_TOP * PAGE_HEIGHT_PX, TRACE_BOTTOM * PAGE_HEIGHT_PX
    return (y_px - top) / (bottom - top)


def panels() -> list[Panel]:
    """The 12 lead panels (row by row) and the rhythm strip, in trace-area fractions."""
    rows = [_row_fraction(y) for y in PANEL_ROW_EDGES_PX]
    cols = [x / PAGE_WIDTH_PX for x in PANEL_COLUMN_EDGES_PX]
    out = [
        Panel(name, rows[r], rows[r + 1], cols[c], cols[c + 1])
        for r, names in enumerate(LEAD_GRID)
        for c, name in enumerate(names)
    ]
    out.append(Panel(RHYTHM_STRIP, rows[3], rows[4], cols[0], cols[-1]))
    return out


def panel_relevance(relevance: np.ndarray, cropped: bool = True) -> dict[str, dict[str, float]]:
    """Per panel: ``mean`` relevance (per pixel) and ``share`` of the map's total relevance,
    for a display map (H, W) >= 0 over the trace area (``cropped``) or the whole page."""
    relevance = np.asarray(relevance, dtype=np.float64)
    if relevance.ndim != 2:
        raise EcgLensError(f"expected a relevance map (H, W), got {relevance.shape}")
    if not cropped:
        relevance = crop_rows(relevance)
    h, w = relevance.shape
    total = float(relevance.sum())
    out = {}
    for p in panels():
        r0, r1 = round(p.top * h), max(round(p.bottom * h), round(p.top * h) + 1)
        c0, c1 = round(p.left * w), max(round(p.right * w), round(p.left * w) + 1)
        block = relevance[r0:r1, c0:c1]
        out[p.name] = {
            "mean": float(block.mean()) if block.size else 0.0,
            "share": float(block.sum() / total) if total > 0 else 0.0,
        }
    return out


def most_relevant_panel(relevance: np.ndarray, cropped: bool = True) -> str:
    """The panel with the highest mean relevance (ties: the first, row by row)."""
    scores = panel_relevance(relevance, cropped)
    return max(scores, key=lambda name: scores[name]["mean"])


def image_relevance(
    module: torch.nn.Module, x: torch.Tensor, target: int, layer: str | None = None
) -> np.ndarray:
    """Raw Grad-CAM (H, W) of class ``target`` for one input (1, C, H, W).

    ``layer`` given: at that layer. Otherwise at the last convolution; a probability
    fusion or committee: the mean of its members' maps; a feature fusion: the sum of the
    maps at each member's last convolution (its head weighs all of them).
    """
    if layer is not None:
        return attribute(module, x, target, "grad-cam", layer)[0]
    if isinstance(module, ImageFusion):
        if module.mode == "probabilities":
            maps = [image_relevance(m, x, target) for m in module.members]
            return np.mean(maps, axis=0).astype(np.float32)
        maps = [
            attribute(module, x, target, "grad-cam", f"members.{i}.{conv_layer_names(m)[-1]}")[0]
            for i, m in enumerate(module.members)
        ]
        return np.sum(maps, axis=0).astype(np.float32)
    return attribute(module, x, target, "grad-cam")[0]


def explain_image(
    pred: ImagePrediction,
    loaded: LoadedModel,
    device: str | torch.device = "cpu",
    layer: str | None = None,
    method: str = IMAGE_METHODS[0],
) -> np.ndarray:
    """The map of ``method`` (default Grad-CAM, see :func:`image_relevance`) for the
    predicted class in display form: (H, W) in [0, 1] at the model input's resolution (the
    trace area when the model crops)."""
    x = torch.as_tensor(pred.x[None], dtype=torch.float32).to(device)
    if method == "grad-cam":
        raw = image_relevance(loaded.module, x, pred.index, layer)
    else:
        raw = attribute(loaded.module, x, pred.index, method, layer)[0]
    return for_display(raw[None], method)[0]


def _check_options(method: str | None, beats: Sequence[int] | None) -> None:
    if beats:
        raise EcgLensError("--beat applies to beat models; an image is explained whole")
    if method not in (None, *IMAGE_METHODS):
        raise EcgLensError(
            f"unknown method {method!r} for image models; choose {', '.join(IMAGE_METHODS)}"
        )


def plot_image_explanation(
    pred: ImagePrediction,
    loaded: LoadedModel,
    method: str | None = None,
    device: str | torch.device = "cpu",
    beats: Sequence[int] | None = None,
    layer: str | None = None,
) -> Figure:
    """The printout with the Grad-CAM map of the predicted class over it, the panels
    outlined and the most relevant one drawn thick; titled with the file, label and
    probability. ``method``: None (Grad-CAM) or one of ``IMAGE_METHODS``; ``beats`` do not
    apply."""
    _check_options(method, beats)
    relevance = explain_image(pred, loaded, device, layer, method or IMAGE_METHODS[0])
    config = input_config(loaded)
    return plot_relevance_on_page(
        pred,
        pred.page_image(),
        relevance,
        config.crop,
        trust=trust_of(loaded.name, method or IMAGE_METHODS[0]),
    )


def plot_relevance_on_page(
    pred: ImagePrediction,
    page: np.ndarray,
    relevance: np.ndarray,
    cropped: bool = True,
    trust: Trust | None = None,
) -> Figure:
    """``page`` (3, H, W) in [0, 1] with ``relevance`` (h, w) in [0, 1] over its trace area
    (``cropped``) or all of it; ``trust`` (:func:`~ecglens.explain.recommended.trust_of`):
    how far the map can be trusted, written under it."""
    height, width = page.shape[-2:]
    top = round(TRACE_TOP * height) if cropped else 0
    bottom = round(TRACE_BOTTOM * height) if cropped else height
    best = most_relevant_panel(relevance, cropped)
    fig = Figure(figsize=(10, 10 * height / width + 0.6), layout="constrained", facecolor="white")
    ax = fig.add_subplot()
    ax.imshow(page.transpose(1, 2, 0), extent=(0, width, height, 0), interpolation="antialiased")
    shown = np.ma.masked_less(relevance, OVERLAY_FLOOR)
    overlay = ax.imshow(
        shown, cmap="jet", vmin=0.0, vmax=1.0, alpha=OVERLAY_ALPHA,
        extent=(0, width, bottom, top), interpolation="bilinear",
    )  # fmt: skip
    area_top = round(TRACE_TOP * height)
    area_height = round(TRACE_BOTTOM * height) - area_top
    for p in panels():
        x0, y0 = p.left * width, area_top + p.top * area_height
        box = Rectangle(
            (x0, y0), (p.right - p.left) * width, (p.bottom - p.top) * area_height,
            fill=False, edgecolor="black" if p.name == best else "#7f7f7f",
            linewidth=2.5 if p.name == best else 0.5, linestyle="-" if p.name == best else ":",
        )  # fmt: skip
        ax.add_patch(box)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    ax.set_title(
        f"{pred.record}: {pred.label} (P = {pred.probability:.2f})  |  Grad-CAM for "
        f"{pred.label}; most relevant panel: {best}",
        fontsize=10,
    )
    fig.colorbar(overlay, ax=ax, shrink=0.6, label="relevance (Grad-CAM, scaled to max 1)")
    return mark_trust(fig, trust)
