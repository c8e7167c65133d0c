"""``ecglens benchmark images``: the three image models and both fusions on the Mendeley ECG
printouts, scored by grouped k-fold cross-validation (each distinct image once, by the
model of its fold), beside the naive random split (leaky: copies of test images are
trained on), plus robustness to phone-photo transforms of the held-out images.

Cells (one model on one split) are trained into ``out``/cells/<split>/<model>/ and reused
when the command runs again with the same settings; the fusions reuse the cells of their
members. Robustness: every held-out distinct image is transformed
(:func:`~ecglens.inputs.images.photo_transform` at ``robustness_strength``, one kind at a
time and all together, seeded per image and kind) and classified by the models of its fold;
agreement is the share of images whose label does not change (interval: bootstrap over
images). The training augmentation draws from the same transform family, so agreement
measures how well the learned invariance holds on images never trained on, not on kinds
of distortion never seen.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score

from ecglens._atomic import atomic_write, atomic_write_json, atomic_write_text
from ecglens.data.images import IMAGE_CLASSES
from ecglens.data.ptbxl import PtbxlConfig, load_ptbxl, split_by_fold
from ecglens.data.rendered import (
    RENDERED_CLASSES,
    TEST_FOLDS,
    TRAIN_FOLDS,
    VAL_FOLDS,
    RenderConfig,
    RenderedSet,
    binary_of_mendeley,
    binary_probabilities,
    read_manifest,
    render_ptbxl,
    render_settings,
)
from ecglens.errors import EcgLensError
from ecglens.evaluate.bootstrap import bootstrap_statistic
from ecglens.evaluate.images import N_BOOT, score_images
from ecglens.evaluate.ptbxl import roc_auc, sigmoid
from ecglens.inputs.images import (
    PHOTO_TRANSFORMS,
    ImageInputConfig,
    decode,
    photo_transform,
    trace_area,
)
from ecglens.inputs.twelve_lead import model_inputs
from ecglens.models.images import FUSION_MODES
from ecglens.models.registry import load_model
from ecglens.plot.printout import ptbxl_page, realistic_printout
from ecglens.predict.forward import predict_logits
from ecglens.progress import console, track
from ecglens.train.images import (
    N_CLASSES as N_IMAGE_CLASSES,
)
from ecglens.train.images import (
    SINGLE_MODELS,
    CvResult,
    FoldSplit,
    ImageData,
    ImageRunConfig,
    augmentation_bank,
    clean_inputs,
    cross_validate,
    default_head_config,
    fold_finished,
    fold_name,
    fold_splits,
    fusion_run,
    load_image_data,
    normalise_batch,
    predict_probabilities,
    single_run,
    train_fusion_fold,
    train_image_fold,
)

MENDELEY_KINDS = ("cv", "random", "pretrained")
SPLIT_LABELS = {
    "grouped-cv": "grouped {k}-fold CV",
    "random": "random {p:.0%} test split (leaky)",
}
ROBUST_KINDS = (*PHOTO_TRANSFORMS, "all")
ROBUST_BATCH = 64
# settings of the rendered rows: left out of the robustness cache's key
RENDERED_FIELDS = (
    "rendered", "ptbxl", "rendered_models", "rendered_fusions", "rendered_epochs",
    "rendered_variants", "rendered_realism", "pretrain", "signal_model",
)  # fmt: skip


@dataclass(frozen=True)
class ImagesBenchmarkConfig:
    """The benchmark's settings; saved beside the table."""

    height: int = 128  # model input, pixels
    width: int = 224
    grayscale: bool = True
    models: tuple[str, ...] = SINGLE_MODELS
    fusions: tuple[str, ...] = FUSION_MODES
    folds: int = 5
    epochs: int = 20
    batch_size: int = 16
    lr: float = 2e-3
    variants: int = 5  # augmented versions per image
    seed: int = 0
    random_split: bool = True
    robustness: bool = True
    robustness_strength: float = 1.0
    head_epochs: int = 60  # feature-fusion head
    n_boot: int = N_BOOT  # bootstrap resamples of the intervals
    device: str = "cpu"
    # printouts rendered from PTB-XL (ecglens.data.rendered): the rows of rendered fold 10,
    # cross-domain, pretraining and image vs signal; skipped when PTB-XL is not found
    rendered: bool = True
    ptbxl: str | None = None  # the PTB-XL folder; default: ptb-xl beside the image folder
    rendered_models: tuple[str, ...] = SINGLE_MODELS
    rendered_fusions: tuple[str, ...] = FUSION_MODES
    rendered_epochs: int = 8
    rendered_variants: int = 2  # realistic versions per training printout
    rendered_realism: float = 1.0  # their strength (ecglens.plot.printout.realistic_printout)
    pretrain: tuple[str, ...] = ("image-cnn",)  # fine-tuned on Mendeley from rendered weights
    signal_model: str | None = "ecglens-ptbxl-binary"

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in SINGLE_MODELS]
        if unknown:
            raise EcgLensError(f"unknown image model {unknown[0]!r}; choose {SINGLE_MODELS}")
        if any(f not in FUSION_MODES for f in self.fusions):
            raise EcgLensError(f"fusions must be among {', '.join(FUSION_MODES)}")
        if self.fusions and len(self.models) < 2:
            raise EcgLensError("a fusion needs at least two models")
        unknown = [m for m in (*self.rendered_models, *self.pretrain) if m not in SINGLE_MODELS]
        if unknown:
            raise EcgLensError(f"unknown image model {unknown[0]!r}; choose {SINGLE_MODELS}")
        if any(f not in FUSION_MODES for f in self.rendered_fusions):
            raise EcgLensError(f"rendered_fusions must be among {', '.join(FUSION_MODES)}")
        if self.rendered_fusions and len(self.rendered_models) < 2:
            raise EcgLensError("a rendered fusion needs at least two rendered models")
        if any(m not in self.rendered_models for m in self.pretrain):
            raise EcgLensError("pretrain models must be among rendered_models")

    @property
    def input(self) -> ImageInputConfig:
        return ImageInputConfig(self.height, self.width, self.grayscale, True)

    def _train(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "device": self.device,
        }

    def run(self, model: str, split: str = "grouped-cv") -> ImageRunConfig:
        """The run of ``model`` (an architecture or "fusion-features" /
        "fusion-probabilities") on ``split``."""
        if model.startswith("fusion-"):
            run = fusion_run(
                model.removeprefix("fusion-"), self.input, self.seed, split, self.models,
                **self._train(),
            )  # fmt: skip
        else:
            run = single_run(model, self.input, self.seed, split, **self._train())
        if run.is_fusion:
            run.head = default_head_config(seed=self.seed, epochs=self.head_epochs)
        return replace(
            run,
            folds=self.folds,
            variants=self.variants,
            head_variants=min(run.head_variants, self.variants),
        )

    def rendered_run(self, model: str) -> ImageRunConfig:
        """The run of ``model`` on the rendered PTB-XL printouts (split "ptbxl-folds"):
        ``rendered_epochs`` epochs, ``rendered_variants`` augmented versions."""
        short = replace(self, epochs=self.rendered_epochs, variants=self.rendered_variants)
        return short.run(model, "ptbxl-folds")

    def pretrained_run(self, model: str, init: str | Path) -> ImageRunConfig:
        """The grouped-CV run of ``model`` starting from the rendered model's weights."""
        return replace(self.run(model, "grouped-cv"), init=str(init))

    def cells(self) -> list[tuple[str, str]]:
        """(split, model) of every cell, in training order."""
        splits = ["grouped-cv"] + (["random"] if self.random_split else [])
        names = list(self.models) + [f"fusion-{f}" for f in self.fusions]
        return [(s, m) for s in splits for m in names]


def _cell_dir(out: Path, split: str, model: str) -> Path:
    return out / "cells" / split / model


def _pending(run: ImageRunConfig, cell: Path, n_splits: int) -> bool:
    return not all(fold_finished(cell / fold_name(run, k), run) for k in range(n_splits))


def _scores(m: dict[str, Any]) -> dict[str, Any]:
    """The scores every row holds, from evaluate's metrics ``m``: counts, accuracy and
    macro-F1 with their intervals, per-class F1."""
    return {
        "n_scored": int(m["n"]["value"]),
        "accuracy": m["accuracy"]["value"],
        "accuracy_ci": m["accuracy"]["ci"],
        "macro_f1": m["macro_f1"]["value"],
        "macro_f1_ci": m["macro_f1"]["ci"],
        "f1": {
            c: {"value": v["f1"]["value"], "ci": v["f1"]["ci"]} for c, v in m["per_class"].items()
        },
    }


def _row(split: str, model: str, result: CvResult, cfg: ImagesBenchmarkConfig) -> dict[str, Any]:
    m = result.metrics
    run = result.run
    member_seconds = None
    if run.is_fusion:
        fold_dirs = [result.fold_dir(k) for k in range(len(result.folds))]
        head = [json.loads((d / "model.json").read_text())["head_seconds"] for d in fold_dirs]
        member_seconds = result.train_seconds - float(sum(head))
    label = SPLIT_LABELS[split].format(k=cfg.folds, p=run.test_fraction)
    return {
        "kind": "cv" if split == "grouped-cv" else "random",
        "split": label,
        "model": model,
        "parameters": result.parameters,
        **_scores(m),
        "train_minutes": round(result.train_seconds / 60, 2),
        "member_minutes": None if member_seconds is None else round(member_seconds / 60, 2),
        "best_epochs": [f["best_epoch"] for f in result.folds],
        "lr": None if run.is_fusion else run.train.lr,
    }


# -- robustness ---------------------------------------------------------------------------


@torch.inference_mode()
def _fold_labels(
    singles: list[torch.nn.Module], feature_head: torch.nn.Module | None, x: torch.Tensor
) -> dict[str, np.ndarray]:
    """Predicted labels of each single model and of both fusions for inputs (B, C, H, W):
    the members run once; the fusions are computed from their embeddings and logits."""
    embeddings, probabilities = [], []
    for module in singles:
        embedding = module.forward_head(module.forward_features(x), pre_logits=True)
        embeddings.append(embedding)
        probabilities.append(torch.softmax(module.fc(embedding), -1))
    out = {f"single-{i}": p.argmax(1).numpy() for i, p in enumerate(probabilities)}
    out["fusion-probabilities"] = torch.stack(probabilities).mean(0).argmax(1).numpy()
    if feature_head is not None:
        out["fusion-features"] = feature_head(torch.cat(embeddings, 1)).argmax(1).numpy()
    return out


def robustness_labels(
    data: ImageData,
    results: dict[str, CvResult],
    cfg: ImagesBenchmarkConfig,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Per model and transform kind: the label (n_groups,) of each distinct image under the
    transform, by the models of its fold (-1: not held out)."""
    models = list(cfg.models)
    first = results[models[0]]
    splits = fold_splits(data, first.run)
    labels = {
        f"{m}/{kind}": np.full(data.n_groups, -1, np.int64)
        for m in [*models, *(f"fusion-{f}" for f in cfg.fusions)]
        for kind in ROBUST_KINDS
    }
    for k, split in enumerate(splits):
        singles = [results[m].load_fold(k)[0] for m in models]
        head = None
        if "fusion-features" in results:
            head = results["fusion-features"].load_fold(k)[0].fc.eval()
        groups = np.unique(data.groups[split.test])
        for j, kind in enumerate(ROBUST_KINDS):
            kinds = PHOTO_TRANSFORMS if kind == "all" else (kind,)
            for start in track(
                range(0, len(groups), ROBUST_BATCH), f"fold {k} {kind}", enabled=progress
            ):
                part = groups[start : start + ROBUST_BATCH]
                pages = [
                    photo_transform(
                        data.pages[g],
                        np.random.default_rng([cfg.seed, 1, int(g), j]),
                        cfg.robustness_strength,
                        kinds,
                    )
                    for g in part
                ]
                x = np.stack([np.round(trace_area(p, cfg.input) * 255) for p in pages])
                out = _fold_labels(
                    singles, head, normalise_batch(torch.as_tensor(x, dtype=torch.uint8))
                )
                for i, m in enumerate(models):
                    labels[f"{m}/{kind}"][part] = out[f"single-{i}"]
                for f in cfg.fusions:
                    labels[f"fusion-{f}/{kind}"][part] = out[f"fusion-{f}"]
    return labels


def _mean_ci(values: np.ndarray, seed: int, n_boot: int) -> tuple[float, list[float]]:
    out = bootstrap_statistic(
        lambda a: float(np.mean(a)), values.astype(np.float64), n_boot=n_boot, seed=seed
    )
    return out["value"], out["ci"]


def robustness_rows(
    data: ImageData,
    results: dict[str, CvResult],
    labels: dict[str, np.ndarray],
    cfg: ImagesBenchmarkConfig,
) -> list[dict[str, Any]]:
    """Rows (model, transform, agreement with the clean label [CI], accuracy clean and
    transformed) over the held-out distinct images."""
    rows = []
    truth = data.group_labels
    for key, transformed in labels.items():
        model, kind = key.split("/")
        clean = results[model].probabilities[data.first].argmax(1)
        scored = transformed >= 0
        agree, agree_ci = _mean_ci(transformed[scored] == clean[scored], cfg.seed, cfg.n_boot)
        rows.append(
            {
                "kind": "robustness",
                "model": model,
                "transform": kind,
                "strength": cfg.robustness_strength,
                "n_images": int(scored.sum()),
                "agreement": agree,
                "agreement_ci": agree_ci,
                "accuracy_clean": float(np.mean(clean[scored] == truth[scored])),
                "accuracy_transformed": float(np.mean(transformed[scored] == truth[scored])),
            }
        )
    return rows


def _robustness(data, results, cfg, out: Path, progress: bool) -> dict[str, np.ndarray]:
    """Robustness labels, reused from ``out``/robustness.npz when the settings match."""
    path = out / "robustness.npz"
    config = {k: v for k, v in asdict(cfg).items() if k not in RENDERED_FIELDS}
    settings = json.dumps(
        {"config": config, "cells": {m: r.run.identity() for m, r in results.items()}},
        sort_keys=True,
    )
    if path.exists():
        saved = np.load(path)
        if str(saved["settings"]) == settings:
            return {k: saved[k] for k in saved.files if k != "settings"}
    labels = robustness_labels(data, results, cfg, progress)
    arrays = {**labels, "settings": np.array(settings)}
    atomic_write(path, lambda p: np.savez(p.open("wb"), **arrays))
    return labels


# -- printouts rendered from PTB-XL -------------------------------------------------------

RENDERED_SPLIT = "rendered PTB-XL fold 10"
PRETRAINED_SPLIT = "grouped {k}-fold CV, pretrained on rendered PTB-XL"
TARGET_GAP = 0.03  # the target: image ROC-AUC within 0.03 of the signal model's


@dataclass
class RenderedData:
    """The rendered printouts as the image models take them: ``data`` (one "group" per
    record, classes normal / abnormal), ``bank`` (n, 1 + V, C, H, W) uint8 trace areas (the
    clean page, then V realistic versions; versions of records outside the training folds
    repeat the clean page), ``clean`` (n, C, H, W) normalised inputs, ``split`` (train:
    strat_folds 1-8, val: 9, test: 10)."""

    records: RenderedSet
    data: ImageData
    bank: np.ndarray
    clean: np.ndarray
    split: FoldSplit


def ptbxl_folder(root: str | Path, cfg: ImagesBenchmarkConfig) -> Path | None:
    """The PTB-XL folder of the rendered rows (None: rows off, or no PTB-XL there)."""
    if not cfg.rendered:
        return None
    folder = Path(cfg.ptbxl) if cfg.ptbxl else Path(root).parent / "ptb-xl"
    return folder if (folder / "ptbxl_database.csv").is_file() else None


def ensure_rendered(ptbxl: Path, folder: Path, progress: bool = True) -> RenderedSet:
    """Render PTB-XL into ``folder`` (clean pages, :class:`RenderConfig` defaults) unless a
    finished render with those settings is there; its manifest."""
    config = RenderConfig()
    saved = render_settings(folder)
    if saved is None or saved["config"] != asdict(config):
        console.print(f"rendering PTB-XL printouts from {ptbxl} into {folder}")
        render_ptbxl(ptbxl, folder, config, progress=progress, draw=ptbxl_page)
    return read_manifest(folder)


def load_rendered(
    records: RenderedSet, cfg: ImagesBenchmarkConfig, cache: Path, progress: bool = True
) -> RenderedData:
    """Decode every rendered page once into the trace-area bank (reused from ``cache``
    when made with the same files and settings); record k's realistic versions are drawn
    with seed (``cfg.seed``, 2, ecg_id)."""
    split = FoldSplit(
        train=records.folds(TRAIN_FOLDS), val=records.folds(VAL_FOLDS),
        test=records.folds(TEST_FOLDS),
    )  # fmt: skip
    if min(len(split.train), len(split.val), len(split.test)) == 0:
        raise EcgLensError("the rendered set needs records in folds 1-8, 9 and 10", records.root)
    inp = cfg.input
    key = json.dumps(
        {
            "files": [f.name for f in records.files],
            "labels": records.labels.tolist(),
            "input": asdict(inp),
            "variants": cfg.rendered_variants,
            "realism": cfg.rendered_realism,
            "seed": cfg.seed,
        },
        sort_keys=True,
    )
    bank = None
    if cache.is_file():
        with np.load(cache) as saved:
            if str(saved["key"]) == key:
                bank = saved["bank"]
    if bank is None:
        n, versions = len(records), 1 + cfg.rendered_variants
        bank = np.zeros((n, versions, inp.channels, inp.height, inp.width), np.uint8)
        training = set(split.train.tolist())
        for i in track(range(n), "Rendered printouts -> inputs", enabled=progress):
            page = decode(records.files[i], grayscale=False)
            bank[i, 0] = np.round(trace_area(page, inp) * 255)
            if i not in training:
                bank[i, 1:] = bank[i, 0]
                continue
            rng = np.random.default_rng([cfg.seed, 2, int(records.ecg_id[i])])
            rgb = page.transpose(1, 2, 0)
            for v in range(1, versions):
                real = realistic_printout(rgb, rng, cfg.rendered_realism)
                bank[i, v] = np.round(trace_area(real.transpose(2, 0, 1), inp) * 255)
        saved_bank = bank
        atomic_write(cache, lambda p: np.savez(p.open("wb"), bank=saved_bank, key=np.array(key)))
    data = ImageData(
        root=records.root,
        paths=list(records.files),
        labels=records.labels,
        groups=np.arange(len(records)),
        first=np.arange(len(records)),
        pages=[],
        grayscale=inp.grayscale,
        classes=RENDERED_CLASSES,
    )
    clean = np.concatenate(
        [
            normalise_batch(torch.as_tensor(bank[i : i + 256, 0])).numpy()
            for i in range(0, len(bank), 256)
        ]
    )
    return RenderedData(records, data, bank, clean, split)


def train_rendered_cell(
    rd: RenderedData, cfg: ImagesBenchmarkConfig, model: str, out: Path, progress: bool = True
) -> dict[str, Any]:
    """Train (or reuse) ``model`` on the rendered training folds into
    ``out``/cells/rendered/<model>/split; returns its config and the probabilities of the
    validation (fold 9) and test (fold 10) records."""
    run = cfg.rendered_run(model)
    fold_dir = _cell_dir(out, "rendered", model) / fold_name(run, 0)
    config = fold_finished(fold_dir, run)
    if config is None:
        console.print(f"training {model} on rendered PTB-XL (folds 1-8, epoch on 9)")
        if run.is_fusion:
            members = [
                load_model(_cell_dir(out, "rendered", m) / "split" / "model.safetensors")
                for m in cfg.rendered_models
            ]
            train_fusion_fold(
                rd.data, run, rd.split, [m.module for m in members],
                [m.config.to_dict() for m in members], fold_dir, rd.bank, rd.clean, 0, progress,
            )  # fmt: skip
        else:
            train_image_fold(rd.data, run, rd.split, fold_dir, rd.bank, rd.clean, 0, progress)
        module = load_model(fold_dir / "model.safetensors").module
        val = predict_probabilities(module, rd.clean[rd.split.val])
        test = predict_probabilities(module, rd.clean[rd.split.test])
        arrays = {"files": rd.split.test, "probabilities": test, "val_files": rd.split.val,
                  "val_probabilities": val}  # fmt: skip
        atomic_write(fold_dir / "test.npz", lambda p: np.savez(p.open("wb"), **arrays))
        config = fold_finished(fold_dir, run)
    saved = np.load(fold_dir / "test.npz")
    if not np.array_equal(saved["files"], rd.split.test):
        raise EcgLensError("cached cell tested other records: the rendered set changed", fold_dir)
    return {
        "config": config,
        "path": fold_dir / "model.safetensors",
        "val": saved["val_probabilities"],
        "test": saved["probabilities"],
    }


def binary_scores(y: np.ndarray, p2: np.ndarray, n_boot: int, seed: int = 0) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class F1 (normal, abnormal; argmax of ``p2`` (n, 2)) and
    ROC-AUC of P(abnormal), with 95 % bootstrap intervals over items."""
    out = score_images(y, p2, np.arange(len(y)), RENDERED_CLASSES, n_boot, seed)
    out["roc_auc"] = bootstrap_statistic(
        roc_auc, np.asarray(y), np.asarray(p2)[:, 1], n_boot=n_boot, seed=seed
    )
    return out


def _binary_row(kind: str, split: str, model: str, m: dict[str, Any], **extra: Any):
    return {
        "kind": kind,
        "split": split,
        "model": model,
        **_scores(m),
        "roc_auc": m["roc_auc"]["value"],
        "roc_auc_ci": m["roc_auc"]["ci"],
        **extra,
    }


def _committee_probabilities(result: CvResult, x: np.ndarray) -> np.ndarray:
    """Mean softmax of a grouped-CV cell's fold models over normalised inputs ``x``."""
    return np.mean(
        [predict_probabilities(result.load_fold(k)[0], x) for k in range(len(result.folds))], 0
    )


def signal_probabilities(
    model: str, ptbxl: Path, progress: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ecg_id, label, P(abnormal)) of the signal model on PTB-XL's fold 10, preprocessed
    as at its training (as :func:`ecglens.evaluate.ptbxl.evaluate_ptbxl`)."""
    loaded = load_model(model)
    data_info = loaded.config.data or {}
    pc = PtbxlConfig(
        root=ptbxl,
        sampling_rate=int(loaded.config.fs),
        task="binary",
        min_likelihood=float(data_info.get("min_likelihood", 0.0)),
    )
    data = load_ptbxl(pc, progress=progress)
    _, _, test = split_by_fold(data, pc)
    x = model_inputs(test.x, test.fs, loaded.config.preprocessing)
    prob = sigmoid(predict_logits(loaded.module, x, batch_size=256))[:, 0]
    return test.ecg_id, test.y.astype(np.int64), prob


def image_vs_signal(
    y: np.ndarray, image: np.ndarray, signal: np.ndarray, n_boot: int, seed: int = 0
) -> dict[str, Any]:
    """ROC-AUC of two scores of the same records and their gap (signal - image), with a
    paired 95 % bootstrap (records resampled once for both)."""

    def statistic(y, a, b):
        auc_a, auc_b = roc_auc(y, a), roc_auc(y, b)
        return {"image": auc_a, "signal": auc_b, "gap": auc_b - auc_a}

    return bootstrap_statistic(statistic, y, image, signal, n_boot=n_boot, seed=seed)


def _paired_gain(y, scratch, pretrained, n_boot, seed) -> dict[str, Any]:
    """Accuracy and macro-F1 of ``pretrained`` minus ``scratch`` (labels (n,)), paired
    bootstrap over images."""
    classes = np.arange(N_IMAGE_CLASSES)

    def statistic(y, a, b):
        f1 = partial(f1_score, labels=classes, average="macro", zero_division=0)
        return {"accuracy": float(np.mean(b == y) - np.mean(a == y)),
                "macro_f1": float(f1(y, b) - f1(y, a))}  # fmt: skip

    return bootstrap_statistic(statistic, y, scratch, pretrained, n_boot=n_boot, seed=seed)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _match_init(cell_dir: Path, init: Path, folds: int) -> None:
    """A pretrained cell whose init weights changed since it was trained (its run names
    them by path only) is retrained: its folds' test scores are dropped."""
    stamp = cell_dir / "init.sha256"
    if stamp.is_file() and stamp.read_text().strip() != _sha256(init):
        for k in range(folds):
            (cell_dir / f"fold-{k}" / "test.npz").unlink(missing_ok=True)


def rendered_rows(
    root: str | Path,
    out: Path,
    cfg: ImagesBenchmarkConfig,
    ptbxl: Path,
    data: ImageData,
    results: dict[tuple[str, str], CvResult],
    mendeley_bank: Any,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Rows of the rendered printouts: fold-10 scores, cross-domain both ways, pretraining
    on rendered printouts then grouped CV on Mendeley, image vs signal ROC-AUC.
    ``mendeley_bank()``: the Mendeley augmentation bank (made on first call)."""
    records = ensure_rendered(ptbxl, out / "rendered", progress)
    rd = load_rendered(records, cfg, out / "rendered-bank.npz", progress)
    y_test = rd.data.labels[rd.split.test]
    y_val = rd.data.labels[rd.split.val]
    names = list(cfg.rendered_models) + [f"fusion-{f}" for f in cfg.rendered_fusions]
    cells = {m: train_rendered_cell(rd, cfg, m, out, progress) for m in names}
    rows: list[dict[str, Any]] = []
    for m, cell in cells.items():
        config = cell["config"]
        seconds = float(config["train_seconds"])
        head = config.get("head_seconds")
        scores = binary_scores(y_test, cell["test"], cfg.n_boot, cfg.seed)
        rows.append(
            _binary_row(
                "rendered",
                RENDERED_SPLIT,
                m,
                scores,
                parameters=int(config["parameters"]),
                val_roc_auc=roc_auc(y_val, cell["val"][:, 1]),
                train_minutes=round(seconds / 60, 2),
                member_minutes=None if head is None else round((seconds - head) / 60, 2),
                best_epochs=[config.get("best_epoch", config.get("head_best_epoch"))],
                lr=None if m.startswith("fusion-") else cfg.rendered_run(m).train.lr,
            )  # fmt: skip
        )
    # cross-domain: Mendeley grouped-CV committees on rendered fold 10 ...
    x_test = rd.clean[rd.split.test]
    for (split, m), result in results.items():
        if split != "grouped-cv":
            continue
        p2 = binary_probabilities(_committee_probabilities(result, x_test), IMAGE_CLASSES)
        scores = binary_scores(y_test, p2, cfg.n_boot, cfg.seed)
        rows.append(
            _binary_row(
                "cross-domain",
                "Mendeley -> rendered PTB-XL fold 10",
                m,
                scores,
                train_minutes=0.0,
                member_minutes=None,
            )  # fmt: skip
        )
    # ... and the rendered models on every distinct Mendeley image
    x_mendeley = clean_inputs(data, cfg.input)
    y_mendeley = binary_of_mendeley([data.classes[k] for k in data.group_labels])
    for m, cell in cells.items():
        module = load_model(cell["path"]).module
        p2 = predict_probabilities(module, x_mendeley)
        scores = binary_scores(y_mendeley, p2, cfg.n_boot, cfg.seed)
        rows.append(
            _binary_row(
                "cross-domain",
                "rendered PTB-XL -> Mendeley (all distinct)",
                m,
                scores,
                train_minutes=0.0,
                member_minutes=None,
            )  # fmt: skip
        )
    # the Mendeley models' own binary scores (out-of-fold), for reference
    for (split, m), result in results.items():
        if split != "grouped-cv":
            continue
        p2 = binary_probabilities(result.probabilities[data.first], IMAGE_CLASSES)
        scores = binary_scores(y_mendeley, p2, cfg.n_boot, cfg.seed)
        rows.append(
            _binary_row(
                "cross-domain",
                "Mendeley grouped CV (in-domain reference)",
                m,
                scores,
                train_minutes=0.0,
                member_minutes=None,
            )  # fmt: skip
        )
    # image vs signal on rendered fold 10
    if cfg.signal_model:
        best = max(cells, key=lambda m: roc_auc(y_val, cells[m]["val"][:, 1]))
        ids, labels, p_signal = signal_probabilities(cfg.signal_model, ptbxl, progress)
        test_ids = rd.records.ecg_id[rd.split.test]
        common, i_img, i_sig = np.intersect1d(test_ids, ids, return_indices=True)
        if not np.array_equal(y_test[i_img], labels[i_sig]):
            raise EcgLensError("rendered labels differ from the signal data's labels", ptbxl)
        cmp = image_vs_signal(
            y_test[i_img], cells[best]["test"][i_img, 1], p_signal[i_sig], cfg.n_boot, cfg.seed
        )
        rows.append(
            {
                "kind": "image-vs-signal",
                "image_model": best,
                "selected_by": "highest ROC-AUC on rendered fold 9 (validation)",
                "signal_model": cfg.signal_model,
                "n_records": int(len(common)),
                "n_abnormal": int(y_test[i_img].sum()),
                "image_auc": cmp["image"]["value"],
                "image_auc_ci": cmp["image"]["ci"],
                "signal_auc": cmp["signal"]["value"],
                "signal_auc_ci": cmp["signal"]["ci"],
                "gap": cmp["gap"]["value"],
                "gap_ci": cmp["gap"]["ci"],
                "target_gap": TARGET_GAP,
                "target_met": bool(cmp["gap"]["value"] <= TARGET_GAP),
            }
        )
    # pretraining on rendered printouts, then grouped CV on Mendeley
    for m in cfg.pretrain:
        run = cfg.pretrained_run(m, cells[m]["path"])
        cell_dir = _cell_dir(out, "grouped-cv-pretrained", m)
        _match_init(cell_dir, cells[m]["path"], cfg.folds)
        bank = mendeley_bank() if _pending(run, cell_dir, cfg.folds) else None
        console.print(f"{m}: grouped CV on Mendeley from the rendered weights")
        result = cross_validate(root, run, cell_dir, data, bank, None, progress, cfg.n_boot)
        atomic_write_text(cell_dir / "init.sha256", _sha256(cells[m]["path"]) + "\n")
        row = _row("grouped-cv", m, result, cfg)
        row.update(
            kind="pretrained",
            split=PRETRAINED_SPLIT.format(k=cfg.folds),
            pretrain_minutes=round(float(cells[m]["config"]["train_seconds"]) / 60, 2),
        )
        rows.append(row)
        scratch = results.get(("grouped-cv", m))
        if scratch is not None:
            y = data.group_labels
            gain = _paired_gain(
                y, scratch.probabilities[data.first].argmax(1),
                result.probabilities[data.first].argmax(1), cfg.n_boot, cfg.seed,
            )  # fmt: skip
            rows.append(
                {
                    "kind": "pretrain-gain",
                    "model": m,
                    "n_images": int(len(y)),
                    "accuracy_gain": gain["accuracy"]["value"],
                    "accuracy_gain_ci": gain["accuracy"]["ci"],
                    "macro_f1_gain": gain["macro_f1"]["value"],
                    "macro_f1_gain_ci": gain["macro_f1"]["ci"],
                }
            )
    return rows


# -- the table ----------------------------------------------------------------------------


def _pct(value: float, ci: list[float] | None = None) -> str:
    text = f"{100 * value:.1f}"
    return f"{text} [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci is not None else text


def markdown(result: dict[str, Any]) -> str:
    """Score tables (grouped CV, leaky random split) and the robustness table."""
    cfg = result["config"]
    rows = result["rows"]
    classes = list(next(r for r in rows if r["kind"] in MENDELEY_KINDS)["f1"])
    head = (
        "| split | model | parameters | accuracy % [95% CI] | macro-F1 % [95% CI] | "
        + " | ".join(f"{c} F1 %" for c in classes)
        + " | training min (CPU) |\n|---|---|---|---|---|"
        + "---|" * len(classes)
        + "---|"
    )
    lines = [head]
    for r in rows:
        if r["kind"] not in MENDELEY_KINDS:
            continue
        minutes = f"{r['train_minutes']:.1f}"
        if r.get("pretrain_minutes") is not None:
            minutes += f" (+ {r['pretrain_minutes']:.1f} pretraining)"
        if r["member_minutes"] is not None:
            head_minutes = r["train_minutes"] - r["member_minutes"]
            minutes = f"{head_minutes:.1f} (+ {r['member_minutes']:.1f} members)"
        f1 = " | ".join(_pct(r["f1"][c]["value"], r["f1"][c]["ci"]) for c in classes)
        lines.append(
            f"| {r['split']} | {r['model']} | {r['parameters']:,} | "
            f"{_pct(r['accuracy'], r['accuracy_ci'])} | {_pct(r['macro_f1'], r['macro_f1_ci'])} "
            f"| {f1} | {minutes} |"
        )
    text = "\n".join(lines) + "\n"
    robust = [r for r in rows if r["kind"] == "robustness"]
    if robust:
        models = list(dict.fromkeys(r["model"] for r in robust))
        by = {(r["model"], r["transform"]): r for r in robust}
        text += (
            f"\nRobustness (grouped CV, held-out images, strength {cfg['robustness_strength']:g}):"
            " % of images whose label is unchanged by the transform [95% CI]; last column: "
            "accuracy clean -> with all transforms.\n\n| model | "
            + " | ".join(ROBUST_KINDS)
            + " | accuracy clean -> all |\n|---|"
            + "---|" * (len(ROBUST_KINDS) + 1)
            + "\n"
        )
        for m in models:
            cells = " | ".join(
                _pct(by[(m, k)]["agreement"], by[(m, k)]["agreement_ci"]) for k in ROBUST_KINDS
            )
            a = by[(m, "all")]
            text += (
                f"| {m} | {cells} | {_pct(a['accuracy_clean'])} -> "
                f"{_pct(a['accuracy_transformed'])} |\n"
            )
    own = {
        r["model"]: r["lr"]
        for r in rows
        if r.get("lr") is not None and r["lr"] != cfg["lr"] and r["kind"] in MENDELEY_KINDS
    }
    lrs = "".join(f" ({m}: {lr:g})" for m, lr in own.items())
    text += (
        f"\nInput {cfg['height']} x {cfg['width']} px of the trace area, "
        f"{'grayscale' if cfg['grayscale'] else 'RGB'}; {cfg['epochs']} epochs (cosine), batch "
        f"{cfg['batch_size']}, Adam {cfg['lr']:g}{lrs}, {cfg['variants']} phone-photo versions per "
        f"image, seed {cfg['seed']}; training minutes: CPU time on one core (one thread), all "
        "folds together. "
        "Grouped CV scores each distinct image once (the first file of its duplicate group); "
        "the random split scores its test files (copies of training images among them). "
        "Intervals: bootstrap over duplicate groups (robustness: over images).\n"
    )
    return text + rendered_markdown(result)


def _minutes(r: dict[str, Any]) -> str:
    if r.get("member_minutes") is None:
        return f"{r['train_minutes']:.1f}"
    return f"{r['train_minutes'] - r['member_minutes']:.1f} (+ {r['member_minutes']:.1f} members)"


def _binary_table(rows: list[dict[str, Any]], first: str, minutes: bool) -> str:
    head = (
        f"| {first} | model | n | accuracy % [95% CI] | macro-F1 % [95% CI] | normal F1 % | "
        "abnormal F1 % | ROC-AUC [95% CI] |" + (" training min (CPU) |" if minutes else "")
    )
    lines = [head, "|" + "---|" * (8 + minutes)]
    for r in rows:
        f1 = " | ".join(_pct(r["f1"][c]["value"], r["f1"][c]["ci"]) for c in RENDERED_CLASSES)
        auc = f"{r['roc_auc']:.3f} [{r['roc_auc_ci'][0]:.3f}, {r['roc_auc_ci'][1]:.3f}]"
        lines.append(
            f"| {r['split'] if first == 'direction' else format(r['parameters'], ',')} | "
            f"{r['model']} "
            f"| {r['n_scored']} | {_pct(r['accuracy'], r['accuracy_ci'])} | "
            f"{_pct(r['macro_f1'], r['macro_f1_ci'])} | {f1} | {auc} |"
            + (f" {_minutes(r)} |" if minutes else "")
        )
    return "\n".join(lines) + "\n"


def rendered_markdown(result: dict[str, Any]) -> str:
    """The rendered-printout sections: fold 10, cross-domain, pretraining, image vs signal
    (empty when the benchmark had no rendered rows)."""
    rows = result["rows"]
    cfg = result["config"]
    rendered = [r for r in rows if r["kind"] == "rendered"]
    text = ""
    if rendered:
        counts = result.get("rendered_data", {})
        test = counts.get("test", {})
        text += (
            f"\nRendered PTB-XL printouts ({RENDERED_SPLIT}: {sum(test.values())} records, "
            f"{test.get('normal', 0)} normal / {test.get('abnormal', 0)} abnormal; trained on "
            f"strat_folds 1-8, epoch chosen on fold 9; {cfg['rendered_epochs']} epochs, "
            f"{cfg['rendered_variants']} realistic versions per training printout at strength "
            f"{cfg['rendered_realism']:g}). normal = NORM the only diagnostic superclass, "
            "abnormal = any other; intervals: bootstrap over records.\n\n"
        )
        text += _binary_table(rendered, "parameters", True)
    cross = [r for r in rows if r["kind"] == "cross-domain"]
    if cross:
        text += (
            "\nCross-domain, binary normal vs abnormal (Mendeley normal -> normal; mi, post_mi, "
            "abnormal heartbeat -> abnormal; a 4-class model's P(abnormal) = 1 - P(normal)). "
            "Mendeley models: the committee of their 5 grouped-CV fold models; rendered "
            "models: trained on folds 1-8. The in-domain reference rows are the Mendeley "
            "models' own out-of-fold scores, mapped the same way.\n\n"
        )
        text += _binary_table(cross, "direction", False)
    gains = [r for r in rows if r["kind"] == "pretrain-gain"]
    for g in gains:
        lo, hi = g["accuracy_gain_ci"]
        flo, fhi = g["macro_f1_gain_ci"]
        text += (
            f"\nPretraining on rendered printouts ({g['model']}, then grouped CV on Mendeley) "
            f"vs from scratch, paired over the {g['n_images']} distinct images: accuracy "
            f"{100 * g['accuracy_gain']:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}], "
            f"macro-F1 {100 * g['macro_f1_gain']:+.1f} [{100 * flo:+.1f}, {100 * fhi:+.1f}] "
            "(the pretrained row is in the first table).\n"
        )
    for r in (r for r in rows if r["kind"] == "image-vs-signal"):
        (ilo, ihi), (slo, shi), (glo, ghi) = r["image_auc_ci"], r["signal_auc_ci"], r["gap_ci"]
        verdict = "met" if r["target_met"] else "missed"
        text += (
            f"\nImage vs signal on rendered fold 10 ({r['n_records']} records, "
            f"{r['n_abnormal']} abnormal): ROC-AUC of {r['image_model']} (the rendered model "
            f"with the highest fold-9 ROC-AUC) {r['image_auc']:.3f} [{ilo:.3f}, {ihi:.3f}] vs "
            f"{r['signal_model']} on the signals {r['signal_auc']:.3f} [{slo:.3f}, {shi:.3f}]; "
            f"gap (signal - image) {r['gap']:+.3f} [{glo:+.3f}, {ghi:+.3f}] (paired bootstrap "
            f"over records); target <= {r['target_gap']:g}: {verdict}.\n"
        )
    return text


def run_images_benchmark(
    root: str | Path,
    out: str | Path,
    cfg: ImagesBenchmarkConfig,
    progress: bool = True,
    command: str = "",
) -> dict[str, Any]:
    """Train (or reuse) every cell, measure robustness; write ``benchmark.md`` and
    ``benchmark.json`` (``{"config", "command", "rows"}``) into ``out``."""
    out = Path(out)
    began, began_cpu = time.perf_counter(), time.process_time()
    data = load_image_data(root, cfg.grayscale, progress)
    cells = cfg.cells()
    bank = None
    if any(
        _pending(cfg.run(m, s), _cell_dir(out, s, m), len(fold_splits(data, cfg.run(m, s))))
        for s, m in cells
    ):
        bank = augmentation_bank(data, cfg.input, cfg.variants, cfg.seed, progress)
    banks = [bank]

    def mendeley_bank() -> np.ndarray:
        if banks[0] is None:
            banks[0] = augmentation_bank(data, cfg.input, cfg.variants, cfg.seed, progress)
        return banks[0]

    results: dict[tuple[str, str], CvResult] = {}
    for i, (split, model) in enumerate(cells, 1):
        console.print(f"[{i}/{len(cells)}] {model} on {split}")
        members = [_cell_dir(out, split, m) for m in cfg.models]
        results[(split, model)] = cross_validate(
            root, cfg.run(model, split), _cell_dir(out, split, model), data, bank,
            members if model.startswith("fusion-") else None, progress, cfg.n_boot,
        )  # fmt: skip
    rows = [_row(s, m, results[(s, m)], cfg) for s, m in cells]
    if cfg.robustness:
        grouped = {m: r for (s, m), r in results.items() if s == "grouped-cv"}
        labels = _robustness(data, grouped, cfg, out, progress)
        rows += robustness_rows(data, grouped, labels, cfg)
    ptbxl = ptbxl_folder(root, cfg)
    rendered_counts = None
    if ptbxl is not None:
        rows += rendered_rows(root, out, cfg, ptbxl, data, results, mendeley_bank, progress)
        rendered_counts = read_manifest(out / "rendered").counts()
    elif cfg.rendered:
        console.print("no PTB-XL folder found (set ptbxl): the rendered rows are left out")
    result = {
        "config": asdict(cfg),
        "command": command,
        "rows": rows,
        "data": data.counts(),
        "rendered_data": rendered_counts,
        # training CPU minutes of every cell (fusions: their heads only), however many
        # invocations trained them; then the time of this invocation (cached cells are free)
        "train_cpu_minutes": round(
            sum(r["train_minutes"] - (r["member_minutes"] or 0.0) for r in rows if "f1" in r), 1
        ),
        "run_wall_minutes": round((time.perf_counter() - began) / 60, 1),
        "run_cpu_minutes": round((time.process_time() - began_cpu) / 60, 1),
    }
    atomic_write_json(out / "benchmark.json", result)
    atomic_write_text(out / "benchmark.md", markdown(result))
    return result
