"""Train printout-image classifiers (normal, MI, post-MI, abnormal heartbeat) on the Mendeley
ECG image set, scored by grouped k-fold cross-validation.

Data (:func:`load_image_data`): every file under the folder is decoded once; files are
joined into duplicate groups by perceptual hash (:mod:`ecglens.data.images`: 928 files, 491
distinct images) and each group's first file (sorted by path) stands for it. Only the
distinct images are trained on (copies would only weight some images more).

Splits: ``"grouped-cv"``: :func:`~ecglens.data.images.grouped_folds` (stratified, whole
duplicate groups) assigns every file to one of k test folds; fold k's model trains on the
distinct images of the other folds, less ``val_fraction`` of them (stratified, seeded) that
choose the epoch (lowest validation loss); every distinct image is scored once, by the model
of its fold, and its copies get the same scores. ``"random"``: the naive image-level split
(:func:`~ecglens.data.images.random_split`, **leaky**: copies of test images are trained
on); train on the training files as they are, score the test files.

Augmentation: a bank of ``variants`` phone-photo versions of every distinct image
(:func:`~ecglens.inputs.images.photo_transform`, each kind applied with probability
``AUGMENT_PROBABILITY``), drawn once with the seed; each time an image is drawn for
training one of its versions (or the clean one) is picked. Classes are balanced by
oversampling (weighted sampler).

Fusion of the fold's three models: ``"features"`` concatenates their pooled embeddings (the
members frozen) into a linear head trained on the fold's training images (standardised
embeddings of the clean image and ``head_variants`` versions; the standardisation is folded
into the head afterwards); ``"probabilities"`` averages their softmax, with no training.

:func:`train_final` ships a model as the committee of its k fold models (see
:mod:`ecglens.evaluate.images` for why), with a card.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from sklearn.model_selection import train_test_split

from ecglens._atomic import atomic_write, atomic_write_json, atomic_write_text
from ecglens.data.images import (
    DUPLICATE_DISTANCE,
    IMAGE_CLASSES,
    grouped_folds,
    hash_groups,
    list_images,
    perceptual_hash,
    random_split,
)
from ecglens.errors import EcgLensError
from ecglens.evaluate.images import N_BOOT, evaluate_images, score_images
from ecglens.inputs.images import (
    MIN_STD,
    PHOTO_TRANSFORMS,
    ImageInputConfig,
    decode,
    normalise,
    photo_transform,
    trace_area,
)
from ecglens.models.images import FUSION_MODES, ImageFusion
from ecglens.models.registry import create_model, load_model, save_pretrained
from ecglens.predict.images import IMAGE_TASK
from ecglens.progress import console, track
from ecglens.train.cards import images_card
from ecglens.train.provenance import environment
from ecglens.train.trainer import ArrayDataset, TrainConfig, fit

# "ptbxl-folds": printouts rendered from PTB-XL (ecglens.data.rendered), trained on
# strat_folds 1-8, epoch chosen on 9, scored on 10 (ecglens.studies.images)
SPLITS = ("grouped-cv", "random", "ptbxl-folds")
SINGLE_MODELS = ("image-cnn", "mobilenet-v2", "vgg16")
# Widths that train on one CPU core in about 2 minutes per fold at 128 x 224 pixels, 20
# epochs (parameters: 245,620 / 243,092 / 231,212; see the benchmark).
MODEL_KWARGS: dict[str, dict[str, Any]] = {
    "image-cnn": {"channels": [16, 32, 64, 128, 128]},
    "mobilenet-v2": {"width_mult": 0.25},
    "vgg16": {"width_mult": 0.125},
}
# Trainer settings that differ by model. MobileNetV2 (from scratch) learns slowly at 2e-3:
# on fold 0 its inner validation loss after 20 epochs was 0.79 at 2e-3 and 0.59 at 1e-2
# (its fold-0 test accuracy, seen too: 48 % and 65 % of the files).
MODEL_TRAIN: dict[str, dict[str, Any]] = {"mobilenet-v2": {"lr": 1e-2}}
AUGMENT_PROBABILITY = 0.8  # chance that each photo transform is applied to a bank version
PREDICT_BATCH = 64  # images per forward pass when scoring
STD_FLOOR = 0.01  # feature fusion: smallest embedding scale, of the mean channel scale
N_CLASSES = len(IMAGE_CLASSES)


def default_train_config(**overrides: Any) -> TrainConfig:
    """Trainer settings of image runs: Adam 2e-3 with a cosine schedule over a fixed number
    of epochs (no early stop; the epoch of lowest validation loss is kept), batches of 16,
    classes balanced by oversampling."""
    base: dict[str, Any] = {
        "epochs": 20,
        "batch_size": 16,
        "lr": 2e-3,
        "lr_schedule": "cosine",
        "patience": 10_000,
        "sampler": "weighted",
        "monitor": "val_loss",
        "device": "cpu",
    }
    base.update({k: v for k, v in overrides.items() if v is not None})
    base["patience"] = max(base["patience"], base["epochs"])
    return TrainConfig(**base)


def default_head_config(**overrides: Any) -> TrainConfig:
    """Trainer settings of the feature-fusion head (a linear layer on standardised
    embeddings): 60 epochs of Adam 3e-3, weight decay 1e-3, cosine schedule."""
    base: dict[str, Any] = {
        "epochs": 60,
        "batch_size": 64,
        "lr": 3e-3,
        "weight_decay": 1e-3,
        "lr_schedule": "cosine",
        "patience": 10_000,
        "sampler": "weighted",
        "monitor": "val_loss",
        "device": "cpu",
    }
    base.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**base)


@dataclass
class ImageRunConfig:
    """A complete image run (one model, or a fusion of ``members``); saved with every model.

    ``seed`` draws the folds, the validation images, the augmentation bank and (through
    ``train.seed``, set to it unless given) the initial weights and the batches.
    """

    architecture: str = "image-cnn"
    architecture_kwargs: dict[str, Any] = field(default_factory=dict)
    input: ImageInputConfig = field(default_factory=ImageInputConfig)
    train: TrainConfig = field(default_factory=default_train_config)
    split: str = "grouped-cv"
    folds: int = 5
    test_fraction: float = 0.2  # "random" split only
    val_fraction: float = 0.15  # of the training images, to choose the epoch
    variants: int = 5  # augmented versions of each image, besides the clean one
    seed: int = 0
    fusion: str | None = None  # "features" | "probabilities" (architecture "image-fusion")
    members: tuple[dict[str, Any], ...] = ()  # {"architecture": name, "kwargs": {...}}
    head: TrainConfig = field(default_factory=default_head_config)
    head_variants: int = 2  # bank versions per image the feature-fusion head trains on
    head_dropout: float = 0.2
    # a single model's layers start from these weights (a .safetensors of an image model of
    # the same architecture, e.g. trained on rendered PTB-XL printouts); the head is new
    init: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.input, dict):
            self.input = ImageInputConfig(**self.input)
        for name in ("train", "head"):
            if isinstance(getattr(self, name), dict):
                setattr(self, name, TrainConfig(**getattr(self, name)))
        self.members = tuple(dict(m) for m in self.members)
        if self.split not in SPLITS:
            raise EcgLensError(f"split must be one of {', '.join(SPLITS)}, not {self.split!r}")
        if self.folds < 2:
            raise EcgLensError(f"folds must be >= 2, not {self.folds}")
        if not 0 < self.val_fraction < 0.5:
            raise EcgLensError(f"val_fraction must be in (0, 0.5), not {self.val_fraction}")
        if not 0 < self.test_fraction < 1:
            raise EcgLensError(f"test_fraction must be in (0, 1), not {self.test_fraction}")
        if self.variants < 0 or not 0 <= self.head_variants <= self.variants:
            raise EcgLensError("need variants >= 0 and 0 <= head_variants <= variants")
        if self.is_fusion:
            if self.fusion not in FUSION_MODES:
                raise EcgLensError(f"fusion must be one of {', '.join(FUSION_MODES)}")
            if not self.members:
                raise EcgLensError("a fusion run needs members")
        elif self.fusion is not None or self.members:
            raise EcgLensError("fusion and members apply to architecture image-fusion only")

    @property
    def is_fusion(self) -> bool:
        return self.architecture == "image-fusion"

    @property
    def name(self) -> str:
        return f"fusion-{self.fusion}" if self.is_fusion else self.architecture

    def member_run(self, spec: dict[str, Any]) -> ImageRunConfig:
        """The run of one fusion member: this run's data, split and training settings, with
        the member's own ``train`` overrides (e.g. its learning rate)."""
        return ImageRunConfig(
            architecture=spec["architecture"],
            architecture_kwargs=dict(spec.get("kwargs", {})),
            input=self.input,
            train=replace(self.train, **spec.get("train", {})),
            split=self.split,
            folds=self.folds,
            test_fraction=self.test_fraction,
            val_fraction=self.val_fraction,
            variants=self.variants,
            seed=self.seed,
            head=self.head,
            head_variants=self.head_variants,
            head_dropout=self.head_dropout,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (tuples as lists)."""
        return json.loads(json.dumps(asdict(self)))

    def identity(self) -> dict[str, Any]:
        """The settings that decide the trained models (not the device; a single model's
        fusion-head settings play no part)."""
        out = self.to_dict()
        for key in ("train", "head"):
            out[key].pop("device", None)
        if not self.is_fusion:
            for key in ("head", "head_variants", "head_dropout"):
                out.pop(key)
        return out


def single_run(
    architecture: str,
    input: ImageInputConfig | None = None,
    seed: int = 0,
    split: str = "grouped-cv",
    **train: Any,
) -> ImageRunConfig:
    """The run of one of the three models with its default widths (``MODEL_KWARGS``) and
    trainer settings (``train``, then the model's ``MODEL_TRAIN`` overrides)."""
    if architecture not in MODEL_KWARGS:
        raise EcgLensError(f"unknown image model {architecture!r}; choose {SINGLE_MODELS}")
    return ImageRunConfig(
        architecture=architecture,
        architecture_kwargs=copy.deepcopy(MODEL_KWARGS[architecture]),
        input=input or ImageInputConfig(),
        train=default_train_config(seed=seed, **{**train, **MODEL_TRAIN.get(architecture, {})}),
        split=split,
        seed=seed,
    )


def _member_spec(architecture: str) -> dict[str, Any]:
    spec = {"architecture": architecture, "kwargs": copy.deepcopy(MODEL_KWARGS[architecture])}
    if architecture in MODEL_TRAIN:
        spec["train"] = dict(MODEL_TRAIN[architecture])
    return spec


def fusion_run(
    mode: str,
    input: ImageInputConfig | None = None,
    seed: int = 0,
    split: str = "grouped-cv",
    members: tuple[str, ...] = SINGLE_MODELS,
    **train: Any,
) -> ImageRunConfig:
    """The fusion (``"features"`` or ``"probabilities"``) of ``members`` at their default
    widths and trainer overrides (as :func:`single_run`)."""
    return ImageRunConfig(
        architecture="image-fusion",
        input=input or ImageInputConfig(),
        train=default_train_config(seed=seed, **train),
        split=split,
        seed=seed,
        fusion=mode,
        members=tuple(_member_spec(m) for m in members),
        head=default_head_config(seed=seed),
    )


# -- data ---------------------------------------------------------------------------------


@dataclass
class ImageData:
    """Every file of an image folder, decoded once.

    ``paths``, ``labels`` (class index into ``classes``), ``groups`` (duplicate group):
    (n_files,); ``first`` (n_groups,): each group's first file; ``pages``: per group, its
    first file as uint8 (C, H, W) (C = 1 when ``grayscale``).
    """

    root: Path
    paths: list[Path]
    labels: np.ndarray
    groups: np.ndarray
    first: np.ndarray
    pages: list[np.ndarray]
    grayscale: bool
    classes: tuple[str, ...] = IMAGE_CLASSES

    @property
    def n_groups(self) -> int:
        return len(self.first)

    @property
    def group_labels(self) -> np.ndarray:
        """(n_groups,) class index of each distinct image."""
        return self.labels[self.first]

    @property
    def relpaths(self) -> list[str]:
        return [p.relative_to(self.root).as_posix() for p in self.paths]

    def counts(self) -> dict[str, Any]:
        files = np.bincount(self.labels, minlength=len(self.classes))
        distinct = np.bincount(self.group_labels, minlength=len(self.classes))
        return {
            "files": int(len(self.paths)),
            "distinct": int(self.n_groups),
            "per_class": {
                c: {"files": int(files[i]), "distinct": int(distinct[i])}
                for i, c in enumerate(self.classes)
            },
        }


def load_image_data(root: str | Path, grayscale: bool = True, progress: bool = True) -> ImageData:
    """Read every image under ``root`` once; classes from folders / names, duplicate groups
    by perceptual hash (as :func:`ecglens.data.images.load_image_set`)."""
    root = Path(root)
    items = list_images(root)
    pages, hashes = [], []
    for path, _ in track(items, "Reading images", enabled=progress):
        page = decode(path, grayscale)
        gray = (
            page[0]
            if grayscale
            else np.asarray(Image.fromarray(page.transpose(1, 2, 0)).convert("L"))
        )
        hashes.append(perceptual_hash(gray.astype(np.float32) / 255.0))
        pages.append(page)
    labels = np.array([IMAGE_CLASSES.index(c) for _, c in items], dtype=np.int64)
    groups = hash_groups(hashes, DUPLICATE_DISTANCE)
    _, first = np.unique(groups, return_index=True)
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        if len(np.unique(labels[members])) > 1:
            names = ", ".join(f"{items[i][0].name} ({items[i][1]})" for i in members[:4])
            raise EcgLensError(f"the same image is filed under two classes: {names}", root)
    return ImageData(
        root=root,
        paths=[p for p, _ in items],
        labels=labels,
        groups=groups,
        first=first.astype(np.int64),
        pages=[pages[i] for i in first],
        grayscale=grayscale,
    )


def clean_inputs(data: ImageData, config: ImageInputConfig) -> np.ndarray:
    """(n_groups, C, H, W) float32: each distinct image as the model takes it."""
    _check_channels(data, config)
    return np.stack([normalise(trace_area(page, config)) for page in data.pages])


def augmentation_bank(
    data: ImageData,
    config: ImageInputConfig,
    variants: int,
    seed: int,
    progress: bool = True,
) -> np.ndarray:
    """(n_groups, 1 + variants, C, H, W) uint8 trace areas (before normalisation): the
    clean image, then ``variants`` phone-photo versions (each transform applied with
    probability ``AUGMENT_PROBABILITY``); image g's versions are drawn with seed (seed, g)."""
    _check_channels(data, config)
    bank = np.zeros(
        (data.n_groups, 1 + variants, config.channels, config.height, config.width), np.uint8
    )
    for g in track(range(data.n_groups), "Augmentation bank", enabled=progress):
        page = data.pages[g]
        rng = np.random.default_rng([seed, 0, g])
        versions = [page]
        for _ in range(variants):
            kinds = [k for k in PHOTO_TRANSFORMS if rng.uniform() < AUGMENT_PROBABILITY]
            versions.append(photo_transform(page, rng, 1.0, kinds))
        for v, version in enumerate(versions):
            bank[g, v] = np.round(trace_area(version, config) * 255)
    return bank


def _check_channels(data: ImageData, config: ImageInputConfig) -> None:
    if data.grayscale != config.grayscale:
        raise EcgLensError("images were read in a different colour mode than the run asks for")


def normalise_batch(x: torch.Tensor) -> torch.Tensor:
    """uint8 trace areas (B, C, H, W) -> normalised inputs, as
    :func:`ecglens.inputs.images.normalise` (ink, standardised per image)."""
    ink = 1.0 - x.float() / 255.0
    mean = ink.mean(dim=(1, 2, 3), keepdim=True)
    std = ink.std(dim=(1, 2, 3), correction=0, keepdim=True).clamp_min(MIN_STD)
    return (ink - mean) / std


def _pick_version(inputs: tuple[torch.Tensor, ...], generator: torch.Generator):
    """fit's augment: one stored version per image of (B, V, ...) -> (B, ...)."""
    (bank,) = inputs
    pick = torch.randint(0, bank.shape[1], (bank.shape[0],), generator=generator)
    chosen = bank[torch.arange(bank.shape[0]), pick]
    return (normalise_batch(chosen) if chosen.dtype == torch.uint8 else chosen,)


# -- splits -------------------------------------------------------------------------------


@dataclass
class FoldSplit:
    """Indices of one fold: ``train`` and ``val`` into the distinct images (groups; repeats
    allowed: the random split trains on files), ``test`` into the files."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _inner_split(items: np.ndarray, labels: np.ndarray, fraction: float, seed: int):
    """Stratified (train, val) of ``items``; unstratified when a class is too small."""
    try:
        train, val = train_test_split(items, test_size=fraction, stratify=labels, random_state=seed)
    except ValueError:
        train, val = train_test_split(items, test_size=fraction, random_state=seed)
    return np.sort(train).astype(np.int64), np.sort(val).astype(np.int64)


def fold_splits(data: ImageData, run: ImageRunConfig) -> list[FoldSplit]:
    """The run's folds (grouped-cv: ``folds`` of them; random: one train/test split)."""
    if run.split == "ptbxl-folds":
        raise EcgLensError("ptbxl-folds runs take their split from the rendered manifest")
    glabels = data.group_labels
    if run.split == "grouped-cv":
        out = []
        for k, (train_files, test_files) in enumerate(
            grouped_folds(data.groups, data.labels, run.folds, run.seed)
        ):
            train_groups = np.unique(data.groups[train_files])
            train, val = _inner_split(
                train_groups, glabels[train_groups], run.val_fraction, run.seed + k
            )
            out.append(FoldSplit(train, val, np.sort(test_files)))
        return out
    train_files, test_files = random_split(
        len(data.paths), data.labels, run.test_fraction, run.seed
    )
    train, val = _inner_split(train_files, data.labels[train_files], run.val_fraction, run.seed)
    return [FoldSplit(data.groups[train], data.groups[val], test_files)]


def fold_name(run: ImageRunConfig, k: int) -> str:
    return f"fold-{k}" if run.split == "grouped-cv" else "split"


# -- one fold -----------------------------------------------------------------------------


def build_model(
    run: ImageRunConfig, n_classes: int = N_CLASSES
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """An untrained single model of ``run`` (seeded) and its registry kwargs; with
    ``run.init``, every layer but the head (``fc``) is copied from those weights."""
    kwargs = {
        **run.architecture_kwargs,
        "num_classes": n_classes,
        "in_channels": run.input.channels,
    }
    torch.manual_seed(run.train.seed)
    module = create_model(run.architecture, **kwargs)
    if run.init:
        loaded = load_model(run.init)
        if loaded.config.architecture != run.architecture:
            raise EcgLensError(
                f"init weights are a {loaded.config.architecture}, not a "
                f"{run.architecture}", run.init,
            )  # fmt: skip
        state = {k: v for k, v in loaded.module.state_dict().items() if not k.startswith("fc.")}
        missing, unexpected = module.load_state_dict(state, strict=False)
        if unexpected or any(not k.startswith("fc.") for k in missing):
            raise EcgLensError("init weights do not fit the model's layers", run.init)
    return module, kwargs


def n_parameters(module: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def _model_config(
    run: ImageRunConfig,
    kwargs: dict[str, Any],
    classes: tuple[str, ...] = IMAGE_CLASSES,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "architecture": run.architecture,
        "architecture_kwargs": kwargs,
        "task": IMAGE_TASK,
        "classes": list(classes),
        "input": asdict(run.input),
        "run": run.to_dict(),
        "seed": run.seed,
        **extra,
        "environment": environment(),
    }


def _clock() -> tuple[float, float]:
    """(wall, CPU) seconds now: training time is counted as this process's CPU time, the
    minutes of one core whatever else the machine runs."""
    return time.perf_counter(), time.process_time()


def _since(began: tuple[float, float]) -> tuple[float, float]:
    now = _clock()
    return now[0] - began[0], now[1] - began[1]


def _fit(
    module, train_x, train_y, val_x, val_y, config: TrainConfig, out_dir: Path, progress,
    n_classes: int = N_CLASSES,
):  # fmt: skip
    """fit into ``out_dir``/train, dropping the per-epoch checkpoints after; returns
    (result, wall seconds, CPU seconds)."""
    began = _clock()
    result = fit(
        module,
        ArrayDataset((train_x,), train_y),
        ArrayDataset((val_x,), val_y),
        config,
        out_dir / "train",
        progress=progress,
        augment=_pick_version,
        n_classes=n_classes,
    )
    wall, cpu = _since(began)
    shutil.rmtree(out_dir / "train" / "checkpoints", ignore_errors=True)
    return result, wall, cpu


def train_image_fold(
    data: ImageData,
    run: ImageRunConfig,
    split: FoldSplit,
    out_dir: str | Path,
    bank: np.ndarray,
    clean: np.ndarray,
    fold: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one single model on ``split.train`` (augmented from ``bank``), choose its epoch
    on ``split.val``; write ``model.safetensors`` + ``.json`` into ``out_dir``; return the
    config."""
    if run.is_fusion:
        raise EcgLensError("train_image_fold trains single models; fusions: cross_validate")
    out_dir = Path(out_dir)
    n_classes = len(data.classes)
    module, kwargs = build_model(run, n_classes)
    glabels = data.group_labels
    result, wall, cpu = _fit(
        module, bank[split.train], glabels[split.train], clean[split.val], glabels[split.val],
        run.train, out_dir, progress, n_classes,
    )  # fmt: skip
    module = result.model.cpu().eval()
    config = _model_config(
        run,
        kwargs,
        tuple(data.classes),
        fold=fold,
        n_train=int(len(split.train)),
        n_val=int(len(split.val)),
        train_seconds=round(cpu, 1),
        wall_seconds=round(wall, 1),
        parameters=n_parameters(module),
        best_epoch=result.best_epoch,
        history=result.history,
    )
    save_pretrained(module, config, out_dir / "model")
    return config


# -- fusion of one fold -------------------------------------------------------------------


@torch.inference_mode()
def embeddings(members: list[torch.nn.Module], x: torch.Tensor) -> torch.Tensor:
    """The members' pooled embeddings of normalised inputs (B, C, H, W), concatenated."""
    return torch.cat([m.forward_head(m.forward_features(x), pre_logits=True) for m in members], 1)


def _bank_embeddings(members, bank: np.ndarray, n_versions: int) -> np.ndarray:
    """(n, n_versions, D) float32 embeddings of the first ``n_versions`` bank versions."""
    out = []
    for start in range(0, len(bank), PREDICT_BATCH):
        part = torch.as_tensor(bank[start : start + PREDICT_BATCH, :n_versions])
        b, v = part.shape[:2]
        x = normalise_batch(part.reshape(b * v, *part.shape[2:]))
        out.append(embeddings(members, x).reshape(b, v, -1).numpy())
    return np.concatenate(out).astype(np.float32)


def train_fusion_fold(
    data: ImageData,
    run: ImageRunConfig,
    split: FoldSplit,
    members: list[torch.nn.Module],
    member_configs: list[dict[str, Any]],
    out_dir: str | Path,
    bank: np.ndarray,
    clean: np.ndarray,
    fold: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Fuse the fold's trained ``members``: train the feature head (mode "features") or
    average (mode "probabilities"); write the fusion into ``out_dir``; return its config."""
    out_dir = Path(out_dir)
    n_classes = len(data.classes)
    specs = [
        {"architecture": c["architecture"], "kwargs": c["architecture_kwargs"]}
        for c in member_configs
    ]
    kwargs: dict[str, Any] = {"members": specs, "num_classes": n_classes, "mode": run.fusion}
    members = [m.eval() for m in members]
    extra: dict[str, Any] = {}
    wall = cpu = 0.0
    if run.fusion == "features":
        began = _clock()
        unique, inverse = np.unique(split.train, return_inverse=True)
        train_z = _bank_embeddings(members, bank[unique], 1 + run.head_variants)[inverse]
        val_z = embeddings(members, torch.as_tensor(clean[split.val])).numpy()
        flat = train_z.reshape(-1, train_z.shape[-1])
        mean, std = flat.mean(0), flat.std(0)
        # a channel (almost) constant on the training images (a dead ReLU) must not be
        # blown up: its scale is floored at a hundredth of the mean channel's
        std = np.maximum(std, STD_FLOOR * float(std.mean()) + 1e-12)
        torch.manual_seed(run.head.seed)
        head = torch.nn.Sequential(
            torch.nn.Dropout(run.head_dropout), torch.nn.Linear(train_z.shape[-1], n_classes)
        )
        glabels = data.group_labels
        result, _, _ = _fit(
            head, (train_z - mean) / std, glabels[split.train], (val_z - mean) / std,
            glabels[split.val], run.head, out_dir, progress, n_classes,
        )  # fmt: skip
        wall, cpu = _since(began)
        kwargs["dropout"] = run.head_dropout
        fused = ImageFusion(members, n_classes, "features", dropout=run.head_dropout)
        linear = result.model[1]
        with torch.no_grad():
            weight = linear.weight / torch.as_tensor(std)
            fused.fc.weight.copy_(weight)
            fused.fc.bias.copy_(linear.bias - weight @ torch.as_tensor(mean))
        extra = {"head_best_epoch": result.best_epoch, "head_history": result.history}
    else:
        fused = ImageFusion(members, n_classes, "probabilities")
    member_seconds = sum(float(c["train_seconds"]) for c in member_configs)
    config = _model_config(
        run,
        kwargs,
        tuple(data.classes),
        fold=fold,
        n_train=int(len(split.train)),
        n_val=int(len(split.val)),
        head_seconds=round(cpu, 1),
        head_wall_seconds=round(wall, 1),
        train_seconds=round(cpu + member_seconds, 1),
        parameters=n_parameters(fused),
        member_parameters=[n_parameters(m) for m in members],
        **extra,
    )
    save_pretrained(fused, config, out_dir / "model")
    return config


# -- cross-validation ---------------------------------------------------------------------


@dataclass
class CvResult:
    """Out-of-fold scores of a run: ``probabilities`` (n_files, k), NaN for files in no test
    part; ``fold`` (n_files,) the fold that tested each file (-1: none); ``metrics``: the
    headline scores (grouped-cv: each distinct image once; random: the test files);
    ``metrics_files``: every tested file (copies counted); ``folds``: per-fold facts."""

    run: ImageRunConfig
    out_dir: Path
    relpaths: list[str]
    labels: np.ndarray
    groups: np.ndarray
    fold: np.ndarray
    probabilities: np.ndarray
    metrics: dict[str, Any]
    metrics_files: dict[str, Any]
    folds: list[dict[str, Any]]

    @property
    def train_seconds(self) -> float:
        return float(sum(f["train_seconds"] for f in self.folds))

    @property
    def parameters(self) -> int:
        return int(self.folds[0]["parameters"])

    def fold_dir(self, k: int) -> Path:
        return self.out_dir / fold_name(self.run, k)

    def load_fold(self, k: int) -> tuple[torch.nn.Module, dict[str, Any]]:
        """The fold's model (float32, eval mode) and its config."""
        loaded = load_model(self.fold_dir(k) / "model.safetensors")
        return loaded.module, loaded.config.to_dict()


def fold_finished(fold_dir: Path, run: ImageRunConfig) -> dict[str, Any] | None:
    """The fold's saved config when it was trained with the same run settings."""
    path = fold_dir / "model.json"
    if not path.exists() or not (fold_dir / "test.npz").exists():
        return None
    config = json.loads(path.read_text())
    try:
        saved = ImageRunConfig(**config["run"]).identity()
    except (KeyError, TypeError, EcgLensError):
        return None
    return config if saved == run.identity() else None


@torch.inference_mode()
def predict_probabilities(module: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """Softmax of ``module`` over normalised inputs (n, C, H, W): (n, k) float64."""
    module.eval()
    out = []
    for start in range(0, len(x), PREDICT_BATCH):
        logits = module(torch.as_tensor(x[start : start + PREDICT_BATCH]))
        out.append(torch.softmax(logits.double(), -1).numpy())
    return np.concatenate(out) if out else np.zeros((0, N_CLASSES))


def _save_test(fold_dir: Path, files: np.ndarray, probabilities: np.ndarray) -> None:
    atomic_write(
        fold_dir / "test.npz",
        lambda p: np.savez(p.open("wb"), files=files, probabilities=probabilities),
    )


def cross_validate(
    root: str | Path,
    run: ImageRunConfig,
    out_dir: str | Path,
    data: ImageData | None = None,
    bank: np.ndarray | None = None,
    member_dirs: list[str | Path] | None = None,
    progress: bool = True,
    n_boot: int = N_BOOT,
) -> CvResult:
    """Train (or reuse) every fold of ``run`` into ``out_dir``/fold-k (random split:
    ``out_dir``/split) and score the test images out-of-fold; writes ``cv.json``.

    Fusions use their members' fold models from ``member_dirs`` (default
    ``out_dir``/members/<architecture>), cross-validated there first when not done yet.
    ``data`` and ``bank``: the images and the augmentation bank when already in memory.
    ``n_boot``: bootstrap resamples of the intervals.
    """
    out_dir = Path(out_dir)
    if data is None:
        data = load_image_data(root, run.input.grayscale, progress)
    splits = fold_splits(data, run)
    clean = None
    member_results: list[CvResult] = []
    if run.is_fusion:
        dirs = member_dirs or [out_dir / "members" / m["architecture"] for m in run.members]
        if len(dirs) != len(run.members):
            raise EcgLensError(f"{len(run.members)} members but {len(dirs)} member folders")
        todo = not all(
            fold_finished(Path(d) / fold_name(run, k), run.member_run(spec))
            for spec, d in zip(run.members, dirs, strict=True)
            for k in range(len(splits))
        )
        head_todo = run.fusion == "features" and not all(
            fold_finished(out_dir / fold_name(run, k), run) for k in range(len(splits))
        )
        if bank is None and (todo or head_todo):
            bank = augmentation_bank(data, run.input, run.variants, run.seed, progress)
        for spec, member_dir in zip(run.members, dirs, strict=True):
            result = cross_validate(
                root, run.member_run(spec), member_dir, data, bank, None, progress, n_boot
            )
            member_results.append(result)
    n_files = len(data.paths)
    probabilities = np.full((n_files, N_CLASSES), np.nan)
    fold_of = np.full(n_files, -1, dtype=np.int64)
    folds = []
    for k, split in enumerate(splits):
        fold_dir = out_dir / fold_name(run, k)
        config = fold_finished(fold_dir, run)
        if config is None:
            if clean is None:
                clean = clean_inputs(data, run.input)
            needs_bank = not run.is_fusion or run.fusion == "features"
            if bank is None and needs_bank:
                bank = augmentation_bank(data, run.input, run.variants, run.seed, progress)
            console.print(f"training {run.name} {fold_name(run, k)} ({len(splits)} in all)")
            if run.is_fusion:
                loaded = [r.load_fold(k) for r in member_results]
                config = train_fusion_fold(
                    data, run, split, [m for m, _ in loaded], [c for _, c in loaded],
                    fold_dir, bank, clean, k, progress,
                )  # fmt: skip
            else:
                config = train_image_fold(data, run, split, fold_dir, bank, clean, k, progress)
            module = load_model(fold_dir / "model.safetensors").module
            test_groups = data.groups[split.test]
            _save_test(fold_dir, split.test, predict_probabilities(module, clean[test_groups]))
        saved = np.load(fold_dir / "test.npz")
        if not np.array_equal(saved["files"], split.test):
            raise EcgLensError("cached fold tested other files: the image folder changed", fold_dir)
        probabilities[split.test] = saved["probabilities"]
        fold_of[split.test] = k
        folds.append(
            {
                "fold": k,
                "n_train": config["n_train"],
                "n_val": config["n_val"],
                "n_test_files": int(len(split.test)),
                "n_test_distinct": int(len(np.unique(data.groups[split.test]))),
                "train_seconds": float(config["train_seconds"]),
                "parameters": int(config["parameters"]),
                "best_epoch": config.get("best_epoch", config.get("head_best_epoch")),
            }
        )
    result = _score(data, run, out_dir, probabilities, fold_of, folds, n_boot)
    atomic_write_json(
        out_dir / "cv.json",
        {
            "run": run.to_dict(),
            "metrics": result.metrics,
            "metrics_files": result.metrics_files,
            "folds": folds,
            "train_seconds": result.train_seconds,
            "data": data.counts(),
        },
    )
    return result


def _score(data: ImageData, run, out_dir, probabilities, fold_of, folds, n_boot) -> CvResult:
    tested = fold_of >= 0
    files = np.flatnonzero(tested)
    metrics_files = score_images(
        data.labels[files], probabilities[files], data.groups[files], data.classes, n_boot
    )
    if run.split == "grouped-cv":
        firsts = data.first[tested[data.first]]
        metrics = score_images(
            data.labels[firsts], probabilities[firsts], data.groups[firsts], data.classes, n_boot
        )
    else:
        metrics = metrics_files
    return CvResult(
        run=run,
        out_dir=out_dir,
        relpaths=data.relpaths,
        labels=data.labels,
        groups=data.groups,
        fold=fold_of,
        probabilities=probabilities,
        metrics=metrics,
        metrics_files=metrics_files,
        folds=folds,
    )


# -- shipping -----------------------------------------------------------------------------


def committee(cv: CvResult) -> tuple[ImageFusion, dict[str, Any]]:
    """The k fold models of a grouped cross-validation as one model (the mean of their
    probabilities) and its registry kwargs."""
    if cv.run.split != "grouped-cv":
        raise EcgLensError("a shipped model is the committee of a grouped cross-validation")
    modules, specs = [], []
    for k in range(cv.run.folds):
        module, config = cv.load_fold(k)
        modules.append(module)
        specs.append(
            {"architecture": config["architecture"], "kwargs": config["architecture_kwargs"]}
        )
    kwargs = {"members": specs, "num_classes": N_CLASSES, "mode": "probabilities"}
    return ImageFusion(modules, N_CLASSES, "probabilities"), kwargs


def _half(module: torch.nn.Module) -> torch.nn.Module:
    """A float16 copy (integer buffers such as BatchNorm's batch counts unchanged)."""
    return copy.deepcopy(module).half()


def train_final(
    root: str | Path,
    run: ImageRunConfig,
    out_dir: str | Path,
    name: str,
    data: ImageData | None = None,
    cv_dir: str | Path | None = None,
    member_dirs: list[str | Path] | None = None,
    half: bool = True,
    progress: bool = True,
    command: str = "",
    n_boot: int = N_BOOT,
) -> dict[str, Any]:
    """The model to ship: the committee of ``run``'s grouped k-fold models (trained, or
    reused from ``cv_dir``, default ``out_dir``/cv), saved as ``out_dir``/model
    (.safetensors in float16 with ``half``, .json, .md card). Its ``metrics`` are
    :func:`ecglens.evaluate.images.evaluate_images` of the saved weights on ``root``: the
    out-of-fold scores that ``ecglens evaluate images`` reproduces (with its default
    ``n_boot``, 1,000 resamples). Returns the config."""
    out_dir = Path(out_dir)
    if data is None:
        data = load_image_data(root, run.input.grayscale, progress)
    cv_dir = cv_dir or out_dir / "cv"
    cv = cross_validate(root, run, cv_dir, data, None, member_dirs, progress, n_boot)
    module, kwargs = committee(cv)
    fold_of_file = cv.fold
    files = [
        [rel, data.classes[int(label)], int(group), int(fold)]
        for rel, label, group, fold in zip(
            data.relpaths, data.labels, data.groups, fold_of_file, strict=True
        )
    ]
    member_parameters = n_parameters(module.members[0])
    config = {
        "architecture": "image-fusion",
        "architecture_kwargs": kwargs,
        "task": IMAGE_TASK,
        "classes": list(IMAGE_CLASSES),
        "input": asdict(run.input),
        "name": name,
        "members": run.name,
        "weights_dtype": "float16" if half else "float32",
        "cross_validation": {
            "n_folds": run.folds,
            "seed": run.seed,
            "description": f"grouped {run.folds}-fold cross-validation "
            "(StratifiedGroupKFold over perceptual-hash duplicate groups, seed "
            f"{run.seed}); member k trained on the other folds' distinct images",
            "files": files,
        },
        "split": "grouped-cv committee: each fold model is scored on its own held-out fold",
        "run": run.to_dict(),
        "train": asdict(run.train),
        "seed": run.seed,
        "folds": cv.folds,
        "train_minutes": round(cv.train_seconds / 60, 1),
        "parameters": {"per_member": member_parameters, "total": n_parameters(module)},
        "cv_metrics_float32": {k: cv.metrics[k] for k in ("accuracy", "macro_f1")},
        "data": {
            "database": "ECG Images dataset of Cardiac Patients (Khan, Hussain, Malik; "
            "Mendeley Data V2, 2021), 738 x 524 copies",
            "root": str(root),
            "duplicates": "files joined by perceptual hash within "
            f"{DUPLICATE_DISTANCE} of 256 bits (ecglens.data.images.duplicate_groups)",
            "counts": data.counts(),
        },
        "environment": environment(),
        "command": command or f"train_final({str(root)!r}, run, {str(out_dir)!r}, {name!r})",
    }
    path = save_pretrained(_half(module) if half else module, config, out_dir / "model")
    loaded = load_model(path)
    loaded.name = name
    metrics = evaluate_images(loaded, root, n_boot=n_boot, progress=progress)
    config["metrics"] = {k: v for k, v in metrics.items() if k not in ("model", "data")}
    atomic_write_json(path.with_suffix(".json"), config)
    atomic_write_text(path.with_suffix(".md"), images_card(name, config))
    atomic_write_json(out_dir / "metrics.json", metrics)
    return config


