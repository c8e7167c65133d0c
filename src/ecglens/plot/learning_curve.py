"""Learning curves: a score against the share of training data, one line per mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from ecglens.plot.style import new_figure


def plot_learning_curve(
    summary: Sequence[dict[str, Any]],
    score: str = "test_auc",
    label: str = "ROC-AUC, PTB-XL fold 10 (records)",
) -> Figure:
    """``summary`` rows (``mode``, ``fraction``, ``<score>_mean``, ``<score>_sd``) as lines
    with +- SD bars over seeds, fraction of the training records on a log axis."""
    fig = new_figure(6.0, 3.8)
    ax = fig.add_subplot()
    for mode in dict.fromkeys(r["mode"] for r in summary):
        part = sorted((r for r in summary if r["mode"] == mode), key=lambda r: r["fraction"])
        x = [100 * r["fraction"] for r in part]
        y = [r[f"{score}_mean"] for r in part]
        err = [r.get(f"{score}_sd") or 0.0 for r in part]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=mode)
    ax.set_xscale("log")
    ax.set_xticks([5, 10, 25, 50, 100], labels=["5%", "10%", "25%", "50%", "100%"])
    ax.set_xlabel("training records used (folds 1-8)")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return fig
