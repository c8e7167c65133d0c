"""The "Explanations" section of a model's report: how faithful each explainer measured on this
model (deletion and insertion curves, Petsiuk et al. 2018, adapted to signals) and which one
the model uses by default.

The numbers come from :func:`ecglens.explain.recommended.explainer_summary` (written by
``ecglens benchmark explanations``); a model without measurements gets no section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ecglens.errors import EcgLensError
from ecglens.explain.recommended import Trust, trust_of
from ecglens.plot.explain_beats import explainer_summary_of, method_name
from ecglens.plot.style import new_figure
from ecglens.report.html import ReportSection

REFERENCE_MAPS = ("random", "edge")  # baselines drawn dashed, never recommended
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


def _curve(curves: Mapping[str, Any], method: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    c = curves[method]
    x = np.asarray(c["fraction"], dtype=float)
    y = np.asarray(c[kind], dtype=float)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
        raise EcgLensError(
            f"explainer summary: {method} {kind} curve must have as many points as 'fraction' "
            f"(at least 2), got {y.shape} and {x.shape}"
        )
    return x, y


def trust_caption(trust: Trust) -> str:
    """The sentence a report puts in the caption of every map: how far it can be trusted
    (:func:`~ecglens.explain.recommended.trust_of`), e.g. "Grad-CAM: not shown faithful for
    this model: read as a hint (...)"."""
    return f" [{trust.text}.]"


def curve_auc(fraction: np.ndarray, score: np.ndarray) -> float:
    """Area under a deletion or insertion curve (trapezoid rule over the removed fraction)."""
    x, y = np.asarray(fraction, dtype=float), np.asarray(score, dtype=float)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def plot_deletion_insertion(curves: Mapping[str, Any], recommended: str | None = None) -> Figure:
    """Two panels: the class score as the most relevant samples are removed (deletion; lower
    area = more faithful) and as they are put back into a baseline signal (insertion; higher
    = more faithful), one line per explainer; the recommended one drawn thick, the reference
    maps ("random", "edge") dashed grey."""
    if not curves:
        raise EcgLensError("explainer summary has no curves to draw")
    fig = new_figure(9.0, 3.3)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, kind, title in (
        (axes[0], "deletion", "Deletion (lower is better)"),
        (axes[1], "insertion", "Insertion (higher is better)"),
    ):
        colour = iter(PALETTE * 3)
        for method in curves:
            if kind not in curves[method]:
                continue
            x, y = _curve(curves, method, kind)
            reference = method in REFERENCE_MAPS
            best = method == recommended
            ax.plot(
                x,
                y,
                color="0.55" if reference else next(colour),
                linestyle="--" if reference else "-",
                linewidth=2.6 if best else 1.2,
                label=f"{method_name(method)}{' (recommended)' if best else ''}",
                zorder=3 if best else 2,
            )
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_xlabel("fraction of the signal removed" if kind == "deletion" else
                      "fraction of the signal inserted")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("class score")
    axes[1].legend(fontsize=8, frameon=False, loc="best")
    return fig


def explanations_section(
    model_name: str, summary: Mapping[str, Any] | None = None
) -> ReportSection | None:
    """The "Explanations" section of ``model_name``'s report from its explainer ``summary``
    (default: :func:`~ecglens.plot.explain_beats.explainer_summary_of`); None when there are no
    measurements."""
    summary = explainer_summary_of(model_name) if summary is None else summary
    if not summary:
        return None
    recommended = summary.get("recommended")
    curves = summary.get("curves") or {}
    section = ReportSection(title=f"Explanations: {model_name}")
    if recommended:
        section.text = f"Recommended explainer: {method_name(str(recommended))}."
        if summary.get("why"):
            section.text += f" Why: {summary['why']}"
        section.text += (
            " `ecglens explain` and the report use it unless `--method` chooses another."
        )
    else:
        default = summary.get("default")
        section.text = "No explainer is recommended for this model"
        if isinstance(default, str):
            section.text += (
                f": the maps drawn in this report ({method_name(default)}) are "
                f"{trust_of(model_name, default).caveat}"
            )
        section.text += "."
        if summary.get("why"):
            section.text += f" Why: {summary['why']}."
    if curves:
        rows = []
        for method in curves:
            row: dict[str, Any] = {"explainer": method_name(method)}
            for kind in ("deletion", "insertion"):
                if kind in curves[method]:
                    row[f"{kind} AUC"] = curve_auc(*_curve(curves, method, kind))
            row["recommended"] = method == recommended
            rows.append(row)
        section.tables.append(
            (
                "Area under the deletion and insertion curves (from the curves below)",
                rows,
            )
        )
        section.figures.append(
            (
                "Deletion and insertion curves: the model's score for its class as the samples "
                "each explainer ranks most relevant are removed (left) or inserted (right)",
                plot_deletion_insertion(curves, recommended),
            )
        )
    return section
