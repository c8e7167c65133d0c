"""ROC curves (one or several on one axes) and PTB-XL learning curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ecglens.plot.style import class_color, new_figure


def _auc_text(auc: Any) -> str:
    if auc is None:
        return ""
    if isinstance(auc, Mapping):
        lo, hi = auc.get("ci", (np.nan, np.nan))
        return f"AUC {float(auc['value']):.3f} [{float(lo):.3f}, {float(hi):.3f}]"
    return f"AUC {float(auc):.3f}"


def plot_roc_curves(
    curves: Mapping[str, Mapping[str, Any]],
    title: str | None = None,
    size: tuple[float, float] = (5.2, 4.8),
) -> Figure:
    """ROC curves on one axes, with the chance diagonal.

    curves: name -> {"fpr": [...], "tpr": [...]} plus optional "auc" (a number or
    ``{"value", "ci": [lo, hi]}``, shown in the legend) and "point" ((fpr, tpr) of the
    operating threshold, drawn as a marker).
    """
    if not curves:
        raise ValueError("no ROC curves to plot")
    fig = new_figure(*size)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#9aa5b1", linestyle=":", linewidth=1.0, label="chance")
    for name, c in curves.items():
        fpr = np.asarray(c["fpr"], dtype=float)
        tpr = np.asarray(c["tpr"], dtype=float)
        if fpr.shape != tpr.shape or fpr.ndim != 1:
            raise ValueError(f"{name}: fpr {fpr.shape} and tpr {tpr.shape} do not match")
        color = c.get("color") or class_color(name)
        text = _auc_text(c.get("auc"))
        ax.plot(fpr, tpr, color=color, linewidth=1.8, label=f"{name}  {text}".strip())
        point = c.get("point")
        if point is not None:
            ax.plot(
                *point,
                marker="o",
                color=color,
                markersize=7,
                markeredgecolor="black",
                linestyle="none",
            )
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate (1 - specificity)")
    ax.set_ylabel("true positive rate (sensitivity)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def roc_curves_from_metrics(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Curves for :func:`plot_roc_curves` from :func:`ecglens.evaluate.ptbxl.score_binary` or
    ``score_superclass`` results (binary: the abnormal class with its operating point)."""
    if "roc_curve" in metrics:
        cm = np.asarray(metrics["confusion_matrix"], dtype=float)
        (tn, fp), (fn, tp) = cm
        point = (fp / max(fp + tn, 1.0), tp / max(tp + fn, 1.0))
        return {
            "abnormal": {
                **metrics["roc_curve"],
                "auc": metrics.get("roc_auc"),
                "point": point,
                "color": "#d62728",
            }
        }
    per_class = metrics.get("per_class", {})
    return {
        name: {**curve, "auc": per_class.get(name, {}).get("roc_auc")}
        for name, curve in metrics.get("roc_curves", {}).items()
    }


def plot_learning_curve(
    n_train: Sequence[int],
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str | None = None,
) -> Figure:
    """Metric against training-set size: series name -> (means, spreads) drawn with error bars."""
    fig = new_figure(6.0, 3.8)
    ax = fig.add_subplot()
    for name, (mean, spread) in series.items():
        ax.errorbar(n_train, mean, yerr=spread, marker="o", capsize=3, label=name)
    ax.set_xlabel("training records")
    ax.set_ylabel("metric")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
