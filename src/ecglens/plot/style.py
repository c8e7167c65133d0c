"""Shared look of every ecglens figure: class colours, ECG grid, saving and embedding.

Figures are built with the object API (``matplotlib.figure.Figure``), never through
pyplot's global state, so they render headless and are garbage-collected normally.
"""

from __future__ import annotations

import base64
import io
import os
import sys
import zlib
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

from ecglens._atomic import atomic_write

CLASS_COLORS: dict[str, str] = {
    "N": "#6b8f71",  # normal: muted grey-green
    "S": "#f28e2b",  # supraventricular ectopic: orange
    "V": "#d62728",  # ventricular ectopic: red
    "F": "#8e44ad",  # fusion: purple
    "Q": "#2f7fc1",  # unclassifiable / paced: blue
}
"""Colour of each AAMI beat class, used identically in every figure."""

FALLBACK_COLORS: tuple[str, ...] = (
    "#17becf",
    "#bcbd22",
    "#8c564b",
    "#e377c2",
    "#1f3a93",
    "#7f7f7f",
    "#2ca02c",
    "#ff9896",
)
"""Palette for class names outside :data:`CLASS_COLORS` (picked by a stable hash)."""

ECG_GRID_MAJOR = "#f2a7a7"
ECG_GRID_MINOR = "#fbdede"
SAVE_FORMATS = ("png", "svg", "pdf")


def use_headless_backend() -> None:
    """Select the Agg backend unless pyplot is already in use or ``MPLBACKEND`` is set."""
    if "matplotlib.pyplot" in sys.modules or os.environ.get("MPLBACKEND"):
        return
    try:
        matplotlib.use("Agg")
    except (ImportError, ValueError):
        return


use_headless_backend()


def class_color(name: object) -> str:
    """Hex colour of a class name; unknown names get a stable colour from the fallback palette."""
    key = str(name)
    if key in CLASS_COLORS:
        return CLASS_COLORS[key]
    return FALLBACK_COLORS[zlib.crc32(key.encode("utf-8")) % len(FALLBACK_COLORS)]


def class_sort_key(name: object) -> tuple[int, str]:
    """Sort key putting AAMI classes first in N, S, V, F, Q order, then others by name."""
    order = list(CLASS_COLORS)
    key = str(name)
    return (order.index(key), "") if key in order else (len(order), key)


def new_figure(width: float, height: float) -> Figure:
    """A white figure of ``width`` x ``height`` inches with constrained layout."""
    fig = Figure(figsize=(width, height), layout="constrained", facecolor="white")
    return fig


MAX_GRID_LINES = 400  # more lines than this on an axis: plain ticks instead of ECG paper


class PaperLocator(MultipleLocator):
    """ECG-paper ticks every ``base``; an axis that would need more than ``MAX_GRID_LINES``
    of them (a signal in uV drawn as mV, a long strip) gets a few plain ticks (major) or none
    (minor) instead of thousands."""

    def __init__(self, base: float, minor: bool = False) -> None:
        super().__init__(base)
        self._base_step, self._minor = base, minor

    def tick_values(self, vmin: float, vmax: float):
        if abs(vmax - vmin) / self._base_step > MAX_GRID_LINES:
            return [] if self._minor else MaxNLocator(8).tick_values(vmin, vmax)
        return super().tick_values(vmin, vmax)


def apply_ecg_grid(ax: Axes, minor: bool = True) -> None:
    """Light ECG-paper grid: major lines every 0.2 s / 0.5 mV, minor every 0.04 s / 0.1 mV.

    The x axis must be in seconds and the y axis in mV. Time ticks are labelled
    every whole second only, so long strips stay readable.
    """
    ax.xaxis.set_major_locator(PaperLocator(0.2))
    ax.yaxis.set_major_locator(PaperLocator(0.5))
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda x, _pos: f"{x:g}" if abs(x - round(x)) < 1e-6 else "")
    )
    ax.grid(which="major", color=ECG_GRID_MAJOR, linewidth=0.6)
    if minor:
        ax.xaxis.set_minor_locator(PaperLocator(0.04, minor=True))
        ax.yaxis.set_minor_locator(PaperLocator(0.1, minor=True))
        ax.grid(which="minor", color=ECG_GRID_MINOR, linewidth=0.3)
    ax.tick_params(which="both", length=0)
    ax.set_axisbelow(True)


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` atomically to ``path`` (format from the suffix: .png, .svg or .pdf).

    The figure goes to a temporary file in the same folder, renamed onto ``path``
    only once complete, so a reader never sees a half-written image.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in SAVE_FORMATS:
        raise ValueError(f"{path}: unsupported figure format {fmt!r}; use one of {SAVE_FORMATS}")

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format=fmt, dpi=dpi, facecolor="white")

    return atomic_write(path, write)


def figure_to_png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def figure_to_base64_png(fig: Figure, dpi: int = 110) -> str:
    """The figure as a base64 (ASCII) PNG string, without a ``data:`` prefix."""
    return base64.b64encode(figure_to_png_bytes(fig, dpi=dpi)).decode("ascii")


def close_figure(fig: Figure) -> None:
    """Release a figure; also unregisters it from pyplot if pyplot created it."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
    fig.clear()
