"""Train a 12-lead PTB-XL classifier (normal vs abnormal, or the 5 diagnostic superclasses).

Split: the official ``strat_fold`` (patient-disjoint): folds 1-8 train, fold 9 validation (the
epoch kept and the decision threshold are chosen there, nothing else), fold 10 test (scored
once, after training). Preprocessing: baseline-wander removal per lead (a degree-10 polynomial
detrend over the 10-s record, as in Augustauskas et al. 2025, or a zero-phase 0.5 Hz
Butterworth high-pass), then per-lead standard scaling with statistics fitted on the training
records only and stored in the model's JSON config. Training-time augmentation (time shift,
amplitude scaling, synthetic baseline wander, Gaussian noise) acts on the baseline-free signal
in mV before scaling, so its amplitudes are in mV; the wander teaches robustness to what
baseline removal leaves behind.

The run directory gets ``model.safetensors`` + ``model.json`` (everything ``predict`` needs:
task, classes, rate, lead order, preprocessing with the scaler, threshold; plus train config,
history, record counts, validation and test metrics, complexity and the reproducing command) +
``model.md`` (the model card) + ``metrics.json``, beside the trainer's checkpoints.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens._atomic import atomic_write_json
from ecglens.data.ptbxl import (
    LEADS_12,
    SUPERCLASSES,
    PtbxlConfig,
    PtbxlData,
    check_patient_disjoint,
    load_ptbxl,
    split_by_fold,
)
from ecglens.errors import EcgLensError
from ecglens.evaluate.ptbxl import choose_threshold, score_model, sigmoid
from ecglens.inputs.twelve_lead import (
    BASELINES,
    model_inputs,
    preprocess,
    preprocessing_config,
)
from ecglens.models.cam import SUPERCLASS_CHANNELS, count_flops, count_parameters
from ecglens.models.registry import create_model, save_pretrained
from ecglens.signal.baseline import (
    AugmentConfig,
    LeadScaler,
    augment_batch,
)
from ecglens.train.cards import ptbxl_card
from ecglens.train.provenance import environment
from ecglens.train.trainer import ArrayDataset, TrainConfig, fit, predict_logits

TASKS = ("binary", "superclass", "mi")
BINARY = ("binary", "mi")  # one output: P(abnormal) or P(MI)
MODEL_TASKS = {"binary": "ptbxl-binary", "superclass": "ptbxl-superclass", "mi": "ptbxl-mi-12lead"}
POSITIVE = {"binary": "abnormal", "mi": "MI"}
MODEL_FS = 100
LENGTH = 1000  # 10 s at 100 Hz
N_BOOT = 1000
BOOT_SEED = 0
DATABASE = "PTB-XL 1.0.3"


def default_train_config(**overrides: Any) -> TrainConfig:
    """The trainer settings of PTB-XL runs: BCE on logits, early stopping on validation
    (macro) ROC-AUC, Adam with a cosine learning rate, batches of 64 records."""
    base = {
        "epochs": 60,
        "batch_size": 64,
        "lr": 1e-3,
        "weight_decay": 0.0,
        "lr_schedule": "cosine",
        "patience": 15,
        "loss": "bce",
        "monitor": "val_auc",
        "seed": 0,
        "device": "auto",
    }
    base.update(overrides)
    return TrainConfig(**base)


@dataclass
class PtbxlRunConfig:
    """A complete PTB-XL training run; saved into the model's JSON.

    task: "binary" (1 output, abnormal) or "superclass" (5 outputs, multi-label);
    architecture / architecture_kwargs: registry name and arguments (``n_leads`` and
    ``n_classes`` are filled in; cam-cnn for superclass defaults to
    :data:`~ecglens.models.cam.SUPERCLASS_CHANNELS`); baseline: "polynomial" | "highpass";
    augment: augmentation settings in mV (None: no augmentation); train_fraction: share of the
    training records used (nested random subsets for learning curves); seed: initialisation,
    shuffling, augmentation and the training subset (overrides ``train.seed``);
    threshold_rule: how the fold-9 decision threshold is chosen (None: "youden" for binary,
    per-class "f1" for superclass; see :func:`ecglens.evaluate.ptbxl.choose_threshold`).
    """

    task: str = "binary"
    architecture: str = "cam-cnn"
    architecture_kwargs: dict[str, Any] = field(default_factory=dict)
    baseline: str = "polynomial"
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=default_train_config)
    train_fraction: float = 1.0
    seed: int = 0
    threshold_rule: str | None = None
    min_likelihood: float = 0.0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise EcgLensError(f"task must be one of {', '.join(TASKS)}, not {self.task!r}")
        if self.baseline not in BASELINES:
            raise EcgLensError(f"baseline must be one of {', '.join(BASELINES)}")
        if not 0.0 < self.train_fraction <= 1.0:
            raise EcgLensError(f"train_fraction must be in (0, 1], got {self.train_fraction}")
        train = self.train
        if train.loss == "ce" and train.monitor == "val_macro_f1":  # TrainConfig's defaults
            train = replace(train, loss="bce", monitor="val_auc")
        if train.loss != "bce":
            raise EcgLensError(f"PTB-XL models train with loss 'bce', not {train.loss!r}")
        if train.monitor not in ("val_auc", "val_loss"):
            raise EcgLensError(f"monitor must be val_auc or val_loss, not {train.monitor!r}")
        self.train = replace(train, seed=self.seed)

    @property
    def effective_threshold_rule(self) -> str:
        return self.threshold_rule or ("youden" if self.task in BINARY else "f1")

    @classmethod
    def from_options(
        cls,
        task: str = "binary",
        arch: str = "cam-cnn",
        baseline: str = "polynomial",
        epochs: int | None = None,
        seed: int = 0,
        lr: float | None = None,
        batch_size: int | None = None,
        patience: int | None = None,
        arch_kwargs: dict[str, Any] | str | None = None,
        train_fraction: float = 1.0,
        augment: bool = True,
        device: str = "auto",
    ) -> PtbxlRunConfig:
        """The run config of ``ecglens train ptbxl`` options (None: the default)."""
        if isinstance(arch_kwargs, str):
            try:
                arch_kwargs = json.loads(arch_kwargs)
            except json.JSONDecodeError as exc:
                raise EcgLensError(f"--arch-kwargs is not valid JSON ({exc})") from exc
        given = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "patience": patience}
        overrides = {k: v for k, v in given.items() if v is not None}
        return cls(
            task=task,
            architecture=arch,
            architecture_kwargs=dict(arch_kwargs or {}),
            baseline=baseline,
            augment=AugmentConfig(fs=MODEL_FS) if augment else None,
            train=default_train_config(seed=seed, device=device, **overrides),
            train_fraction=train_fraction,
            seed=seed,
        )


def reproduce_command(run: PtbxlRunConfig, out: str | Path, name: str | None = None) -> str:
    """The ``ecglens train ptbxl`` command line that trains ``run`` again.

    Settings without a command-line option that differ from their defaults are appended as a
    shell comment naming the :class:`PtbxlRunConfig` fields to set through the Python API.
    """
    t = run.train
    parts = [
        "ecglens", "train", "ptbxl",
        "--task", run.task,
        "--arch", run.architecture,
        "--baseline", run.baseline,
        "--epochs", str(t.epochs),
        "--seed", str(run.seed),
        "--lr", f"{t.lr:g}",
        "--batch-size", str(t.batch_size),
        "--patience", str(t.patience),
    ]  # fmt: skip
    if run.architecture_kwargs:
        parts += ["--arch-kwargs", json.dumps(run.architecture_kwargs, sort_keys=True)]
    if run.train_fraction != 1.0:
        parts += ["--train-fraction", f"{run.train_fraction:g}"]
    if run.augment is None:
        parts.append("--no-augment")
    parts += ["--out", str(out)]
    if name:
        parts += ["--name", name]
    command = shlex.join(parts)
    extra = _not_expressible(run)
    if extra:
        command += "  # plus, through the Python API: " + ", ".join(extra)
    return command


def _not_expressible(run: PtbxlRunConfig) -> list[str]:
    """Fields that the command-line options cannot set and that differ from the defaults."""
    out = []
    default_train = default_train_config()
    cli_train = {"epochs", "lr", "batch_size", "patience", "seed", "device"}
    for f in fields(TrainConfig):
        if f.name in cli_train:
            continue
        value, default = getattr(run.train, f.name), getattr(default_train, f.name)
        if value != default:
            out.append(f"train.{f.name}={value!r}")
    if run.augment is not None and run.augment != AugmentConfig(fs=MODEL_FS):
        out.append(f"augment={run.augment!r}")
    if run.threshold_rule is not None:
        out.append(f"threshold_rule={run.threshold_rule!r}")
    if run.min_likelihood != 0.0:
        out.append(f"min_likelihood={run.min_likelihood!r}")
    return out


def make_augment(config: AugmentConfig, scaler: LeadScaler):
    """Trainer augmentation: unscale to mV, :func:`augment_batch`, scale again.

    The numpy generator of each batch is seeded from the trainer's torch generator, so runs
    (and resumed runs) are reproducible.
    """
    mean = np.asarray(scaler.mean, dtype=np.float32)[:, None]
    std = np.asarray(scaler.std, dtype=np.float32)[:, None]

    def augment(
        inputs: tuple[torch.Tensor, ...], generator: torch.Generator
    ) -> tuple[torch.Tensor, ...]:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        rng = np.random.default_rng(seed)
        mv = inputs[0].numpy() * std + mean
        out = (augment_batch(mv, rng, config) - mean) / std
        return (torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)), *inputs[1:])

    return augment


def train_subset(n: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of ``round(fraction * n)`` training records; nested across fractions for
    one seed (the first records of one seeded permutation)."""
    if fraction >= 1.0:
        return np.arange(n)
    order = np.random.default_rng(seed).permutation(n)
    k = max(int(round(fraction * n)), 2)
    return np.sort(order[:k])


def build_model(run: PtbxlRunConfig, n_classes: int) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The untrained network of ``run`` and the keyword arguments it was built with."""
    kwargs: dict[str, Any] = {"n_leads": len(LEADS_12), "n_classes": n_classes}
    if run.architecture == "cam-cnn" and run.task == "superclass":
        kwargs["channels"] = list(SUPERCLASS_CHANNELS)
    kwargs.update(run.architecture_kwargs)
    torch.manual_seed(run.seed)
    return create_model(run.architecture, **kwargs), kwargs


def _counts(data: PtbxlData, task: str) -> dict[str, Any]:
    if task in BINARY:
        n_abn = int(data.y.sum())
        return {"n": len(data), "normal": len(data) - n_abn, "abnormal": n_abn}
    return {"n": len(data), **{c: int(data.y[:, k].sum()) for k, c in enumerate(SUPERCLASSES)}}


def _probabilities(model: torch.nn.Module, x: np.ndarray, device) -> np.ndarray:
    return sigmoid(predict_logits(model, x, batch_size=256, device=device))


def train_ptbxl(
    data_root: str | Path,
    out_dir: str | Path,
    run: PtbxlRunConfig,
    name: str | None = None,
    command: str | None = None,
    progress: bool = True,
    cache_dir: str | Path | None = "runs/cache",
    resume: bool = False,
    evaluate_test: bool = True,
) -> dict[str, Any]:
    """Train on folds 1-8, select the epoch and threshold on fold 9, score fold 10 once.

    Returns the model config written to ``out_dir/model.json`` (see the module docstring).
    The config's "command" is always :func:`reproduce_command` of ``run`` (so it reproduces the
    run whatever the caller typed); ``command``, the command line as typed, is kept beside it
    as "invoked_as".
    ``evaluate_test=False`` skips fold 10 (``metrics`` is then None), for model selection.
    """
    out_dir = Path(out_dir)
    name = name or out_dir.name
    data_config = PtbxlConfig(
        root=data_root, sampling_rate=MODEL_FS, task=run.task, min_likelihood=run.min_likelihood
    )
    data = load_ptbxl(data_config, progress=progress, cache_dir=cache_dir)
    check_patient_disjoint(data)
    train, val, test = split_by_fold(data, data_config)
    if min(len(train), len(val)) == 0 or (evaluate_test and len(test) == 0):
        raise EcgLensError(
            f"empty split: {len(train)} train / {len(val)} validation / {len(test)} test records",
            data_root,
        )
    n_train_folds = len(train)
    train = train.subset(train_subset(len(train), run.train_fraction, run.seed))

    x_train = preprocess(train.x, MODEL_FS, run.baseline)
    scaler = LeadScaler().fit(x_train)
    x_train = scaler.transform(x_train).astype(np.float32)
    prep = preprocessing_config(run.baseline, scaler)
    x_val = model_inputs(val.x, MODEL_FS, prep)

    n_outputs = 1 if run.task in BINARY else len(SUPERCLASSES)
    model, kwargs = build_model(run, n_outputs)
    augment = None if run.augment is None else make_augment(run.augment, scaler)
    result = fit(
        model,
        ArrayDataset((x_train,), train.y.astype(np.float32)),
        ArrayDataset((x_val,), val.y.astype(np.float32)),
        run.train,
        out_dir,
        resume=resume,
        progress=progress,
        augment=augment,
    )
    model = result.model.cpu().eval()

    rule = run.effective_threshold_rule
    p_val = _probabilities(model, x_val, "cpu")
    if run.task in BINARY:
        threshold: float | dict[str, float] = choose_threshold(val.y, p_val[:, 0], rule)
        classes = ["normal", POSITIVE[run.task]]
    else:
        threshold = {
            c: choose_threshold(val.y[:, k], p_val[:, k], rule) for k, c in enumerate(SUPERCLASSES)
        }
        classes = list(SUPERCLASSES)
    flops = count_flops(model, (len(LEADS_12), LENGTH))
    config: dict[str, Any] = {
        "architecture": run.architecture,
        "architecture_kwargs": kwargs,
        "task": MODEL_TASKS[run.task],
        "classes": classes,
        "outputs": [POSITIVE[run.task]] if run.task in BINARY else list(SUPERCLASSES),
        "fs": MODEL_FS,
        "n_leads": len(LEADS_12),
        "length": LENGTH,
        "lead_names": list(LEADS_12),
        "preprocessing": prep,
        "threshold": threshold,
        "threshold_rule": rule,
        "threshold_description": _threshold_description(run.task, rule),
        "run": _run_dict(run),
        "train": asdict(run.train),
        "seed": run.seed,
        "best_epoch": result.best_epoch,
        "history": result.history,
        "split": {
            "train_folds": list(data_config.train_folds),
            "val_folds": list(data_config.val_folds),
            "test_folds": list(data_config.test_folds),
            "description": "official PTB-XL strat_fold (patient-disjoint): folds 1-8 train, "
            "9 validation (epoch and threshold selection), 10 test",
            "train_fraction": run.train_fraction,
            "n_train_folds_records": n_train_folds,
        },
        "data": {
            "database": DATABASE,
            "records_on_disk": "subset: the 100 Hz records with ecg_id 1-1999",
            "sampling_rate": MODEL_FS,
            "label_rule": _label_rule(run.task),
            "min_likelihood": run.min_likelihood,
            "n_records": len(data),
            "n_excluded_no_superclass": int(data.n_excluded),
            "n_missing": len(data.missing),
            "n_unreadable": len(data.failed),
            "counts": {
                "train": _counts(train, run.task),
                "val": _counts(val, run.task),
                "test": _counts(test, run.task) if len(test) else None,
            },
            "n_train": len(train),
            "n_val": len(val),
            "n_test": len(test),
        },
        "complexity": {
            "parameters": count_parameters(model),
            "macs_per_record": flops.total,
            "macs_per_record_without_cam": flops.without_cam,
            "macs_cam_branch": flops.cam,
            "input": f"{len(LEADS_12)} leads x {LENGTH} samples (10 s at {MODEL_FS} Hz)",
        },
        "environment": environment(),
        "command": reproduce_command(run, out_dir, name),
        "invoked_as": command,
    }
    config["val_metrics"] = score_model(model, x_val, val.y, config, "cpu", N_BOOT, BOOT_SEED)
    config["metrics"] = None
    if evaluate_test:
        x_test = model_inputs(test.x, MODEL_FS, prep)
        config["metrics"] = score_model(model, x_test, test.y, config, "cpu", N_BOOT, BOOT_SEED)
    save_pretrained(model, config, out_dir / "model", card=ptbxl_card(name, config))
    atomic_write_json(out_dir / "metrics.json", config["metrics"] or {})
    return config


def _run_dict(run: PtbxlRunConfig) -> dict[str, Any]:
    d = asdict(run)
    d.pop("train")  # saved separately under "train"
    return d


def _label_rule(task: str) -> str:
    rule = (
        "diagnostic SCP statements (any likelihood) mapped to their diagnostic superclass "
        "(NORM, MI, STTC, CD, HYP); records without one excluded"
    )
    if task == "mi":
        return rule + "; MI = MI among the superclasses, normal = NORM only, others excluded"
    if task == "binary":
        return rule + (
            "; normal = NORM only, abnormal = any other superclass (NORM with another "
            "superclass counts as abnormal)"
        )
    return rule + "; multi-label"


def _threshold_description(task: str, rule: str) -> str:
    what = {
        "youden": "maximising Youden's J (sensitivity + specificity - 1)",
        "f1": "maximising F1",
        "accuracy": "maximising accuracy",
        "fixed": "fixed at 0.5",
    }[rule]
    scope = f"on the {POSITIVE[task]} probability" if task in BINARY else "per class"
    return (
        f"chosen on the validation fold (9) {scope}, {what}, midway between adjacent scores; "
        "predict positive when probability >= threshold"
    )


