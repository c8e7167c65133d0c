"""PTB-XL comparisons behind the shipped 12-lead models (normal vs abnormal, cam-cnn).

Parts (``--parts``, comma-separated):

- ``select``: candidate settings scored on the validation fold (9) only: fold 10 is never
  loaded for them. This is how the shipped settings were chosen.
- ``arch``: cam-cnn against the re-implemented Augustauskas et al. (2025) network
  (``augustauskas2025``), same folds, preprocessing, augmentation, recipe and seeds.
- ``baseline``: polynomial detrend (the paper's) against a 0.5 Hz high-pass, cam-cnn.
- ``curve``: learning curve, cam-cnn trained on 25 / 50 / 100 % of the training folds
  (nested random subsets per seed), scored on the full folds 9 and 10.

Every run trains with :func:`ecglens.train.ptbxl.train_ptbxl` into ``--out/runs/<key>``; a run
whose ``model.json`` is already there with the same settings is reused, so the study can be
stopped and resumed and parts share runs (the 100 % cam-cnn polynomial runs serve all three).
Fold-10 metrics come with 95 % bootstrap intervals over records; comparisons give the
difference of the seed-averaged metric with a paired bootstrap interval (the same resampled
records for both arms).

    python bench/ptbxl_study.py [--parts select,arch,baseline,curve] [--seeds 0 1 2]
        [--epochs 60] [--out runs/ptbxl-study] [--json FILE] [--data DIR]

Runtime (measured on a shared 2-core machine, one thread per run): a binary run takes 0.3-3
minutes (about 3-6 s per epoch on the full training folds; early stopping with patience 15
usually ends it after 20-35 of the 60 epochs), a superclass run 2-4 minutes. The default study
trains 27 runs (select: 16, arch + baseline + curve with 3 seeds: 11 more) in about 40 minutes;
with every run already trained, it only re-scores fold 10 (about 1 minute).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens._atomic import atomic_write_json
from ecglens.data.ptbxl import PtbxlConfig, load_ptbxl, split_by_fold
from ecglens.evaluate.bootstrap import bootstrap_statistic
from ecglens.evaluate.ptbxl import binary_scores, score_binary, sigmoid
from ecglens.inputs.twelve_lead import model_inputs
from ecglens.models.registry import load_model
from ecglens.predict.forward import predict_logits
from ecglens.train.ptbxl import MODEL_FS, PtbxlRunConfig, train_ptbxl

METRICS = ("roc_auc", "accuracy", "f1")
FRACTIONS = (0.25, 0.5, 1.0)


def data_root(given: str | None) -> Path:
    if given:
        return Path(given)
    root = os.environ.get("ECGLENS_DATA")
    if not root:
        raise SystemExit("set ECGLENS_DATA or pass --data (the folder holding ptb-xl/)")
    return Path(root)


def run_key(run: PtbxlRunConfig) -> str:
    t = run.train
    aug = "aug" if run.augment is not None else "noaug"
    extra = "-" + "-".join(f"{k}{v}" for k, v in sorted(run.architecture_kwargs.items()))
    return (
        f"{run.task}-{run.architecture}-{run.baseline}-f{run.train_fraction:g}-e{t.epochs}"
        f"-lr{t.lr:g}-b{t.batch_size}-{aug}{extra if run.architecture_kwargs else ''}-s{run.seed}"
    ).replace(" ", "")


def train_or_reuse(root: Path, out: Path, run: PtbxlRunConfig, log: list) -> tuple[Path, dict]:
    """Train ``run`` (fold 9 scored, fold 10 not) or reuse the finished run directory."""
    run_dir = out / "runs" / run_key(run)
    model_json = run_dir / "model.json"
    if model_json.is_file():
        config = json.loads(model_json.read_text())
        if config.get("run", {}).get("seed") == run.seed and config["train"] == asdict(run.train):
            return run_dir, config
    began = time.perf_counter()
    config = train_ptbxl(root, run_dir, run, progress=False, evaluate_test=False)
    seconds = time.perf_counter() - began
    config["train_seconds"] = round(seconds, 1)
    atomic_write_json(run_dir / "train_seconds.json", {"seconds": seconds})
    log.append((run_key(run), seconds))
    print(f"trained {run_key(run)} in {seconds / 60:.1f} min", flush=True)
    return run_dir, config


def _ci(m: dict) -> str:
    return f"{m['value']:.3f} [{m['ci'][0]:.3f}, {m['ci'][1]:.3f}]"


def _train_seconds(run_dir: Path) -> float | None:
    f = run_dir / "train_seconds.json"
    return round(json.loads(f.read_text())["seconds"], 1) if f.is_file() else None


class TestFold:
    """Fold-10 records (loaded lazily, only by parts that report test metrics)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._test = None

    @property
    def test(self):
        if self._test is None:
            cfg = PtbxlConfig(root=self.root, sampling_rate=MODEL_FS, task="binary")
            _, _, self._test = split_by_fold(load_ptbxl(cfg, progress=False), cfg)
        return self._test

    def probabilities(self, run_dir: Path) -> tuple[np.ndarray, dict]:
        loaded = load_model(run_dir / "model.safetensors")
        x = model_inputs(self.test.x, self.test.fs, loaded.config.preprocessing)
        prob = sigmoid(predict_logits(loaded.module, x, batch_size=256))[:, 0]
        return prob, loaded.config


def summary_row(label: str, seed: int, config: dict, run_dir: Path, test: dict | None) -> dict:
    val = config["val_metrics"]
    row: dict[str, Any] = {
        "setting": label,
        "seed": seed,
        "best_epoch": config["best_epoch"],
        "epochs_run": len(config["history"]),
        "train_seconds": _train_seconds(run_dir),
        "n_train": config["data"]["n_train"],
        "parameters": config["complexity"]["parameters"],
        "threshold": config["threshold"],
        "val": {k: val[k] for k in METRICS},
    }
    if test is not None:
        row["test"] = {k: test[k] for k in (*METRICS, "precision", "recall")}
        row["test_counts"] = {k: test[k] for k in ("n_records", "n_normal", "n_abnormal")}
    return row


def seed_means(rows: list[dict], fold: str) -> dict[str, dict[str, float]]:
    out = {}
    for m in METRICS:
        vals = np.array([r[fold][m]["value"] for r in rows])
        out[m] = {
            "mean": float(vals.mean()),
            "sd": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
        }
    return out


def paired_difference(
    y: np.ndarray, probs_a: np.ndarray, thr_a: np.ndarray, probs_b: np.ndarray, thr_b: np.ndarray
) -> dict:
    """Seed-averaged metric of A minus that of B on the same records, with a 95 % paired
    bootstrap interval over records. probs: (n, seeds); thr: (seeds,)."""

    def stat(yy, pa, pb):
        out = {}
        for m in METRICS:
            a = np.mean([binary_scores(yy, pa[:, s], thr_a[s])[m] for s in range(pa.shape[1])])
            b = np.mean([binary_scores(yy, pb[:, s], thr_b[s])[m] for s in range(pb.shape[1])])
            out[m] = float(a - b)
        return out

    return bootstrap_statistic(stat, y, probs_a, probs_b, n_boot=1000, seed=0)


def print_table(title: str, rows: list[dict], fold: str) -> None:
    print(f"\n{title}")
    head = f"{'setting':<34} {'seed':>4} {'ep':>3}  " + "  ".join(f"{m:<22}" for m in METRICS)
    print(head)
    for r in rows:
        cells = "  ".join(f"{_ci(r[fold][m]):<22}" for m in METRICS)
        print(f"{r['setting']:<34} {r['seed']:>4} {r['best_epoch']:>3}  {cells}")


def print_means(label: str, means: dict) -> None:
    cells = "  ".join(f"{m} {v['mean']:.3f} (sd {v['sd']:.3f})" for m, v in means.items())
    print(f"  mean over seeds, {label}: {cells}")


def base_run(args, seed: int, **changes) -> PtbxlRunConfig:
    opts = {
        "task": "binary",
        "arch": "cam-cnn",
        "baseline": args.baseline,
        "epochs": args.epochs,
        "seed": seed,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "patience": args.patience,
        "augment": not args.no_augment,
        "device": "cpu",
    }
    opts.update(changes)
    return PtbxlRunConfig.from_options(**opts)


def part_select(args, root: Path, out: Path, log: list) -> dict:
    """Candidates scored on fold 9 only."""
    candidates = {
        "binary": [
            ("polynomial, lr 1e-3, augment", {}),
            ("highpass", {"baseline": "highpass"}),
            ("no augmentation", {"augment": False}),
            ("lr 3e-3", {"lr": 3e-3}),
            ("lr 3e-4", {"lr": 3e-4}),
            ("dropout 0.4", {"arch_kwargs": {"dropout": 0.4}}),
        ],
        "superclass": [
            ("superclass polynomial", {"task": "superclass", "baseline": "polynomial"}),
            ("superclass highpass", {"task": "superclass", "baseline": "highpass"}),
        ],
    }
    result: dict[str, Any] = {}
    for task in args.select_tasks:
        rows = []
        for label, change in candidates[task]:
            for seed in args.select_seeds:
                change = {"baseline": "polynomial", **change}
                run = base_run(args, seed, **change)
                run_dir, config = train_or_reuse(root, out, run, log)
                val = config["val_metrics"]
                row = {
                    "setting": label,
                    "seed": seed,
                    "best_epoch": config["best_epoch"],
                    "epochs_run": len(config["history"]),
                    "train_seconds": _train_seconds(run_dir),
                }
                if task == "binary":
                    row["val"] = {k: val[k] for k in METRICS}
                else:
                    row["val"] = {"macro_auc": val["macro_auc"], "macro_f1": val["macro_f1"]}
                rows.append(row)
        print(f"\nselect ({task}): validation fold 9 only")
        for r in rows:
            cells = "  ".join(f"{k} {_ci(v)}" for k, v in r["val"].items())
            print(f"  {r['setting']:<30} seed {r['seed']}  epoch {r['best_epoch']:>3}  {cells}")
        means = {}
        for label, _ in candidates[task]:
            sub = [r for r in rows if r["setting"] == label]
            key = "roc_auc" if task == "binary" else "macro_auc"
            means[label] = float(np.mean([r["val"][key]["value"] for r in sub]))
            print(f"  mean val {key} over seeds, {label}: {means[label]:.4f}")
        result[task] = {"rows": rows, "mean_val_auc": means}
    return result


def compare(args, root, out, log, fold10: TestFold, arms: list[tuple[str, dict]], title: str):
    arm_rows, arm_probs, arm_thr = {}, {}, {}
    for label, change in arms:
        rows, probs, thr = [], [], []
        for seed in args.seeds:
            run_dir, config = train_or_reuse(root, out, base_run(args, seed, **change), log)
            prob, cfg = fold10.probabilities(run_dir)
            test = score_binary(fold10.test.y, prob, float(cfg["threshold"]))
            rows.append(summary_row(label, seed, config, run_dir, test))
            probs.append(prob)
            thr.append(float(cfg["threshold"]))
        arm_rows[label], arm_probs[label], arm_thr[label] = rows, np.stack(probs, 1), np.array(thr)
    all_rows = [r for rows in arm_rows.values() for r in rows]
    print_table(f"{title}: fold 10 (test), value [95% CI]", all_rows, "test")
    for label, rows in arm_rows.items():
        print_means(f"{label} fold 10", seed_means(rows, "test"))
        print_means(f"{label} fold 9", seed_means(rows, "val"))
    (a, _), (b, _) = arms[0], arms[1]
    diff = paired_difference(fold10.test.y, arm_probs[a], arm_thr[a], arm_probs[b], arm_thr[b])
    print(
        f"  {a} minus {b} (fold 10, seed-averaged, paired 95% CI): "
        + "  ".join(f"{m} {_ci(diff[m])}" for m in METRICS)
    )
    return {
        "rows": all_rows,
        "means_test": {k: seed_means(v, "test") for k, v in arm_rows.items()},
        "means_val": {k: seed_means(v, "val") for k, v in arm_rows.items()},
        "difference_test": {"a": a, "b": b, **diff},
    }


def part_curve(args, root, out, log, fold10: TestFold) -> dict:
    rows = []
    for fraction in FRACTIONS:
        for seed in args.seeds:
            run_dir, config = train_or_reuse(
                root, out, base_run(args, seed, train_fraction=fraction), log
            )
            prob, cfg = fold10.probabilities(run_dir)
            test = score_binary(fold10.test.y, prob, float(cfg["threshold"]))
            rows.append(summary_row(f"{fraction:.0%} of folds 1-8", seed, config, run_dir, test))
            rows[-1]["fraction"] = fraction
    print_table("learning curve: fold 10 (test), value [95% CI]", rows, "test")
    means = {}
    for fraction in FRACTIONS:
        sub = [r for r in rows if r["fraction"] == fraction]
        means[f"{fraction:g}"] = {
            "n_train": sub[0]["n_train"],
            "test": seed_means(sub, "test"),
            "val": seed_means(sub, "val"),
        }
        print_means(
            f"{fraction:.0%} ({sub[0]['n_train']} records) fold 10", means[f"{fraction:g}"]["test"]
        )
    _plot_curve(means, out / "learning_curve.png")
    return {"rows": rows, "means": means, "figure": str(out / "learning_curve.png")}


def _plot_curve(means: dict, path: Path) -> None:
    from ecglens.plot.style import new_figure, save_figure

    fig = new_figure(6.0, 3.8)
    ax = fig.add_subplot()
    n = [v["n_train"] for v in means.values()]
    for fold, style in (("test", "-o"), ("val", "--s")):
        for m, color in zip(METRICS, ("#2f5d8a", "#2ca02c", "#d62728"), strict=True):
            y = [v[fold][m]["mean"] for v in means.values()]
            sd = [v[fold][m]["sd"] for v in means.values()]
            ax.errorbar(
                n,
                y,
                yerr=sd,
                fmt=style,
                color=color,
                capsize=3,
                label=f"{m} ({'fold 10' if fold == 'test' else 'fold 9'})",
            )
    ax.set_xlabel("training records (folds 1-8)")
    ax.set_ylabel("metric (mean +- sd over seeds)")
    ax.set_title("cam-cnn, normal vs abnormal: learning curve")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="select,arch,baseline,curve")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--select-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--select-tasks", nargs="+", default=["binary", "superclass"])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--patience", type=int, default=15)
    parser.add_argument("--baseline", default="polynomial", help="baseline of arch and curve")
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/ptbxl-study"))
    parser.add_argument("--json", type=Path, default=None, help="default: OUT/study.json")
    parser.add_argument("--data", default=None, help="folder holding ptb-xl/ ($ECGLENS_DATA)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    root = data_root(args.data)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    began = time.perf_counter()
    log: list = []
    fold10 = TestFold(root)
    report: dict[str, Any] = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "parts": {},
    }
    json_path = args.json or args.out / "study.json"
    for part in parts:
        if part == "select":
            report["parts"]["select"] = part_select(args, root, args.out, log)
        elif part == "arch":
            report["parts"]["arch"] = compare(
                args,
                root,
                args.out,
                log,
                fold10,
                [("cam-cnn", {}), ("augustauskas2025", {"arch": "augustauskas2025"})],
                "cam-cnn vs augustauskas2025 (same folds, seeds, recipe)",
            )
        elif part == "baseline":
            report["parts"]["baseline"] = compare(
                args,
                root,
                args.out,
                log,
                fold10,
                [
                    ("polynomial", {"baseline": "polynomial"}),
                    ("highpass", {"baseline": "highpass"}),
                ],
                "polynomial detrend vs 0.5 Hz high-pass (cam-cnn)",
            )
        elif part == "curve":
            report["parts"]["curve"] = part_curve(args, root, args.out, log, fold10)
        else:
            raise SystemExit(f"unknown part {part!r}")
        report["runtime_s"] = round(time.perf_counter() - began, 1)
        report["trained"] = [{"run": k, "seconds": round(s, 1)} for k, s in log]
        atomic_write_json(json_path, report)
    print(
        f"\nstudy runtime {report['runtime_s'] / 60:.1f} min "
        f"({len(log)} runs trained, the rest reused); wrote {json_path}"
    )
    return report


if __name__ == "__main__":
    main()
