"""Train a myocardial-infarction beat model on PTB-XL, from scratch or by transfer from a
MIT-BIH arrhythmia model (Kachuee et al. 2018, section IV: keep the convolutional layers,
retrain the head).

Data (:mod:`ecglens.data.ptbxl_mi`): records whose diagnostic superclasses include MI vs
records that are NORM only; beats of one lead (default II), each beat labelled with its
record's label, cut as the run's :class:`~ecglens.inputs.beat_config.BeatConfig` says (default:
the Kachuee format; ``window``: a fixed window around the R peak, no zero padding). Split by
``strat_fold`` (patient-disjoint): folds 1-8 train, fold 9 chooses the epoch (beat-level
ROC-AUC) and the record-level threshold (Youden's J), fold 10 is scored once.
``train_fraction`` keeps a seeded, class-stratified share of the training *records* (nested:
5% is inside 10% for one seed), for learning curves.

Transfer (``init``): the encoder (every layer but the head) starts from a shipped MIT-BIH
Kachuee model; the head is new (``reset_head(2)``); ``freeze_encoder`` trains the head only,
``encoder_lr_scale`` fine-tunes the encoder at a lower learning rate. The beats may be of any
representation whose length is the source model's input length (187 for the MIT-BIH models:
Kachuee beats, or a 0.25 s + 0.45 s window at :data:`TRANSFER_WINDOW_FS`).
"""

from __future__ import annotations

import copy
import inspect
import shlex
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens._atomic import atomic_write_json
from ecglens.data.ptbxl_mi import MI_CLASSES, MiBeats, load_mi_beats, record_probability
from ecglens.errors import EcgLensError
from ecglens.evaluate.mi import beat_mi_probability, score_mi
from ecglens.evaluate.ptbxl import choose_threshold
from ecglens.inputs.beats import BeatConfig
from ecglens.models.kachuee import KachueeNet
from ecglens.models.registry import LoadedModel, create_model, load_model, save_pretrained
from ecglens.predict.mi import MI_TASK
from ecglens.train.cards import mi_card
from ecglens.train.provenance import environment
from ecglens.train.trainer import ArrayDataset, TrainConfig, fit

TRAIN_FOLDS = (1, 2, 3, 4, 5, 6, 7, 8)
VAL_FOLDS = (9,)
TEST_FOLDS = (10,)
PROFILE_BEATS = 2000  # at most this many test beats per class in the relevance profiles
# window beats (0.25 s before, 0.45 s after the R peak) of 187 samples at this rate (Hz): 67
# samples before the R peak and 120 from it, the input length of the MIT-BIH Kachuee models
TRANSFER_WINDOW_FS = 187 / 0.7
# the input length of a kachuee model whose config does not name one
KACHUEE_INPUT_LENGTH = inspect.signature(KachueeNet).parameters["input_length"].default


def default_train_config(**overrides: Any) -> TrainConfig:
    """Trainer settings of MI runs: cross-entropy with class weights (about 1 MI beat in 4),
    early stopping on validation ROC-AUC, Adam 1e-3 with plateau decay, batches of 128."""
    base: dict[str, Any] = {
        "epochs": 30,
        "batch_size": 128,
        "lr": 1e-3,
        "patience": 6,
        "class_weighted": True,
        "monitor": "val_auc",
    }
    base.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**base)


@dataclass
class MiRunConfig:
    """A complete MI training run; saved into the model's JSON."""

    lead: str = "II"
    init: str | None = None  # shipped model name or .safetensors path; None: from scratch
    architecture: str = "kachuee"
    architecture_kwargs: dict[str, Any] = field(default_factory=dict)
    train_fraction: float = 1.0
    aggregate: str = "mean"
    threshold_rule: str = "youden"
    train: TrainConfig = field(default_factory=default_train_config)
    beats: BeatConfig = field(default_factory=BeatConfig)  # how beats are cut (lead: ``lead``)

    def __post_init__(self) -> None:
        if not 0 < self.train_fraction <= 1:
            raise EcgLensError(f"train_fraction must be in (0, 1], not {self.train_fraction}")
        if self.init is not None and self.architecture != "kachuee":
            raise EcgLensError("--init transfers a kachuee encoder: use --arch kachuee")

    @property
    def mode(self) -> str:
        """ "scratch", "transfer-frozen" or "transfer-finetune"."""
        if self.init is None:
            return "scratch"
        return "transfer-frozen" if self.train.freeze_encoder else "transfer-finetune"

    @classmethod
    def from_options(
        cls,
        lead: str = "II",
        init: str | None = None,
        freeze: bool = False,
        encoder_lr_scale: float = 1.0,
        train_fraction: float = 1.0,
        arch: str | None = None,
        arch_kwargs: dict[str, Any] | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        patience: int | None = None,
        seed: int = 0,
        device: str = "auto",
        representation: str = "kachuee",
        window_fs: float = 360.0,
        normalize: str = "none",
    ) -> MiRunConfig:
        """The run the ``ecglens train ptbxl --task mi`` options describe (None: default).
        ``representation``, ``window_fs``, ``normalize``: the :class:`BeatConfig` of the beats
        (window beats are 0.25 s before and 0.45 s after the R peak)."""
        if freeze and init is None:
            raise EcgLensError("--freeze needs --init (an encoder to keep)")
        return cls(
            lead=lead,
            init=init,
            architecture=arch or "kachuee",
            architecture_kwargs=dict(arch_kwargs or {}),
            train_fraction=train_fraction,
            beats=BeatConfig(
                representation=representation, window_fs=window_fs, normalize=normalize
            ),
            train=default_train_config(
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                patience=patience,
                seed=seed,
                device=device,
                freeze_encoder=freeze,
                encoder_lr_scale=encoder_lr_scale,
            ),
        )


def reproduce_command(run: MiRunConfig, out: str | Path, name: str | None = None) -> str:
    """The ``ecglens train ptbxl --task mi`` line that trains ``run`` again."""
    t, b = run.train, run.beats
    parts = [
        "ecglens", "train", "ptbxl", "--task", "mi", "--lead", run.lead,
        "--arch", run.architecture, "--epochs", str(t.epochs), "--batch-size", str(t.batch_size),
        "--lr", f"{t.lr:g}", "--patience", str(t.patience), "--seed", str(t.seed),
    ]  # fmt: skip
    if b.representation != "kachuee":  # repr of the rate: it must come back exactly
        parts += ["--representation", b.representation, "--window-fs", repr(b.window_fs)]
        parts += ["--normalize", b.normalize] if b.normalize != "none" else []
    if run.init is not None:
        parts += ["--init", run.init]
        parts += ["--freeze"] if t.freeze_encoder else []
        if t.encoder_lr_scale != 1.0:
            parts += ["--encoder-lr-scale", f"{t.encoder_lr_scale:g}"]
    if run.train_fraction != 1.0:
        parts += ["--train-fraction", f"{run.train_fraction:g}"]
    parts += ["--out", str(out)] + (["--name", name] if name else [])
    return shlex.join(parts)


def record_subset(
    records: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> np.ndarray:
    """Sorted record ids: ``fraction`` of each class (at least one), drawn with ``seed``;
    nested across fractions for one seed (the first records of one permutation per class)."""
    records, labels = np.asarray(records), np.asarray(labels)
    if fraction >= 1.0:
        return np.sort(records)
    rng = np.random.default_rng(seed)
    keep = []
    for label in np.unique(labels):
        members = np.sort(records[labels == label])
        order = rng.permutation(len(members))
        keep.append(members[order[: max(1, int(round(fraction * len(members))))]])
    return np.sort(np.concatenate(keep))


def build_model(run: MiRunConfig) -> tuple[torch.nn.Module, dict[str, Any], dict[str, Any]]:
    """The network to train, its registry kwargs, and what it was initialised from."""
    if run.init is None:
        kwargs = {"n_classes": len(MI_CLASSES), **run.architecture_kwargs}
        if run.architecture == "kachuee" and run.beats.representation != "kachuee":
            kwargs.setdefault("input_length", run.beats.input_length)
        torch.manual_seed(run.train.seed)
        return create_model(run.architecture, **kwargs), kwargs, {"init": None}
    source = transfer_source(run)
    cfg = source.config
    source_length = int(cfg.architecture_kwargs.get("input_length", KACHUEE_INPUT_LENGTH))
    module = copy.deepcopy(source.module)
    torch.manual_seed(run.train.seed)
    module.reset_head(len(MI_CLASSES))
    kwargs = {**cfg.architecture_kwargs, "n_classes": len(MI_CLASSES)}
    kwargs.setdefault("input_length", source_length)
    return module, kwargs, {"init": source.name, "init_split": cfg.split}


def transfer_source(run: MiRunConfig) -> LoadedModel:
    """The model ``run.init`` names, once checked to be a kachuee model of beats alone whose
    input length is that of ``run.beats``; raises :class:`EcgLensError` otherwise."""
    if run.init is None:
        raise EcgLensError("no --init model to transfer from")
    source = load_model(run.init)
    cfg = source.config
    if cfg.architecture != "kachuee" or list(cfg.inputs or []) != ["x"]:
        raise EcgLensError(
            f"--init {run.init}: transfer needs a kachuee model of beats alone "
            f"(this one: {cfg.architecture}, inputs {cfg.inputs})"
        )
    source_length = int(cfg.architecture_kwargs.get("input_length", KACHUEE_INPUT_LENGTH))
    if run.beats.input_length != source_length:
        raise EcgLensError(
            f"--init {run.init}: the beats are {run.beats.input_length} samples long but the "
            f"model takes {source_length} (Kachuee beats, and window beats at --window-fs "
            f"{TRANSFER_WINDOW_FS:.6f}, are 187 samples long)"
        )
    return source


def _parts(data: MiBeats, run: MiRunConfig) -> dict[str, MiBeats]:
    train = data.subset(np.isin(data.fold, TRAIN_FOLDS))
    if run.train_fraction < 1.0:
        records, first = np.unique(train.beats.record, return_index=True)
        kept = record_subset(records, train.beats.y[first], run.train_fraction, run.train.seed)
        train = train.subset(np.isin(train.beats.record, kept))
    return {
        "train": train,
        "val": data.subset(np.isin(data.fold, VAL_FOLDS)),
        "test": data.subset(np.isin(data.fold, TEST_FOLDS)),
    }


def _counts(part: MiBeats) -> dict[str, int]:
    records, first = np.unique(part.beats.record, return_index=True)
    labels = part.beats.y[first]
    return {
        "records": int(len(records)),
        "mi_records": int(np.sum(labels == 1)),
        "normal_records": int(np.sum(labels == 0)),
        "beats": int(len(part)),
        "mi_beats": int(np.sum(part.beats.y == 1)),
    }


def relevance_profiles(
    module: torch.nn.Module,
    beats: MiBeats,
    probability: np.ndarray,
    threshold: float,
    explain_fn: Callable[[torch.nn.Module, torch.Tensor, int], np.ndarray],
) -> dict[str, dict[str, list[float]]]:
    """Per class: the mean beat and the mean Grad-CAM relevance (display form) over the
    correctly classified test beats (a beat is called MI when its P(MI) reaches the record
    threshold), for the report. ``explain_fn(module, x, target)``: the explainer
    (``ecglens.explain.grad_cam``; given by the caller, as training sits below explain)."""

    out = {}
    called = probability >= threshold
    for label, name in enumerate(MI_CLASSES):
        idx = np.flatnonzero((beats.beats.y == label) & (called == bool(label)))[:PROFILE_BEATS]
        if len(idx) == 0:
            continue
        x = beats.beats.x[idx]
        maps = explain_fn(module, torch.as_tensor(x), int(label))
        out[name] = {
            "n_beats": int(len(idx)),
            "mean_beat": [round(float(v), 5) for v in x.mean(0)],
            "mean_relevance": [round(float(v), 5) for v in maps.mean(0)],
        }
    return out


def train_mi(
    data_root: str | Path,
    out_dir: str | Path,
    run: MiRunConfig,
    name: str | None = None,
    progress: bool = True,
    cache_dir: str | Path | None = "runs/cache",
    resume: bool = False,
    data: MiBeats | None = None,
    *,
    explain_fn: Callable[[torch.nn.Module, torch.Tensor, int], np.ndarray],
) -> dict[str, Any]:
    """Train, select on fold 9, score fold 10 once; write the model (+ card) into ``out_dir``.
    ``explain_fn``: the explainer of the card's mean relevance profiles (Grad-CAM).
    ``data``: the beats of every fold when already loaded (benchmarks). Returns the config."""
    out_dir = Path(out_dir)
    atomic_write_json(out_dir / "run_config.json", asdict(run))
    if run.init is not None:
        transfer_source(run)  # a source that cannot take these beats fails before loading them
    if data is None:
        data = load_mi_beats(
            data_root, lead=run.lead, progress=progress, cache_dir=cache_dir, config=run.beats
        )
    parts = _parts(data, run)
    module, kwargs, origin = build_model(run)
    result = fit(
        module,
        ArrayDataset((parts["train"].beats.x,), parts["train"].beats.y),
        ArrayDataset((parts["val"].beats.x,), parts["val"].beats.y),
        run.train,
        out_dir,
        resume=resume,
        progress=progress,
        n_classes=len(MI_CLASSES),
    )
    model = result.model.eval()
    device = next(model.parameters()).device
    p_val = beat_mi_probability(model, parts["val"].beats.x, device)
    val_records, p_val_record = record_probability(p_val, parts["val"].beats.record, run.aggregate)
    first = {r: i for i, r in reversed(list(enumerate(parts["val"].beats.record)))}
    y_val_record = parts["val"].beats.y[[first[r] for r in val_records]]
    threshold = choose_threshold(y_val_record, p_val_record, run.threshold_rule)
    val_metrics = score_mi(
        p_val, parts["val"].beats.y, parts["val"].beats.record, threshold, run.aggregate
    )
    p_test = beat_mi_probability(model, parts["test"].beats.x, device)
    metrics = score_mi(
        p_test, parts["test"].beats.y, parts["test"].beats.record, threshold, run.aggregate
    )
    name = name or out_dir.name
    config = {
        "architecture": run.architecture,
        "architecture_kwargs": kwargs,
        "task": MI_TASK,
        "classes": list(MI_CLASSES),
        "inputs": ["x"],
        "beats": asdict(run.beats),
        "lead": run.lead,
        "aggregate": run.aggregate,
        "threshold": float(threshold),
        "threshold_rule": run.threshold_rule,
        "mc_samples": 0,
        "split": {
            "train_folds": list(TRAIN_FOLDS),
            "val_folds": list(VAL_FOLDS),
            "test_folds": list(TEST_FOLDS),
            "train_fraction": run.train_fraction,
            "description": "PTB-XL strat_fold (patient-disjoint): folds 1-8 train, fold 9 "
            "selects the epoch and the threshold, fold 10 is scored once",
        },
        "transfer": {
            **origin,
            "mode": run.mode,
            "freeze_encoder": run.train.freeze_encoder,
            "encoder_lr_scale": run.train.encoder_lr_scale,
        },
        "run": asdict(run),
        "train": asdict(run.train),
        "seed": run.train.seed,
        "best_epoch": result.best_epoch,
        "history": result.history,
        "data": {
            "database": "PTB-XL 1.0.3",
            "label_rule": "MI: the record's diagnostic superclasses include MI; normal: NORM is "
            "its only superclass; other records excluded",
            "counts": {k: _counts(v) for k, v in parts.items()},
            "skipped_records": {str(k): v for k, v in data.skipped.items()},
        },
        "val_metrics": val_metrics,
        "metrics": metrics,
        "relevance": relevance_profiles(model, parts["test"], p_test, threshold, explain_fn),
        "environment": environment(),
        "command": reproduce_command(run, out_dir, name),
    }
    model.cpu()
    save_pretrained(model, config, out_dir / "model", card=mi_card(name, config))
    atomic_write_json(out_dir / "metrics.json", metrics)
    return config


