"""Train a beat classifier on MIT-BIH (one split) and write a shippable model.

The run directory gets ``model.safetensors`` + ``model.json`` (architecture, beat
representation, classes, train config, seed, data checksums, validation and test
metrics) + ``model.md`` (the model card), beside the trainer's checkpoints.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens._atomic import atomic_write, atomic_write_json, atomic_write_text
from ecglens.data.mitdb import BeatSet, load_mitdb_beats
from ecglens.data.splits import BeatSplit, make_split, split_records
from ecglens.errors import EcgLensError
from ecglens.evaluate.mitdb import beat_model_inputs, evaluate_beats
from ecglens.inputs.beats import RR_OPTIONS, RR_WIDTHS, BeatConfig
from ecglens.models.registry import create_model, save_pretrained
from ecglens.train.cards import mitdb_card, set_card_line, split_info
from ecglens.train.provenance import environment
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
    # inter-patient: > 0 selects by leave-records-out cross-validation over DS1 with that many
    # folds (data.splits.record_folds); every fold model and the final model (all of DS1)
    # train for exactly ``train.epochs`` epochs and keep the last (no early stopping), and
    # the temperature is fitted on the out-of-fold logits
    cv_folds: int = 0
    # training-time changes other recorders make ("recorder": ecglens.train.beat_augment);
    # "none" for none
    augment: str = "none"

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
        cv_folds: int = 0,
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
        from ecglens.inputs.beats import RR_NEEDS_RECORD_FEATURES

        return cls(
            split=split,
            architecture=arch or "kachuee",
            architecture_kwargs=kwargs,
            beats=BeatConfig(
                representation=representation,
                window_fs=window_fs,
                context=context,
                normalize=normalize,
                record_features=rr in RR_NEEDS_RECORD_FEATURES,
            ),
            calibrate=calibrate,
            mc_samples=mc_samples,
            val_records=val_records,
            split_seed=split_seed,
            cv_folds=cv_folds,
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
        augment=augment_of(run),
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
    save_pretrained(result.model, config, out_dir / "model", card=mitdb_card(name, config, split))
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
    if run.cv_folds:
        parts += ["--cv-folds", str(run.cv_folds)]
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


def last_epoch_weights(model: torch.nn.Module, run_dir: str | Path, epoch: int) -> torch.nn.Module:
    """Load the weights of checkpoint ``epoch`` written by :func:`~ecglens.train.trainer.fit`
    (the last epoch, not the best validation epoch: cross-validation must not choose on the
    held-out fold)."""
    from safetensors.torch import load_file

    path = Path(run_dir) / "checkpoints" / f"epoch-{epoch:03d}.safetensors"
    if not path.exists():
        raise EcgLensError("checkpoint missing", path)
    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    return model.eval()


def _fixed_epochs(run: MitdbRunConfig) -> TrainConfig:
    """The run's training settings without early stopping (patience beyond the epochs) and
    with a schedule that does not read validation scores (plateau -> cosine)."""
    from dataclasses import replace

    schedule = "cosine" if run.train.lr_schedule == "plateau" else run.train.lr_schedule
    return replace(run.train, patience=run.train.epochs + 1, lr_schedule=schedule)


def augment_of(run: MitdbRunConfig):
    """The trainer's ``augment`` for ``run.augment`` (None for "none")."""
    if run.augment == "none":
        return None
    if run.augment == "recorder":
        from ecglens.train.beat_augment import recorder_augment

        return recorder_augment
    raise EcgLensError(f"unknown augmentation {run.augment!r}; choose none or recorder")


def _fit_fixed(
    beats: BeatSet,
    train_index: np.ndarray,
    monitor_index: np.ndarray,
    run: MitdbRunConfig,
    out_dir: Path,
    progress: bool,
) -> torch.nn.Module:
    """Train on ``train_index`` for exactly the run's epochs; return the last epoch's model.
    ``monitor_index`` beats are only printed per epoch, never used to choose."""
    kwargs = model_kwargs(run, len(beats.classes))
    train = _fixed_epochs(run)
    torch.manual_seed(train.seed)
    model = create_model(run.architecture, **kwargs)
    result = fit(
        model,
        _dataset(beats, train_index, run.inputs),
        _dataset(beats, monitor_index, run.inputs),
        train,
        out_dir,
        progress=progress,
        n_classes=len(beats.classes),
        augment=augment_of(run),
    )
    return last_epoch_weights(result.model.cpu(), out_dir, len(result.history))


def cross_validate_mitdb(
    beats: BeatSet,
    run: MitdbRunConfig,
    out_dir: str | Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Leave-records-out cross-validation over the DS1 beats of ``beats``.

    Folds from :func:`~ecglens.data.splits.record_folds` (the records richest in S beats
    in different folds); each fold's model trains on the other folds for the run's epochs
    (last epoch kept). Writes ``cv/fold-K.npz`` (out-of-fold logits, resumable) and returns
    the folds, pooled out-of-fold metrics over N, S, V, F and per-fold S and V F1, and the
    out-of-fold ``logits`` with the ``y``, ``record`` and ``index`` (into ``beats``) of the
    DS1 beats they score.
    """
    from ecglens.data.mitdb import DS1
    from ecglens.data.splits import class_counts, record_folds
    from ecglens.evaluate.metrics import classification_metrics
    from ecglens.evaluate.mitdb import SCORED_CLASSES
    from ecglens.predict.forward import predict_logits

    out_dir = Path(out_dir)
    ds1 = np.flatnonzero(np.isin(beats.record, DS1) & (beats.y >= 0))
    counts = class_counts(beats.record[ds1], beats.y[ds1], beats.classes)
    folds = record_folds(counts, run.cv_folds, seed=run.validation_seed)
    logits = np.zeros((len(ds1), len(beats.classes)), dtype=np.float32)
    fold_of = np.zeros(len(ds1), dtype=np.int64)
    settings = json.dumps(run_config_dict(run), sort_keys=True)
    for k, records in enumerate(folds):
        held = np.isin(beats.record[ds1], records)
        fold_of[held] = k
        cached = out_dir / "cv" / f"fold-{k}.npz"
        if cached.exists():
            with np.load(cached, allow_pickle=False) as z:
                if str(z["settings"]) == settings and len(z["logits"]) == held.sum():
                    logits[held] = z["logits"]
                    continue
        model = _fit_fixed(
            beats, ds1[~held], ds1[held], run, out_dir / "cv" / f"fold-{k}", progress
        )
        logits[held] = predict_logits(
            model, beat_model_inputs(beats.subset(ds1[held]), list(run.inputs))
        )
        atomic_write(
            cached,
            lambda p, v=logits[held]: np.savez(p.open("wb"), logits=v, settings=settings),
        )
    y = beats.y[ds1]
    predicted = logits.argmax(1)
    classes = list(beats.classes)
    pooled = classification_metrics(y, predicted, classes, SCORED_CLASSES)
    per_fold = []
    for k, records in enumerate(folds):
        m = fold_of == k
        f = classification_metrics(y[m], predicted[m], classes, SCORED_CLASSES)
        per_fold.append(
            {
                "records": list(records),
                "S_support": f["per_class"]["S"]["support"],
                "S_f1": f["per_class"]["S"]["f1"],
                "V_f1": f["per_class"]["V"]["f1"],
            }
        )
    return {
        "n_folds": len(folds),
        "folds": [list(f) for f in folds],
        "metrics": pooled,
        "macro_f1_nsvf": pooled["macro_f1"],
        "S_f1": pooled["per_class"]["S"]["f1"],
        "per_fold": per_fold,
        "logits": logits,
        "y": y,
        "record": beats.record[ds1],
        "index": ds1,
    }


def train_mitdb_cv(
    data_dir: str | Path,
    out_dir: str | Path,
    run: MitdbRunConfig,
    name: str | None = None,
    command: str | None = None,
    progress: bool = True,
    cache_dir: str | Path | None = "runs/cache",
) -> dict[str, Any]:
    """Inter-patient training selected by cross-validation over DS1 (``run.cv_folds``).

    :func:`cross_validate_mitdb` scores the run on DS1 (out of fold); the final model trains
    the same way on all of DS1, its temperature is fitted on the out-of-fold logits, and DS2
    is scored once at the end. Writes ``model.*`` (config with ``cv``) like
    :func:`train_mitdb`.
    """
    from ecglens.data.mitdb import DS1, load_mitdb_beats
    from ecglens.data.splits import split_records
    from ecglens.evaluate.calibration import expected_calibration_error, fit_temperature
    from ecglens.evaluate.uncertainty import review_summary
    from ecglens.predict.beats import beat_probabilities

    if run.split != "inter-patient" or run.cv_folds < 2:
        raise EcgLensError("cross-validated training needs the inter-patient split, cv_folds >= 2")
    out_dir = Path(out_dir)
    atomic_write_json(out_dir / "run_config.json", run_config_dict(run))
    beats = load_mitdb_beats(data_dir, split_records(run.split), run.beats, cache_dir, progress)
    cv = cross_validate_mitdb(beats, run, out_dir, progress)
    ds1 = np.flatnonzero(np.isin(beats.record, DS1) & (beats.y >= 0))
    test_index = np.flatnonzero(~np.isin(beats.record, DS1))
    # monitoring only (printed per epoch): every 20th DS1 beat
    model = _fit_fixed(beats, ds1, ds1[::20], run, out_dir, progress)
    classes = list(beats.classes)
    temperature = fit_temperature(cv["logits"], cv["y"]) if run.calibrate else 1.0
    test = beats.subset(test_index)
    history = json.loads((out_dir / "history.json").read_text())
    folds_text = "; ".join(", ".join(f) for f in cv["folds"])
    config: dict[str, Any] = {
        "architecture": run.architecture,
        "architecture_kwargs": model_kwargs(run, len(classes)),
        "task": "beats",
        "classes": classes,
        "inputs": list(run.inputs),
        "beats": asdict(run.beats),
        "split": run.split,
        "optimistic": False,
        "calibrate": run.calibrate,
        "val_records": 0,
        "cv_folds": run.cv_folds,
        "split_description": "de Chazal 2004: train DS1 (all 22 records), test DS2 (22 "
        f"records); paced records excluded; selection by {cv['n_folds']}-fold leave-records-out "
        f"cross-validation over DS1 (folds: {folds_text}); {run.train.epochs} epochs, last "
        "epoch kept (no early stopping)",
        "train": asdict(_fixed_epochs(run)),
        "best_epoch": len(history),
        "history": history,
        "data": {
            "database": "MIT-BIH Arrhythmia Database 1.0.0",
            "checksums": beats.checksums,
            "n_train": int(len(ds1)),
            "n_val": int(len(cv["y"])),
            "n_test": int(len(test_index)),
        },
        "environment": environment(),
        "command": command or reproduce_command(run, out_dir, name),
        "cv": {k: cv[k] for k in ("n_folds", "folds", "macro_f1_nsvf", "S_f1", "per_fold")},
    }
    config["val_metrics"] = cv["metrics"]
    test_logits = predict_logits_of(model, test, run.inputs)
    probs, uncertainty = beat_probabilities(
        model, beat_model_inputs(test, list(run.inputs)), temperature, 0, "cpu"
    )
    oof = torch.as_tensor(cv["logits"])
    config["temperature"] = temperature
    config["mc_samples"] = 0
    config["calibration"] = {
        "temperature": temperature,
        "fitted_on": "out-of-fold DS1 logits of the cross-validation",
        "val": {
            "ece_before": expected_calibration_error(torch.softmax(oof, 1).numpy(), cv["y"]),
            "ece_after": expected_calibration_error(
                torch.softmax(oof / temperature, 1).numpy(), cv["y"]
            ),
        },
        "test": {
            "ece_before": expected_calibration_error(
                torch.softmax(torch.as_tensor(test_logits), 1).numpy(), test.y
            ),
            "ece_after": expected_calibration_error(probs, test.y),
        },
    }
    review = review_summary(uncertainty, probs.argmax(1) == test.y)
    config["review"] = [{k: _plain(v) for k, v in row.items()} for row in review]
    config["metrics"] = evaluate_beats(model, test, config, "cpu")
    name = name or out_dir.name
    save_pretrained(
        model, config, out_dir / "model", card=mitdb_card(name, config, split_info(config))
    )
    atomic_write_json(out_dir / "metrics.json", config["metrics"])
    return config


def predict_logits_of(model: torch.nn.Module, beats: BeatSet, inputs) -> np.ndarray:
    """Logits of ``model`` on ``beats`` (CPU)."""
    from ecglens.predict.forward import predict_logits

    return predict_logits(model, beat_model_inputs(beats, list(inputs)))


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
    from ecglens.predict.beats import beat_probabilities
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


def rhythm_rule_review(
    model: torch.nn.Module, test: BeatSet, config: dict[str, Any], device="cpu"
) -> dict[str, Any]:
    """What a model with a rhythm rule reports on ``test``: the review table and the test
    ECE of its calibrated probabilities after the rule (the rule swaps N and S, so the
    training-time figures no longer describe them)."""
    from ecglens.evaluate.calibration import expected_calibration_error
    from ecglens.evaluate.uncertainty import review_summary
    from ecglens.models.config import ModelConfig
    from ecglens.predict.beats import beat_probabilities
    from ecglens.predict.rhythm import with_model_rhythm_rule

    probs, uncertainty = beat_probabilities(
        model,
        beat_model_inputs(test, list(config["inputs"])),
        float(config.get("temperature", 1.0)),
        int(config.get("mc_samples", 0)),
        device,
    )
    rule_config = ModelConfig.from_dict(config)
    probs, _ = with_model_rhythm_rule(probs, test.rr, config["classes"], rule_config, test.record)
    review = review_summary(uncertainty, probs.argmax(1) == test.y)
    return {
        "review": [{k: _plain(v) for k, v in row.items()} for row in review],
        "ece_with_rhythm_rule": expected_calibration_error(probs, test.y),
    }


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
    config = loaded.config.to_dict()
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
        "per_record",
        "without_232",
    )
    config["metrics_at_training"] = config.get("metrics")
    config["metrics"] = {k: metrics[k] for k in keep if k in metrics}
    config["metrics_note"] = note
    from ecglens.models.measured import explainer_summary

    card = mitdb_card(loaded.name, config, split_info(config))
    explainer = explainer_summary(loaded.name)
    if explainer:  # the "Recommended explainer" line of `ecglens benchmark explanations`
        card = set_card_line(card, explainer)
    card += f"\n## Note\n\n{note}\n"
    atomic_write_json(weights.with_suffix(".json"), config)
    atomic_write_text(weights.with_suffix(".md"), card)
    return config


def _dataset(beats: BeatSet, index: np.ndarray, inputs: tuple[str, ...]) -> ArrayDataset:
    sub = beats.subset(index)
    return ArrayDataset(beat_model_inputs(sub, list(inputs)), sub.y)


BIAS_GRID = np.linspace(-3.0, 3.0, 25)  # log-probability offsets tried per class


def fit_class_bias(
    log_probs: np.ndarray,
    y: np.ndarray,
    classes: list[str],
    adjust: tuple[str, ...] = ("S", "V", "F"),
    rounds: int = 3,
) -> np.ndarray:
    """Per-class offsets added to calibrated log-probabilities (n, k) that maximise macro-F1
    over N, S, V, F of ``argmax(log_probs + bias)`` (coordinate ascent over
    :data:`BIAS_GRID`, ``rounds`` passes over the ``adjust`` classes; N's offset stays 0).

    Threshold moving for a shift of class priors between patients; fit it on out-of-fold
    predictions only. Returns bias (k,).
    """
    from ecglens.evaluate.metrics import classification_metrics
    from ecglens.evaluate.mitdb import SCORED_CLASSES

    bias = np.zeros(log_probs.shape[1])

    def score(b: np.ndarray) -> float:
        pred = (log_probs + b).argmax(1)
        return classification_metrics(y, pred, classes, SCORED_CLASSES)["macro_f1"]

    best = score(bias)
    for _ in range(rounds):
        for c in adjust:
            k = classes.index(c)
            for value in BIAS_GRID:
                trial = bias.copy()
                trial[k] = value
                s = score(trial)
                if s > best + 1e-9:
                    best, bias = s, trial
    return bias


def nested_bias_score(
    log_probs: np.ndarray, y: np.ndarray, fold_of: np.ndarray, classes: list[str]
) -> dict[str, Any]:
    """Honest cross-validated effect of :func:`fit_class_bias`: for every fold, offsets fitted
    on the other folds' out-of-fold predictions are applied to this fold's; pooled metrics
    over N, S, V, F, and the offsets fitted on all folds (what ships)."""
    from ecglens.evaluate.metrics import classification_metrics
    from ecglens.evaluate.mitdb import SCORED_CLASSES

    predicted = np.zeros(len(y), dtype=np.int64)
    for k in np.unique(fold_of):
        held = fold_of == k
        bias = fit_class_bias(log_probs[~held], y[~held], classes)
        predicted[held] = (log_probs[held] + bias).argmax(1)
    pooled = classification_metrics(y, predicted, classes, SCORED_CLASSES)
    return {
        "metrics": pooled,
        "macro_f1_nsvf": pooled["macro_f1"],
        "S_f1": pooled["per_class"]["S"]["f1"],
        "bias": fit_class_bias(log_probs, y, classes).tolist(),
    }


def add_output_bias(model: torch.nn.Module, bias: np.ndarray, temperature: float) -> None:
    """Fold offsets of the calibrated log-probabilities into the last layer's bias:
    ``softmax((logits + T * bias) / T) = softmax(logits / T + bias)`` (up to a constant)."""
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias += torch.as_tensor(temperature * np.asarray(bias), dtype=last.bias.dtype)


def train_seed_copies(
    run_dir: str | Path,
    seeds: list[int],
    out_dir: str | Path,
    data_dir: str | Path,
    progress: bool = True,
    cache_dir: str | Path | None = "runs/cache",
) -> list[Path]:
    """The final model of cross-validated run ``run_dir`` trained again on all of DS1 with
    each of ``seeds`` (the same recipe, exactly its epochs), e.g. to measure how much its
    explanations depend on the seed. Each goes to ``out_dir/seed-N/model.*``: the run's
    config with the seed, history and command replaced (temperature and cross-validation
    kept from the run: they describe the recipe, not this training). Returns the folders."""
    from dataclasses import replace

    from ecglens.data.mitdb import DS1

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    saved = run_dir / "run_config.json"
    model_json = run_dir / "model.json"
    if not saved.is_file() or not model_json.is_file():
        raise EcgLensError(
            "not a finished training run (no run_config.json or model.json)", run_dir
        )
    run = run_config_from_dict(json.loads(saved.read_text()))
    if not run.cv_folds:
        raise EcgLensError("not a cross-validated run (train it with --cv-folds)", run_dir)
    base = json.loads(model_json.read_text())
    beats = load_mitdb_beats(data_dir, split_records(run.split), run.beats, cache_dir, progress)
    ds1 = np.flatnonzero(np.isin(beats.record, DS1) & (beats.y >= 0))
    folders = []
    for seed in seeds:
        seeded = replace(run, train=replace(run.train, seed=int(seed)))
        folder = out_dir / f"seed-{seed}"
        model = _fit_fixed(beats, ds1, ds1[::20], seeded, folder, progress)
        config = dict(base)
        config["train"] = asdict(_fixed_epochs(seeded))
        config["history"] = json.loads((folder / "history.json").read_text())
        config["command"] = (
            f"ecglens seeds {shlex.quote(str(run_dir))} --seed {seed} "
            f"--out {shlex.quote(str(out_dir))}"
        )
        config.pop("metrics", None)  # measured on the run's own weights, not these
        name = f"{base.get('name', run_dir.name)}-seed-{seed}"
        card = f"# {name}\n\nThe recipe of `{run_dir}` trained again with seed {seed}.\n"
        save_pretrained(model, config, folder / "model", card=card)
        folders.append(folder)
    return folders
