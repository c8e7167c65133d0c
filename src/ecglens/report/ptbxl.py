"""The 12-lead report: the model (test metrics with intervals, confusion matrix, ROC curve,
training curves, card), then for each record its prediction and the 12 leads on ECG paper
coloured by the network's own class activation map and, below, by Grad-CAM (and by the model's
recommended explainer when it is another one, per lead)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ecglens.explain.recommended import trust_of
from ecglens.explain.twelve_lead import explain_12lead
from ecglens.models.registry import LoadedModel
from ecglens.plot.explain12 import most_relevant_leads, per_lead, plot_12lead_relevance
from ecglens.plot.explain_beats import method_name, recommended_method
from ecglens.plot.metrics import plot_confusion_matrix
from ecglens.plot.roc import plot_roc_curves, roc_curves_from_metrics
from ecglens.predict.twelve_lead import Prediction12
from ecglens.report.explanations import trust_caption
from ecglens.report.html import ReportSection, add_history_and_card

BINARY_METRICS = ("accuracy", "precision", "recall", "specificity", "f1", "roc_auc")


TITLE = "ecglens 12-lead report"


def report_metadata(loaded: LoadedModel) -> dict[str, Any]:
    """The report's header facts about the model."""
    cfg = loaded.config
    split = cfg.split or {}
    return {
        "model": loaded.name,
        "architecture": cfg.architecture,
        "data": (cfg.data or {}).get("database"),
        "split": split.get("description") if isinstance(split, dict) else split,
        "seed": cfg.seed,
    }


def evaluation_section(metrics: dict[str, Any]) -> ReportSection:
    """An extra evaluation (``ecglens evaluate ptbxl``) shown after the model."""
    return metrics_section(metrics, "Evaluation")


def _ci_row(name: str, m: dict[str, Any]) -> dict[str, Any]:
    return {
        "metric": name,
        "value": m["value"],
        "95% CI low": m["ci"][0],
        "95% CI high": m["ci"][1],
    }


def metrics_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Table rows (metric, value, interval) of binary or superclass metrics."""
    if "roc_curve" in metrics:
        return [_ci_row(k, metrics[k]) for k in BINARY_METRICS if k in metrics]
    rows = [
        _ci_row("macro ROC-AUC", metrics["macro_auc"]),
        _ci_row("macro F1", metrics["macro_f1"]),
    ]
    return rows


def superclass_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, m in metrics["per_class"].items():
        rows.append(
            {
                "class": name,
                "positives": m.get("n_positive"),
                "ROC-AUC": m["roc_auc"]["value"],
                "AUC 95% CI": f"{m['roc_auc']['ci'][0]:.3f}-{m['roc_auc']['ci'][1]:.3f}",
                "F1": m["f1"]["value"],
                "F1 95% CI": f"{m['f1']['ci'][0]:.3f}-{m['f1']['ci'][1]:.3f}",
                "precision": m["precision"]["value"],
                "recall": m["recall"]["value"],
                "threshold": m.get("threshold"),
            }
        )
    return rows


def _counts_text(metrics: dict[str, Any]) -> str:
    if "n_abnormal" in metrics and "roc_curve" in metrics:
        return (
            f"{metrics['n_records']} records ({metrics['n_normal']} normal, "
            f"{metrics['n_abnormal']} abnormal), threshold {metrics['threshold']:.3f}"
        )
    pos = ", ".join(f"{k} {v}" for k, v in metrics.get("n_positive", {}).items())
    return f"{metrics['n_records']} records (positives: {pos})"


def metrics_section(metrics: dict[str, Any], title: str) -> ReportSection:
    """Metrics table with intervals, confusion matrix (binary) and ROC curve(s)."""
    section = ReportSection(title=title)
    _add_metrics(section, metrics, "")
    return section


def _add_metrics(section: ReportSection, metrics: dict[str, Any], what: str) -> None:
    counts = _counts_text(metrics)
    section.tables.append(
        (f"{what}{counts}; 95% bootstrap intervals over records", metrics_rows(metrics))
    )
    binary = "roc_curve" in metrics
    if not binary:
        section.tables.append((f"{what}per superclass", superclass_rows(metrics)))
    else:
        section.figures.append(
            (
                f"{what}confusion matrix (rows: reference)",
                plot_confusion_matrix(np.array(metrics["confusion_matrix"]), metrics["classes"]),
            )
        )
    curves = roc_curves_from_metrics(metrics)
    if curves:
        caption = "ROC curve of the abnormal probability; dot: the fold-9 threshold"
        section.figures.append(
            (f"{what}{caption if binary else 'ROC curve per superclass'}", plot_roc_curves(curves))
        )


def model_section(loaded: LoadedModel) -> ReportSection:
    cfg = loaded.config
    section = ReportSection(title=f"Model {loaded.name}")
    comp = cfg.complexity
    if comp:
        section.tables.append(
            (
                "Size and cost per 10-s record",
                [
                    {"quantity": "parameters", "value": comp["parameters"]},
                    {"quantity": "MACs with the CAM branch", "value": comp["macs_per_record"]},
                    {
                        "quantity": "MACs without the CAM branch",
                        "value": comp["macs_per_record_without_cam"],
                    },
                ],
            )
        )
    if cfg.metrics:
        _add_metrics(section, cfg.metrics, "Test fold 10: ")
    if cfg.val_metrics:
        section.tables.append(
            (
                "Validation fold 9 (epoch and threshold chosen here): "
                + _counts_text(cfg.val_metrics),
                metrics_rows(cfg.val_metrics),
            )
        )
    add_history_and_card(section, cfg.history, loaded.card)
    return section


def record_section(
    pred: Prediction12, loaded: LoadedModel, device: str | torch.device = "cpu"
) -> ReportSection:
    """Prediction table and the paper printout coloured by CAM, then by Grad-CAM."""
    d = pred.to_dict()
    if pred.binary:
        summary = (
            f"Prediction: {d['label']} ({pred.outputs[0]} probability {d['probability']:.3f}, "
            "threshold "
            f"{d['threshold']:.3f})."
        )
        rows = [
            {"output": pred.outputs[0], "probability": d["probability"],
             "threshold": d["threshold"]}
        ]
    else:
        summary = (
            f"Most probable superclass: {d['label']}; at or above threshold: "
            f"{', '.join(d['labels']) or 'none'}."
        )
        rows = [
            {
                "class": c,
                "probability": p,
                "threshold": d["threshold"][c],
                "predicted": c in d["labels"],
            }
            for c, p in d["probabilities"].items()
        ]
    notes = list(d["notes"])
    text = summary + (" " + "; ".join(notes) + "." if notes else "")
    section = ReportSection(title=f"Record {pred.record}", text=text)
    section.tables.append(("Model outputs", rows))
    what = pred.explained_class
    cam = explain_12lead(pred, loaded, "cam")
    gc = explain_12lead(pred, loaded, "grad-cam", device=device)
    section.figures.append(
        (
            f"Class activation map (the network's second output) for '{what}': red marks where "
            "the evidence for it lies (over time only: one map for all 12 leads, scaled to "
            "[0, 1])" + trust_caption(trust_of(loaded.name, "cam")),
            plot_12lead_relevance(pred, cam, "CAM", trust=trust_of(loaded.name, "cam")),
        )
    )
    flat = " (all zero: no region raises this score)" if not np.any(gc > 0) else ""
    if np.std(cam) > 0 and np.std(gc) > 0:
        r = float(np.corrcoef(cam, gc)[0, 1])
        section.text += f" CAM and Grad-CAM along the record: Pearson r = {r:.2f}."
    section.figures.append(
        (
            f"Grad-CAM (last conv layer) for '{what}'{flat}, same record (over time only)"
            + trust_caption(trust_of(loaded.name, "grad-cam")),
            plot_12lead_relevance(pred, gc, "Grad-CAM", trust=trust_of(loaded.name, "grad-cam")),
        )
    )
    method = recommended_method(loaded.name, "grad-cam")
    if method not in ("cam", "grad-cam"):
        maps = explain_12lead(pred, loaded, method, device=device)
        name = method_name(method)
        if per_lead(maps, len(pred.lead_names)):
            leads = ", ".join(most_relevant_leads(maps, pred.lead_names)) or "none"
            caption = (
                f"{name} (the model's recommended explainer) for '{what}', per lead: each "
                "trace coloured by its own relevance; below, the mean |relevance| per lead and "
                f"half second (the printout shows each lead for 2.5 s, the heatmap all 10 s; "
                f"the rhythm strip is the most relevant lead). Most relevant: {leads}"
            )
        else:
            caption = f"{name} (the model's recommended explainer) for '{what}', over time only"
        trust = trust_of(loaded.name, method)
        section.figures.append(
            (caption + trust_caption(trust), plot_12lead_relevance(pred, maps, name, trust=trust))
        )
    return section
