"""A small, explicit training loop for array datasets.

``fit`` trains any registry model whose ``forward(*inputs)`` returns logits (or a
tuple whose first element is logits), with seeded shuffling, optional class
weights or weighted oversampling, early stopping on a validation metric, a
learning-rate schedule, a checkpoint per epoch (safetensors + JSON, written
atomically) and ``resume``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ecglens._atomic import atomic_write, atomic_write_json
from ecglens.errors import EcgLensError
from ecglens.predict.forward import logits_of, predict_logits, resolve_device
from ecglens.train.losses import inverse_frequency_weights, make_loss


@dataclass
class TrainConfig:
    """Everything that decides a training run; saved as ``train_config.json``."""

    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    lr_schedule: str = "plateau"  # "plateau" (x0.1 after 2 flat epochs) | "cosine" | "none"
    patience: int = 6  # early stopping: epochs without improvement of `monitor`
    loss: str = "ce"  # "ce" | "focal" | "bce" (binary / multi-label, float targets)
    class_weighted: bool = False  # inverse-frequency class weights in the loss
    max_class_weight: float = 30.0  # cap for the weights of very rare classes
    sampler: str = "none"  # "none" | "weighted" (oversample rare classes to balance)
    focal_gamma: float = 2.0
    monitor: str = "val_macro_f1"  # "val_loss" is minimised, any other metric maximised
    seed: int = 0
    device: str = "auto"  # "auto" = cuda when available, else cpu
    max_batches_per_epoch: int | None = None  # cap for quick runs and tests
    # transfer learning: the encoder is every parameter outside the model's ``head``
    freeze_encoder: bool = False  # train only the head
    encoder_lr_scale: float = 1.0  # the encoder learns at lr * this (fine-tuning)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise EcgLensError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0 < self.encoder_lr_scale <= 1:
            raise EcgLensError(f"encoder_lr_scale must be in (0, 1], not {self.encoder_lr_scale}")


@dataclass
class ArrayDataset:
    """In-memory inputs (each (n, ...)) and targets ((n,) int or (n, k) float)."""

    inputs: tuple[np.ndarray, ...]
    targets: np.ndarray

    def __post_init__(self) -> None:
        if isinstance(self.inputs, np.ndarray):
            self.inputs = (self.inputs,)
        n = len(self.targets)
        if any(len(a) != n for a in self.inputs):
            raise EcgLensError("inputs and targets have different lengths")

    def __len__(self) -> int:
        return len(self.targets)


@dataclass
class TrainResult:
    model: torch.nn.Module
    history: list[dict[str, float]]
    best_epoch: int
    best_score: float
    out_dir: Path
    stopped_early: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


MONITOR_MIN_SUPPORT = 20


def validation_metrics(logits: np.ndarray, targets: np.ndarray, loss: str) -> dict[str, float]:
    """val_loss plus val_accuracy/val_macro_f1 (single-label) or val_auc (bce).

    val_macro_f1 averages the classes with at least 20 validation examples, so that a
    class with one or two validation beats does not make early stopping a coin toss.
    """
    t_logits = torch.as_tensor(logits)
    if loss == "bce":
        from sklearn.metrics import roc_auc_score

        t_targets = torch.as_tensor(targets, dtype=torch.float32).reshape(t_logits.shape)
        out = {
            "val_loss": float(
                torch.nn.functional.binary_cross_entropy_with_logits(t_logits, t_targets)
            )
        }
        y = np.asarray(targets).reshape(logits.shape)
        cols = [k for k in range(y.shape[1]) if 0 < y[:, k].sum() < len(y)]
        if cols:
            out["val_auc"] = float(roc_auc_score(y[:, cols], logits[:, cols], average="macro"))
        return out
    from ecglens.evaluate.metrics import classification_metrics

    targets = np.asarray(targets, dtype=np.int64)
    out = {"val_loss": float(torch.nn.functional.cross_entropy(t_logits, torch.as_tensor(targets)))}
    names = [str(i) for i in range(logits.shape[1])]
    support = np.bincount(targets, minlength=len(names))
    scored = [c for c, n in zip(names, support, strict=True) if n >= MONITOR_MIN_SUPPORT]
    m = classification_metrics(targets, logits.argmax(1), names, scored=scored or None)
    out["val_accuracy"] = m["accuracy"]
    out["val_macro_f1"] = m["macro_f1"]
    if logits.shape[1] == 2 and 0 < targets.sum() < len(targets):
        from sklearn.metrics import roc_auc_score

        out["val_auc"] = float(roc_auc_score(targets, logits[:, 1] - logits[:, 0]))
    return out


def _flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, scalars = {}, {}
    for idx, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optim.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    for key, value in meta["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def _save_checkpoint(path: Path, model, optimizer, scheduler, generator, meta: dict) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optim_tensors, optim_meta = _flatten_optimizer(optimizer.state_dict())
    tensors.update(optim_tensors)
    tensors["rng.generator"] = generator.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {
        **meta,
        "optimizer": optim_meta,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
    }
    atomic_write(path, lambda p: save_file(tensors, str(p)))
    atomic_write_json(path.with_suffix(".json"), meta)


def _latest_checkpoint(ckpt_dir: Path) -> Path | None:
    found = sorted(ckpt_dir.glob("epoch-*.safetensors"))
    found = [p for p in found if p.with_suffix(".json").exists()]
    return found[-1] if found else None


def parameter_groups(model: torch.nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    """Optimiser parameter groups: the model's ``head`` at ``lr``; the rest (the encoder) at
    ``lr * encoder_lr_scale``, or frozen (no gradient, not optimised) with ``freeze_encoder``.
    Models without a ``head`` train as one group."""
    params = [p for p in model.parameters()]
    head = getattr(model, "head", None)
    if not isinstance(head, torch.nn.Module) or (
        not config.freeze_encoder and config.encoder_lr_scale == 1.0
    ):
        if config.freeze_encoder or config.encoder_lr_scale != 1.0:
            raise EcgLensError(f"{type(model).__name__} has no head to train apart")
        return [{"params": params}]
    in_head = {id(p) for p in head.parameters()}
    encoder = [p for p in params if id(p) not in in_head]
    groups = [{"params": [p for p in params if id(p) in in_head]}]
    if config.freeze_encoder:
        for p in encoder:
            p.requires_grad_(False)
    else:
        groups.append({"params": encoder, "lr": config.lr * config.encoder_lr_scale})
    return groups


def fit(
    model: torch.nn.Module,
    train: ArrayDataset,
    val: ArrayDataset,
    config: TrainConfig,
    out_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    augment: Callable[[tuple[torch.Tensor, ...], torch.Generator], tuple[torch.Tensor, ...]]
    | None = None,
    n_classes: int | None = None,
) -> TrainResult:
    """Train ``model`` and return it with the weights of its best validation epoch.

    Writes to ``out_dir``: ``train_config.json``, ``checkpoints/epoch-NNN.safetensors``
    (+ ``.json``: history, optimiser and scheduler state), ``best.safetensors`` and
    ``history.json``. ``resume=True`` continues from the last checkpoint there.
    """
    from ecglens.progress import console

    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model.to(device)

    targets = np.asarray(train.targets)
    single_label = config.loss != "bce"
    if single_label:
        n_classes = n_classes or int(targets.max()) + 1
    weights = None
    if config.class_weighted:
        if single_label:
            weights = inverse_frequency_weights(targets, n_classes, config.max_class_weight)
        else:
            pos = targets.reshape(len(targets), -1).mean(0)
            weights = (1 - pos) / np.clip(pos, 1e-6, None)
    criterion = make_loss(config.loss, weights, config.focal_gamma).to(device)
    optimizer = torch.optim.Adam(
        parameter_groups(model, config), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = _make_scheduler(optimizer, config)
    maximise = config.monitor != "val_loss"

    history: list[dict[str, float]] = []
    best_score, best_epoch, bad_epochs, start_epoch = -math.inf, 0, 0, 1
    if resume:
        last = _latest_checkpoint(ckpt_dir)
        if last is None:
            raise EcgLensError("nothing to resume: no checkpoint", ckpt_dir)
        tensors = load_file(str(last))
        meta = json.loads(last.with_suffix(".json").read_text())
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        optimizer.load_state_dict(_unflatten_optimizer(tensors, meta["optimizer"]))
        if scheduler is not None and meta["scheduler"] is not None:
            scheduler.load_state_dict(meta["scheduler"])
        generator.set_state(tensors["rng.generator"])
        torch.set_rng_state(tensors["rng.torch"])
        history, best_score = meta["history"], meta["best_score"]
        best_epoch, bad_epochs = meta["best_epoch"], meta["bad_epochs"]
        start_epoch = meta["epoch"] + 1
        console.print(f"resuming from {last} (epoch {meta['epoch']})")
    else:
        for stale in ckpt_dir.glob("epoch-*"):
            stale.unlink()  # a fresh run must not leave an older run's epochs to resume from
    atomic_write_json(out_dir / "train_config.json", asdict(config))

    train_tensors = tuple(torch.as_tensor(a) for a in train.inputs)
    train_targets = torch.as_tensor(targets)
    sample_weights = None
    if config.sampler == "weighted":
        if not single_label:
            raise EcgLensError("the weighted sampler needs single-label targets")
        per_class = inverse_frequency_weights(targets, n_classes, config.max_class_weight)
        sample_weights = torch.as_tensor(per_class[targets], dtype=torch.double)
    elif config.sampler != "none":
        raise EcgLensError(f"unknown sampler {config.sampler!r}; choose none or weighted")

    stopped_early = False
    for epoch in range(start_epoch, config.epochs + 1):
        began = time.perf_counter()
        model.train()
        if sample_weights is not None:
            order = torch.multinomial(sample_weights, len(train), True, generator=generator)
        else:
            order = torch.randperm(len(train), generator=generator)
        batches = list(torch.split(order, config.batch_size))
        if config.max_batches_per_epoch:
            batches = batches[: config.max_batches_per_epoch]
        total_loss, seen = 0.0, 0
        for idx in _track(batches, f"epoch {epoch}/{config.epochs}", progress):
            inputs = tuple(t[idx] for t in train_tensors)
            if augment is not None:
                inputs = augment(inputs, generator)
            inputs = tuple(t.to(device) for t in inputs)
            target = train_targets[idx].to(device)
            logits = logits_of(model(*inputs))
            loss = criterion(logits, target.reshape(logits.shape) if not single_label else target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(idx)
            seen += len(idx)
        val_logits = predict_logits(model, val.inputs, device=device)
        row = {
            "epoch": epoch,
            "train_loss": total_loss / max(seen, 1),
            **validation_metrics(val_logits, val.targets, config.loss),
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": round(time.perf_counter() - began, 2),
        }
        history.append(row)
        if config.monitor not in row:
            raise EcgLensError(f"monitor {config.monitor!r} is not among {sorted(row)}")
        score = row[config.monitor] if maximise else -row[config.monitor]
        if score > best_score:
            best_score, best_epoch, bad_epochs = score, epoch, 0
            state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
            atomic_write(out_dir / "best.safetensors", lambda p, s=state: save_file(s, str(p)))
        else:
            bad_epochs += 1
        if scheduler is not None:
            if config.lr_schedule == "plateau":
                scheduler.step(score)
            else:
                scheduler.step()
        summary = "  ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch")
        console.print(f"epoch {epoch}: {summary}")
        _save_checkpoint(
            ckpt_dir / f"epoch-{epoch:03d}.safetensors",
            model,
            optimizer,
            scheduler,
            generator,
            {
                "epoch": epoch,
                "history": history,
                "best_score": best_score,
                "best_epoch": best_epoch,
                "bad_epochs": bad_epochs,
            },
        )
        atomic_write_json(out_dir / "history.json", history)
        if bad_epochs >= config.patience:
            stopped_early = True
            break
    best_file = out_dir / "best.safetensors"
    if best_file.exists():
        model.load_state_dict(load_file(str(best_file), device=str(device)))
    model.eval()
    return TrainResult(
        model, history, best_epoch, best_score if maximise else -best_score, out_dir, stopped_early
    )


def _make_scheduler(optimizer, config: TrainConfig):
    if config.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=0.1, patience=2
        )
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.lr_schedule == "none":
        return None
    raise EcgLensError(f"unknown lr schedule {config.lr_schedule!r}; plateau, cosine or none")


def _track(items, description: str, enabled: bool):
    from ecglens.progress import track

    return track(items, description, enabled=enabled)
