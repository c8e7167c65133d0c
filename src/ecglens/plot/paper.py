"""Render a 12-lead ECG as a standard paper printout, optionally coloured by relevance.

Layout: three rows of four columns (I, aVR, V1, V4 / II, aVL, V2, V5 / III, aVF, V3, V6), each
column a consecutive quarter of the record (2.5 s of a 10-s ECG), then a full-length rhythm
strip (lead II). Millimetre grid (1 mm minor, 5 mm major lines), 1 mV calibration pulse at each
row start, physical scale ``paper_speed`` mm/s and ``gain`` mm/mV: the figure is sized so that
1 mm of grid is 1 mm of the saved image at its nominal size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ecglens.errors import EcgLensError

LAYOUT_3X4: tuple[tuple[str, ...], ...] = (
    ("I", "aVR", "V1", "V4"),
    ("II", "aVL", "V2", "V5"),
    ("III", "aVF", "V3", "V6"),
)
MM_PER_INCH = 25.4
_CAL_WIDTH_MM = 10.0
_MARGIN_MM = 8.0
_TITLE_MM = 10.0
_COLORBAR_MM = 18.0
_BACKGROUND = "#fff6f6"
_MINOR = "#f6c4c4"
_MAJOR = "#e58c8c"


def _as_leads_first(a: np.ndarray, n_leads: int, what: str) -> np.ndarray:
    """(leads, T) view of ``a`` given as (leads, T) or (T, leads)."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise EcgLensError(f"{what} must be (leads, T) or (T, leads), got shape {a.shape}")
    if a.shape[0] == n_leads:
        return a
    if a.shape[1] == n_leads:
        return a.T
    raise EcgLensError(f"{what} has shape {a.shape} but {n_leads} lead names were given")


def _relevance_per_lead(relevance: np.ndarray, n_leads: int, n_samples: int) -> np.ndarray:
    """(leads, n_samples) relevance; a (T,) map is shared by all leads, other lengths resampled."""
    rel = np.asarray(relevance, dtype=np.float64)
    rel = np.broadcast_to(rel, (n_leads, rel.shape[0])) if rel.ndim == 1 else rel
    rel = _as_leads_first(rel, n_leads, "relevance")
    if rel.shape[1] != n_samples:
        src = np.linspace(0.0, 1.0, rel.shape[1])
        dst = np.linspace(0.0, 1.0, n_samples)
        rel = np.stack([np.interp(dst, src, r) for r in rel])
    return rel


def _whole_squares(mm: float) -> float:
    """``mm`` rounded up to a whole number of 5-mm squares."""
    return 5.0 * math.ceil(mm / 5.0 - 1e-9)


def _draw_grid(ax: Axes, width: float, height: float) -> None:
    def lines(step: float, skip: float | None) -> list[list[tuple[float, float]]]:
        segs = []
        for x in np.arange(0.0, width + 1e-9, step):
            if skip is None or abs(x / skip - round(x / skip)) > 1e-6:
                segs.append([(x, 0.0), (x, height)])
        for y in np.arange(0.0, height + 1e-9, step):
            if skip is None or abs(y / skip - round(y / skip)) > 1e-6:
                segs.append([(0.0, y), (width, y)])
        return segs

    ax.add_collection(LineCollection(lines(1.0, 5.0), colors=_MINOR, linewidths=0.3, zorder=0))
    ax.add_collection(LineCollection(lines(5.0, None), colors=_MAJOR, linewidths=0.7, zorder=1))


def _calibration_pulse(ax: Axes, baseline: float, gain: float, paper_speed: float) -> None:
    pulse = 0.2 * paper_speed  # 200 ms wide
    x = [1.0, 3.0, 3.0, 3.0 + pulse, 3.0 + pulse, _CAL_WIDTH_MM - 1.0]
    y = [baseline, baseline, baseline + gain, baseline + gain, baseline, baseline]
    ax.plot(x, y, color="black", linewidth=0.8, zorder=4, solid_joinstyle="miter")


def _draw_trace(
    ax: Axes,
    x_mm: np.ndarray,
    y_mm: np.ndarray,
    rel: np.ndarray | None,
    norm: Normalize,
    cmap,
    overlay: str,
    band: tuple[float, float],
    step_mm: float,
) -> None:
    if rel is None or overlay == "background":
        ax.plot(x_mm, y_mm, color="black", linewidth=0.7, zorder=3)
    if rel is None:
        return
    if overlay == "background":
        ax.imshow(
            rel[None, :],
            extent=(x_mm[0], x_mm[0] + len(x_mm) * step_mm, band[0], band[1]),
            cmap=cmap,
            norm=norm,
            alpha=0.35,
            aspect="auto",
            interpolation="bilinear",
            zorder=2,
        )
        return
    points = np.column_stack([x_mm, y_mm])
    segments = np.stack([points[:-1], points[1:]], axis=1)
    values = 0.5 * (rel[:-1] + rel[1:])
    ax.add_collection(
        LineCollection(segments, array=values, cmap=cmap, norm=norm, linewidths=1.1, zorder=3)
    )


def plot_ecg_paper(
    signals: np.ndarray,
    fs: float,
    lead_names: Sequence[str],
    relevance: np.ndarray | None = None,
    title: str | None = None,
    rhythm_lead: str | None = "II",
    paper_speed: float = 25.0,
    gain: float = 10.0,
    overlay: str = "line",
    cmap: str = "jet",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """Draw a 12-lead printout (3 x 4 + rhythm strip) on millimetre paper; returns the Figure.

    signals: (leads, T) or (T, leads) in mV, matched to ``lead_names`` (case-insensitive; leads
    absent from the layout are left blank); fs in Hz; paper_speed in mm/s; gain in mm/mV.
    relevance: (leads, T) or (T,) (one map for all leads), any length (resampled to T); drawn as
    the trace colour (``overlay="line"``) or a translucent band behind it (``"background"``),
    with ``cmap`` over [vmin, vmax] (default: the relevance range). ``rhythm_lead=None`` omits
    the rhythm strip.
    """
    names = [str(n) for n in lead_names]
    sig = _as_leads_first(signals, len(names), "signals")
    n_samples = sig.shape[1]
    if fs <= 0 or n_samples < 4:
        raise EcgLensError(f"need a positive rate and >= 4 samples, got {fs:g} Hz, {n_samples}")
    if overlay not in ("line", "background"):
        raise EcgLensError(f"overlay must be 'line' or 'background', not {overlay!r}")
    index = {n.upper(): i for i, n in enumerate(names)}
    if rhythm_lead is not None and rhythm_lead.upper() not in index:
        raise EcgLensError(f"rhythm lead {rhythm_lead!r} not among {', '.join(names)}")
    rel = None if relevance is None else _relevance_per_lead(relevance, len(names), n_samples)
    norm = Normalize(
        vmin=float(np.nanmin(rel)) if rel is not None and vmin is None else vmin,
        vmax=float(np.nanmax(rel)) if rel is not None and vmax is None else vmax,
    )
    colour_map = colormaps[cmap]

    duration = n_samples / fs
    pitch = _whole_squares(3.5 * gain)  # row spacing; baselines fall on major grid lines
    below, above = _whole_squares(2.0 * gain), _whole_squares(2.5 * gain)
    rows: list[tuple[str, ...]] = list(LAYOUT_3X4)
    if rhythm_lead is not None:
        rows.append((rhythm_lead,))
    width = _whole_squares(_CAL_WIDTH_MM + duration * paper_speed)
    height = below + pitch * (len(rows) - 1) + above
    right = _MARGIN_MM + (_COLORBAR_MM if rel is not None else 0.0)
    top = _MARGIN_MM + (_TITLE_MM if title else 0.0)
    fig_w, fig_h = width + _MARGIN_MM + right, height + _MARGIN_MM + top
    fig = Figure(figsize=(fig_w / MM_PER_INCH, fig_h / MM_PER_INCH), facecolor="white")
    ax = fig.add_axes((_MARGIN_MM / fig_w, _MARGIN_MM / fig_h, width / fig_w, height / fig_h))
    ax.set_xlim(0.0, width)
    ax.set_ylim(0.0, height)
    ax.set_aspect("equal")
    ax.set_facecolor(_BACKGROUND)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color(_MAJOR)
    _draw_grid(ax, width, height)

    for r, row in enumerate(rows):
        baseline = below + pitch * (len(rows) - 1 - r)
        _calibration_pulse(ax, baseline, gain, paper_speed)
        n_cols = len(row)
        for c, lead in enumerate(row):
            i0 = int(round(c * n_samples / n_cols))
            i1 = int(round((c + 1) * n_samples / n_cols))
            x0 = _CAL_WIDTH_MM + i0 / fs * paper_speed
            if c > 0:
                ax.plot([x0, x0], [baseline - 2.5, baseline + 2.5], color="black", lw=0.8, zorder=4)
            if lead.upper() not in index:
                continue
            li = index[lead.upper()]
            t = np.arange(i0, i1) / fs
            _draw_trace(
                ax,
                _CAL_WIDTH_MM + t * paper_speed,
                baseline + sig[li, i0:i1] * gain,
                None if rel is None else rel[li, i0:i1],
                norm,
                colour_map,
                overlay,
                (baseline - pitch / 2, baseline + pitch / 2),
                paper_speed / fs,
            )
            ax.text(
                x0 + 1.5,
                baseline + 0.45 * pitch,
                lead,
                fontsize=9,
                fontweight="bold",
                va="top",
                zorder=5,
            )

    scale = f"{paper_speed:g} mm/s   {gain:g} mm/mV   {fs:g} Hz   {duration:g} s"
    fig.text(1 - right / fig_w, 0.3 * _MARGIN_MM / fig_h, scale, ha="right", fontsize=8)
    if title:
        fig.text(_MARGIN_MM / fig_w, 1 - 0.6 * _TITLE_MM / fig_h, title, fontsize=11, va="center")
    if rel is not None:
        cax = fig.add_axes(
            (
                (width + _MARGIN_MM + 4.0) / fig_w,
                (_MARGIN_MM + 0.25 * height) / fig_h,
                3.0 / fig_w,
                0.5 * height / fig_h,
            )
        )
        fig.colorbar(ScalarMappable(norm=norm, cmap=colour_map), cax=cax, label="relevance")
        cax.tick_params(labelsize=7)
    return fig
