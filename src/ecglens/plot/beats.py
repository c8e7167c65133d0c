"""Single beats with their Grad-CAM / saliency relevance drawn behind the waveform."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure

from ecglens.plot.style import class_color, new_figure

UNSIGNED_CMAP = "YlOrRd"
SIGNED_CMAP = "RdBu_r"
RELEVANCE_ALPHA = 0.6


def normalize_attribution(attribution: np.ndarray, signed: bool | None = None) -> np.ndarray:
    """Scale an attribution for display: to [0, 1] if non-negative, to [-1, 1] if signed.

    ``signed=None`` decides from the data (any negative value means signed).
    NaN/inf become 0; an all-zero attribution stays all zero.
    """
    a = np.nan_to_num(np.asarray(attribution, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    if signed is None:
        signed = bool((a < 0).any())
    if not signed:
        a = np.clip(a, 0.0, None)
    scale = float(np.abs(a).max()) if a.size else 0.0
    return a / scale if scale > 0 else np.zeros_like(a)


def _time_ms(n: int, fs: float, r_index: int | None) -> np.ndarray:
    if fs <= 0:
        raise ValueError(f"sampling rate must be positive, got {fs}")
    return (np.arange(n) - (r_index or 0)) * 1000.0 / fs


def _check_beat(beat: np.ndarray, attribution: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    beat = np.asarray(beat, dtype=float)
    attribution = np.asarray(attribution, dtype=float)
    if beat.ndim != 1 or beat.size < 2:
        raise ValueError(f"beat must be 1-D with at least 2 samples, got shape {beat.shape}")
    if attribution.shape != beat.shape:
        raise ValueError(
            f"attribution shape {attribution.shape} does not match beat shape {beat.shape}"
        )
    return beat, attribution


def relevance_band(
    ax: Axes,
    edges: np.ndarray,
    lo: float,
    hi: float,
    relevance: np.ndarray,
    signed: bool,
    zorder: float = 0,
) -> QuadMesh:
    """Relevance (L,) in [-1, 1] (``signed``) or [0, 1] drawn as a coloured band from ``lo`` to
    ``hi`` over the L cells between ``edges`` (L + 1,); returns it (for a colourbar)."""
    return ax.pcolormesh(
        edges,
        [lo, hi],
        np.asarray(relevance, dtype=float)[np.newaxis, :],
        cmap=SIGNED_CMAP if signed else UNSIGNED_CMAP,
        vmin=-1.0 if signed else 0.0,
        vmax=1.0,
        alpha=RELEVANCE_ALPHA,
        shading="flat",
        edgecolors="none",
        linewidth=0,
        rasterized=True,
        zorder=zorder,
    )


def _draw_beat(
    ax: Axes,
    beat: np.ndarray,
    attribution: np.ndarray,
    fs: float,
    r_index: int | None,
    signed: bool,
    amplitude_label: str = "Amplitude (mV)",
) -> QuadMesh:
    """Relevance strip behind the beat on ``ax``; returns the strip (for a colourbar)."""
    t = _time_ms(beat.size, fs, r_index)
    half = 500.0 / fs
    edges = np.concatenate([[t[0] - half], (t[:-1] + t[1:]) / 2.0, [t[-1] + half]])
    finite = beat[np.isfinite(beat)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    pad = max(0.1 * (hi - lo), 0.05)
    lo, hi = lo - pad, hi + pad
    rel = normalize_attribution(attribution, signed=signed)
    mesh = relevance_band(ax, edges, lo, hi, rel, signed, zorder=0)
    ax.plot(t, beat, color="black", linewidth=1.3, zorder=2)
    if r_index is not None:
        ax.axvline(0.0, color="0.35", linestyle=":", linewidth=0.9, zorder=1)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(lo, hi)
    ax.set_xlabel("Time from R peak (ms)" if r_index is not None else "Time (ms)")
    ax.set_ylabel(amplitude_label)
    ax.grid(color="white", alpha=0.5, linewidth=0.5)
    return mesh


def _probability_box(ax: Axes, probabilities: Mapping[str, float], top: int = 5) -> None:
    ranked = sorted(probabilities.items(), key=lambda kv: float(kv[1]), reverse=True)[:top]
    width = max(len(str(name)) for name, _ in ranked)
    lines = [f"{str(name):<{width}} {100.0 * float(p):5.1f}%" for name, p in ranked]
    ax.text(
        0.985,
        0.97,
        "\n".join(lines),
        transform=ax.transAxes,
        ha="right",
        va="top",
        family="monospace",
        fontsize=8.5,
        zorder=5,
        bbox={"boxstyle": "round,pad=0.35", "facecolor": "white", "edgecolor": "0.6", "alpha": 0.9},
    )


def _label_title(ax: Axes, label: str | None, title: str | None) -> None:
    if title is not None:
        ax.set_title(title, fontsize=11, loc="left")
    elif label is not None:
        ax.set_title(f"Predicted class {label}", fontsize=11, loc="left", color=class_color(label))


def plot_beat_attribution(
    beat: np.ndarray,
    attribution: np.ndarray,
    fs: float,
    label: str | None = None,
    probabilities: Mapping[str, float] | None = None,
    title: str | None = None,
    r_index: int | None = None,
    amplitude_label: str = "Amplitude (mV)",
) -> Figure:
    """One beat (mV, shape (L,)) over its relevance (shape (L,)) as a coloured background.

    ``fs`` is the sampling rate in Hz; time is in ms, relative to sample ``r_index``
    (the R peak) when given. The attribution is scaled to [0, 1] (or [-1, 1] if it has
    negative values) for display. ``probabilities`` maps class names to probabilities
    (0-1) and is shown as a small table. The figure has two axes: the beat and the
    "relevance" colourbar.
    """
    beat, attribution = _check_beat(beat, attribution)
    fig = new_figure(6.4, 3.4)
    ax = fig.add_subplot()
    signed = bool((np.nan_to_num(attribution) < 0).any())
    mesh = _draw_beat(ax, beat, attribution, fs, r_index, signed, amplitude_label)
    cbar = fig.colorbar(mesh, ax=ax, pad=0.02, fraction=0.05)
    cbar.set_label("relevance (signed)" if signed else "relevance")
    cbar.solids.set_alpha(RELEVANCE_ALPHA)
    if probabilities:
        _probability_box(ax, probabilities)
    _label_title(ax, label, title)
    return fig


def plot_beat_grid(
    beats: Sequence[np.ndarray] | np.ndarray,
    attributions: Sequence[np.ndarray] | np.ndarray,
    labels: Sequence[str | None],
    fs: float,
    ncols: int = 3,
    probabilities: Sequence[Mapping[str, float] | None] | None = None,
    r_index: int | Sequence[int | None] | None = None,
    titles: Sequence[str | None] | None = None,
    amplitude_label: str = "Amplitude (mV)",
) -> Figure:
    """A grid of beats with relevance backgrounds, e.g. one example per predicted class.

    ``beats`` and ``attributions``: n arrays (or an (n, L) array) in mV and relevance;
    ``labels``: n class names (titles coloured by class); ``fs`` in Hz. ``r_index``
    is one R-peak sample index for all beats or one per beat. All panels share one
    "relevance" colourbar, so the figure has n + 1 axes.
    """
    n = len(beats)
    if n == 0:
        raise ValueError("plot_beat_grid needs at least one beat")
    if len(attributions) != n or len(labels) != n:
        raise ValueError(
            f"got {n} beats, {len(attributions)} attributions and {len(labels)} labels"
        )
    if probabilities is not None and len(probabilities) != n:
        raise ValueError(f"got {n} beats but {len(probabilities)} probability entries")
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {n} beats but {len(titles)} titles")
    r_indices = [r_index] * n if r_index is None or np.ndim(r_index) == 0 else list(r_index)
    if len(r_indices) != n:
        raise ValueError(f"got {n} beats but {len(r_indices)} R-peak indices")
    checked = [_check_beat(b, a) for b, a in zip(beats, attributions, strict=True)]
    signed = any(bool((np.nan_to_num(a) < 0).any()) for _, a in checked)

    ncols = max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)
    fig = new_figure(3.6 * ncols + 0.8, 2.7 * nrows + 0.3)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    mesh = None
    for i, ((beat, attribution), ax) in enumerate(zip(checked, axes, strict=False)):
        mesh = _draw_beat(ax, beat, attribution, fs, r_indices[i], signed, amplitude_label)
        if probabilities is not None and probabilities[i]:
            _probability_box(ax, probabilities[i], top=3)
        _label_title(ax, labels[i], None if titles is None else titles[i])
        if i % ncols:
            ax.set_ylabel("")
        if i < n - ncols:
            ax.set_xlabel("")
    for ax in axes[n:]:
        ax.remove()
    cbar = fig.colorbar(mesh, ax=list(axes[:n]), pad=0.01, fraction=0.04, aspect=30)
    cbar.set_label("relevance (signed)" if signed else "relevance")
    cbar.solids.set_alpha(RELEVANCE_ALPHA)
    return fig
