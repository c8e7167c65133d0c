"""A 12-lead record on ECG paper with its CAM and/or Grad-CAM (``ecglens explain``)."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import torch
from matplotlib.figure import Figure

from ecglens.errors import EcgLensError
from ecglens.explain.twelve_lead import explain_12lead
from ecglens.models.registry import LoadedModel
from ecglens.plot.paper import plot_ecg_paper
from ecglens.plot.style import close_figure, figure_to_png_bytes
from ecglens.predict.twelve_lead import Prediction12

METHODS = ("cam", "grad-cam", "both")


def plot_12lead_relevance(pred: Prediction12, relevance: np.ndarray, method: str) -> Figure:
    """``pred``'s record on ECG paper coloured by ``relevance`` ((T,) or (12, T) in [0, 1]),
    titled with the prediction and ``method`` (e.g. "CAM", "Grad-CAM")."""
    return plot_ecg_paper(
        pred.signals,
        pred.fs,
        pred.lead_names,
        relevance=relevance,
        vmin=0.0,
        vmax=1.0,
        title=f"{pred.record}: {pred.label} ({_probability_text(pred)})  |  {method} for "
        f"{pred.explained_class}",
    )


def _probability_text(pred: Prediction12) -> str:
    if pred.binary:
        return f"P({pred.outputs[0]}) = {pred.probability:.2f}"
    return ", ".join(f"{c} {p:.2f}" for c, p in zip(pred.outputs, pred.probabilities, strict=True))


def plot_12lead_explanation(
    pred: Prediction12,
    loaded: LoadedModel,
    method: str | None = "both",
    device: str | torch.device = "cpu",
    beats: list[int] | None = None,
    layer: str | None = None,
) -> Figure:
    """The record on ECG paper with the network's CAM ("cam"), Grad-CAM ("grad-cam"), or
    both one above the other ("both", also for None). ``beats`` and ``layer`` do not apply."""
    method = method or "both"
    if beats:
        raise EcgLensError("--beat applies to beat models; a 12-lead record is explained whole")
    if layer is not None:
        raise EcgLensError("--layer applies to beat models")
    if method not in METHODS:
        raise EcgLensError(f"unknown method {method!r}; choose {', '.join(METHODS)}")
    if method == "cam":
        return plot_12lead_relevance(pred, explain_12lead(pred, loaded, "cam"), "CAM")
    if method == "grad-cam":
        grad = explain_12lead(pred, loaded, "grad-cam", device=device)
        return plot_12lead_relevance(pred, grad, "Grad-CAM")
    panels = [
        plot_12lead_explanation(pred, loaded, "cam", device),
        plot_12lead_explanation(pred, loaded, "grad-cam", device),
    ]
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
