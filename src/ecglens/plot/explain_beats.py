"""The explanation figure of classified beats, for a reader of ECGs.

Each explained beat is one row: on the left the beat as recorded (the raw lead in mV, time in
seconds from its R peak, its neighbours within ``CONTEXT_S`` on either side, each with its
predicted class), with the relevance drawn as a coloured band behind the span the model sees;
on the right, when it differs from the recording, the model's input itself (e.g. the beat
minus the record's median beat) with the same relevance. The row's title names the record,
beat index, time (h:mm:ss), predicted class with its probability, the reference label when
the record has annotations, and the uncertainty score.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ecglens.errors import EcgLensError
from ecglens.explain.beats import explain_beats
from ecglens.explain.explainers import explainers_for, label_of
from ecglens.explain.recommended import (
    Trust,
    explainer_summary,
    measured_or,
    model_explainers,
    trust_of,
)
from ecglens.inputs.beats import BeatConfig
from ecglens.models.registry import LoadedModel
from ecglens.plot.beats import (
    RELEVANCE_ALPHA,
    _draw_beat,
    normalize_attribution,
    relevance_band,
)
from ecglens.plot.style import apply_ecg_grid, class_color, new_figure
from ecglens.plot.trust import mark_trust
from ecglens.predict.beats import BeatPredictions, display_beat
from ecglens.predict.mi import MiPrediction

N_MI_BEATS = 3  # beats drawn by default for an MI prediction
CONTEXT_S = 1.5  # seconds of the recording drawn on either side of the explained R peak
DEFAULT_METHOD = explainers_for("beats")[0]  # when the model's explainer is unmeasured
TITLE_WIDTH = 100  # characters per line of a beat title, so that it stays above its own axes
# Read by the report modules under these names: an explainer's label, and the model's
# measured explainer else a fallback (both from ecglens.explain).
method_name = label_of
recommended_method = measured_or


def explainer_summary_of(model_name: str) -> dict[str, Any] | None:
    """The benchmark's summary for ``model_name`` (recommended explainer, why, deletion and
    insertion curves), or None while unmeasured."""
    return explainer_summary(model_name)


def format_clock(seconds: float) -> str:
    """``seconds`` from the record's start as h:mm:ss.s (e.g. 6.76 -> "0:00:06.8")."""
    tenths = int(round(max(float(seconds), 0.0) * 10))
    hours, rest = divmod(tenths, 36000)
    minutes, rest = divmod(rest, 600)
    return f"{hours}:{minutes:02d}:{rest // 10:02d}.{rest % 10}"


def input_axis_label(config: BeatConfig) -> str:
    """The y-axis label of the model's input waveform, with its unit."""
    if config.representation == "kachuee":
        return "Model input\n(0-1 over its 10-s window)"
    return {
        "record": "Model input: beat\n(\u00f7 record's median beat range)",
        "median-beat": "Model input: beat \u2212 median beat\n(\u00f7 median beat range)",
    }.get(config.normalize, "Model input (mV, filtered)")


def input_differs(config: BeatConfig) -> bool:
    """Whether the model's input is on another scale than the recording (then drawn apart)."""
    return config.representation == "kachuee" or config.normalize != "none"


def uncertainty_source(loaded: LoadedModel) -> str:
    """What the uncertainty score of ``loaded``'s predictions is (see
    :func:`ecglens.predict.beats.beat_probabilities`)."""
    from ecglens.predict.uncertainty import has_dropout

    passes = loaded.config.mc_samples
    if passes > 0 and has_dropout(loaded.module):
        return f"entropy of {passes} MC-dropout passes"
    if loaded.config.members:
        return f"entropy of the mean of {len(loaded.config.members)} members"
    return "entropy of the probabilities"


def beat_title(pred: BeatPredictions, i: int, uncertainty_label: str = "entropy") -> str:
    """Two-line title of beat ``i``: record, beat index, time (h:mm:ss.s), lead and morphology
    cluster (models with record context features); predicted class with its probability and
    where the label came from (the network, the rhythm rule or the cluster vote), the
    reference label when annotated, the uncertainty."""
    t = float(pred.sample[i]) / pred.fs
    k = int(np.argmax(pred.probabilities[i]))
    label = pred.classes[k]
    first = f"Record {pred.record}, beat {i} at {format_clock(t)} (lead {pred.lead}"
    first += ")" if pred.cluster is None else f", shape cluster {int(pred.cluster[i])})"
    parts = [f"predicted {label} (p = {float(pred.probabilities[i, k]):.3f})"]
    if pred.by_rhythm is not None and bool(pred.by_rhythm[i]):
        p = float(pred.probabilities[i, k])
        parts[0] = f"predicted {label} by the rhythm rule (network: N, p = {p:.3f})"
    if pred.by_cluster is not None and bool(pred.by_cluster[i]):
        p = float(pred.probabilities[i, k])
        parts[0] = f"predicted {label} by its cluster's vote (network: N, p = {p:.3f})"
    if pred.reference is not None:
        ref = int(pred.reference[i])
        if ref < 0:
            parts.append("no reference beat within 150 ms")
        else:
            agree = "" if ref == k else ", disagrees"
            parts.append(f"reference {pred.classes[ref]}{agree}")
    if pred.uncertainty is not None:
        u = float(pred.uncertainty[i])
        review = ""
        if pred.review_threshold is not None and u > pred.review_threshold:
            review = ", above the review threshold"
        parts.append(f"uncertainty {u:.3f} ({uncertainty_label}{review})")
    if pred.artifact is not None and bool(pred.artifact[i]):
        parts.append("in an unusable stretch")
    return first + "\n" + textwrap.fill("; ".join(parts), TITLE_WIDTH, break_long_words=False)


def _seconds_formatter() -> FuncFormatter:
    """Tick labels in seconds with one decimal ("-0.2", "0", "0.4")."""
    return FuncFormatter(lambda x, _pos: f"{round(x, 1):g}" if abs(x) > 1e-9 else "0")


def _relevance_span(n: int, config: BeatConfig) -> tuple[np.ndarray, np.ndarray]:
    """Sample centres (s from the R peak) of a beat map of ``n`` samples, and their edges."""
    fs = config.beat_fs
    t = (np.arange(n) - config.r_index) / fs
    half = 0.5 / fs
    return t, np.concatenate([[t[0] - half], (t[:-1] + t[1:]) / 2.0, [t[-1] + half]])


def draw_recorded_beat(
    ax: Axes,
    pred: BeatPredictions,
    i: int,
    relevance: np.ndarray,
    config: BeatConfig,
    signed: bool,
    context_s: float = CONTEXT_S,
) -> QuadMesh:
    """Beat ``i`` of ``pred`` as recorded (mV, s from its R peak, ``context_s`` either side,
    neighbours labelled) with ``relevance`` ((L,) over the model's input, already scaled to
    [0, 1] or [-1, 1]) behind the span the model sees; returns the band (for a colourbar)."""
    signal = np.asarray(pred.signal, dtype=float)
    r = int(pred.sample[i])
    half = int(round(context_s * pred.fs))
    i0, i1 = max(0, r - half), min(len(signal), r + half + 1)
    t = (np.arange(i0, i1) - r) / pred.fs
    segment = signal[i0:i1]
    finite = segment[np.isfinite(segment)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    span = max(hi - lo, 0.5)
    lo, hi = lo - 0.15 * span, hi + 0.35 * span  # room for the class letters at the top

    _, edges = _relevance_span(len(relevance), config)
    mesh = relevance_band(ax, edges, lo, hi, relevance, signed, zorder=1)
    for x in (edges[0], edges[-1]):
        ax.axvline(x, color="0.3", linestyle="--", linewidth=0.8, zorder=2)
    ax.text(
        edges[0],
        0.015,
        " model's window",
        transform=ax.get_xaxis_transform(),
        fontsize=7.5,
        color="0.25",
        va="bottom",
        zorder=5,
    )
    apply_ecg_grid(ax)
    ax.xaxis.set_major_formatter(_seconds_formatter())
    ax.plot(t, segment, color="black", linewidth=1.0, zorder=3)

    labels = pred.labels
    trans = ax.get_xaxis_transform()
    near = np.flatnonzero((pred.sample >= i0) & (pred.sample < i1))
    for k in near:
        x = (int(pred.sample[k]) - r) / pred.fs
        ax.text(
            x,
            0.97,
            labels[k],
            transform=trans,
            ha="center",
            va="top",
            color=class_color(labels[k]),
            fontsize=11 if k == i else 9,
            fontweight="bold" if k == i else "normal",
            zorder=5,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "black"}
            if k == i
            else None,
        )
    ax.set_xlim(t[0], t[-1])
    ax.set_ylim(lo, hi)
    ax.set_xlabel(f"Time from the R peak of beat {i} (s)")
    ax.set_ylabel(f"Lead {pred.lead} (mV)")
    return mesh


def plot_beats_with_relevance(
    pred: BeatPredictions,
    beats: Sequence[int],
    maps: np.ndarray,
    config: BeatConfig,
    method: str = DEFAULT_METHOD,
    uncertainty_label: str = "entropy",
    context_s: float = CONTEXT_S,
    show_input: bool | None = None,
    trust: Trust | None = None,
) -> Figure:
    """One row per beat of ``beats`` (0-based indices into ``pred``): the beat as recorded
    with its neighbours and the relevance ``maps`` ((len(beats), L) over the model's input,
    display form of ``method``), and the model's input beside it when ``show_input`` (default:
    when the input is on another scale than the recording, see :func:`input_differs`).

    Signed maps (any negative value) use a diverging colour map over [-1, 1]; others [0, 1].
    Axes: per row the recorded beat (its left title: :func:`beat_title`) and, if shown, the
    input; then one colourbar. ``trust`` (:func:`~ecglens.explain.recommended.trust_of`): how
    far the map can be trusted, written under the rows.
    """
    beats = [int(b) for b in beats]
    maps = np.asarray(maps, dtype=float)
    if not beats:
        raise EcgLensError("give at least one beat to draw")
    if maps.ndim != 2 or len(maps) != len(beats):
        raise EcgLensError(f"maps must be (n_beats, L) for {len(beats)} beats, got {maps.shape}")
    if min(beats) < 0 or max(beats) >= len(pred.sample):
        raise EcgLensError(
            f"beat index out of range: the record has {len(pred.sample)} beats (0-based)"
        )
    show_input = input_differs(config) if show_input is None else show_input
    signed = bool((np.nan_to_num(maps) < 0).any())
    n = len(beats)
    fig = new_figure(12.0 if show_input else 8.6, 3.3 * n + 0.3)
    grid = fig.add_gridspec(n, 2 if show_input else 1, width_ratios=[2.3, 1] if show_input else [1])
    mesh = None
    axes = []
    for row, (i, raw) in enumerate(zip(beats, maps, strict=True)):
        rel = normalize_attribution(raw, signed=signed)
        ax = fig.add_subplot(grid[row, 0])
        mesh = draw_recorded_beat(ax, pred, i, rel, config, signed, context_s)
        label = pred.labels[i]
        ax.set_title(beat_title(pred, i, uncertainty_label), loc="left", fontsize=10)
        axes.append(ax)
        if show_input:
            ax_in = fig.add_subplot(grid[row, 1])
            _draw_beat(
                ax_in,
                display_beat(pred.x[i]),
                rel,
                config.beat_fs,
                config.r_index,
                signed,
                input_axis_label(config),
            )
            middle = f", the middle of {config.context} beats" if config.context > 1 else ""
            ax_in.set_title(
                f"what the model sees{middle} (predicted {label})",
                loc="left",
                fontsize=9,
                color="0.25",
            )
            axes.append(ax_in)
    what = label_of(method)
    cbar = fig.colorbar(mesh, ax=axes, pad=0.01, fraction=0.03, aspect=25 * n)
    cbar.set_label(
        f"{what} (signed, \u00f7 max |relevance|)" if signed else f"{what} relevance (\u00f7 max)"
    )
    cbar.solids.set_alpha(RELEVANCE_ALPHA)
    return mark_trust(fig, trust)


def plot_beat_explanation(
    pred: BeatPredictions,
    loaded: LoadedModel,
    method: str | None = None,
    device: str | torch.device = "cpu",
    beats: list[int] | None = None,
    layer: str | None = None,
) -> Figure:
    """The chosen beats with their relevance for their predicted class: see
    :func:`plot_beats_with_relevance`.

    ``beats``: 0-based indices into ``pred``; ``method``: an explainer of
    :func:`ecglens.explain.attribute` (default: the model's measured recommended explainer,
    else its first explainer: CAM for networks that output one, else Grad-CAM); ``layer``:
    its conv layer.
    """
    if not beats:
        raise EcgLensError("give at least one --beat for a beat model")
    method = method or measured_or(loaded.name, model_explainers(loaded)[0])
    maps = explain_beats(pred, loaded, beats, layer=layer, method=method)
    if maps.ndim != 2:  # a per-lead map of a one-lead input: (n, 1, L)
        maps = maps.reshape(len(beats), -1)
    return plot_beats_with_relevance(
        pred,
        beats,
        maps,
        loaded.config.beats,
        method=method,
        uncertainty_label=uncertainty_source(loaded),
        trust=trust_of(loaded.name, method),
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
