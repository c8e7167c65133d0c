"""``ecglens benchmark mi``: what transfer from MIT-BIH buys, as a learning curve.

Every cell trains an MI beat model (:func:`ecglens.train.mi.train_mi`) on a seeded,
class-stratified share of the PTB-XL training records (folds 1-8), selects its epoch and
threshold on fold 9 and is scored once on fold 10. Modes: ``scratch``; ``transfer-frozen``
(the encoder of a MIT-BIH Kachuee model kept, only the head trained, as the projects
ecglens replaces do); ``transfer-finetune`` (the encoder fine-tuned at a tenth of the
learning rate). Cells already trained with the same settings are reused, so the grid can be
resumed or extended.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecglens._atomic import atomic_write_json, atomic_write_text
from ecglens.data.ptbxl_mi import load_mi_beats
from ecglens.errors import EcgLensError
from ecglens.explain import grad_cam
from ecglens.inputs.beat_config import BeatConfig
from ecglens.progress import console
from ecglens.train.mi import MiRunConfig, train_mi

MODES = ("scratch", "transfer-frozen", "transfer-finetune")
FINETUNE_LR_SCALE = 0.1  # encoder learning rate / head learning rate when fine-tuning


@dataclass(frozen=True)
class MiBenchmarkConfig:
    """The learning-curve grid; saved beside the table."""

    fractions: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    modes: tuple[str, ...] = MODES
    init: str = "kachuee-mitdb-intra"
    lead: str = "II"
    epochs: int = 30
    patience: int = 6
    device: str = "auto"

    def __post_init__(self) -> None:
        unknown = [m for m in self.modes if m not in MODES]
        if unknown:
            raise EcgLensError(f"unknown mode {unknown[0]!r}; choose from {', '.join(MODES)}")
        if any(not 0 < f <= 1 for f in self.fractions):
            raise EcgLensError(f"fractions must be in (0, 1], not {list(self.fractions)}")

    def run(self, mode: str, fraction: float, seed: int) -> MiRunConfig:
        return MiRunConfig.from_options(
            lead=self.lead,
            init=None if mode == "scratch" else self.init,
            freeze=mode == "transfer-frozen",
            encoder_lr_scale=FINETUNE_LR_SCALE if mode == "transfer-finetune" else 1.0,
            train_fraction=fraction,
            epochs=self.epochs,
            patience=self.patience,
            seed=seed,
            device=self.device,
        )


def cell_name(mode: str, fraction: float, seed: int) -> str:
    return f"{mode}-f{fraction:g}-s{seed}"


def _finished(run_dir: Path, run: MiRunConfig) -> dict[str, Any] | None:
    path = run_dir / "model.json"
    if not path.exists():
        return None
    config = json.loads(path.read_text())
    saved = dict(config.get("run", {}))
    wanted = json.loads(json.dumps(asdict(run)))
    for part in (saved, wanted):
        part.get("train", {}).pop("device", None)
    if "beats" not in saved and run.beats == BeatConfig():  # cells trained before runs named it
        wanted.pop("beats")
    return config if saved == wanted else None


def _row(mode: str, fraction: float, seed: int, config: dict[str, Any], seconds: float | None):
    m, v = config["metrics"], config["val_metrics"]
    return {
        "mode": mode,
        "fraction": fraction,
        "seed": seed,
        "train_records": config["data"]["counts"]["train"]["records"],
        "val_auc": v["roc_auc"]["value"],
        "test_auc": m["roc_auc"]["value"],
        "test_auc_ci": m["roc_auc"]["ci"],
        "test_accuracy": m["accuracy"]["value"],
        "test_sensitivity": m["sensitivity"]["value"],
        "test_specificity": m["specificity"]["value"],
        "best_epoch": config["best_epoch"],
        "train_seconds": seconds,
    }


def summarise(rows: list[dict[str, Any]], cfg: MiBenchmarkConfig) -> list[dict[str, Any]]:
    """Per mode and fraction: mean and SD of test record AUC over seeds, and the paired mean
    gain of each transfer mode over scratch (same seed, same records)."""
    out = []
    by = {(r["mode"], r["fraction"], r["seed"]): r for r in rows}
    for fraction in cfg.fractions:
        for mode in cfg.modes:
            done = [by[(mode, fraction, s)] for s in cfg.seeds if (mode, fraction, s) in by]
            if not done:
                continue
            aucs = [r["test_auc"] for r in done]
            entry = {
                "mode": mode,
                "fraction": fraction,
                "n_seeds": len(aucs),
                "test_auc_mean": float(np.mean(aucs)),
                "test_auc_sd": float(np.std(aucs, ddof=1)) if len(aucs) > 1 else None,
                "val_auc_mean": float(np.mean([r["val_auc"] for r in done])),
            }
            gains = [
                by[(mode, fraction, s)]["test_auc"] - by[("scratch", fraction, s)]["test_auc"]
                for s in cfg.seeds
                if (mode, fraction, s) in by and ("scratch", fraction, s) in by
            ]
            if mode != "scratch" and gains:
                entry["gain_over_scratch"] = float(np.mean(gains))
                entry["gain_min"], entry["gain_max"] = float(min(gains)), float(max(gains))
            out.append(entry)
    return out


def markdown(result: dict[str, Any]) -> str:
    """The learning-curve table (test fold 10, record-level ROC-AUC, mean +- SD over seeds)."""
    lines = [
        "| training records | mode | val AUC (fold 9) | test AUC (fold 10), mean +- SD | "
        "gain over scratch [min, max] |",
        "|---|---|---|---|---|",
    ]
    n_records = {(r["fraction"]): r["train_records"] for r in result["rows"] if r["seed"] == 0}
    for e in result["summary"]:
        sd = "" if e["test_auc_sd"] is None else f" +- {e['test_auc_sd']:.3f}"
        gain = (
            f"{e['gain_over_scratch']:+.3f} [{e['gain_min']:+.3f}, {e['gain_max']:+.3f}]"
            if "gain_over_scratch" in e
            else "-"
        )
        share = f"{e['fraction']:.0%} ({n_records.get(e['fraction'], '?')})"
        lines.append(
            f"| {share} | {e['mode']} | {e['val_auc_mean']:.3f} | {e['test_auc_mean']:.3f}{sd} "
            f"| {gain} |"
        )
    return "\n".join(lines) + "\n"


def run_mi_benchmark(
    data_root: str | Path,
    out: str | Path,
    cfg: MiBenchmarkConfig,
    progress: bool = True,
    cache_dir: str | Path | None = "runs/cache",
    command: str = "",
) -> dict[str, Any]:
    """Train (or reuse) every cell; write ``benchmark.md``, ``benchmark.json`` and
    ``learning_curve.png`` into ``out``."""
    out = Path(out)
    data = load_mi_beats(data_root, lead=cfg.lead, progress=progress, cache_dir=cache_dir)
    rows = []
    cells = [(m, f, s) for f in cfg.fractions for m in cfg.modes for s in cfg.seeds]
    for i, (mode, fraction, seed) in enumerate(cells, 1):
        run = cfg.run(mode, fraction, seed)
        run_dir = out / "cells" / cell_name(mode, fraction, seed)
        config = _finished(run_dir, run)
        seconds = None
        if config is None:
            console.print(f"[{i}/{len(cells)}] training {cell_name(mode, fraction, seed)}")
            start = time.perf_counter()
            config = train_mi(
                data_root, run_dir, run, progress=False, data=data, explain_fn=grad_cam
            )
            seconds = round(time.perf_counter() - start, 1)
        rows.append(_row(mode, fraction, seed, config, seconds))
    result = {
        "config": asdict(cfg),
        "command": command,
        "rows": rows,
        "summary": summarise(rows, cfg),
        "metric": "record-level ROC-AUC on PTB-XL fold 10 (mean of the record's beat P(MI))",
    }
    atomic_write_json(out / "benchmark.json", result)
    atomic_write_text(out / "benchmark.md", markdown(result))
    from ecglens.plot.learning_curve import plot_learning_curve
    from ecglens.plot.style import save_figure

    save_figure(plot_learning_curve(result["summary"]), out / "learning_curve.png")
    return result
