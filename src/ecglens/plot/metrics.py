"""Evaluation and training figures: confusion matrix, learning curves, class counts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from ecglens.plot.style import class_color, new_figure

LOSS_COLORS = {"train_loss": "#1f77b4", "val_loss": "#ff7f0e"}
METRIC_CYCLE = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def plot_confusion_matrix(
    cm: np.ndarray | Sequence[Sequence[int]],
    classes: Sequence[str],
    normalize: bool = True,
    title: str | None = None,
) -> Figure:
    """Confusion matrix (rows: reference, columns: prediction), shape (C, C) of counts.

    With ``normalize`` the cells are coloured by row percentage (the recall, Se, on the
    diagonal) and annotated with the percentage and the count; otherwise by count.
    Two axes: the matrix and its colourbar.
    """
    cm = np.asarray(cm, dtype=np.int64)
    classes = [str(c) for c in classes]
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(classes):
        raise ValueError(f"confusion matrix shape {cm.shape} does not fit {len(classes)} classes")
    n = len(classes)
    rows = cm.sum(axis=1, keepdims=True)
    pct = np.divide(100.0 * cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    values = pct if normalize else cm.astype(float)
    vmax = 100.0 if normalize else max(float(values.max()), 1.0)

    size = 1.0 + 0.85 * n
    fig = new_figure(size + 1.6, size + 0.6)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax)
    cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    cbar.set_label("% of reference class" if normalize else "beats")
    fontsize = 9 if n <= 6 else 7
    for i in range(n):
        for j in range(n):
            count = int(cm[i, j])
            if normalize:
                text = f"{pct[i, j]:.1f}%\n({count:,})" if rows[i, 0] else "-"
            else:
                text = f"{count:,}"
            dark = values[i, j] > 0.55 * vmax
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=fontsize,
                color="white" if dark else "black",
                fontweight="bold" if i == j else "normal",
            )
    ax.set_xticks(range(n), classes)
    ax.set_yticks(range(n), [f"{c} (n={int(rows[i, 0]):,})" for i, c in enumerate(classes)])
    for tick, c in zip(ax.get_xticklabels(), classes, strict=True):
        tick.set_color(class_color(c))
        tick.set_fontweight("bold")
    for tick, c in zip(ax.get_yticklabels(), classes, strict=True):
        tick.set_color(class_color(c))
        tick.set_fontweight("bold")
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("Reference class")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    default = "Confusion matrix (row %)" if normalize else "Confusion matrix (counts)"
    ax.set_title(title or default, loc="left", fontsize=11)
    return fig


def _series(history: Sequence[Mapping], key: str) -> np.ndarray:
    out = []
    for row in history:
        value = row.get(key)
        is_number = isinstance(value, int | float | np.number) and not isinstance(value, bool)
        out.append(float(value) if is_number else math.nan)
    return np.asarray(out, dtype=float)


def _numeric_keys(history: Sequence[Mapping]) -> list[str]:
    keys: dict[str, None] = {}
    for row in history:
        for key, value in row.items():
            if isinstance(value, int | float | np.number) and not isinstance(value, bool):
                keys[key] = None
    return list(keys)


def plot_training_curves(history: Sequence[Mapping[str, float]]) -> Figure:
    """Learning curves from one dict per epoch (``epoch``, ``*_loss``, ``val_*``, ``lr``).

    Axes, sharing the epoch axis: losses; then any other numeric ``val_*`` metrics
    (the best epoch of the first one is marked); then the learning rate (small,
    log scale) if ``lr`` is present. Missing values leave gaps.
    """
    if not history:
        raise ValueError("training history is empty")
    keys = _numeric_keys(history)
    epochs = _series(history, "epoch") if "epoch" in keys else np.arange(1, len(history) + 1.0)
    losses = [k for k in keys if k.endswith("loss")]
    metrics = [k for k in keys if k.startswith("val_") and k not in losses]
    has_lr = "lr" in keys

    panels = ["loss"] + (["metrics"] if metrics else []) + (["lr"] if has_lr else [])
    ratios = {"loss": 3.0, "metrics": 3.0, "lr": 1.2}
    fig = new_figure(7.5, 1.0 + sum(ratios[p] for p in panels) * 0.95)
    axes = fig.subplots(
        len(panels),
        1,
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [ratios[p] for p in panels]},
    )[:, 0]
    by_name = dict(zip(panels, axes, strict=True))
    marker = "o" if len(history) <= 30 else None

    ax = by_name["loss"]
    for i, key in enumerate(losses):
        colour = LOSS_COLORS.get(key, METRIC_CYCLE[i % len(METRIC_CYCLE)])
        ax.plot(
            epochs,
            _series(history, key),
            marker=marker,
            markersize=3.5,
            color=colour,
            label=key.replace("_", " "),
        )
    ax.set_ylabel("loss")
    ax.set_title("Training curves", loc="left", fontsize=11)
    if losses:
        ax.legend(frameon=False, fontsize=9)

    if metrics:
        ax = by_name["metrics"]
        for i, key in enumerate(metrics):
            ax.plot(
                epochs,
                _series(history, key),
                marker=marker,
                markersize=3.5,
                color=METRIC_CYCLE[i % len(METRIC_CYCLE)],
                label=key.replace("_", " "),
            )
        first = _series(history, metrics[0])
        if np.isfinite(first).any():
            best = int(np.nanargmax(first))
            for other in axes:
                other.axvline(epochs[best], color="0.5", linestyle=":", linewidth=1.0)
            ax.annotate(
                f"best {metrics[0].replace('_', ' ')} {first[best]:.3f}",
                (epochs[best], first[best]),
                xytext=(6, 6),
                textcoords="offset points",
                fontsize=8.5,
                color="0.25",
            )
        ax.set_ylabel("validation metric")
        ax.legend(frameon=False, fontsize=9)

    if has_lr:
        ax = by_name["lr"]
        lr = _series(history, "lr")
        ax.plot(epochs, lr, color="0.3", linewidth=1.2, drawstyle="steps-mid")
        positive = lr[np.isfinite(lr) & (lr > 0)]
        if positive.size and positive.max() > 10.0 * positive.min():
            ax.set_yscale("log")
            ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
        ax.set_ylabel("lr")
        ax.tick_params(axis="y", labelsize=8)

    for ax in axes:
        ax.grid(color="0.9", linewidth=0.6)
        ax.set_axisbelow(True)
    axes[-1].set_xlabel("epoch")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def plot_class_counts(
    counts: Mapping[str, int], title: str | None = None, log: bool = False
) -> Figure:
    """Bar chart of beats per class, bars in class colours, annotated with count and %.

    ``log`` uses a log-scaled count axis, useful for the strongly imbalanced AAMI
    classes. One axes.
    """
    if not counts:
        raise ValueError("no class counts to plot")
    names = [str(k) for k in counts]
    values = np.array([int(v) for v in counts.values()], dtype=np.int64)
    total = int(values.sum())
    fig = new_figure(max(4.5, 0.9 * len(names) + 2.0), 3.6)
    ax = fig.add_subplot()
    bars = ax.bar(names, values, color=[class_color(n) for n in names], edgecolor="white")
    for bar, value in zip(bars, values, strict=True):
        share = f" ({100.0 * value / total:.1f}%)" if total else ""
        ax.annotate(
            f"{int(value):,}{share}",
            (bar.get_x() + bar.get_width() / 2, value),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8.5,
        )
    log = log and bool((values > 0).any())
    if log:
        ax.set_yscale("log")
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: f"{y:,.0f}"))
    if log:
        ax.set_ylim(float(values[values > 0].min()) / 3.0, float(values.max()) * 2.5)
    else:
        ax.set_ylim(0.0, max(float(values.max()) * 1.15, 1.0))
    ax.set_xlabel("Class")
    ax.set_ylabel("Beats" + (" (log scale)" if log else ""))
    ax.set_title(title or f"Class counts (total {total:,})", loc="left", fontsize=11)
    ax.grid(axis="y", color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig
