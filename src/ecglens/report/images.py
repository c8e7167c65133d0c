"""The printout-image report: the model (card, cross-validated scores with intervals,
confusion matrix), then each image with its prediction, the Grad-CAM map over the printout
and the lead panels ranked by relevance. A file that cannot be read gets its one-line error
in the report and the others go on."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ecglens.explain.recommended import trust_of
from ecglens.models.registry import LoadedModel
from ecglens.plot.images import explain_image, panel_relevance, plot_relevance_on_page
from ecglens.plot.metrics import plot_confusion_matrix
from ecglens.predict.images import ImagePrediction, input_config
from ecglens.report.explanations import trust_caption
from ecglens.report.html import ReportSection, add_history_and_card

SCORES = ("precision", "recall", "f1")


TITLE = "ecglens image report"


def report_metadata(loaded: LoadedModel) -> dict[str, Any]:
    """The report's header facts about the model."""
    cfg = loaded.config
    cv = cfg.cross_validation or {}
    return {
        "model": loaded.name,
        "architecture": cfg.members or cfg.architecture,
        "data": (cfg.data or {}).get("database"),
        "split": cv.get("description", cfg.split),
        "seed": cfg.seed,
    }


def evaluation_section(metrics: dict[str, Any]) -> ReportSection:
    """An evaluation (``ecglens evaluate images``) shown after the model."""
    return metrics_section(metrics, f"Evaluation: {metrics.get('model', '')}")


def _ci(m: dict[str, Any]) -> str:
    return f"{m['ci'][0]:.3f}-{m['ci'][1]:.3f}"


def score_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows (metric, value, 95% CI): accuracy, macro-F1, then each class's scores."""
    rows = [
        {"metric": label, "value": metrics[key]["value"], "95% CI": _ci(metrics[key])}
        for key, label in (("accuracy", "accuracy"), ("macro_f1", "macro-F1"))
    ]
    for name, m in metrics["per_class"].items():
        for score in SCORES:
            rows.append(
                {"metric": f"{name} {score}", "value": m[score]["value"], "95% CI": _ci(m[score])}
            )
    return rows


def metrics_section(metrics: dict[str, Any], title: str) -> ReportSection:
    """Scores with intervals and the confusion matrix of an image evaluation."""
    section = ReportSection(title=title)
    n = metrics.get("n_distinct", metrics.get("n", {}).get("value"))
    caption = f"{metrics.get('evaluation', 'scores')}; {n} images; 95% bootstrap intervals"
    section.tables.append((caption, score_rows(metrics)))
    if metrics.get("confusion_matrix"):
        section.figures.append(
            (
                "Confusion matrix (rows: reference)",
                plot_confusion_matrix(np.array(metrics["confusion_matrix"]), metrics["classes"]),
            )
        )
    return section


def model_section(loaded: LoadedModel) -> ReportSection:
    """The card's cross-validated scores, confusion matrix and the card itself."""
    cfg = loaded.config
    section = ReportSection(title=f"Model {loaded.name}")
    if cfg.metrics:
        inner = metrics_section(cfg.metrics, "")
        section.tables, section.figures = inner.tables, inner.figures
    add_history_and_card(section, None, loaded.card)
    return section


def record_section(
    pred: ImagePrediction, loaded: LoadedModel, device: str | torch.device = "cpu"
) -> ReportSection:
    """The prediction, the printout with Grad-CAM, and the panels ranked by relevance."""
    relevance = explain_image(pred, loaded, device)
    cropped = input_config(loaded).crop
    panels = panel_relevance(relevance, cropped)
    ranked = sorted(panels, key=lambda name: -panels[name]["mean"])
    probs = ", ".join(f"{c} {p:.3f}" for c, p in zip(pred.classes, pred.probabilities, strict=True))
    text = (
        f"Prediction: {pred.label} (probability {pred.probability:.3f}; {probs}). The lead "
        f"panel with the most Grad-CAM relevance for {pred.label} is {ranked[0]}."
    )
    if pred.page is not None and pred.page.correction != "none":
        text += (
            f" The printout was found in the photo, turned by {pred.page.angle_deg:.1f} degrees, "
            "and straightened before it was classified."
        )
    section = ReportSection(title=f"Image {pred.record}", text=text)
    page = pred.page_image()
    trust = trust_of(loaded.name, "grad-cam")
    section.figures.append(
        (
            "Grad-CAM for the predicted class over the printout; the most relevant panel drawn "
            "thick" + trust_caption(trust),
            plot_relevance_on_page(pred, page, relevance, cropped, trust=trust),
        )
    )
    section.tables.append(
        (
            "Lead panels by mean relevance (share: of the map's total relevance)",
            [
                {
                    "panel": name,
                    "mean relevance": panels[name]["mean"],
                    "share": panels[name]["share"],
                }
                for name in ranked
            ],
        )
    )
    return section
