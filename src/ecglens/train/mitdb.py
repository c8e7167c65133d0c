"""Train a beat classifier on MIT-BIH (one split) and write a shippable model.

The run directory gets ``model.safetensors`` + ``model.json`` (architecture, beat
representation, classes, train config, seed, data checksums, validation and test
metrics) + ``model.md`` (the model card), beside the trainer's checkpoints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens._atomic import atomic_write_json, atomic_write_text
from ecglens.data.mitdb import BeatSet, load_mitdb_beats
from ecglens.data.splits import BeatSplit, make_split, split_records
from ecglens.errors import EcgLensError
from ecglens.evaluate.mitdb import beat_model_inputs, evaluate_beats
from ecglens.inputs.beats import RR_OPTIONS, RR_WIDTHS, BeatConfig
from ecglens.models.registry import create_model, save_pretrained
from ecglens.train.provenance import environment, intended_use_section, reproduce_section
from ecglens.train.trainer import ArrayDataset, TrainConfig, fit


@dataclass
class MitdbRunConfig:
    """A complete MIT-BIH training run; saved into the model's JSON."""

    split: str = "inter-patient"
    architecture: str = "kachuee"
    architecture_kwargs: dict[str, Any] = field(default_factory=dict)
    beats: BeatConfig = field(default_factory=BeatConfig)
    inputs: tuple[str, ...] = ("x",)  # "x" waveform, "rr" RR features
    train: TrainConfig = field(default_factory=TrainConfig)
    val_fraction: float = 0.1
    val_records: int = 0  # inter-patient: > 0 holds out that many whole DS1 records instead
    calibrate: bool = True  # fit a temperature on the validation beats
    mc_samples: int = 0  # MC-dropout passes for the uncertainty score (0: softmax entropy)
    split_seed: int | None = None  # seed of the validation draw; None: the training seed

    @property
    def validation_seed(self) -> int:
        """Seed of the train/validation split: ``split_seed``, else the training seed."""
        return self.train.seed if self.split_seed is None else self.split_seed

    @classmethod
    def from_options(
        cls,
        split: str = "inter-patient",
        arch: str | None = None,
        representation: str = "kachuee",
        window_fs: float = 360.0,
        context: int = 1,
        normalize: str = "none",
        rr: str = "none",
        arch_kwargs: dict[str, Any] | None = None,
        calibrate: bool = True,
        mc_samples: int = 0,
        val_records: int = 0,
        split_seed: int | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        lr_schedule: str = "plateau",
        patience: int | None = None,
        loss: str = "ce",
        class_weighted: bool = False,
        sampler: str = "none",
        max_class_weight: float = 30.0,
        monitor: str = "val_macro_f1",
        seed: int = 0,
        device: str = "auto",
    ) -> MitdbRunConfig:
        """The run the ``ecglens train mitdb`` options describe; None takes the default
        (kachuee, 30 epochs, batch 256, lr 0.001, patience 6). ``rr`` is a key of
        :data:`~ecglens.inputs.beats.RR_OPTIONS`; ``n_rr_features`` is set to match unless
        ``arch_kwargs`` gives it."""
        if rr not in RR_OPTIONS:
            raise EcgLensError(f"--rr must be one of {', '.join(RR_OPTIONS)}, not {rr!r}")
        kwargs = dict(arch_kwargs or {})
        if RR_OPTIONS[rr]:
            kwargs.setdefault("n_rr_features", RR_WIDTHS[rr])
        return cls(
            split=split,
            architecture=arch or "kachuee",
            architecture_kwargs=kwargs,
            beats=BeatConfig(
                representation=representation,
                window_fs=window_fs,
                context=context,
                normalize=normalize,
            ),
            calibrate=calibrate,
            mc_samples=mc_samples,
            val_records=val_records,
            split_seed=split_seed,
            inputs=("x", *RR_OPTIONS[rr]),
            train=TrainConfig(
                epochs=30 if epochs is None else epochs,
                batch_size=256 if batch_size is None else batch_size,
                lr=1e-3 if lr is None else lr,
                lr_schedule=lr_schedule,
                patience=6 if patience is None else patience,
                loss=loss,
                class_weighted=class_weighted,
                sampler=sampler,
                max_class_weight=max_class_weight,
                monitor=monitor,
                seed=seed,
                device=device,
            ),
        )


def train_mitdb(
    data_dir: str | Path,
    out_dir: str | Path,
    run: MitdbRunConfig,
    name: str | None = None,
    command: str | None = None,
    resume: bool = False,
    progress: bool = True,
    cache_dir: str | Path | None = "runs/cache",
) -> dict[str, Any]:
    """Train on the split's training beats, select on its validation beats, score its test
    beats once at the end. Returns the model config (with metrics)."""
    out_dir = Path(out_dir)
    atomic_write_json(out_dir / "run_config.json", run_config_dict(run))
    beats, split = load_split(data_dir, run, cache_dir, progress)
    classes = list(beats.classes)
    kwargs = model_kwargs(run, len(classes))
    torch.manual_seed(run.train.seed)
    model = create_model(run.architecture, **kwargs)
    train_set = _dataset(beats, split.train, run.inputs)
    val_set = _dataset(beats, split.val, run.inputs)
    result = fit(
        model,
        train_set,
        val_set,
        run.train,
        out_dir,
        resume=resume,
        progress=progress,
        n_classes=len(classes),
    )
    config = {
        "architecture": run.architecture,
        "architecture_kwargs": kwargs,
        "task": "beats",
        "classes": classes,
        "inputs": list(run.inputs),
        "beats": asdict(run.beats),
        "split": run.split,
        "optimistic": split.optimistic,
        "calibrate": run.calibrate,
        "val_records": run.val_records,
        "split_description": split.description,
        "train": asdict(run.train),
        "best_epoch": result.best_epoch,
        "history": result.history,
        "data": {
            "database": "MIT-BIH Arrhythmia Database 1.0.0",
            "checksums": beats.checksums,
            "n_train": int(len(split.train)),
            "n_val": int(len(split.val)),
            "n_test": int(len(split.test)),
        },
        "environment": environment(),
        "command": command or reproduce_command(run, out_dir, name),
    }
    device = next(result.model.parameters()).device
    val_beats, test_beats = beats.subset(split.val), beats.subset(split.test)
    config.update(calibrate_and_review(result.model, val_beats, test_beats, run, config, device))
    config["val_metrics"] = evaluate_beats(result.model, val_beats, config, device)
    config["metrics"] = evaluate_beats(result.model, test_beats, config, device)
    result.model.cpu()
    name = name or out_dir.name
    save_pretrained(result.model, config, out_dir / "model", card=model_card(name, config, split))
    atomic_write_json(out_dir / "metrics.json", config["metrics"])
    return config


def load_split(
    data_dir: str | Path,
    run: MitdbRunConfig,
    cache_dir: str | Path | None = "runs/cache",
    progress: bool = True,
) -> tuple[BeatSet, BeatSplit]:
    """The beats of ``run``'s split and their train/validation/test indices."""
    beats = load_mitdb_beats(data_dir, split_records(run.split), run.beats, cache_dir, progress)
    split = make_split(
        beats,
        run.split,
        seed=run.validation_seed,
        val_fraction=run.val_fraction,
        val_records=run.val_records,
    )
    return beats, split


def model_kwargs(run: MitdbRunConfig, n_classes: int) -> dict[str, Any]:
    """The keyword arguments ``run``'s architecture is built with (saved in its config)."""
    kwargs = {"n_classes": n_classes, **run.architecture_kwargs}
    if run.architecture == "kachuee":
        kwargs.setdefault("input_length", run.beats.input_length)
    return kwargs


def reproduce_command(run: MitdbRunConfig, out: str | Path, name: str | None = None) -> str:
    """The ``ecglens train mitdb`` command line that trains ``run`` again."""
    import json
    import shlex

    t, b = run.train, run.beats
    rr = {inputs: option for option, inputs in RR_OPTIONS.items()}[tuple(run.inputs[1:])]
    parts = [
        "ecglens", "train", "mitdb", "--split", run.split, "--arch", run.architecture,
        "--representation", b.representation, "--window-fs", f"{b.window_fs:g}",
        "--context", str(b.context), "--normalize", b.normalize, "--rr", rr,
        "--epochs", str(t.epochs), "--batch-size", str(t.batch_size), "--lr", f"{t.lr:g}",
        "--lr-schedule", t.lr_schedule, "--patience", str(t.patience), "--loss", t.loss,
        "--class-weighted" if t.class_weighted else "--no-class-weighted",
        "--sampler", t.sampler, "--max-class-weight", f"{t.max_class_weight:g}",
        "--monitor", t.monitor, "--seed", str(t.seed),
        "--calibrate" if run.calibrate else "--no-calibrate",
        "--mc-samples", str(run.mc_samples),
    ]  # fmt: skip
    if run.val_records:
        parts += ["--val-records", str(run.val_records)]
    if run.split_seed is not None:
        parts += ["--split-seed", str(run.split_seed)]
    if run.architecture_kwargs:
        parts += ["--arch-kwargs", json.dumps(run.architecture_kwargs, sort_keys=True)]
    parts += ["--out", str(out)]
    if name:
        parts += ["--name", name]
    return shlex.join(parts)


def run_config_dict(run: MitdbRunConfig) -> dict[str, Any]:
    """The run configuration as JSON (saved as ``run_config.json`` in the run directory)."""
    out = asdict(run)
    out["inputs"] = list(run.inputs)
    return out


def run_config_from_dict(saved: dict[str, Any]) -> MitdbRunConfig:
    """Inverse of :func:`run_config_dict` (older files without ``val_records`` get 0)."""
    fields = dict(saved)
    fields["beats"] = BeatConfig(**saved["beats"])
    fields["train"] = TrainConfig(**saved["train"])
    fields["inputs"] = tuple(saved["inputs"])
    fields.setdefault("val_records", 0)
    return MitdbRunConfig(**fields)


def calibrate_and_review(
    model: torch.nn.Module,
    val: BeatSet,
    test: BeatSet,
    run: MitdbRunConfig,
    config: dict[str, Any],
    device,
) -> dict[str, Any]:
    """Temperature fitted on validation beats, ECE before and after, and what flagging the
    most uncertain test beats for review catches (computed once, after model selection)."""
    from ecglens.evaluate.calibration import expected_calibration_error, fit_temperature
    from ecglens.evaluate.uncertainty import review_summary
    from ecglens.pipeline import beat_probabilities
    from ecglens.predict.forward import predict_logits

    parts = {"val": val, "test": test}
    inputs = {k: beat_model_inputs(b, list(run.inputs)) for k, b in parts.items()}
    logits = {k: predict_logits(model, x, device=device) for k, x in inputs.items()}
    temperature = fit_temperature(logits["val"], val.y) if run.calibrate else 1.0
    calibration: dict[str, Any] = {"temperature": temperature, "fitted_on": "validation beats"}
    for part, beats in parts.items():
        part_logits = torch.as_tensor(logits[part])
        before = torch.softmax(part_logits, 1).numpy()
        after = torch.softmax(part_logits / temperature, 1).numpy()
        calibration[part] = {
            "ece_before": expected_calibration_error(before, beats.y),
            "ece_after": expected_calibration_error(after, beats.y),
        }
    probs, uncertainty = beat_probabilities(
        model, inputs["test"], temperature, run.mc_samples, device
    )
    review = review_summary(uncertainty, probs.argmax(1) == test.y)
    return {
        "temperature": temperature,
        "mc_samples": run.mc_samples,
        "calibration": calibration,
        "review": [{k: _plain(v) for k, v in row.items()} for row in review],
    }


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
        f"Temperature {cal['temperature']:.3f}, fitted on the validation beats. Expected "
        f"calibration error (15 bins) on validation {cal['val']['ece_before']:.3f} -> "
        f"{cal['val']['ece_after']:.3f}; on test {cal['test']['ece_before']:.3f} -> "
        f"{cal['test']['ece_after']:.3f}.",
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


def _plain(value: Any) -> Any:
    """JSON-safe floats (NaN -> None) and ints."""
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def refresh_card_metrics(
    weights: str | Path, data_dir: str | Path, note: str, progress: bool = True
) -> dict[str, Any]:
    """Re-score a beat model with :func:`~ecglens.evaluate.mitdb.evaluate_mitdb` and write
    the result into its JSON config and model card (with ``note`` saying why).

    Used when code that turns records into beats changed after training, so that the card,
    the README and ``ecglens evaluate`` report the same numbers.
    """
    from ecglens.evaluate.mitdb import evaluate_mitdb
    from ecglens.models.registry import load_model

    weights = Path(weights).with_suffix(".safetensors")
    loaded = load_model(weights)
    config = dict(loaded.config)
    metrics = evaluate_mitdb(loaded, data_dir, config["split"], progress=progress)
    keep = (
        "n",
        "accuracy",
        "macro_f1",
        "macro_f1_classes",
        "macro_f1_nsvf",
        "per_class",
        "confusion_matrix",
        "classes",
        "records",
        "bootstrap",
    )
    config["metrics_at_training"] = config.get("metrics")
    config["metrics"] = {k: metrics[k] for k in keep if k in metrics}
    config["metrics_note"] = note
    card = model_card(loaded.name, config, _split_info(config))
    card += f"\n## Note\n\n{note}\n"
    atomic_write_json(weights.with_suffix(".json"), config)
    atomic_write_text(weights.with_suffix(".md"), card)
    return config


@dataclass
class _SplitInfo:
    description: str
    optimistic: bool


def _split_info(config: dict[str, Any]) -> _SplitInfo:
    return _SplitInfo(
        config.get("split_description", config["split"]), bool(config.get("optimistic"))
    )


def _dataset(beats: BeatSet, index: np.ndarray, inputs: tuple[str, ...]) -> ArrayDataset:
    sub = beats.subset(index)
    return ArrayDataset(beat_model_inputs(sub, list(inputs)), sub.y)


MITDB_DATA_NOTE = """
with `ECGLENS_DATA` pointing at the folder holding `mitdb/`. Beat positions come from the
reference annotations; data checksums (SHA-256 of each record's .hea/.dat/.atr) are in the
JSON config beside the weights."""
MITDB_LIMITS = """Trained on the 48 half-hour records of MIT-BIH (47 patients,
1975-1979, two ambulatory leads); expect lower performance on other populations, leads and
devices. Grad-CAM shows where along the beat the network's evidence lies."""


def model_card(name: str, config: dict[str, Any], split: BeatSplit | _SplitInfo) -> str:
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
- **Data**: {config["data"]["database"]}; train {config["data"]["n_train"]} / validation {
        config["data"]["n_val"]
    } / test {config["data"]["n_test"]} beats
- **Split**: {config["split"]}: {split.description}
- **Training**: seed {train["seed"]}, loss {train["loss"]}, class-weighted {
        train["class_weighted"]
    }, sampler {train["sampler"]}, batch {train["batch_size"]}, lr {train["lr"]} ({
        train["lr_schedule"]
    }), early stopping on {train["monitor"]} (patience {train["patience"]}); best epoch {
        config["best_epoch"]
    }{_members_text(config)}
{warning}
## Test metrics ({m["n"]} beats)

Accuracy {m["accuracy"]:.4f}{interval(ci.get("accuracy"))}, macro-F1 {m["macro_f1"]:.4f}
(over {", ".join(m["macro_f1_classes"])}). Intervals in brackets: 95%, from resampling
whole test records (patients) 1,000 times, when computed.

| class | +P (precision) | Se (recall) | F1 [95% CI] | support |
|---|---|---|---|---|
{rows}

{_calibration_text(config)}
{reproduce_section(config, MITDB_DATA_NOTE)}
{intended_use_section(MITDB_LIMITS)}
Data: Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. IEEE EMB 20(3) 2001
(ODC-By 1.0), via PhysioNet.
"""
