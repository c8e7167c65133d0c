"""The explanation figure of classified beats: each chosen beat with its relevance."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from ecglens.errors import EcgLensError
from ecglens.explain.beats import explain_beats
from ecglens.inputs.beats import BeatConfig
from ecglens.models.registry import LoadedModel
from ecglens.plot.beats import plot_beat_attribution, plot_beat_grid
from ecglens.predict.beats import BeatPredictions, display_beat
from ecglens.predict.mi import MiPrediction

N_MI_BEATS = 3  # beats drawn by default for an MI prediction


def plot_beat_explanation(
    pred: BeatPredictions,
    loaded: LoadedModel,
    method: str | None = None,
    device: str | torch.device = "cpu",
    beats: list[int] | None = None,
    layer: str | None = None,
) -> Figure:
    """One beat with its relevance, probabilities and title, or a grid of several beats.

    ``beats``: 0-based indices into ``pred``; ``method``: an explainer of
    :func:`ecglens.explain.attribute` (default Grad-CAM); ``layer``: its conv layer.
    """
    if not beats:
        raise EcgLensError("give at least one --beat for a beat model")
    method = method or "grad-cam"
    maps = explain_beats(pred, loaded, beats, layer=layer, method=method)
    config = BeatConfig(**loaded.config["beats"])
    labels = pred.labels
    if len(beats) == 1:
        i = beats[0]
        probs = dict(zip(pred.classes, map(float, pred.probabilities[i]), strict=True))
        return plot_beat_attribution(
            display_beat(pred.x[i]),
            maps[0],
            config.beat_fs,
            label=labels[i],
            probabilities=probs,
            title=f"{pred.record} beat {i} at {pred.sample[i] / pred.fs:.2f} s",
            r_index=config.r_index,
            amplitude_label=config.amplitude_label,
        )
    return plot_beat_grid(
        [display_beat(b) for b in pred.x[beats]],
        maps,
        [labels[i] for i in beats],
        config.beat_fs,
        r_index=config.r_index,
        amplitude_label=config.amplitude_label,
    )


def plot_mi_explanation(
    pred: MiPrediction,
    loaded: LoadedModel,
    method: str | None = None,
    device: str | torch.device = "cpu",
    beats: list[int] | None = None,
    layer: str | None = None,
) -> Figure:
    """Beats of an MI prediction with their relevance for their own predicted class;
    default: the three beats that speak most for the record's label."""
    if not beats:
        p = pred.beat_probability if pred.label == "MI" else 1 - pred.beat_probability
        beats = sorted(np.argsort(-p, kind="stable")[:N_MI_BEATS].tolist())
    return plot_beat_explanation(pred.beats, loaded, method, device, beats, layer)
