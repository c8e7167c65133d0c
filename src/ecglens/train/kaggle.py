"""Train beat classifiers on the public Kaggle heartbeat CSVs (Kachuee et al. 2018 format).

Two runs, for users who have only those files:

* MIT-BIH (:func:`train_kaggle_mitbih`): five AAMI classes on ``mitbih_train.csv`` (a seeded,
  stratified validation share taken from it), scored once on ``mitbih_test.csv``. The model
  config is a MIT-BIH beat model's (Kachuee beats, inputs ``["x"]``), so ``ecglens predict``
  also runs it on records.
* PTB (:func:`train_kaggle_ptb`): normal vs MI on ``ptbdb_normal.csv`` + ``ptbdb_abnormal.csv``
  with the projects' random stratified beat split, optionally starting from the convolutional
  encoder of a trained kachuee beat model (``init``; frozen or fine-tuned at a lower learning
  rate), as Kachuee et al. transfer their MIT-BIH network.

OPTIMISTIC, PATIENTS LEAK: both splits put beats of the same patients on both sides; the model
config (``"optimistic": true``, ``"warning"``), its card and its metrics say so. The run
directory gets ``model.safetensors`` + ``.json`` + ``.md``, ``metrics.json`` and
``run_config.json`` beside the trainer's checkpoints.
"""

from __future__ import annotations

import copy
import json
import shlex
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens._atomic import atomic_write_json
from ecglens.data.kaggle_ptb import PTB_CLASSES, stratified_beat_split
from ecglens.data.labels import AAMI_CLASSES
from ecglens.errors import EcgLensError
from ecglens.evaluate.kaggle import (
    MI_THRESHOLD,
    PTB_TASK,
    THRESHOLD_NOTE,
    file_info,
    leak_warning,
    naming_arguments,
    read_mitbih_csv,
    read_ptb_csvs,
    score_mitbih,
    score_ptb,
)
from ecglens.inputs.beats import BeatConfig
from ecglens.io.beat_csv import BEAT_CSV_LENGTH, file_sha256
from ecglens.models.registry import LoadedModel, create_model, load_model, save_pretrained
from ecglens.train.cards import kaggle_card
from ecglens.train.provenance import environment
from ecglens.train.trainer import ArrayDataset, TrainConfig, TrainResult, fit

DATASETS = ("mitbih", "ptbdb")
MONITORS = {
    "mitbih": ("val_macro_f1", "val_accuracy", "val_loss"),
    "ptbdb": ("val_auc", "val_macro_f1", "val_accuracy", "val_loss"),
}
LOSSES = ("ce", "focal")
SPLIT_KIND = "kaggle-ptb random beat split"


def default_train_config(dataset: str, **overrides: Any) -> TrainConfig:
    """The trainer settings of Kaggle runs: 30 epochs, batches of 256 beats, Adam lr 0.001,
    patience 6, plain (unweighted) cross-entropy as Kachuee et al. 2018 train; MIT-BIH: early
    stopping on validation macro-F1; PTB: on validation ROC-AUC. (Class weights cost the
    MIT-BIH model 6.8 points of accuracy and 0.17 of macro-F1 on mitbih_test.csv: 91.9% /
    0.763 against 98.7% / 0.930, both from ``ecglens train kaggle``.)"""
    if dataset not in DATASETS:
        raise EcgLensError(f"dataset must be one of {', '.join(DATASETS)}, not {dataset!r}")
    base: dict[str, Any] = {
        "epochs": 30,
        "batch_size": 256,
        "lr": 1e-3,
        "patience": 6,
        "class_weighted": False,
        "monitor": "val_macro_f1" if dataset == "mitbih" else "val_auc",
    }
    base.update(overrides)
    return TrainConfig(**base)


@dataclass
class KaggleRunConfig:
    """A complete Kaggle training run; saved into the model's JSON.

    dataset: "mitbih" (5 classes) or "ptbdb" (normal vs MI); architecture /
    architecture_kwargs: registry name and arguments (``n_classes`` is filled in); val_fraction:
    stratified, seeded share of the training rows for early stopping; test_fraction: ptbdb
    only, the test share of :func:`~ecglens.data.kaggle_ptb.stratified_beat_split`; init: a
    shipped model name or a .safetensors path whose encoder starts the run (a kachuee beat model
    taking Kachuee beats alone; its head's output layer is replaced), with
    ``train.freeze_encoder`` / ``train.encoder_lr_scale``; train: the trainer settings, None for
    :func:`default_train_config` of the dataset. ``train.seed`` seeds the splits too.
    """

    dataset: str = "mitbih"
    architecture: str = "kachuee"
    architecture_kwargs: dict[str, Any] = field(default_factory=dict)
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    init: str | None = None
    train: TrainConfig | None = None

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise EcgLensError(
                f"dataset must be one of {', '.join(DATASETS)}, not {self.dataset!r}"
            )
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise EcgLensError(f"{name} must be between 0 and 1, not {value}")
        if self.train is None:
            self.train = default_train_config(self.dataset)
        t = self.train
        if t.loss not in LOSSES:
            raise EcgLensError(f"Kaggle runs train with loss {' or '.join(LOSSES)}, not {t.loss!r}")
        if t.monitor not in MONITORS[self.dataset]:
            raise EcgLensError(
                f"monitor for {self.dataset} must be one of {', '.join(MONITORS[self.dataset])}, "
                f"not {t.monitor!r}"
            )
        if self.init is None and (t.freeze_encoder or t.encoder_lr_scale != 1.0):
            raise EcgLensError(
                "freeze_encoder (--freeze) and encoder_lr_scale (--encoder-lr-scale) need init "
                "(--init: a trained model whose encoder to keep); without it the encoder is random"
            )
        if self.init is not None and (self.architecture != "kachuee" or self.architecture_kwargs):
            raise EcgLensError(
                "init takes the architecture and its arguments from the init model: leave "
                "architecture kachuee and architecture_kwargs empty"
            )

    @classmethod
    def from_options(
        cls,
        dataset: str = "mitbih",
        arch: str | None = None,
        arch_kwargs: dict[str, Any] | str | None = None,
        val_fraction: float | None = None,
        test_fraction: float | None = None,
        init: str | None = None,
        freeze: bool = False,
        encoder_lr_scale: float | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        lr_schedule: str | None = None,
        patience: int | None = None,
        class_weighted: bool | None = None,
        monitor: str | None = None,
        seed: int = 0,
        device: str = "auto",
    ) -> KaggleRunConfig:
        """The run the ``ecglens train kaggle`` options describe; None takes the default
        (kachuee, val 0.1, test 0.2, and :func:`default_train_config` of ``dataset``).
        ``arch_kwargs`` may be JSON text."""
        if isinstance(arch_kwargs, str):
            try:
                arch_kwargs = json.loads(arch_kwargs)
            except json.JSONDecodeError as exc:
                raise EcgLensError(f"--arch-kwargs is not valid JSON ({exc})") from exc
        given = {
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "lr_schedule": lr_schedule,
            "patience": patience,
            "class_weighted": class_weighted,
            "monitor": monitor,
            "encoder_lr_scale": encoder_lr_scale,
        }
        overrides = {k: v for k, v in given.items() if v is not None}
        return cls(
            dataset=dataset,
            architecture=arch or "kachuee",
            architecture_kwargs=dict(arch_kwargs or {}),
            val_fraction=0.1 if val_fraction is None else val_fraction,
            test_fraction=0.2 if test_fraction is None else test_fraction,
            init=init,
            train=default_train_config(
                dataset, seed=seed, device=device, freeze_encoder=freeze, **overrides
            ),
        )


def run_config_dict(run: KaggleRunConfig) -> dict[str, Any]:
    """The run configuration as JSON (saved as ``run_config.json`` in the run directory)."""
    return asdict(run)


def run_config_from_dict(saved: dict[str, Any]) -> KaggleRunConfig:
    """Inverse of :func:`run_config_dict`."""
    values = dict(saved)
    values["train"] = TrainConfig(**saved["train"])
    return KaggleRunConfig(**values)


def reproduce_command(
    run: KaggleRunConfig,
    files: dict[str, str | Path],
    out: str | Path,
    name: str | None = None,
) -> str:
    """The ``ecglens train kaggle`` command line that trains ``run`` again.

    files: {"train", "test"} (mitbih) or {"normal", "abnormal"} (ptbdb) paths as given.
    Trainer settings without a command-line option that differ from the defaults are appended
    as a shell comment naming the fields to set through the Python API.
    """
    t = run.train
    if run.dataset == "mitbih":
        parts = ["--train", str(files["train"]), "--test", str(files["test"])]
    else:
        parts = ["--normal", str(files["normal"]), "--abnormal", str(files["abnormal"])]
        parts += ["--test-fraction", f"{run.test_fraction:g}"]
    parts = [
        "ecglens", "train", "kaggle", *parts,
        "--arch", run.architecture,
        "--val-fraction", f"{run.val_fraction:g}",
        "--epochs", str(t.epochs), "--batch-size", str(t.batch_size), "--lr", f"{t.lr:g}",
        "--lr-schedule", t.lr_schedule, "--patience", str(t.patience),
        "--class-weighted" if t.class_weighted else "--no-class-weighted",
        "--monitor", t.monitor, "--seed", str(t.seed),
    ]  # fmt: skip
    if run.init is not None:
        parts += ["--init", run.init]
        if t.freeze_encoder:
            parts.append("--freeze")
        if t.encoder_lr_scale != 1.0:
            parts += ["--encoder-lr-scale", f"{t.encoder_lr_scale:g}"]
    if run.architecture_kwargs:
        parts += ["--arch-kwargs", json.dumps(run.architecture_kwargs, sort_keys=True)]
    parts += ["--out", str(out)]
    if name:
        parts += ["--name", name]
    command = shlex.join(parts)
    extra = _not_expressible(run)
    if extra:
        command += "  # plus, through the Python API: " + ", ".join(extra)
    return command


_CLI_TRAIN_FIELDS = {
    "epochs", "batch_size", "lr", "lr_schedule", "patience", "class_weighted", "monitor", "seed",
    "device", "freeze_encoder", "encoder_lr_scale",
}  # fmt: skip


def _not_expressible(run: KaggleRunConfig) -> list[str]:
    default = default_train_config(run.dataset)
    return [
        f"train.{f.name}={getattr(run.train, f.name)!r}"
        for f in fields(TrainConfig)
        if f.name not in _CLI_TRAIN_FIELDS
        and getattr(run.train, f.name) != getattr(default, f.name)
    ]


def check_init_model(loaded: LoadedModel, init: str) -> None:
    """Raise :class:`EcgLensError` unless ``loaded`` (the model named by ``init``) is a kachuee
    beat model taking 187-sample Kachuee beats alone."""
    config = loaded.config
    kwargs = config.architecture_kwargs
    beats = config.beats
    ok = (
        config.architecture == "kachuee"
        and list(config.inputs or []) == ["x"]
        and beats is not None
        and beats.representation == "kachuee"
        and beats.context == 1
        and not kwargs.get("n_rr_features")
        and int(kwargs.get("input_length", BEAT_CSV_LENGTH)) == BEAT_CSV_LENGTH
    )
    if not ok:
        raise EcgLensError(
            f"init {init}: model {loaded.name} is not a kachuee beat model taking Kachuee beats "
            f"alone (architecture {config.architecture}, task {loaded.task or None}, "
            f"inputs {config.inputs}, representation {beats and beats.representation}); "
            "give one such as kachuee-mitdb-intra or a model from ecglens train kaggle"
        )


def build_model(
    run: KaggleRunConfig, n_classes: int
) -> tuple[torch.nn.Module, dict[str, Any], dict[str, Any]]:
    """``(model, architecture kwargs, transfer record)`` for ``run``: a new seeded model, or a
    deep copy of ``run.init``'s model with a new output layer for ``n_classes``."""
    t = run.train
    torch.manual_seed(t.seed)
    transfer: dict[str, Any] = {
        "init": run.init,
        "freeze_encoder": t.freeze_encoder,
        "encoder_lr_scale": t.encoder_lr_scale,
    }
    if run.init is None:
        kwargs = {"n_classes": n_classes, **run.architecture_kwargs}
        if run.architecture == "kachuee":
            kwargs.setdefault("input_length", BEAT_CSV_LENGTH)
        return create_model(run.architecture, **kwargs), kwargs, transfer
    with naming_arguments({"init": run.init}):
        loaded = load_model(run.init)
    check_init_model(loaded, run.init)
    module = copy.deepcopy(loaded.module)
    module.reset_head(n_classes)
    kwargs = {**loaded.config.architecture_kwargs, "n_classes": n_classes}
    transfer.update(
        {
            "init_model": loaded.name,
            "init_task": loaded.task,
            "init_classes": list(loaded.classes),
            "init_sha256": file_sha256(loaded.path) if loaded.path else None,
            "kept": "the convolutional encoder (stem and residual blocks) and the hidden dense "
            "layers of the head; the output layer is new",
        }
    )
    return module, kwargs, transfer


def _counts(y: np.ndarray, classes: tuple[str, ...] | list[str]) -> dict[str, int]:
    counts = np.bincount(y, minlength=len(classes))
    return {c: int(n) for c, n in zip(classes, counts, strict=True)}


def _validation_split(
    y: np.ndarray, fraction: float, seed: int, where: str
) -> tuple[np.ndarray, np.ndarray]:
    try:
        return stratified_beat_split(y, fraction, seed)
    except EcgLensError as exc:
        raise EcgLensError(f"{where}: no stratified validation share ({exc})") from exc


def _train(
    run: KaggleRunConfig,
    model: torch.nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    out_dir: Path,
    progress: bool,
    n_classes: int,
) -> tuple[TrainResult, torch.nn.Module]:
    """Fit on ``train_idx``, select on ``val_idx``; the best model back on the CPU."""
    result = fit(
        model,
        ArrayDataset((x[train_idx],), y[train_idx]),
        ArrayDataset((x[val_idx],), y[val_idx]),
        run.train,
        out_dir,
        progress=progress,
        n_classes=n_classes,
    )
    return result, result.model.cpu().eval()


def train_kaggle_mitbih(
    train_csv: str | Path,
    test_csv: str | Path,
    out_dir: str | Path,
    run: KaggleRunConfig,
    name: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train on ``train_csv`` minus a stratified validation share, select the epoch on that
    share, score ``test_csv`` once (on the CPU, as ``ecglens evaluate kaggle`` does). Returns
    the model config written to ``out_dir/model.json`` (metrics included)."""
    if run.dataset != "mitbih":
        raise EcgLensError(f"train_kaggle_mitbih needs a mitbih run, not {run.dataset!r}")
    out_dir = Path(out_dir)
    name = name or out_dir.name
    x, y = read_mitbih_csv(train_csv, "train_csv")
    x_test, y_test = read_mitbih_csv(test_csv, "test_csv")
    t = run.train
    train_idx, val_idx = _validation_split(y, run.val_fraction, t.seed, str(train_csv))
    classes = list(AAMI_CLASSES)
    model, kwargs, transfer = build_model(run, len(classes))
    atomic_write_json(out_dir / "run_config.json", run_config_dict(run))
    result, model = _train(run, model, x, y, train_idx, val_idx, out_dir, progress, len(classes))
    config: dict[str, Any] = {
        "architecture": run.architecture,
        "architecture_kwargs": kwargs,
        "task": "beats",
        "classes": classes,
        "inputs": ["x"],
        "beats": asdict(BeatConfig()),
        "split": "kaggle",
        "optimistic": True,
        "warning": leak_warning("mitbih"),
        "split_description": f"the Kaggle files' own train/test split (random, by beat); "
        f"validation: a stratified {run.val_fraction:g} of the training rows (seed {t.seed})",
        "run": _run_without_train(run),
        "train": asdict(t),
        "transfer": transfer,
        "best_epoch": result.best_epoch,
        "history": result.history,
        "data": {
            "database": "Kaggle heartbeat CSVs: MIT-BIH Arrhythmia Database beats in the "
            "Kachuee et al. 2018 format",
            "files": {
                "train": file_info(train_csv, len(y)),
                "test": file_info(test_csv, len(y_test)),
            },
            "n_train": int(len(train_idx)),
            "n_val": int(len(val_idx)),
            "n_test": int(len(y_test)),
            "counts": {
                "train": _counts(y[train_idx], classes),
                "val": _counts(y[val_idx], classes),
                "test": _counts(y_test, classes),
            },
        },
        "environment": environment(),
        "command": reproduce_command(run, {"train": train_csv, "test": test_csv}, out_dir, name),
    }
    config["val_metrics"] = score_mitbih(model, x[val_idx], y[val_idx], classes)
    config["metrics"] = score_mitbih(model, x_test, y_test, classes)
    save_pretrained(model, config, out_dir / "model", card=kaggle_card(name, config))
    atomic_write_json(out_dir / "metrics.json", config["metrics"])
    return config


def train_kaggle_ptb(
    normal_csv: str | Path,
    abnormal_csv: str | Path,
    out_dir: str | Path,
    run: KaggleRunConfig,
    name: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Normal vs MI: split the two files' beats with
    :func:`~ecglens.data.kaggle_ptb.stratified_beat_split` (``test_fraction``, seed
    ``train.seed``), take a stratified ``val_fraction`` of the rest for early stopping (same
    seed), train (from ``init``'s encoder when given) and score the test beats once at
    P(MI) >= 0.5. Returns the model config written to ``out_dir/model.json``."""
    if run.dataset != "ptbdb":
        raise EcgLensError(f"train_kaggle_ptb needs a ptbdb run, not {run.dataset!r}")
    out_dir = Path(out_dir)
    name = name or out_dir.name
    x, y = read_ptb_csvs(normal_csv, abnormal_csv)
    t = run.train
    where = f"{normal_csv} + {abnormal_csv}"
    try:
        rest, test_idx = stratified_beat_split(y, run.test_fraction, t.seed)
    except EcgLensError as exc:
        raise EcgLensError(f"{where}: no stratified test share ({exc})") from exc
    train_rel, val_rel = _validation_split(y[rest], run.val_fraction, t.seed, where)
    train_idx, val_idx = rest[train_rel], rest[val_rel]
    classes = list(PTB_CLASSES)
    model, kwargs, transfer = build_model(run, len(classes))
    atomic_write_json(out_dir / "run_config.json", run_config_dict(run))
    result, model = _train(run, model, x, y, train_idx, val_idx, out_dir, progress, len(classes))
    files = {"normal": normal_csv, "abnormal": abnormal_csv}
    config: dict[str, Any] = {
        "architecture": run.architecture,
        "architecture_kwargs": kwargs,
        "task": PTB_TASK,
        "classes": classes,
        "inputs": ["x"],
        "beats": asdict(BeatConfig()),
        "split": {
            "kind": SPLIT_KIND,
            "seed": t.seed,
            "test_fraction": run.test_fraction,
            "val_fraction": run.val_fraction,
            "description": f"random beat split stratified by class: test {run.test_fraction:g} "
            f"of all rows, validation {run.val_fraction:g} of the rest, seed {t.seed}",
        },
        "optimistic": True,
        "warning": leak_warning("ptbdb"),
        "threshold": MI_THRESHOLD,
        "threshold_description": THRESHOLD_NOTE,
        "run": _run_without_train(run),
        "train": asdict(t),
        "transfer": transfer,
        "best_epoch": result.best_epoch,
        "history": result.history,
        "data": {
            "database": "Kaggle heartbeat CSVs: PTB Diagnostic ECG Database beats (normal vs "
            "MI) in the Kachuee et al. 2018 format",
            "files": {
                "normal": file_info(normal_csv, int(np.sum(y == 0))),
                "abnormal": file_info(abnormal_csv, int(np.sum(y == 1))),
            },
            "n_train": int(len(train_idx)),
            "n_val": int(len(val_idx)),
            "n_test": int(len(test_idx)),
            "counts": {
                "train": _counts(y[train_idx], classes),
                "val": _counts(y[val_idx], classes),
                "test": _counts(y[test_idx], classes),
            },
        },
        "environment": environment(),
        "command": reproduce_command(run, files, out_dir, name),
    }
    config["val_metrics"] = score_ptb(model, x[val_idx], y[val_idx])
    config["metrics"] = score_ptb(model, x[test_idx], y[test_idx])
    save_pretrained(model, config, out_dir / "model", card=kaggle_card(name, config))
    atomic_write_json(out_dir / "metrics.json", config["metrics"])
    return config


def _run_without_train(run: KaggleRunConfig) -> dict[str, Any]:
    out = asdict(run)
    out.pop("train")  # saved separately under "train"
    return out


