"""A rhythm strip of a long recording with each beat's predicted (and reference) class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ecglens.plot.style import apply_ecg_grid, class_color, class_sort_key, new_figure

BAND_HALF_WIDTH_S = 0.06
PRED_LETTER_Y = 0.95
MISMATCH_MARK_Y = 0.86
REF_LETTER_Y = 0.04
MINOR_GRID_MAX_S = 20.0


def plot_record_strip(
    signal: np.ndarray,
    fs: float,
    peaks: Sequence[int] | np.ndarray,
    labels: Sequence[str] | np.ndarray,
    start_s: float = 0.0,
    duration_s: float = 10.0,
    reference_labels: Sequence[str] | np.ndarray | None = None,
    title: str | None = None,
    grid: bool = True,
    unusable: Sequence[tuple[float, float]] = (),
    highlight: int | None = None,
    reason: str | None = None,
) -> Figure:
    """A ``duration_s`` window from ``start_s`` (seconds) of a 1-D recording in mV.

    ``fs`` is in Hz; ``peaks`` are R-peak sample indices into the whole ``signal`` and
    ``labels`` their predicted class names. Each beat in the window gets a band, a
    marker and a letter above it in its class colour. Where ``reference_labels`` are
    given and differ, a black cross sits under the predicted letter and the reference
    letter is written in black along the bottom. Only the window is drawn, so this is
    cheap on long recordings. ``grid`` adds a light ECG-paper grid. ``unusable``: stretches
    ``(start_s, end_s)`` of unreadable signal (see :mod:`ecglens.signal.quality`), shaded grey
    and marked "unusable". ``highlight``: index into ``peaks`` of a beat to ring (the beat the
    strip was chosen for); ``reason``: why this window is shown, put before the default title.
    One axes.
    """
    signal = np.asarray(signal, dtype=float)
    if signal.ndim != 1:
        raise ValueError(f"signal must be 1-D (one lead), got shape {signal.shape}")
    if fs <= 0:
        raise ValueError(f"sampling rate must be positive, got {fs}")
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    peaks = np.asarray(peaks, dtype=np.int64).ravel()
    labels = [str(x) for x in np.asarray(labels, dtype=object).ravel()]
    if len(labels) != peaks.size:
        raise ValueError(f"got {peaks.size} peaks but {len(labels)} labels")
    refs = None
    if reference_labels is not None:
        refs = [str(x) for x in np.asarray(reference_labels, dtype=object).ravel()]
        if len(refs) != peaks.size:
            raise ValueError(f"got {peaks.size} peaks but {len(refs)} reference labels")

    i0 = max(0, round(start_s * fs))
    i1 = min(signal.size, i0 + round(duration_s * fs))
    if i0 >= signal.size or i1 - i0 < 2:
        raise ValueError(
            f"window {start_s:g}-{start_s + duration_s:g} s is outside the recording "
            f"({signal.size / fs:g} s)"
        )
    t = np.arange(i0, i1) / fs
    segment = signal[i0:i1]
    finite = segment[np.isfinite(segment)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    span = max(hi - lo, 0.5)
    lo, hi = lo - 0.25 * span, hi + 0.35 * span

    shown = t[-1] - t[0]
    fig = new_figure(min(max(8.0, 1.25 * shown + 1.5), 22.0), 3.4)
    ax = fig.add_subplot()
    if grid:
        apply_ecg_grid(ax, minor=shown <= MINOR_GRID_MAX_S)
    ax.plot(t, segment, color="black", linewidth=0.9, zorder=3)
    for a, b in unusable:
        if b > t[0] and a < t[-1]:
            ax.axvspan(max(a, t[0]), min(b, t[-1]), color="0.6", alpha=0.35, zorder=1, lw=0)
            ax.text(max(a, t[0]), 0.02, " unusable", transform=ax.get_xaxis_transform(),
                    fontsize=8, color="0.3", va="bottom")

    trans = ax.get_xaxis_transform()
    in_window = np.flatnonzero((peaks >= i0) & (peaks < i1))
    present: dict[str, None] = {}
    n_mismatch = 0
    if in_window.size:
        ax.scatter(
            peaks[in_window] / fs,
            signal[peaks[in_window]],
            s=22,
            zorder=4,
            c=[class_color(labels[k]) for k in in_window],
            edgecolors="white",
            linewidths=0.5,
        )
    for k in in_window:
        p, name = int(peaks[k]), labels[k]
        x = p / fs
        colour = class_color(name)
        present[name] = None
        ax.axvspan(
            x - BAND_HALF_WIDTH_S,
            x + BAND_HALF_WIDTH_S,
            color=colour,
            alpha=0.18,
            linewidth=0,
            zorder=1,
        )
        ax.text(
            x,
            PRED_LETTER_Y,
            name,
            transform=trans,
            ha="center",
            va="top",
            color=colour,
            fontsize=11,
            fontweight="bold",
            zorder=5,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "black"}
            if highlight is not None and k == highlight
            else None,
        )
        if refs is not None and refs[k] != name:
            n_mismatch += 1
            ax.plot(
                [x],
                [MISMATCH_MARK_Y],
                transform=trans,
                marker="x",
                markersize=7,
                markeredgewidth=1.8,
                color="black",
                linestyle="none",
                zorder=5,
            )
            ax.text(
                x,
                REF_LETTER_Y,
                refs[k],
                transform=trans,
                ha="center",
                va="bottom",
                color="black",
                fontsize=10,
                fontweight="bold",
                zorder=5,
            )

    ax.set_xlim(t[0], t[-1])
    ax.set_ylim(lo, hi)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Amplitude (mV)")
    if title is None:
        title = f"{t[0]:.1f}-{t[-1]:.1f} s ({in_window.size} beats)"
        if refs is not None:
            title += f", {n_mismatch} disagree with the reference"
        if reason:
            title = f"{reason}\n{title}"
    ax.set_title(title, loc="left", fontsize=11)

    handles: list[Patch | Line2D] = [
        Patch(facecolor=class_color(c), alpha=0.6, label=c)
        for c in sorted(present, key=class_sort_key)
    ]
    if refs is not None and n_mismatch:
        handles.append(
            Line2D(
                [],
                [],
                marker="x",
                color="black",
                linestyle="none",
                markeredgewidth=1.8,
                label="mismatch (reference below)",
            )
        )
    if handles:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.005, 1.0),
            frameon=False,
            fontsize=9,
            title="predicted",
            title_fontsize=9,
        )
    return fig
