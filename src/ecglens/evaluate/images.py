"""Scores of printout-image models, and ``ecglens evaluate images``.

What a shipped image model's README row is, and why ``evaluate images`` can recompute it:
a network trained on all 491 distinct images has no image left to be scored on, and its
cross-validation scores belong to other networks (the fold models) that it does not ship
with. So a shipped image model *is* its cross-validation: a committee of the k fold models
of grouped k-fold cross-validation (``ecglens.train.images.train_final``), each trained on
the images outside its fold. On a new image it predicts the mean of the k members'
probabilities. Its config lists every file it was cross-validated on with its duplicate
group and fold, so :func:`evaluate_images` scores each distinct image (the first file of
its duplicate group) once, with the one member that did not see it (out-of-fold), from the
shipped weights alone; that is the README row, and the card's ``metrics`` are computed by
this same function from the saved weights. The committee's own accuracy on new printouts is
not measured by it: expect it at least as good as one fold model (averaging k models trained
on 80 % of the images each), not proven here.

Intervals: 95 % percentile bootstrap over duplicate groups (1,000 resamples, seed 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.errors import EcgLensError
from ecglens.evaluate.bootstrap import bootstrap_metrics
from ecglens.evaluate.metrics import classification_metrics
from ecglens.inputs.images import image_input
from ecglens.models.registry import LoadedModel
from ecglens.predict.images import image_probabilities, input_config

N_BOOT = 1000
BATCH = 64  # images per forward pass
SCORING = (
    "grouped {k}-fold cross-validation, out-of-fold: each distinct image (the first file of "
    "its duplicate group) scored once by the fold model that did not train on it"
)


def score_images(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    groups: np.ndarray,
    classes: Sequence[str],
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class precision / recall / F1 of the argmax of
    ``probabilities`` (n, k) against ``y_true`` (n,), each ``{"value", "ci"}`` with a 95 %
    bootstrap interval over ``groups`` (n,) (duplicate groups; whole groups are resampled),
    plus counts and the confusion matrix."""
    y_true = np.asarray(y_true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (len(y_true), len(classes)):
        raise EcgLensError(
            f"probabilities {probabilities.shape} do not match {len(y_true)} images x "
            f"{len(classes)} classes"
        )
    y_pred = probabilities.argmax(1)
    metric = partial(classification_metrics, classes=list(classes))
    out = bootstrap_metrics(y_true, y_pred, np.asarray(groups), metric, n_boot, seed)
    out["n_groups"] = int(len(np.unique(groups)))
    out["bootstrap"] = {"n_boot": n_boot, "seed": seed, "unit": "duplicate group"}
    return out


def _members(loaded: LoadedModel, n_folds: int) -> list[torch.nn.Module]:
    members = getattr(loaded.module, "members", None)
    mode = getattr(loaded.module, "mode", None)
    if members is None or mode != "probabilities" or len(members) != n_folds:
        raise EcgLensError(
            f"model {loaded.name}: not a committee of {n_folds} fold models (expected an "
            "image-fusion in probabilities mode, one member per fold)"
        )
    return list(members)


def cv_files(loaded: LoadedModel, root: str | Path) -> list[dict[str, Any]]:
    """The files the model was cross-validated on, checked under ``root``: dicts with
    ``path``, ``relpath``, ``label`` (class index), ``group``, ``fold``."""
    cv = loaded.config.cross_validation
    if not cv:
        raise EcgLensError(
            f"model {loaded.name} records no cross-validation: evaluate images scores the "
            "committees written by train_final (ecglens train images)"
        )
    root = Path(root)
    if not root.is_dir():
        raise EcgLensError("no such image folder", root)
    classes = loaded.classes
    files, missing = [], []
    for relpath, label, group, fold in cv["files"]:
        path = root / relpath
        if not path.is_file():
            missing.append(relpath)
            continue
        files.append(
            {
                "path": path,
                "relpath": relpath,
                "label": classes.index(label),
                "group": int(group),
                "fold": int(fold),
            }
        )
    if missing:
        raise EcgLensError(
            f"{len(missing)} of the {len(cv['files'])} images model {loaded.name} was "
            f"cross-validated on are not in this folder (e.g. {missing[0]}); give the folder "
            "it was trained on",
            root,
        )
    return files


def out_of_fold(
    loaded: LoadedModel,
    root: str | Path,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Out-of-fold probabilities of the distinct images: ``relpaths``, ``labels``,
    ``groups``, ``folds`` (n,) and ``probabilities`` (n, k), n = number of duplicate groups,
    each image scored by the member of its fold."""
    from ecglens.progress import track

    files = cv_files(loaded, root)
    cv = loaded.config.cross_validation
    members = _members(loaded, int(cv["n_folds"]))
    config = input_config(loaded)
    first: dict[int, dict[str, Any]] = {}
    for f in files:
        first.setdefault(f["group"], f)
    chosen = list(first.values())
    probabilities = np.zeros((len(chosen), len(loaded.classes)), dtype=np.float64)
    for fold, member in enumerate(members):
        idx = [i for i, f in enumerate(chosen) if f["fold"] == fold]
        for start in track(
            range(0, len(idx), BATCH), f"fold {fold + 1}/{len(members)}", enabled=progress
        ):
            part = idx[start : start + BATCH]
            x = np.stack([image_input(chosen[i]["path"], config) for i in part])
            probabilities[part] = image_probabilities(member, x, device)
    return {
        "relpaths": [f["relpath"] for f in chosen],
        "labels": np.array([f["label"] for f in chosen], dtype=np.int64),
        "groups": np.array([f["group"] for f in chosen], dtype=np.int64),
        "folds": np.array([f["fold"] for f in chosen], dtype=np.int64),
        "probabilities": probabilities,
        "n_files": len(files),
    }


def evaluate_images(
    loaded: LoadedModel,
    root: str | Path,
    device: str | torch.device = "cpu",
    n_boot: int = N_BOOT,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """The model's README row: out-of-fold accuracy, macro-F1 and per-class scores of its
    grouped cross-validation, recomputed from the shipped weights and the image folder
    ``root`` (see the module docstring)."""
    oof = out_of_fold(loaded, root, device, progress)
    cv = loaded.config.cross_validation
    metrics = score_images(
        oof["labels"], oof["probabilities"], oof["groups"], loaded.classes, n_boot, seed
    )
    return {
        "model": loaded.name,
        "task": "images",
        "data": str(root),
        "evaluation": SCORING.format(k=cv["n_folds"]),
        "n_files": oof["n_files"],
        "n_distinct": len(oof["labels"]),
        **metrics,
    }
