"""Tables and summaries printed for people (results on stdout, notes on stderr)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from ecglens.progress import console

stdout = Console()  # results (tables, metrics) go to stdout; progress and notes to stderr


def metric_value(metric) -> float | None:
    return metric.get("value") if isinstance(metric, dict) else metric


def model_summary(name: str, config: dict) -> dict:
    """One line per shipped model: its task, split and headline test metrics."""
    m = config.get("metrics") or {}
    split = config.get("split")
    if isinstance(split, dict):
        split = split.get("kind", "PTB-XL folds 1-8 / 9 / 10")
    if config.get("optimistic"):
        split = f"{split} (optimistic)"
    names = ("roc_auc", "accuracy", "macro_f1_nsvf", "macro_f1", "f1", "macro_auc")
    parts = [
        f"{k} {metric_value(m[k]):.3f}"
        for k in names
        if k in m and metric_value(m[k]) is not None
    ]
    return {
        "name": name,
        "architecture": config["architecture"],
        "task": str(config.get("task")),
        "split": str(split),
        "summary": ", ".join(parts[:3]),
        "metrics": {k: metric_value(m[k]) for k in names if k in m},
    }



def print_12lead(result: dict) -> None:
    t = Table(title=f"{result['record']} (model {result['model']})")
    labels = "labels (at or above threshold)" if "labels" in result else "label"
    for col in (labels, "probability", "threshold", "sampling rate", "notes"):
        t.add_column(col)
    prob = result.get("probability")
    if prob is None:
        probs = result.get("probabilities", {})
        prob_text = ", ".join(f"{c} {p:.3f}" for c, p in probs.items())
    else:
        prob_text = f"{prob:.3f} ({result.get('positive', 'abnormal')})"
    notes = result.get("notes") or []
    rate = f"{result['sampling_rate']:g} Hz"
    if result.get("resampled_from"):
        rate += f" (resampled from {result['resampled_from']:g} Hz)"
    threshold = result.get("threshold")
    label = ", ".join(result["labels"]) or "none" if "labels" in result else str(result["label"])
    t.add_row(label, prob_text, json.dumps(threshold), rate, "; ".join(notes))
    stdout.print(t)


def _uncertainty_cell(pred, i: int) -> str:
    if pred.uncertainty is None:
        return "-"
    flag = pred.review_threshold is not None and pred.uncertainty[i] > pred.review_threshold
    return f"{pred.uncertainty[i]:.3f}" + (" review" if flag else "")


def print_beats(pred, max_rows: int) -> None:
    labels = pred.labels
    t = Table(title=f"{pred.record} ({pred.lead}, {pred.fs:g} Hz, model {pred.model})")
    for col in ("beat", "sample", "time (s)", "label", "p(label)", "uncertainty"):
        t.add_column(col, justify="right")
    if pred.reference is not None:
        t.add_column("reference", justify="right")
    by_rhythm = getattr(pred, "by_rhythm", None)
    if by_rhythm is None:
        by_rhythm = [False] * len(labels)
    order = range(len(labels))
    abnormal = [i for i in order if labels[i] != "N"]
    shown = sorted(set(list(range(min(5, len(labels)))) + abnormal))[:max_rows]
    for i in shown:
        row = [
            str(i),
            str(int(pred.sample[i])),
            f"{pred.sample[i] / pred.fs:.2f}",
            f"{labels[i]} (rhythm)" if by_rhythm[i] else labels[i],
            f"{pred.probabilities[i].max():.3f}",
            _uncertainty_cell(pred, i),
        ]
        if pred.reference is not None:
            ref = int(pred.reference[i])
            row.append(pred.classes[ref] if ref >= 0 else "-")
        t.add_row(*row)
    stdout.print(t)
    if len(shown) < len(labels):
        console.print(
            f"(showing {len(shown)} of {len(labels)} beats: the first 5 and non-N beats;"
            " --json for all)"
        )
    counts = pred.class_counts()
    stdout.print("class counts: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    if any(by_rhythm):
        console.print(
            f"{int(sum(by_rhythm))} S beats by the model's rhythm rule, marked (rhythm): premature "
            "against the sinus cycle where the network said N"
        )
    if pred.review_threshold is not None and pred.uncertainty is not None:
        n_review = int((pred.uncertainty > pred.review_threshold).sum())
        console.print(
            f"{n_review} of {len(labels)} beats flagged for review "
            f"(uncertainty > {pred.review_threshold:g})"
        )


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


def _print_12lead_prediction(prediction, max_rows: int) -> None:
    print_12lead(prediction.to_dict())


def _print_mi_prediction(prediction, max_rows: int) -> None:
    d = prediction.to_dict()
    t = Table(title=f"{d['record']} ({d['lead']}, {d['sampling_rate']:g} Hz, model {d['model']})")
    for col in ("label", "P(MI) of the record", "threshold", "beats", "beat P(MI) range"):
        t.add_column(col, justify="right")
    p = [b["probability"] for b in d["beats"]]
    t.add_row(
        d["label"], f"{d['probability']:.3f} ({d['aggregate']} of beats)",
        f"{d['threshold']:.3f}", str(d["n_beats"]), f"{min(p):.3f}-{max(p):.3f}",
    )  # fmt: skip
    stdout.print(t)


def _print_beat_rows(prediction, max_rows: int) -> None:
    d = prediction.to_dict()
    t = Table(title=f"{d['record']} (model {d['model']}, {d['n_beats']} beats)")
    for col in ("row", "label", "p(label)", "reference"):
        t.add_column(col, justify="right")
    for b in d["beats"][:max_rows]:
        ref = b.get("reference")
        t.add_row(str(b["row"]), b["label"], f"{b['probabilities'][b['label']]:.3f}",
                  "-" if ref is None else str(ref))
    stdout.print(t)
    stdout.print("class counts: " + ", ".join(f"{c} {n}" for c, n in d["class_counts"].items()))
    if d.get("warning"):
        console.print(f"[yellow]warning: {d['warning']}[/yellow]")


def _print_image_prediction(prediction, max_rows: int) -> None:
    d = prediction.to_dict()
    t = Table(title=f"{d['record']} (model {d['model']})")
    t.add_column("label")
    t.add_column("probabilities")
    t.add_row(d["label"], ", ".join(f"{c} {p:.3f}" for c, p in d["probabilities"].items()))
    stdout.print(t)


# the table of one prediction, by its task (see ecglens.predict.tasks)
PREDICTION_TABLES = {
    "images": _print_image_prediction,
    "beat-rows": _print_beat_rows,
    "kaggle-ptb": print_beats,
    "beats": print_beats,
    "ptbxl-binary": _print_12lead_prediction,
    "ptbxl-superclass": _print_12lead_prediction,
    "ptbxl-mi": _print_mi_prediction,
    "ptbxl-mi-12lead": _print_12lead_prediction,
}
