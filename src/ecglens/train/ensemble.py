"""Assemble trained MIT-BIH beat models into one shipped ensemble.

The members must be the same run with different training seeds: same architecture,
inputs, beats, split and validation records (``--split-seed``). The ensemble averages
their probabilities (:mod:`ecglens.models.ensemble`); its temperature is fitted on the
shared validation beats, and its card's metrics come from ``ecglens evaluate``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from ecglens.errors import EcgLensError
from ecglens.models.ensemble import SoftmaxEnsemble
from ecglens.models.registry import load_model, save_pretrained
from ecglens.train.mitdb import (
    MitdbRunConfig,
    calibrate_and_review,
    load_split,
    model_kwargs,
    refresh_card_metrics,
    reproduce_command,
    run_config_dict,
    run_config_from_dict,
)


def member_runs(run_dirs: list[Path]) -> list[MitdbRunConfig]:
    """The members' run configurations; an error unless they differ only in training seed."""
    if len(run_dirs) < 2:
        raise EcgLensError("an ensemble needs at least two trained runs")
    runs = []
    for run_dir in run_dirs:
        path = Path(run_dir) / "run_config.json"
        if not path.exists():
            raise EcgLensError("not a training run (no run_config.json)", path.parent)
        runs.append(run_config_from_dict(json.loads(path.read_text())))
    first = _without_seed(runs[0])
    for run_dir, run in zip(run_dirs, runs, strict=True):
        if _without_seed(run) != first:
            raise EcgLensError(
                "members must be the same run except for --seed (and share the validation "
                "records: train them with one --split-seed)",
                run_dir,
            )
    if len({r.train.seed for r in runs}) < len(runs):
        raise EcgLensError("two members have the same training seed")
    return runs


def _without_seed(run: MitdbRunConfig) -> MitdbRunConfig:
    return replace(
        run, train=replace(run.train, seed=0), split_seed=run.validation_seed, mc_samples=0
    )


def build_ensemble(
    run_dirs: list[str | Path],
    out: str | Path,
    data_dir: str | Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Write ``out.safetensors`` (+ .json, .md): the members of ``run_dirs`` averaged; the
    card is titled with the file name."""
    run_dirs = [Path(d) for d in run_dirs]
    out = Path(out).with_suffix("")
    runs = member_runs(run_dirs)
    loaded = [load_model(d / "model.safetensors") for d in run_dirs]
    n_classes = len(loaded[0].config.classes)
    module = SoftmaxEnsemble([m.module for m in loaded]).eval()
    split_seed = runs[0].validation_seed
    run = replace(runs[0], split_seed=split_seed, mc_samples=0)
    beats, split = load_split(data_dir, run, progress=progress)

    config = {k: v for k, v in loaded[0].config.to_dict().items() if k not in _MEMBER_ONLY}
    config["architecture"] = "ensemble"
    config["architecture_kwargs"] = {
        "n_classes": n_classes,
        "members": [
            {"architecture": r.architecture, "kwargs": model_kwargs(r, n_classes)} for r in runs
        ],
    }
    config["members"] = [
        {"run": str(d), "seed": r.train.seed, "best_epoch": m.config.best_epoch}
        for d, r, m in zip(run_dirs, runs, loaded, strict=True)
    ]
    config["best_epoch"] = ", ".join(str(m["best_epoch"]) for m in config["members"])
    config["run_config"] = run_config_dict(run)
    config["command"] = "\n".join(
        [
            *(
                reproduce_command(replace(r, split_seed=split_seed, mc_samples=0), d)
                for r, d in zip(runs, run_dirs, strict=True)
            ),
            "ecglens ensemble " + " ".join(str(d) for d in run_dirs) + f" --out {out}",
        ]
    )
    config.update(
        calibrate_and_review(
            module, beats.subset(split.val), beats.subset(split.test), run, config, "cpu"
        )
    )
    save_pretrained(module, config, out)  # the card is written with the metrics, below
    seeds = ", ".join(str(r.train.seed) for r in runs)
    return refresh_card_metrics(
        out,
        data_dir,
        note=f"Ensemble of {len(runs)} runs of one configuration with training seeds {seeds} "
        f"(same validation records); probabilities are the members' mean. The commands above "
        "train the members and assemble them.",
        progress=progress,
    )


# keys of a member's config that describe that member's training, not the ensemble
_MEMBER_ONLY = (
    "history",
    "best_epoch",
    "val_metrics",
    "metrics",
    "metrics_at_training",
    "metrics_note",
)
