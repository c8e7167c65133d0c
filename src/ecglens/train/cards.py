"""Model cards: the Markdown written beside every trained model's weights (``NAME.md``), one
function per training family, and the parts they share.

Every function here turns a saved JSON config (a ``dict``, as :func:`json.load` gives it)
into card text: no training, no files. The recipes (:mod:`ecglens.train.mitdb`,
:mod:`~ecglens.train.ptbxl`, :mod:`~ecglens.train.mi`, :mod:`~ecglens.train.kaggle`,
:mod:`~ecglens.train.images`) write what these return; ``ecglens benchmark explanations``
sets each card's "Recommended explainer" line with :func:`set_card_line`.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from ecglens.data.splits import BeatSplit
from ecglens.evaluate.kaggle import PTB_TASK
from ecglens.inputs.beat_config import BeatConfig

# -- sections every card shares ----------------------------------------------------------


def reproduce_section(config: dict[str, Any], data_note: str) -> str:
    """The card's "Reproduce" section: the config's ``command`` and where the data must be."""
    return f"""## Reproduce

```
{config["command"]}
```

{data_note.strip()}
"""


def intended_use_section(limits: str) -> str:
    """The card's "Intended use and limits" section."""
    return f"""## Intended use and limits

Research and teaching only, not a medical device. {limits.strip()}
"""


def _ci(m: dict[str, Any], digits: int = 3) -> str:
    """``value [low, high]`` of a ``{"value", "ci"}`` score."""
    return f"{m['value']:.{digits}f} [{m['ci'][0]:.{digits}f}, {m['ci'][1]:.{digits}f}]"


CARD_LINE = "- **Recommended explainer**"


def set_card_line(text: str, entry: dict[str, Any]) -> str:
    """``text`` with its "Recommended explainer" bullet (and continuation lines) replaced, or
    added after the last bullet before the first section heading."""
    method = entry.get("recommended")
    if method:
        body = f"{CARD_LINE}: {method}; it {entry['why']} (`ecglens benchmark explanations`)"
    else:
        body = (
            f"{CARD_LINE}: none measured qualifies: {entry['why']} (`ecglens benchmark "
            f"explanations`); `explain` uses the task's default, {entry.get('default')}"
        )
    line = "\n".join(textwrap.wrap(body, 92, subsequent_indent="  ", break_on_hyphens=False))
    pattern = re.compile(re.escape(CARD_LINE) + r"[^\n]*\n(?:  [^\n]*\n)*")
    if pattern.search(text):
        return pattern.sub(lambda _: line + "\n", text, count=1)
    lines = text.splitlines(keepends=True)
    first_heading = next((i for i, s in enumerate(lines) if s.startswith("## ")), len(lines))
    bullets = [i for i, s in enumerate(lines[:first_heading]) if s.startswith("- ")]
    if not bullets:
        return text.rstrip("\n") + "\n\n" + line + "\n"
    end = bullets[-1] + 1
    while end < len(lines) and lines[end].startswith("  "):
        end += 1
    return "".join(lines[:end]) + line + "\n" + "".join(lines[end:])


# -- MIT-BIH beat models (ecglens.train.mitdb, ecglens.train.ensemble) -------------------


MITDB_DATA_NOTE = """
with `ECGLENS_DATA` pointing at the folder holding `mitdb/`. Beat positions come from the
reference annotations; data checksums (SHA-256 of each record's .hea/.dat/.atr) are in the
JSON config beside the weights."""


MITDB_LIMITS = """Trained on the 48 half-hour records of MIT-BIH (47 patients,
1975-1979, two ambulatory leads); expect lower performance on other populations, leads and
devices. Grad-CAM shows where along the beat the network's evidence lies."""


@dataclass
class SplitInfo:
    description: str
    optimistic: bool


def split_info(config: dict[str, Any]) -> SplitInfo:
    return SplitInfo(
        config.get("split_description", config["split"]), bool(config.get("optimistic"))
    )


def mitdb_card(name: str, config: dict[str, Any], split: BeatSplit | SplitInfo) -> str:
    """Markdown model card: data, split, seed, metrics and the reproducing command."""
    m = config["metrics"]
    ci = m.get("bootstrap", {}).get("metrics", {})

    def interval(value: dict | None) -> str:
        return f" [{value['ci'][0]:.3f}, {value['ci'][1]:.3f}]" if value else ""

    rows = "\n".join(
        f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f}"
        f"{interval(ci.get('per_class', {}).get(c, {}).get('f1'))} | {v['support']} |"
        for c, v in m["per_class"].items()
    )
    warning = (
        "\n> **Optimistic split**: beats of the same patients are in training and test "
        "data; expect much lower scores on new patients.\n"
        if split.optimistic
        else ""
    )
    train = config["train"]
    return f"""# {name}

Beat classifier (AAMI classes {", ".join(config["classes"])}) trained with ecglens {
        config["environment"]["ecglens"]
    }.

- **Architecture**: `{config["architecture"]}` {config["architecture_kwargs"]}
- **Input**: {config["beats"]["representation"]} beats {config["inputs"]}, lead {
        config["beats"]["lead"] or "MLII"
    }
- **Data**: {config["data"]["database"]}; {_data_counts_text(config)}
- **Split**: {config["split"]}: {split.description}
- **Training**: seed {train["seed"]}, loss {train["loss"]}, class-weighted {
        train["class_weighted"]
    }, sampler {train["sampler"]}, batch {train["batch_size"]}, lr {train["lr"]} ({
        train["lr_schedule"]
    }), {_stopping_text(config)}{_members_text(config)}
{warning}
## Test metrics ({m["n"]} beats)

Accuracy {m["accuracy"]:.4f}{interval(ci.get("accuracy"))}, macro-F1 {m["macro_f1"]:.4f}
(over {", ".join(m["macro_f1_classes"])}){
        _nsvf_text(m)
    }. Intervals in brackets: 95%, from resampling
whole test records (patients) 1,000 times, when computed.

| class | +P (precision) | Se (recall) | F1 [95% CI] | support |
|---|---|---|---|---|
{rows}

{_cv_text(config)}{_per_record_text(m)}
{_calibration_text(config)}
{reproduce_section(config, MITDB_DATA_NOTE)}
{intended_use_section(MITDB_LIMITS)}
Data: Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. IEEE EMB 20(3) 2001
(ODC-By 1.0), via PhysioNet.
"""


def _members_text(config: dict[str, Any]) -> str:
    members = config.get("members")
    if not members:
        return ""
    seeds = ", ".join(str(m["seed"]) for m in members)
    return (
        f"\n- **Ensemble**: {len(members)} members of this configuration, training seeds "
        f"{seeds} (best epochs {config['best_epoch']}); probabilities are their mean"
    )


def _calibration_text(config: dict[str, Any]) -> str:
    """Card section: temperature, ECE before/after, and what review flags catch."""
    cal = config.get("calibration")
    if not cal:
        return ""
    lines = [
        "## Calibration and uncertainty",
        "",
        f"Temperature {cal['temperature']:.3f}, fitted on the "
        f"{cal.get('fitted_on', 'validation beats')}. Expected "
        f"calibration error (15 bins) on validation {cal['val']['ece_before']:.3f} -> "
        f"{cal['val']['ece_after']:.3f}; on test {cal['test']['ece_before']:.3f} -> "
        f"{cal['test']['ece_after']:.3f}"
        + (
            f"; with the rhythm rule {cal['test']['ece_with_rhythm_rule']:.3f} (the table "
            "below is with the rule)."
            if "ece_with_rhythm_rule" in cal["test"]
            else "."
        ),
        "",
        "Uncertainty: normalised predictive entropy, "
        + (
            f"{config['mc_samples']} MC-dropout passes"
            if config.get("mc_samples")
            else "of the calibrated softmax"
        )
        + ". Flagging the most uncertain test beats:",
        "",
        "| flagged | error rate flagged | error rate rest | share of all errors caught |",
        "|---|---|---|---|",
    ]
    for row in config.get("review", []):
        lines.append(
            f"| {100 * row['fraction']:.0f}% (uncertainty >= {row['threshold']:.3f}) | "
            f"{100 * row['error_rate_flagged']:.1f}% | {100 * row['error_rate_rest']:.1f}% | "
            f"{100 * row['errors_caught']:.1f}% |"
        )
    return "\n".join(lines) + "\n"


def _stopping_text(config: dict[str, Any]) -> str:
    """Card words on when training stopped."""
    train = config["train"]
    if config.get("cv"):
        return (
            f"exactly {train['epochs']} epochs, last epoch kept (no early stopping); validation "
            "= the DS1 beats out of fold"
        )
    return (
        f"early stopping on {train['monitor']} (patience {train['patience']}); best epoch "
        f"{config['best_epoch']}"
    )


def _nsvf_text(metrics: dict[str, Any]) -> str:
    """Card words: macro-F1 over N, S, V, F with its interval, when computed."""
    if "macro_f1_nsvf" not in metrics:
        return ""
    ci = metrics.get("bootstrap", {}).get("metrics", {}).get("macro_f1_nsvf", {}).get("ci")
    interval = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    return f"; over N, S, V, F {metrics['macro_f1_nsvf']:.4f}{interval}"


def _cv_text(config: dict[str, Any]) -> str:
    """Card section: how the model was selected by cross-validation over DS1."""
    cv = config.get("cv")
    if not cv:
        return ""
    lines = [
        "## Selection: cross-validation over DS1",
        "",
        f"{cv['n_folds']}-fold leave-records-out cross-validation over DS1 (the records "
        "richest in S beats, 209, 201, 207, 118, 220 and 223, in different folds); out-of-fold "
        f"macro-F1 (N,S,V,F) {cv['macro_f1_nsvf']:.3f}, S F1 {cv['S_f1']:.3f}. DS2 played no "
        "part in training, selection or calibration.",
        "",
        "| fold records | S beats | S F1 | V F1 |",
        "|---|---|---|---|",
    ]
    for f in cv["per_fold"]:
        lines.append(
            f"| {', '.join(f['records'])} | {f['S_support']} | {f['S_f1']:.3f} | {f['V_f1']:.3f} |"
        )
    for row in cv.get("grid", []):
        if row is cv["grid"][0]:
            lines += [
                "",
                "Grid cells compared on the same folds (the selected one first):",
                "",
                "| cell | CV macro-F1 (N,S,V,F) | CV S F1 |",
                "|---|---|---|",
            ]
        lines.append(f"| {row['cell']} | {row['macro_f1_nsvf']:.3f} | {row['S_f1']:.3f} |")
    bias = config.get("class_bias")
    if bias:
        offsets = ", ".join(
            f"{c} {b:+.2f}" for c, b in zip(config["classes"], bias["bias"], strict=True)
        )
        lines += [
            "",
            f"Class offsets on the calibrated log-probabilities ({offsets}), fitted on the "
            "out-of-fold DS1 predictions to maximise macro-F1 and folded into the output "
            f"layer; nested cross-validation (offsets fitted without the scored fold): "
            f"macro-F1 (N,S,V,F) {bias['macro_f1_nsvf']:.3f}, S F1 {bias['S_f1']:.3f}.",
        ]
    return "\n".join(lines) + _rhythm_rule_text(config) + _cluster_vote_text(config) + "\n\n"


def _data_counts_text(config: dict[str, Any]) -> str:
    """Card: beats in training, validation and test (with CV, validation is out of fold)."""
    data = config["data"]
    if config.get("cv"):
        return (
            f"train {data['n_train']} beats (all of DS1) / validation: the same beats, out of "
            f"fold ({config['cv']['n_folds']}-fold cross-validation) / test {data['n_test']} beats"
        )
    return f"train {data['n_train']} / validation {data['n_val']} / test {data['n_test']} beats"


def _rhythm_rule_text(config: dict[str, Any]) -> str:
    """Card section: the rhythm rule after the classifier, and how it was chosen."""
    rule = config.get("rhythm_rule")
    if not rule:
        return ""
    cv, none = rule["cv"], rule["grid"][0]
    return (
        "\n\n### Rhythm rule\n\n"
        f"After the network, a beat it calls N is called S when {rule['description']} "
        "(`ecglens.predict.rhythm`; features from the unlabelled record, "
        "`ecglens.inputs.rhythm`). The setting was chosen among "
        f"{len(rule['grid']) - 1} by {rule['selected_by']}: macro-F1 (N,S,V,F) "
        f"{none['macro_f1_nsvf']:.3f} -> {cv['macro_f1_nsvf']:.3f}, S F1 {none['S_f1']:.3f} -> "
        f"{cv['S_f1']:.3f} (S Se {100 * cv['S_recall']:.1f} / +P {100 * cv['S_precision']:.1f}). "
        "Its form (prematurity against the longest regular cycle nearby rather than the "
        "record's usual RR) follows the analysis of record 232 in the issue that asked for it, "
        "which was made from DS2's annotations: DS2 is not blind to the rule's design, only to "
        "its thresholds. The README (issue #20's section) lists how the grid of settings grew "
        "and what each choice scored on CV and on DS2."
    )


def _cluster_vote_text(config: dict[str, Any]) -> str:
    """Card section: the per-record cluster vote after the rhythm rule, and how it was chosen."""
    vote = config.get("cluster_vote")
    if not vote:
        return ""
    cv = vote["cv"]
    return (
        "\n\n### Cluster vote (per-record adaptation)\n\n"
        f"After the rhythm rule, {vote['description']} (`ecglens.predict.clusters`; the "
        "record's beats clustered by QRS and P-wave shape without labels). "
        f"Chosen by {vote['selected_by']}: macro-F1 (N,S,V,F) {cv['before']['macro_f1_nsvf']:.4f}"
        f" -> {cv['after']['macro_f1_nsvf']:.4f}, V F1 {cv['before']['V_f1']:.3f} -> "
        f"{cv['after']['V_f1']:.3f}; {vote['cross_database']}"
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _per_record_text(metrics: dict[str, Any]) -> str:
    """Card section: S and V Se / +P of every test record, and the scores without 232."""
    per = metrics.get("per_record")
    if not per:
        return ""
    lines = [
        "## Per test record (S and V)",
        "",
        "| record | beats | S beats | S Se | S +P | V beats | V Se | V +P |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in per.items():
        s, v = r["S"], r["V"]
        lines.append(
            f"| {name} | {r['n']} | {s['support']} | {_percent(s['Se'])} | {_percent(s['+P'])} | "
            f"{v['support']} | {_percent(v['Se'])} | {_percent(v['+P'])} |"
        )
    lines.append("")
    lines.append("Se and +P in percent; - where undefined (no such beats, or none called).")
    without = metrics.get("without_232")
    if without:
        s = without["per_class"]["S"]
        ci = without.get("bootstrap", {}).get("metrics", {})
        s_ci = ci.get("per_class", {}).get("S", {}).get("f1", {}).get("ci")
        interval = f" [{s_ci[0]:.3f}, {s_ci[1]:.3f}]" if s_ci else ""
        lines += [
            "",
            f"Without record 232 ({without['n']} beats): S Se {_percent(s['recall'])}, +P "
            f"{_percent(s['precision'])}, S F1 {s['f1']:.3f}{interval}; macro-F1 (N,S,V,F) "
            f"{without['macro_f1_nsvf']:.3f}; accuracy {_percent(without['accuracy'])}%.",
        ]
    return "\n".join(lines) + "\n"


# -- PTB-XL 12-lead models (ecglens.train.ptbxl) -----------------------------------------


PTBXL_DATA_NOTE = """
with `ECGLENS_DATA` pointing at the folder holding `ptb-xl/`. Scores can differ slightly
across hardware and library versions (see the JSON config's `environment`)."""


PTBXL_LIMITS = """Trained on about 1/10 of PTB-XL (one
German hospital's recordings, 1989-1996); expect lower performance on other populations and
devices. The CAM shows where along the 10 s the network's evidence lies; it is shared by
all 12 leads."""


def ptbxl_card(name: str, config: dict[str, Any]) -> str:
    """Markdown model card: data, counts, split, seed, preprocessing, metrics, reproduction."""
    task = config["task"]
    short = task.removeprefix("ptbxl-")
    d, c, t = config["data"], config["complexity"], config["train"]
    counts = d["counts"]

    def count_line(part: str) -> str:
        entry = counts.get(part)
        if not entry:
            return f"{part}: none"
        rest = ", ".join(f"{k} {v}" for k, v in entry.items() if k != "n")
        return f"{part} {entry['n']} records ({rest})"

    augment = config["run"]["augment"]
    aug_text = (
        "none"
        if augment is None
        else "time shift (p {p_shift}, up to {max_shift_fraction:.0%}), amplitude scaling "
        "(p {p_scale}, +-{max_scale_change:.0%}), synthetic baseline wander (p {p_wander}, up to "
        "{wander_amplitude} mV), Gaussian noise (p {p_noise}, {noise_std} mV)".format(**augment)
    )
    prep = config["preprocessing"]
    baseline = (
        f"degree-{prep['polynomial_degree']} polynomial detrend per lead"
        if prep["baseline"] == "polynomial"
        else f"zero-phase order-{prep['highpass_order']} Butterworth high-pass at "
        f"{prep['highpass_cutoff_hz']} Hz"
    )
    test = (
        _ptbxl_metrics(config["metrics"], task)
        if config.get("metrics")
        else "Not scored on fold 10 (model-selection run).\n"
    )
    what = {
        "binary": "normal vs abnormal",
        "mi-12lead": "myocardial infarction vs normal",
    }.get(short, "5 diagnostic superclasses, multi-label: " + ", ".join(config["classes"]))
    return f"""# {name}

12-lead ECG classifier ({what}) with a class activation map (CAM) as its second output,
trained with ecglens {config["environment"]["ecglens"]}.

- **Architecture**: `{config["architecture"]}` {json.dumps(config["architecture_kwargs"])};
  {c["parameters"]:,} parameters; {c["macs_per_record"]:,} multiply-accumulates per 10-s record
  ({c["macs_per_record_without_cam"]:,} without the CAM branch)
- **Input**: {config["n_leads"]} leads ({", ".join(config["lead_names"])}), {config["length"]}
  samples = 10 s at {config["fs"]} Hz; other rates are resampled, other lengths cropped or padded
- **Preprocessing**: {baseline}, then per-lead standard scaling with mean and standard deviation
  from the training records (stored in the JSON config)
- **Data**: {d["database"]}, {d["records_on_disk"]}: {d["n_records"]} labelled records
  ({d["n_excluded_no_superclass"]} without a diagnostic superclass excluded). Labels:
  {d["label_rule"]}.
- **Split**: {config["split"]["description"]}; {config["split"]["train_fraction"]:.0%} of the
  training records used. Record counts: {count_line("train")};
  {count_line("val")}; {count_line("test")}
- **Training**: seed {config["seed"]}, {t["loss"]} loss, Adam lr {t["lr"]:g} ({t["lr_schedule"]}),
  batch {t["batch_size"]}, up to {t["epochs"]} epochs, early stopping on {t["monitor"]} (patience
  {t["patience"]}); best epoch {config["best_epoch"]}. Augmentation: {aug_text}.
- **Decision threshold**: {_threshold_text(config)}; {config["threshold_description"]}.

## Validation metrics (fold 9, used for selection)

{_ptbxl_metrics(config["val_metrics"], task)}
## Test metrics (fold 10, scored once)

{test}
Intervals: 95% percentile bootstrap over records (1,000 resamples, seed 0). Fold 10 of this
subset holds about 250 records: read every number with its interval.

{reproduce_section(config, PTBXL_DATA_NOTE)}
{intended_use_section(PTBXL_LIMITS)}
Data: Wagner P, Strodthoff N, et al. PTB-XL, a large publicly available electrocardiography
dataset. Scientific Data 7:154 (2020), CC BY 4.0, via PhysioNet.
"""


def _ptbxl_metrics(metrics: dict[str, Any], task: str) -> str:
    """A markdown table of metrics with 95 % intervals (binary or superclass)."""
    if task in ("binary", "mi", "ptbxl-binary", "ptbxl-mi-12lead"):
        rows = "\n".join(
            f"| {k} | {_ci(metrics[k])} |"
            for k in ("accuracy", "precision", "recall", "specificity", "f1", "roc_auc")
        )
        return (
            f"{metrics['n_records']} records ({metrics['n_normal']} normal, "
            f"{metrics['n_abnormal']} abnormal); threshold {metrics['threshold']:.3f}\n\n"
            f"| metric | value [95% CI] |\n|---|---|\n{rows}\n"
        )
    rows = "\n".join(
        f"| {c} | {v['n_positive']} | {_ci(v['roc_auc'])} | {_ci(v['f1'])} | {v['threshold']:.3f} |"
        for c, v in metrics["per_class"].items()
    )
    return (
        f"{metrics['n_records']} records; macro ROC-AUC {_ci(metrics['macro_auc'])}, "
        f"macro F1 {_ci(metrics['macro_f1'])}\n\n"
        f"| class | positives | ROC-AUC [95% CI] | F1 [95% CI] | threshold |\n"
        f"|---|---|---|---|---|\n{rows}\n"
    )


def _threshold_text(config: dict[str, Any]) -> str:
    thr = config["threshold"]
    if isinstance(thr, dict):
        return ", ".join(f"{k} {v:.3f}" for k, v in thr.items())
    return f"{thr:.3f}"


# -- PTB-XL MI beat models (ecglens.train.mi) --------------------------------------------


MI_DATA_NOTE = """
with `ECGLENS_DATA` pointing at the folder holding `ptb-xl/`; a transferred model also needs
the MIT-BIH model named by `--init` (shipped with ecglens)."""


MI_LIMITS = """Trained on about 1/10 of PTB-XL (one German hospital,
1989-1996), one lead; expect lower performance on other populations and devices. The R-peak
detector marks the largest deflection, which is the trough of the QRS in about a third of MI
beats on lead II (Q waves) against 4% of normal beats: part of what the model uses is that
polarity."""


def mi_card(name: str, config: dict[str, Any]) -> str:
    """Markdown model card: data, transfer, split, seed, metrics, relevance, reproduction."""
    d, t, tr = config["data"]["counts"], config["train"], config["transfer"]
    origin = (
        "trained from scratch"
        if tr["init"] is None
        else f"encoder from `{tr['init']}` (MIT-BIH, {tr.get('init_split')}), new head; "
        + (
            "encoder frozen"
            if tr["freeze_encoder"]
            else f"encoder fine-tuned at {tr['encoder_lr_scale']:g} x the learning rate"
        )
    )
    return f"""# {name}

Myocardial infarction vs normal from single-lead beats (lead {config["lead"]}), scored per
record (the mean of the record's beat probabilities), trained with ecglens
{config["environment"]["ecglens"]}.

- **Architecture**: `{config["architecture"]}` {config["architecture_kwargs"]}; {origin}
- **Input**: {_mi_input(config["lead"], config.get("beats") or {})}
- **Data**: {config["data"]["database"]}; {config["data"]["label_rule"]}. Train
  {d["train"]["records"]} records ({d["train"]["mi_records"]} MI, {d["train"]["beats"]} beats),
  validation {d["val"]["records"]} ({d["val"]["mi_records"]} MI), test {d["test"]["records"]}
  ({d["test"]["mi_records"]} MI)
- **Split**: {config["split"]["description"]}; {config["split"]["train_fraction"]:.0%} of the
  training records used
- **Training**: seed {config["seed"]}, cross-entropy (class-weighted {t["class_weighted"]}),
  Adam lr {t["lr"]:g} ({t["lr_schedule"]}), batch {t["batch_size"]}, up to {t["epochs"]}
  epochs, early stopping on beat-level validation ROC-AUC (patience {t["patience"]}); best
  epoch {config["best_epoch"]}
- **Threshold**: {config["threshold"]:.3f} on the record's P(MI), maximising Youden's J on
  the fold-9 records
- **Recommended explainer**: Grad-CAM at the last convolution (the report shows the mean
  relevance over correctly classified MI and normal beats)

## Validation (fold 9, used for selection)

{_mi_metrics(config["val_metrics"])}
## Test (fold 10, scored once)

{_mi_metrics(config["metrics"])}
Intervals: 95% percentile bootstrap over records (1,000 resamples, seed 0).

{reproduce_section(config, MI_DATA_NOTE)}
{intended_use_section(MI_LIMITS)}
Data: Wagner P, Strodthoff N, et al. PTB-XL, a large publicly available electrocardiography
dataset. Scientific Data 7:154 (2020), CC BY 4.0, via PhysioNet. Method: Kachuee M, Fazeli S,
Sarrafzadeh M. ECG heartbeat classification: a deep transferable representation. IEEE ICHI
2018.
"""


MI_SCORES = ("roc_auc", "accuracy", "sensitivity", "specificity", "f1")


def _mi_input(lead: str, beats: dict[str, Any]) -> str:
    """How the model's beats are cut, in words (``beats``: the config's ``beats`` object)."""
    if beats.get("representation", "kachuee") == "kachuee":
        return (
            f"beats of lead {lead} in the Kachuee format (125 Hz, 187 samples from\n"
            "  the R peak, scaled to [0, 1]); records at any rate are resampled"
        )
    b = BeatConfig(**beats)
    scale = {
        "record": ", divided by the record's median beat range",
        "median-beat": ", minus the record's median beat, divided by its median beat range",
    }
    return (
        f"beats of lead {lead} in a fixed window, {b.before_s:g} s before to {b.after_s:g} s "
        f"after the R peak at {b.window_fs:.6g} Hz ({b.input_length} samples, the R peak at "
        f"sample {b.r_index}), in mV minus the beat's median{scale.get(b.normalize, '')}; no "
        "zero padding, so the window's length does not depend on the heart rate; records at "
        "any rate are resampled"
    )


def _mi_metrics(metrics: dict[str, Any]) -> str:
    """Record- and beat-level scores with intervals, as a Markdown table."""
    rows = "\n".join(f"| {k} | {_ci(metrics[k])} | {_ci(metrics['beat'][k])} |" for k in MI_SCORES)
    return (
        f"{metrics['n_records']} records ({metrics['n_abnormal']} MI, {metrics['n_normal']} "
        f"normal), {metrics['beat']['n_beats']} beats; threshold {metrics['threshold']:.3f} on "
        f"the record's mean beat P(MI)\n\n| metric | record level [95% CI] | beat level [95% CI] |"
        f"\n|---|---|---|\n{rows}\n"
    )


# -- Kaggle heartbeat CSV models (ecglens.train.kaggle) ----------------------------------


KAGGLE_DATA_NOTE = """
with the Kaggle heartbeat CSVs (kaggle.com/datasets/shayanfazeli/heartbeat) at the paths given.
The SHA-256 of each file is in the JSON config beside the weights."""


MITBIH_LIMITS = """Trained and tested on beats of the same 47 MIT-BIH patients
(1975-1979, two ambulatory leads): the test score says little about new patients, other leads
or devices."""


PTB_LIMITS = """Trained and tested on beats of the same PTB Diagnostic ECG Database
patients (one German institute); the files do not say which record or patient a beat comes
from. The test score says little about detecting MI in a new patient."""


def kaggle_card(name: str, config: dict[str, Any]) -> str:
    """Markdown model card: the patient-leak warning first, then data, split, training,
    transfer, validation and test metrics and the reproducing command."""
    ptb = config["task"] == PTB_TASK
    m, d, t = config["metrics"], config["data"], config["train"]
    what = (
        "Normal vs myocardial infarction (MI) beat classifier"
        if ptb
        else f"Beat classifier (AAMI classes {', '.join(config['classes'])})"
    )
    split = config["split"]["description"] if ptb else config["split_description"]
    files = "; ".join(
        f"`{f['name']}` ({f['rows']} rows, SHA-256 {f['sha256'][:16]}...)"
        for f in d["files"].values()
    )
    counts = "; ".join(
        f"{part} {d[f'n_{part}']} ("
        + ", ".join(f"{c} {n}" for c, n in d["counts"][part].items())
        + ")"
        for part in ("train", "val", "test")
    )
    metrics_text = _ptb_metrics_text if ptb else _mitbih_metrics_text
    val = config["val_metrics"]
    val_text = (
        f"accuracy {val['accuracy']:.4f}, ROC-AUC {val['roc_auc']:.4f}"
        if ptb
        else f"accuracy {val['accuracy']:.4f}, macro-F1 {val['macro_f1']:.4f}"
    )
    return f"""# {name}

> **{config["warning"]}**

{what} trained with ecglens {config["environment"]["ecglens"]} on the public Kaggle heartbeat
CSVs.

- **Architecture**: `{config["architecture"]}` {json.dumps(config["architecture_kwargs"])}
- **Input**: one Kachuee beat per example (187 samples at 125 Hz from the R peak, in [0, 1]),
  inputs {config["inputs"]}
- **Data**: {d["database"]}; {files}
- **Split**: {split}. Beats: {counts}
- **Transfer**: {_transfer_text(config)}
- **Training**: seed {t["seed"]}, loss {t["loss"]}, class-weighted {t["class_weighted"]}, batch
  {t["batch_size"]}, lr {t["lr"]:g} ({t["lr_schedule"]}), up to {t["epochs"]} epochs, early
  stopping on {t["monitor"]} (patience {t["patience"]}); best epoch {config["best_epoch"]}
- **Validation** (beats of the training patients): {val_text}

## Test metrics ({m["n"]} beats, scored once; optimistic)

{metrics_text(m)}

No confidence intervals: the rows are beats of unknown patients, so there is no independent
unit to resample.

{reproduce_section(config, KAGGLE_DATA_NOTE)}
{intended_use_section(PTB_LIMITS if ptb else MITBIH_LIMITS)}
Data: Kachuee M, Fazeli S, Sarrafzadeh M. ECG Heartbeat Classification: A Deep Transferable
Representation. IEEE ICHI 2018; from the MIT-BIH Arrhythmia and PTB Diagnostic ECG databases
(PhysioNet).
"""


def _transfer_text(config: dict[str, Any]) -> str:
    transfer = config.get("transfer") or {}
    if not transfer.get("init"):
        return "none (trained from a random initialisation)"
    how = (
        "encoder frozen, head trained"
        if transfer["freeze_encoder"]
        else f"encoder fine-tuned at {transfer['encoder_lr_scale']:g} x the learning rate"
    )
    return (
        f"started from `{transfer['init']}` ({transfer['init_model']}, task "
        f"{transfer['init_task']}): {transfer['kept']}; {how}"
    )


def _mitbih_metrics_text(m: dict[str, Any]) -> str:
    rows = "\n".join(
        f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
        for c, v in m["per_class"].items()
    )
    return f"""Accuracy {m["accuracy"]:.4f}, macro-F1 {m["macro_f1"]:.4f} (over {
        ", ".join(m["macro_f1_classes"])
    }; over N, S, V, F {m["macro_f1_nsvf"]:.4f}).

| class | +P (precision) | Se (recall) | F1 | support |
|---|---|---|---|---|
{rows}

Published on these files (the same kind of split): Kachuee et al. 2018, 93.4% average
accuracy."""


def _ptb_metrics_text(m: dict[str, Any]) -> str:
    (tn, fp), (fn, tp) = m["confusion_matrix"]
    return f"""At P(MI) >= {m["threshold"]:g}: accuracy {m["accuracy"]:.4f}, sensitivity
{m["sensitivity"]:.4f}, specificity {m["specificity"]:.4f}, precision {m["precision"]:.4f},
F1 (MI) {m["f1"]:.4f}; ROC-AUC {m["roc_auc"]:.4f}. {m["n_normal"]} normal and {m["n_mi"]} MI
beats; TN {tn}, FP {fp}, FN {fn}, TP {tp}.

Published on these files (the same kind of split): Kachuee et al. 2018, 95.9% accuracy
(MIT-BIH network transferred)."""


# -- printout-image models (ecglens.train.images) ----------------------------------------


IMAGES_DATA_NOTE = """
with the image folder (`normal/`, `mi/`, `post_mi/`, `abnormal/`) at the path given; in the
repository's data layout it is `$ECGLENS_DATA/ecg-images`."""


IMAGES_LIMITS = """Trained on 491 distinct printouts of one
hospital's ECG machine and layout (3 x 4 leads + rhythm strip, 25 mm/s, 10 mm/mV) with only
30 distinct MI images; other printers, layouts or photographs of paper were never seen
(synthetic phone-photo transforms only: see `ecglens benchmark images`). Scores of the
committee on its own training images are meaningless (all members but one trained on each of
them): score it with `ecglens evaluate images`, which uses each image's held-out member."""


def images_card(name: str, config: dict[str, Any]) -> str:
    """Markdown model card: what the committee is, data, split, training, scores."""
    run = config["run"]
    cv = config["cross_validation"]
    counts = config["data"]["counts"]
    t = config["train"]
    per_class = ", ".join(
        f"{c} {v['files']} files / {v['distinct']} distinct" for c, v in counts["per_class"].items()
    )
    inp = config["input"]
    members = run["members"] or [
        {"architecture": run["architecture"], "kwargs": run["architecture_kwargs"]}
    ]
    member_text = "; ".join(f"`{m['architecture']}` {m['kwargs']}" for m in members)
    own_lr = "".join(
        f"; {m['architecture']} at lr {m['train']['lr']:g}"
        for m in members
        if "lr" in m.get("train", {})
    )
    fusion = f"{run['fusion']} fusion of {member_text}" if run["fusion"] else member_text
    fold_minutes = ", ".join(f"{f['train_seconds'] / 60:.1f}" for f in config["folds"])
    return f"""# {name}

ECG printout image -> normal / MI / post-MI / abnormal heartbeat, trained with ecglens
{config["environment"]["ecglens"]}.

- **What it is**: the committee of the {cv["n_folds"]} fold models of grouped
  {cv["n_folds"]}-fold cross-validation, each a {fusion}; a new image gets the mean of the
  {cv["n_folds"]} members' probabilities. {config["parameters"]["per_member"]:,} parameters
  per member, {config["parameters"]["total"]:,} in all; weights stored as
  {config["weights_dtype"]}
- **Input**: the printout's trace area (rows 94-506 of 524: the grid without header and
  footer){"" if inp["crop"] else " (not cropped)"}, resized to {inp["height"]} x {inp["width"]}
  pixels, {"grayscale" if inp["grayscale"] else "RGB"}, ink (1 - value) standardised per image
- **Data**: {config["data"]["database"]}: {counts["files"]} files, {counts["distinct"]}
  distinct images ({per_class}); duplicates: {config["data"]["duplicates"]}
- **Split**: {cv["description"]}; in each fold {run["val_fraction"]:.0%} of the training
  images (stratified) choose the epoch (lowest validation loss)
- **Training**: seed {config["seed"]}; cross-entropy, classes balanced by oversampling; Adam
  lr {t["lr"]:g}{own_lr} ({t["lr_schedule"]}), batch {t["batch_size"]}, {t["epochs"]} epochs;
  augmentation: {run["variants"]} phone-photo versions per image (rotation, perspective,
  blur, uneven light, JPEG); {config["train_minutes"]} training minutes on one CPU core in
  all ({fold_minutes} per fold{", members included" if run["fusion"] else ""})
- **Recommended explainer**: Grad-CAM at each member's last convolution, averaged

## Grouped {cv["n_folds"]}-fold cross-validation (out-of-fold, these weights)

{config["metrics"]["n_distinct"]} distinct images, each scored once by the member that did not
train on it.

{_images_metrics(config["metrics"])}
Intervals: 95% percentile bootstrap over duplicate groups (1,000 resamples, seed 0).
`ecglens evaluate images --model {name}` recomputes this table from these weights and the
image folder.

{reproduce_section(config, IMAGES_DATA_NOTE)}
{intended_use_section(IMAGES_LIMITS)}
Data: Khan AH, Hussain M, Malik MK. ECG Images dataset of Cardiac Patients. Mendeley Data V2
(2021), CC BY 4.0.
"""


def _images_metrics(metrics: dict[str, Any]) -> str:
    """Accuracy, macro-F1 and per-class scores with intervals, as Markdown."""
    rows = [
        f"| accuracy | {_ci(metrics['accuracy'])} |",
        f"| macro-F1 | {_ci(metrics['macro_f1'])} |",
    ]
    for c, m in metrics["per_class"].items():
        rows.append(
            f"| {c} F1 (precision / recall) | {_ci(m['f1'])} ({m['precision']['value']:.3f} / "
            f"{m['recall']['value']:.3f}; {m['support']['value']:.0f} images) |"
        )
    return "| metric | value [95% CI] |\n|---|---|\n" + "\n".join(rows) + "\n"
