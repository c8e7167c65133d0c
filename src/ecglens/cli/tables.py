"""Tables and summaries printed for people (results on stdout, notes on stderr)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from ecglens.progress import console
from ecglens.report.console import stdout

if TYPE_CHECKING:
    from ecglens.models.config import ModelConfig


def metric_value(metric) -> float | None:
    return metric.get("value") if isinstance(metric, dict) else metric


def model_summary(name: str, config: ModelConfig) -> dict:
    """One line per shipped model: its task, split and headline test metrics."""
    m = config.metrics or {}
    split = config.split
    if isinstance(split, dict):
        split = split.get("kind", "PTB-XL folds 1-8 / 9 / 10")
    if config.optimistic:
        split = f"{split} (optimistic)"
    names = ("roc_auc", "accuracy", "macro_f1_nsvf", "macro_f1", "f1", "macro_auc")
    parts = [
        f"{k} {metric_value(m[k]):.3f}"
        for k in names
        if k in m and metric_value(m[k]) is not None
    ]
    return {
        "name": name,
        "architecture": config.architecture,
        "task": str(config.task or None),
        "split": str(split),
        "summary": ", ".join(parts[:3]),
        "metrics": {k: metric_value(m[k]) for k in names if k in m},
    }



def print_ptbxl_metrics(metrics: dict) -> None:
    t = Table(title=f"{metrics.get('model', '')} on PTB-XL fold 10 ({metrics.get('task')})")
    for col in ("metric", "value", "95% CI"):
        t.add_column(col, justify="right")
    for key, value in metrics.items():
        if isinstance(value, dict) and "value" in value and "ci" in value:
            lo, hi = value["ci"]
            t.add_row(key, f"{value['value']:.4f}", f"[{lo:.4f}, {hi:.4f}]")
    stdout.print(t)
    counts = {k: v for k, v in metrics.items() if k.startswith("n_") and isinstance(v, int)}
    stdout.print(", ".join(f"{k} {v}" for k, v in counts.items()))


def print_metrics(metrics: dict) -> None:
    title = f"{metrics.get('model', '')} on {metrics.get('split', '')}"
    if metrics.get("optimistic"):
        title += " (OPTIMISTIC: patients in both train and test)"
    t = Table(title=title)
    for col in ("class", "Se (recall)", "+P (precision)", "F1", "support"):
        t.add_column(col, justify="right")
    for c, v in metrics["per_class"].items():
        t.add_row(
            c, f"{v['recall']:.4f}", f"{v['precision']:.4f}", f"{v['f1']:.4f}", str(v["support"])
        )
    stdout.print(t)
    stdout.print(
        f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
        f"beats {metrics['n']}"
    )
    if metrics.get("warning"):
        console.print(f"[yellow]warning: {metrics['warning']}[/yellow]")


def print_trained(name: str, split: str, config: dict) -> None:
    """The test metrics of a beat model just trained or assembled."""
    print_metrics(
        {
            "model": name,
            "split": split,
            "optimistic": config.get("optimistic", False),
            **config["metrics"],
        }
    )
