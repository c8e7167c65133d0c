"""A 12-lead record on ECG paper with its CAM and/or Grad-CAM (``ecglens explain``)."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import torch
from matplotlib.figure import Figure

from ecglens.errors import EcgLensError
from ecglens.models.registry import LoadedModel
from ecglens.pipeline12 import Prediction12, explain_12lead
from ecglens.plot.paper import plot_ecg_paper
from ecglens.plot.style import close_figure, figure_to_png_bytes

METHODS = ("cam", "grad-cam", "both")


def _paper(pred: Prediction12, relevance, what: str) -> Figure:
    return plot_ecg_paper(
        pred.signals,
        pred.fs,
        pred.lead_names,
        relevance=relevance,
        title=f"{pred.record}: {pred.label} ({_probability_text(pred)}); {what} for "
        f"{pred.explained_class}",
    )


def _probability_text(pred: Prediction12) -> str:
    if pred.binary:
        return f"P(abnormal) = {pred.probability:.2f}"
    return ", ".join(f"{c} {p:.2f}" for c, p in zip(pred.outputs, pred.probabilities, strict=True))


def plot_12lead_explanation(
    pred: Prediction12,
    loaded: LoadedModel,
    method: str = "both",
    device: str | torch.device = "cpu",
) -> Figure:
    """The record on ECG paper with the network's CAM ("cam"), Grad-CAM ("grad-cam"), or
    both one above the other ("both")."""
    if method not in METHODS:
        raise EcgLensError(f"unknown method {method!r}; choose {', '.join(METHODS)}")
    if method == "cam":
        return _paper(pred, explain_12lead(pred, loaded, "cam"), "CAM (network output)")
    if method == "grad-cam":
        return _paper(pred, explain_12lead(pred, loaded, "grad-cam", device=device), "Grad-CAM")
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
