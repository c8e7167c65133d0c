"""The MI report: the model (record- and beat-level test scores with intervals, the mean
Grad-CAM relevance over correctly classified MI and normal beats, training curves, card),
then each record's P(MI), the strip of its lead and the beats that speak most for its label."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ecglens.explain.beats import explain_beats
from ecglens.explain.explainers import label_of
from ecglens.explain.recommended import recommended_method, trust_of
from ecglens.inputs.beats import BeatConfig
from ecglens.models.registry import LoadedModel
from ecglens.plot import plot_beat_grid, plot_record_strip
from ecglens.plot.trust import mark_trust
from ecglens.predict.beats import display_beat
from ecglens.predict.mi import MiPrediction
from ecglens.report.explanations import trust_caption
from ecglens.report.html import ReportSection, add_history_and_card

SCORES = ("roc_auc", "accuracy", "sensitivity", "specificity", "f1")
N_BEATS_SHOWN = 3


TITLE = "ecglens MI report"


def report_metadata(loaded: LoadedModel) -> dict[str, Any]:
    """The report's header facts about the model."""
    cfg = loaded.config
    return {
        "model": loaded.name,
        "architecture": cfg.architecture,
        "transfer": (cfg.transfer or {}).get("mode"),
        "split": (cfg.split or {}).get("description"),
        "seed": cfg.seed,
    }


def evaluation_section(metrics: dict[str, Any]) -> ReportSection:
    """An evaluation (``ecglens evaluate ptbxl --task mi``) or the learning curve of
    ``ecglens benchmark mi`` (its ``benchmark.json``), shown after the model."""
    if "summary" in metrics:
        return learning_curve_section(metrics)
    return _scores_section(metrics)


def _scores_section(metrics: dict[str, Any]) -> ReportSection:
    section = ReportSection(title=f"Evaluation: {metrics.get('model', '')}")
    section.tables.append((_counts_text(metrics), score_rows(metrics)))
    return section


def learning_curve_section(benchmark: dict[str, Any]) -> ReportSection:
    """What transfer from MIT-BIH buys: the learning curve of ``ecglens benchmark mi``."""
    from ecglens.plot.learning_curve import plot_learning_curve

    section = ReportSection(
        title="Learning curve: transfer from MIT-BIH vs from scratch",
        text=f"{benchmark.get('metric', '')}; mean +- SD over seeds. "
        f"{benchmark.get('command', '')}",
    )
    section.figures.append(("Test ROC-AUC by share of training records",
                            plot_learning_curve(benchmark["summary"])))
    section.tables.append(("Per mode and share of the training records", [
        {k: e.get(k) for k in ("fraction", "mode", "val_auc_mean", "test_auc_mean",
                               "test_auc_sd", "gain_over_scratch")}
        for e in benchmark["summary"]
    ]))  # fmt: skip
    return section


def score_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows (metric, record level, interval, beat level, interval)."""
    rows = []
    for k in SCORES:
        r, b = metrics[k], metrics["beat"][k]
        rows.append(
            {
                "metric": k,
                "record level": r["value"],
                "record 95% CI": f"{r['ci'][0]:.3f}-{r['ci'][1]:.3f}",
                "beat level": b["value"],
                "beat 95% CI": f"{b['ci'][0]:.3f}-{b['ci'][1]:.3f}",
            }
        )
    return rows


def _counts_text(metrics: dict[str, Any]) -> str:
    return (
        f"{metrics['n_records']} records ({metrics['n_abnormal']} MI, {metrics['n_normal']} "
        f"normal), {metrics['beat']['n_beats']} beats; threshold {metrics['threshold']:.3f}; "
        "95% bootstrap intervals over records"
    )


def model_section(loaded: LoadedModel) -> ReportSection:
    """Test scores, the relevance profiles of MI and normal beats, training curves, card."""
    cfg = loaded.config
    section = ReportSection(title=f"Model {loaded.name}")
    if cfg.metrics:
        section.tables.append(
            ("Test fold 10: " + _counts_text(cfg.metrics), score_rows(cfg.metrics))
        )
    profiles = cfg.relevance or {}
    if profiles:
        names = list(profiles)
        trust = trust_of(loaded.name, "grad-cam")
        beats = cfg.beats or BeatConfig()
        grid = plot_beat_grid(
                    [np.asarray(profiles[n]["mean_beat"]) for n in names],
                    [np.asarray(profiles[n]["mean_relevance"]) for n in names],
                    names,
                    beats.beat_fs,
                    ncols=2,
                    r_index=beats.r_index,
                    amplitude_label=beats.amplitude_label,
                )
        section.figures.append(
            (
                "Mean Grad-CAM relevance (background) over the correctly classified test beats "
                "of each class, drawn over their mean beat: "
                + ", ".join(f"{n} {profiles[n]['n_beats']} beats" for n in names)
                + trust_caption(trust),
                mark_trust(grid, trust),
            )
        )
    add_history_and_card(section, cfg.history, loaded.card)
    return section


def record_section(
    pred: MiPrediction, loaded: LoadedModel, device: str | torch.device = "cpu"
) -> ReportSection:
    """P(MI) of the record, a strip of its lead, and its most telling beats with Grad-CAM."""
    d = pred.to_dict()
    b = pred.beats
    text = (
        f"Prediction: {d['label']} (P(MI) {d['probability']:.3f}, the {d['aggregate']} of "
        f"{d['n_beats']} beats of lead {d['lead']}; threshold {d['threshold']:.3f})."
    )
    section = ReportSection(title=f"Record {pred.record}", text=text)
    beat_labels = np.where(pred.beat_probability >= pred.threshold, "MI", "normal")
    section.figures.append(
        (
            f"Lead {b.lead}, first 10 s; beats lettered by their own call (P(MI) >= threshold)",
            plot_record_strip(b.signal, b.fs, b.sample, list(beat_labels)),
        )
    )
    p = pred.beat_probability if pred.label == "MI" else 1 - pred.beat_probability
    shown = sorted(np.argsort(-p, kind="stable")[:N_BEATS_SHOWN].tolist())
    method = recommended_method(loaded)
    trust = trust_of(loaded.name, method)
    maps = explain_beats(b, loaded, shown, method=method)
    config = loaded.config.beats
    grid = plot_beat_grid(
                [display_beat(b.x[i]) for i in shown],
                maps,
                [str(beat_labels[i]) for i in shown],
                config.beat_fs,
                titles=[f"beat {i} at {b.sample[i] / b.fs:.1f} s" for i in shown],
                r_index=config.r_index,
                amplitude_label=config.amplitude_label,
            )
    section.figures.append(
        (
            f"The {len(shown)} beats whose P({pred.label}) is highest, with {label_of(method)} "
            "for their own predicted class" + trust_caption(trust),
            mark_trust(grid, trust),
        )
    )
    return section
