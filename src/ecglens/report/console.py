"""Tables of predictions printed for people (rich, on stdout): one function per kind of
prediction, ``table(prediction, max_rows)``; notes go to stderr."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from ecglens.progress import console

stdout = Console()  # results (tables, metrics) go to stdout; progress and notes to stderr


MAX_EPISODE_ROWS = 8  # episodes listed under the summary (all are in the JSON)


def _value(v, unit: str = "", digits: int = 0) -> str:
    return "-" if v is None else f"{v:.{digits}f}{unit}"


def summary_lines(summary: dict) -> list[tuple[str, str]]:
    """``(what, value)`` rows of a recording summary (:mod:`ecglens.predict.summary`)."""
    hr, hrv, iv = summary["heart_rate"], summary["hrv"], summary.get("intervals") or {}
    by_type: dict[str, list[dict]] = {}
    for e in summary["episodes"]:
        by_type.setdefault(e["type"], []).append(e)
    rows = [
        ("heart rate", f"mean {_value(hr['mean_bpm'])}, min {_value(hr['min_bpm'])}, "
                       f"max {_value(hr['max_bpm'])} beats/min"),
        ("HRV (normal-to-normal)", f"SDNN {_value(hrv['sdnn_ms'], ' ms')}, "
                                   f"RMSSD {_value(hrv['rmssd_ms'], ' ms')}"),
        ("AF burden", "-" if summary["af_burden"] is None
         else f"{100 * summary['af_burden']:.1f}% of {summary['analysed_s']:.0f} s analysed"),
        ("episodes", ", ".join(
            f"{k} {len(v)} ({sum(e['end_s'] - e['start_s'] for e in v):.0f} s)"
            for k, v in by_type.items()) or "none"),
    ]  # fmt: skip
    if iv:
        text = (
            f"PR {_value(iv.get('pr_ms'), ' ms')}, QRS {_value(iv.get('qrs_ms'), ' ms')}, "
            f"QT {_value(iv.get('qt_ms'), ' ms')}, QTc {_value(iv.get('qtc_bazett_ms'), ' ms')} "
            f"(Bazett) / {_value(iv.get('qtc_fridericia_ms'), ' ms')} (Fridericia)"
        )
        if iv.get("axis_deg") is not None:
            text += f", axis {iv['axis_deg']:.0f} deg"
        rows.append(("intervals (median beat)", text))
    counts = summary.get("counts") or {}
    per_hour = summary.get("per_hour") or {}
    rows.append(("beats per class", ", ".join(
        f"{c} {n} ({_value(per_hour.get(c), '/h')})" for c, n in counts.items())))  # fmt: skip
    return rows


def print_summary(summary: dict | None, title: str) -> None:
    """The recording summary first: rate, HRV, AF burden, episodes, intervals, counts."""
    if not summary:
        return
    t = Table(title=f"summary: {title}", show_header=False)
    t.add_column("what", style="bold")
    t.add_column("value")
    for what, value in summary_lines(summary):
        t.add_row(what, value)
    shown = [e for e in summary["episodes"] if e["type"] != "noise"][:MAX_EPISODE_ROWS]
    for e in shown:
        t.add_row(f"  {e['type']}", f"{e['start_s']:.1f}-{e['end_s']:.1f} s")
    stdout.print(t)


def print_12lead(result: dict) -> None:
    print_summary(result.get("summary"), result["record"])
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
    print_summary(getattr(pred, "summary", None), pred.record)
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


def print_12lead_prediction(prediction, max_rows: int) -> None:
    print_12lead(prediction.to_dict())


def print_mi_prediction(prediction, max_rows: int) -> None:
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


def print_beat_rows(prediction, max_rows: int) -> None:
    d = prediction.to_dict()
    t = Table(title=f"{d['record']} (model {d['model']}, {d['n_beats']} beats)")
    for col in ("row", "label", "p(label)", "reference"):
        t.add_column(col, justify="right")
    for b in d["beats"][:max_rows]:
        ref = b.get("reference")
        t.add_row(
            str(b["row"]),
            b["label"],
            f"{b['probabilities'][b['label']]:.3f}",
            "-" if ref is None else str(ref),
        )
    stdout.print(t)
    stdout.print("class counts: " + ", ".join(f"{c} {n}" for c, n in d["class_counts"].items()))
    if d.get("warning"):
        console.print(f"[yellow]warning: {d['warning']}[/yellow]")


def print_image_prediction(prediction, max_rows: int) -> None:
    d = prediction.to_dict()
    t = Table(title=f"{d['record']} (model {d['model']})")
    t.add_column("label")
    t.add_column("probabilities")
    t.add_row(d["label"], ", ".join(f"{c} {p:.3f}" for c, p in d["probabilities"].items()))
    stdout.print(t)


def print_long_record(prediction, max_rows: int) -> None:
    """The totals of a long recording, after its JSON was written."""
    s = prediction.summary
    print_summary(s.get("summary"), s["record"])
    stdout.print(
        f"{s['record']}: {s['n_beats']} beats in {s['windows']['n_windows']} "
        f"windows of {s['windows']['window_s']:g} s; class counts "
        + ", ".join(f"{c} {n}" for c, n in s["class_counts"].items())
    )
