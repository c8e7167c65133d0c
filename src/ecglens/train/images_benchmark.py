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

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens._atomic import atomic_write, atomic_write_json, atomic_write_text
from ecglens.errors import EcgLensError
from ecglens.evaluate.bootstrap import bootstrap_statistic
from ecglens.evaluate.images import N_BOOT
from ecglens.inputs.images import PHOTO_TRANSFORMS, ImageInputConfig, photo_transform, trace_area
from ecglens.models.images import FUSION_MODES
from ecglens.progress import console, track
from ecglens.train.images import (
    SINGLE_MODELS,
    CvResult,
    ImageData,
    ImageRunConfig,
    augmentation_bank,
    cross_validate,
    default_head_config,
    fold_finished,
    fold_name,
    fold_splits,
    fusion_run,
    load_image_data,
    normalise_batch,
    single_run,
)

SPLIT_LABELS = {
    "grouped-cv": "grouped {k}-fold CV",
    "random": "random {p:.0%} test split (leaky)",
}
ROBUST_KINDS = (*PHOTO_TRANSFORMS, "all")
ROBUST_BATCH = 64


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

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in SINGLE_MODELS]
        if unknown:
            raise EcgLensError(f"unknown image model {unknown[0]!r}; choose {SINGLE_MODELS}")
        if any(f not in FUSION_MODES for f in self.fusions):
            raise EcgLensError(f"fusions must be among {', '.join(FUSION_MODES)}")
        if self.fusions and len(self.models) < 2:
            raise EcgLensError("a fusion needs at least two models")

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

    def cells(self) -> list[tuple[str, str]]:
        """(split, model) of every cell, in training order."""
        splits = ["grouped-cv"] + (["random"] if self.random_split else [])
        names = list(self.models) + [f"fusion-{f}" for f in self.fusions]
        return [(s, m) for s in splits for m in names]


def _cell_dir(out: Path, split: str, model: str) -> Path:
    return out / "cells" / split / model


def _pending(run: ImageRunConfig, cell: Path, n_splits: int) -> bool:
    return not all(fold_finished(cell / fold_name(run, k), run) for k in range(n_splits))


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
        "n_scored": int(m["n"]["value"]),
        "accuracy": m["accuracy"]["value"],
        "accuracy_ci": m["accuracy"]["ci"],
        "macro_f1": m["macro_f1"]["value"],
        "macro_f1_ci": m["macro_f1"]["ci"],
        "f1": {
            c: {"value": v["f1"]["value"], "ci": v["f1"]["ci"]} for c, v in m["per_class"].items()
        },
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
    settings = json.dumps(
        {"config": asdict(cfg), "cells": {m: r.run.identity() for m, r in results.items()}},
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


# -- the table ----------------------------------------------------------------------------


def _pct(value: float, ci: list[float] | None = None) -> str:
    text = f"{100 * value:.1f}"
    return f"{text} [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci is not None else text


def markdown(result: dict[str, Any]) -> str:
    """Score tables (grouped CV, leaky random split) and the robustness table."""
    cfg = result["config"]
    rows = result["rows"]
    classes = list(next(r for r in rows if r["kind"] != "robustness")["f1"])
    head = (
        "| split | model | parameters | accuracy % [95% CI] | macro-F1 % [95% CI] | "
        + " | ".join(f"{c} F1 %" for c in classes)
        + " | training min (CPU) |\n|---|---|---|---|---|"
        + "---|" * len(classes)
        + "---|"
    )
    lines = [head]
    for r in rows:
        if r["kind"] == "robustness":
            continue
        minutes = f"{r['train_minutes']:.1f}"
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
        if r.get("lr") is not None and r["lr"] != cfg["lr"] and r["kind"] != "robustness"
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
    result = {
        "config": asdict(cfg),
        "command": command,
        "rows": rows,
        "data": data.counts(),
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
