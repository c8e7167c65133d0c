"""``ecglens benchmark mitdb``: the inter-patient ablation grid, architecture x RR features x
class-imbalance strategy (x beat normalisation).

Every cell is trained on DS1 with the same seed and settings, early-stopped and
selected on DS1 validation data (by default whole DS1 records held out of training),
and scored once on DS2 with record-level bootstrap intervals. The best cell by
validation macro-F1 (N, S, V, F) is marked; the test set plays no part in that choice.
When the data folder has ``svdb-dev`` beside ``mitdb`` (the MIT-BIH Supraventricular
Arrhythmia Database's development records: another recorder, other patients), every cell
is also scored on it through the inference path (``ecglens evaluate records``): a
cross-database column, computed from the cell's saved weights (no retraining).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ecglens._atomic import atomic_write_json, atomic_write_text
from ecglens.data.mitdb import load_mitdb_beats
from ecglens.data.splits import make_split, split_records
from ecglens.errors import EcgLensError
from ecglens.evaluate.mitdb import SCORED_CLASSES, evaluate_beats
from ecglens.evaluate.records import evaluate_records
from ecglens.inputs.beats import RR_NEEDS_RECORD_FEATURES, RR_OPTIONS, RR_WIDTHS, BeatConfig
from ecglens.models.config import ModelConfig
from ecglens.models.registry import LoadedModel, load_model
from ecglens.predict.rhythm import RhythmRule, apply_rhythm_rule
from ecglens.progress import console
from ecglens.train.mitdb import MitdbRunConfig, model_kwargs, train_mitdb, train_mitdb_cv
from ecglens.train.trainer import MONITOR_MIN_SUPPORT, TrainConfig

IMBALANCE = {
    "weighted-ce": {"class_weighted": True},
    "oversample": {"sampler": "weighted"},
    "focal": {"loss": "focal"},
    "none": {},
}
RR_INPUTS = {k: RR_OPTIONS[k] for k in ("none", "ratios", "rhythm", "context")}  # grid's RR options
NORMALIZE = ("record", "median-beat")
# settings of the rhythm rule compared by cross-validation (``--rhythm-rule``)
RHYTHM_RULE_GRID: tuple[RhythmRule, ...] = tuple(
    RhythmRule(premature, irregularity, p_corr, without_ventricular, cycle_beats)
    for cycle_beats in (16, 32, 64)
    for without_ventricular in (False, True)
    for premature in (0.6, 0.7, 0.8)
    for irregularity in (0.1, 0.2)
    for p_corr in (0.5, 0.7, 1.0)
)


@dataclass
class BenchmarkConfig:
    """The grid and the settings shared by every cell."""

    architectures: tuple[str, ...] = ("kachuee", "cnn-lstm")
    rr: tuple[str, ...] = ("none", "ratios")
    imbalance: tuple[str, ...] = ("weighted-ce", "oversample", "focal")
    normalize: tuple[str, ...] = ("record",)  # beat normalisation (BeatConfig.normalize)
    epochs: int = 8
    patience: int = 3
    batch_size: int = 256
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    window_fs: float = 180.0
    context: int = 3  # beats per example for sequence models (cnn-lstm)
    n_boot: int = 1000
    val_records: int = 5  # > 0: validate on that many held-out DS1 records; 0: on DS1 beats
    # > 0: select by leave-records-out cross-validation over DS1 with that many folds
    # (every cell trains exactly ``epochs`` epochs, no early stopping; val_records unused)
    cv_folds: int = 0
    # with cv_folds: also score the rhythm rule (ecglens.predict.rhythm) on each cell's
    # out-of-fold logits; a row per cell with the setting of RHYTHM_RULE_GRID it selects
    rhythm_rule: bool = False
    # keyword arguments of every cell's architecture (e.g. {"rr_gate": True} for beat-cam)
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    augment: str = "none"  # training-time beat changes (MitdbRunConfig.augment)
    cnn_lstm_kwargs: dict[str, Any] = field(
        default_factory=lambda: {"channels": [16, 32, 64], "lstm_hidden": 48, "context_hidden": 48}
    )

    def cells(self) -> list[tuple[str, str, str, str]]:
        """(architecture, rr, imbalance, normalize) of every cell, most informative first."""
        for name in self.imbalance:
            if name not in IMBALANCE:
                raise EcgLensError(f"unknown imbalance strategy {name!r}: {', '.join(IMBALANCE)}")
        for name in self.rr:
            if name not in RR_INPUTS:
                raise EcgLensError(f"unknown RR option {name!r}: {', '.join(RR_INPUTS)}")
        for name in self.normalize:
            if name not in NORMALIZE:
                raise EcgLensError(f"unknown normalisation {name!r}: {', '.join(NORMALIZE)}")
        cells = itertools.product(self.architectures, self.rr, self.imbalance, self.normalize)
        # so that a partly finished grid already answers the most
        return sorted(
            cells,
            key=lambda c: (
                self.normalize.index(c[3]),
                self.imbalance.index(c[2]),
                -self.rr.index(c[1]),
                -self.architectures.index(c[0]),
            ),
        )


def cell_name(arch: str, rr: str, imbalance: str, normalize: str = "record") -> str:
    """Folder name of one cell (``record`` normalisation keeps the historical short name)."""
    name = f"{arch}_rr-{rr}_{imbalance}"
    return name if normalize == "record" else f"{name}_{normalize}"


def cell_run_config(
    arch: str, rr: str, imbalance: str, cfg: BenchmarkConfig, normalize: str = "record"
) -> MitdbRunConfig:
    """The training run of one grid cell."""
    sequence = arch == "cnn-lstm"
    beats = BeatConfig(
        representation="window",
        window_fs=cfg.window_fs,
        normalize=normalize,
        context=cfg.context if sequence else 1,
        record_features=rr in RR_NEEDS_RECORD_FEATURES,
    )
    kwargs: dict[str, Any] = dict(cfg.cnn_lstm_kwargs) if sequence else {}
    if sequence:
        kwargs["n_beats"] = cfg.context
    if rr != "none":
        kwargs["n_rr_features"] = RR_WIDTHS[rr]
    kwargs.update(cfg.arch_kwargs)
    train = TrainConfig(
        epochs=cfg.epochs,
        patience=cfg.patience,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=cfg.seed,
        device=cfg.device,
        monitor="val_macro_f1",
    )
    train = replace(train, **IMBALANCE[imbalance])
    if cfg.cv_folds:
        train = replace(train, lr_schedule="cosine", patience=cfg.epochs + 1)
    return MitdbRunConfig(
        cv_folds=cfg.cv_folds,
        val_records=0 if cfg.cv_folds else cfg.val_records,
        split="inter-patient",
        architecture=arch,
        architecture_kwargs=kwargs,
        beats=beats,
        inputs=("x", *RR_INPUTS[rr]),
        train=train,
        augment=cfg.augment,
    )


def run_benchmark(
    data_dir: str | Path,
    out_dir: str | Path,
    cfg: BenchmarkConfig,
    progress: bool = True,
    command: str = "",
) -> dict[str, Any]:
    """Train and score every cell; write ``benchmark.json`` and ``benchmark.md`` to out_dir."""
    out_dir = Path(out_dir)
    rows = []
    cells = cfg.cells()
    val_records = _held_out(data_dir, cfg, cell_run_config(*cells[0][:3], cfg, cells[0][3]).beats)
    for arch, rr, imbalance, normalize in cells:
        name = cell_name(arch, rr, imbalance, normalize)
        run = cell_run_config(arch, rr, imbalance, cfg, normalize)
        config = _finished_cell(out_dir / name, run)
        if config is not None:
            console.print(f"benchmark cell {name}: already trained, reusing {out_dir / name}")
            seconds = float(sum(h.get("seconds", 0.0) for h in config["history"]))
        else:
            console.print(f"[bold]benchmark cell {name}[/bold]")
            began = time.perf_counter()
            if cfg.cv_folds:
                config = train_mitdb_cv(
                    data_dir, out_dir / name, run, name, f"{command} (cell {name})", progress
                )
            else:
                config = train_mitdb(
                    data_dir,
                    out_dir / name,
                    run,
                    name=name,
                    command=f"{command} (cell {name})",
                    progress=progress,
                    resume=_interrupted_cell(out_dir / name, run),
                )
            seconds = time.perf_counter() - began
        cell = (arch, rr, imbalance, normalize)
        rows.append(
            _row(name, cell, config, data_dir, out_dir / name, cfg)
            | {"train_seconds": round(seconds, 1)}
        )
        if cfg.rhythm_rule and cfg.cv_folds and rr in RR_NEEDS_RECORD_FEATURES:
            with_rule = rhythm_rule_config(config, data_dir, out_dir / name)
            rows.append(
                _row(f"{name}_rhythm-rule", cell, with_rule, data_dir, out_dir / name, cfg)
                | {"train_seconds": round(seconds, 1)}
            )
        _write(out_dir, cfg, rows, command, val_records)
    return _write(out_dir, cfg, rows, command, val_records)


def _held_out(data_dir, cfg: BenchmarkConfig, beat_config: BeatConfig) -> list[str]:
    """The DS1 records every cell validates on (none with beat-level validation), from the
    beats of one cell (labels do not depend on the representation; the cell loads them)."""
    if not cfg.val_records or cfg.cv_folds:
        return []
    beats = load_mitdb_beats(data_dir, split_records("inter-patient"), beat_config, progress=False)
    split = make_split(beats, "inter-patient", seed=cfg.seed, val_records=cfg.val_records)
    return sorted(set(beats.record[split.val].tolist()))


def _interrupted_cell(run_dir: Path, run: MitdbRunConfig) -> bool:
    """True when ``run_dir`` holds checkpoints of an unfinished run with these settings."""
    import json

    from ecglens.train.mitdb import run_config_dict

    saved = run_dir / "run_config.json"
    if not saved.exists() or not list((run_dir / "checkpoints").glob("epoch-*.json")):
        return False
    return json.loads(saved.read_text()) == json.loads(json.dumps(run_config_dict(run)))


def _finished_cell(run_dir: Path, run: MitdbRunConfig) -> dict[str, Any] | None:
    """The model config of a cell trained earlier with these settings (any device), else None."""
    import json

    path = run_dir / "model.json"
    if not (path.exists() and path.with_suffix(".safetensors").exists()):
        return None
    config = json.loads(path.read_text())
    same = (
        config.get("architecture") == run.architecture
        and config.get("architecture_kwargs") == model_kwargs(run, len(config["classes"]))
        and asdict(BeatConfig(**config.get("beats", {}))) == asdict(run.beats)
        and config.get("inputs") == list(run.inputs)
        and _without_device(asdict(TrainConfig(**config.get("train", {}))))
        == _without_device(asdict(run.train))
        and "calibration" in config
        and config.get("val_records", 0) == run.val_records
        and config.get("cv_folds", 0) == run.cv_folds
    )
    return config if same else None


def _without_device(train: dict[str, Any]) -> dict[str, Any]:
    """Training settings apart from the device (a cell trained on a GPU is reused on CPU)."""
    return {k: v for k, v in train.items() if k != "device"}


def selection_score(val_metrics: dict[str, Any]) -> dict[str, Any]:
    """Validation macro-F1 over the scored classes (N, S, V, F) that have at least
    ``MONITOR_MIN_SUPPORT`` validation beats: a class with two beats (F, in most
    held-out records) would make the choice a coin toss. With cross-validation the
    validation beats are all of DS1's, out of fold. ``val_S_f1``: S F1 on them."""
    per = val_metrics["per_class"]
    scored = [c for c in SCORED_CLASSES if per[c]["support"] >= MONITOR_MIN_SUPPORT]
    return {
        "val_macro_f1": float(np.mean([per[c]["f1"] for c in scored])) if scored else 0.0,
        "val_scored_classes": scored,
        "val_S_f1": float(per["S"]["f1"]),
    }


def out_of_fold(
    data_dir: str | Path, run_dir: str | Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A cross-validated cell's out-of-fold DS1 logits (n, k), labels (n,), RR + context
    features (n, 39) and records (n,): :func:`~ecglens.train.mitdb.cross_validate_mitdb`
    with the cell's settings, which reads its ``cv/fold-K.npz``."""
    import json

    from ecglens.train.mitdb import cross_validate_mitdb, run_config_from_dict

    run = run_config_from_dict(json.loads((Path(run_dir) / "run_config.json").read_text()))
    beats = load_mitdb_beats(data_dir, split_records("inter-patient"), run.beats, progress=False)
    cv = cross_validate_mitdb(beats, run, run_dir, progress=False)
    return cv["logits"], cv["y"], beats.rr[cv["index"]], cv["record"]


def score_rhythm_rules(
    logits: np.ndarray,
    y: np.ndarray,
    rr: np.ndarray,
    classes: list[str],
    rules: tuple[RhythmRule, ...] = RHYTHM_RULE_GRID,
    groups: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Macro-F1 (N,S,V,F) and S F1 of out-of-fold ``logits`` without a rule (first row) and
    with each of ``rules`` (:func:`~ecglens.predict.rhythm.apply_rhythm_rule`; ``groups``:
    the record of each beat)."""
    from ecglens.evaluate.metrics import classification_metrics

    rows = []
    for rule in (None, *rules):
        scores = logits if rule is None else apply_rhythm_rule(logits, rr, classes, rule, groups)
        m = classification_metrics(y, scores.argmax(1), classes, SCORED_CLASSES)
        rows.append(
            {
                "settings": None if rule is None else rule.to_dict(),
                "macro_f1_nsvf": float(m["macro_f1"]),
                "S_f1": float(m["per_class"]["S"]["f1"]),
                "S_recall": float(m["per_class"]["S"]["recall"]),
                "S_precision": float(m["per_class"]["S"]["precision"]),
            }
        )
    return rows


def rhythm_rule_config(
    config: dict[str, Any], data_dir: str | Path, run_dir: str | Path
) -> dict[str, Any]:
    """A cross-validated cell's config with the rhythm rule that maximises its out-of-fold
    macro-F1 (N,S,V,F) among :data:`RHYTHM_RULE_GRID` (``rhythm_rule``: settings, its CV
    scores, every setting's scores)."""
    logits, y, rr, records = out_of_fold(data_dir, run_dir)
    scores = score_rhythm_rules(logits, y, rr, list(config["classes"]), groups=records)
    best = max(scores[1:], key=lambda r: r["macro_f1_nsvf"])
    return config | {
        "rhythm_rule": {
            "settings": best["settings"],
            "description": RhythmRule.from_dict(best["settings"]).describe(),
            "selected_by": "out-of-fold macro-F1 (N,S,V,F) over DS1, the cell's CV folds",
            "cv": {k: best[k] for k in ("macro_f1_nsvf", "S_f1", "S_recall", "S_precision")},
            "grid": scores,
        }
    }


CROSS_DATABASE = "svdb-dev"  # folder beside mitdb/ scored as the cross-database column


def cross_database_scores(
    loaded: LoadedModel, config: dict[str, Any], data_dir: str | Path, cfg: BenchmarkConfig
) -> dict[str, Any]:
    """S and V F1 (EC57, with record-bootstrap intervals) of ``loaded`` with ``config`` (its
    rhythm rule included) on the ``svdb-dev`` folder beside ``data_dir``; {} when absent."""
    folder = Path(data_dir).parent / CROSS_DATABASE
    if not any(folder.glob("*.atr")):
        return {}
    model = replace(loaded, config=ModelConfig.from_dict(config))
    m = evaluate_records(model, folder, n_boot=cfg.n_boot, seed=cfg.seed, progress=False)
    boot = m["bootstrap"]["metrics"]["per_class"]
    return (
        {f"svdb_{c}_{k}": m["pooled"]["per_class"][c][k] for c in ("S", "V") for k in ("Se", "+P")}
        | {f"svdb_{c}_f1": boot[c]["F1"]["value"] for c in ("S", "V")}
        | {f"svdb_{c}_f1_ci": boot[c]["F1"]["ci"] for c in ("S", "V")}
    )


def _row(name, cell, config, data_dir, run_dir, cfg) -> dict[str, Any]:
    """One table row: selection score and DS2 metrics with record-bootstrap intervals (the
    config's rhythm rule applied when it has one)."""
    arch, rr, imbalance, normalize = cell
    loaded = load_model(run_dir / "model.safetensors")
    beats = load_mitdb_beats(
        data_dir, split_records("inter-patient"), BeatConfig(**config["beats"]), progress=False
    )
    test = beats.subset(make_split(beats, "inter-patient", seed=cfg.seed).test)
    m = evaluate_beats(loaded.module, test, config, n_boot=cfg.n_boot, seed=cfg.seed)
    ci = m["bootstrap"]["metrics"]
    per = m["per_class"]
    rule = config.get("rhythm_rule")
    selection = selection_score(config["val_metrics"])
    if rule:
        selection |= {"val_macro_f1": rule["cv"]["macro_f1_nsvf"], "val_S_f1": rule["cv"]["S_f1"]}
    calibration = config["calibration"]["test"]
    return {
        "cell": name,
        "architecture": arch,
        "rr": rr,
        "imbalance": imbalance,
        "normalize": normalize,
        "rhythm_rule": rule,
        **selection,
        "accuracy": m["accuracy"],
        "accuracy_ci": ci["accuracy"]["ci"],
        "macro_f1_nsvf": m["macro_f1_nsvf"],
        "macro_f1_nsvf_ci": ci["macro_f1_nsvf"]["ci"],
        **{f"{c}_{k}": per[c][k] for c in SCORED_CLASSES for k in ("recall", "precision", "f1")},
        "S_f1_ci": ci["per_class"]["S"]["f1"]["ci"],
        "V_f1_ci": ci["per_class"]["V"]["f1"]["ci"],
        # the rule swaps N and S, so the cell's calibration does not describe its row
        "ece_before": None if rule else calibration["ece_before"],
        "ece_after": None if rule else calibration["ece_after"],
        "best_epoch": config["best_epoch"],
        "epochs_run": len(config["history"]),
        "model": str(run_dir / "model.safetensors"),
        "cv_folds_records": config.get("cv", {}).get("folds"),
        **cross_database_scores(loaded, config, data_dir, cfg),
    }


def _write(
    out_dir: Path, cfg: BenchmarkConfig, rows: list[dict], command: str, val_records: list[str]
) -> dict:
    best = max(rows, key=lambda r: r["val_macro_f1"]) if rows else None
    result = {
        "config": asdict(cfg),
        "command": command,
        "selected_by": (
            f"cross-validated macro-F1 (N,S,V,F; {cfg.cv_folds}-fold leave-records-out over DS1)"
            if cfg.cv_folds
            else "val_macro_f1 (N,S,V,F classes with enough validation beats)"
        ),
        "cv_folds": _cv_folds_of(rows),
        "best": best["cell"] if best else None,
        "val_records": list(val_records),
        "rows": rows,
    }
    atomic_write_json(out_dir / "benchmark.json", result)
    atomic_write_text(out_dir / "benchmark.md", markdown_table(result))
    return result


def _cv_folds_of(rows: list[dict]) -> list[list[str]] | None:
    """The cross-validation folds the cells were scored on (None without CV)."""
    return next((r["cv_folds_records"] for r in rows if r.get("cv_folds_records")), None)


def _validation_words(n_records: int, records: list[str] | None = None) -> str:
    """What a grid validated on: DS1 beats, or ``n_records`` held-out DS1 records."""
    if not n_records:
        return "10% of the DS1 beats (the training patients)"
    if records:
        return f"DS1 records {', '.join(records)} (held out of training)"
    return f"{n_records} held-out DS1 records"


def _ci(ci: list[float]) -> str:
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def markdown_table(result: dict[str, Any]) -> str:
    """The ablation table as Markdown (percentages; 95% record-bootstrap intervals)."""
    cv = bool(result["config"].get("cv_folds"))
    score = "CV macro-F1 | CV S F1" if cv else "val macro-F1"
    lines = [
        f"| architecture | RR | imbalance | beats | {score} | accuracy | S Se / +P | S F1 | "
        "V Se / +P | V F1 | F F1 | macro-F1 (N,S,V,F) | ECE before / after | "
        "svdb-dev S F1 | svdb-dev V F1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if cv else ""),
    ]
    for r in result["rows"]:
        mark = " **(selected)**" if r["cell"] == result["best"] else ""
        selection = f"{100 * r['val_macro_f1']:.1f}"
        if cv:
            selection += f" | {100 * r.get('val_S_f1', float('nan')):.1f}"
        rr = f"{r['rr']} + rhythm rule" if r.get("rhythm_rule") else r["rr"]
        lines.append(
            f"| {r['architecture']}{mark} | {rr} | {r['imbalance']} | "
            f"{r.get('normalize', 'record')} | "
            f"{selection} | {100 * r['accuracy']:.1f} "
            f"{_ci(r['accuracy_ci'])} | {100 * r['S_recall']:.1f} / {100 * r['S_precision']:.1f} | "
            f"{100 * r['S_f1']:.1f} {_ci(r['S_f1_ci'])} | "
            f"{100 * r['V_recall']:.1f} / {100 * r['V_precision']:.1f} | "
            f"{100 * r['V_f1']:.1f} {_ci(r['V_f1_ci'])} | {100 * r['F_f1']:.1f} | "
            f"{100 * r['macro_f1_nsvf']:.1f} {_ci(r['macro_f1_nsvf_ci'])} | "
            f"{_ece(r)} | {_svdb(r, 'S')} | {_svdb(r, 'V')} |"
        )
    if cv:
        return (
            "\n".join(lines)
            + "\n"
            + _cv_words(result)
            + _svdb_words(result)
            + _rhythm_rule_words(result)
        )
    cfg = result["config"]
    lines += [
        "",
        f"Inter-patient (train DS1, test DS2: 49,712 beats of 22 records); seed {cfg['seed']}, "
        f"at most {cfg['epochs']} epochs (patience {cfg['patience']}); window beats at "
        f"{cfg['window_fs']:g} Hz, normalised per record (`record`: divided by the record's "
        "median beat amplitude; `median-beat`: minus the record's median beat, then divided); "
        f"cnn-lstm sees {cfg['context']} consecutive beats. Early stopping and selection by "
        f"validation macro-F1 (N,S,V,F classes with >= 20 validation beats) on "
        f"{_validation_words(cfg.get('val_records', 0), result.get('val_records'))}; "
        "DS2 plays no part in training or selection. "
        "Brackets: 95% intervals from resampling DS2 records.",
    ]
    rho = proxy_correlation(result["rows"])
    if rho is not None:
        lines += [
            "",
            f"How well validation predicts new patients: Spearman rank correlation between the "
            f"cells' validation macro-F1 and their DS2 macro-F1 (N,S,V,F): {rho:.2f} over "
            f"{len(result['rows'])} cells (computed after the fact; not used for selection).",
        ]
    return "\n".join(lines) + "\n" + _svdb_words(result)


def _svdb_words(result: dict[str, Any]) -> str:
    """What the svdb-dev columns measure, when a row has them."""
    if not any("svdb_S_f1" in r for r in result["rows"]):
        return ""
    return (
        f"\nsvdb-dev columns: the {CROSS_DATABASE} records beside mitdb/ (29 records of the "
        "MIT-BIH Supraventricular Arrhythmia Database: another recorder at 128 Hz, other "
        "patients), each cell's saved weights run through the inference path (its own beat "
        "detector, lead ECG1, its rhythm rule), beats matched EC57-style within 150 ms "
        "(`ecglens evaluate records`); brackets: 95% intervals from resampling those records. "
        "Reported beside the grid; not used to select its cell.\n"
    )


def _svdb(row: dict[str, Any], c: str) -> str:
    """The cross-database F1 of class ``c`` with its interval, '-' when not scored."""
    if f"svdb_{c}_f1" not in row:
        return "-"
    return f"{100 * row[f'svdb_{c}_f1']:.1f} {_ci(row[f'svdb_{c}_f1_ci'])}"


def _ece(row: dict[str, Any]) -> str:
    if row.get("ece_before") is None:
        return "-"
    return f"{row['ece_before']:.3f} / {row['ece_after']:.3f}"


def _rhythm_rule_words(result: dict[str, Any]) -> str:
    """The rhythm rule's settings and their out-of-fold scores, per cell that has one."""
    text = ""
    for r in result["rows"]:
        rule = r.get("rhythm_rule")
        if not rule:
            continue
        text += (
            f"\nRhythm rule on {r['cell'].removesuffix('_rhythm-rule')}'s out-of-fold DS1 logits "
            f"(`ecglens.predict.rhythm`: a beat called N becomes S when {rule['description']}; "
            "chosen by out-of-fold macro-F1, N,S,V,F):\n\n"
            "| cycle within +- beats | V/F intervals left out | pre-RR / longest regular cycle < "
            "| irregularity < | P-wave correlation < | CV macro-F1 | CV S F1 | CV S Se / +P |\n"
            "|---|---|---|---|---|---|---|---|\n"
        )
        for g in rule["grid"]:
            s = g["settings"]
            cells = (
                "no rule | | | | "
                if s is None
                else f"{s.get('cycle_beats', 16)} | "
                + ("yes" if s.get("without_ventricular") else "no")
                + f" | {s['premature_below']:g} | {s['irregularity_below']:g} | "
                + ("-" if s["p_corr_below"] >= 1.0 else f"{s['p_corr_below']:g}")
            )
            mark = " **(selected)**" if s == rule["settings"] else ""
            text += (
                f"| {cells}{mark} | {100 * g['macro_f1_nsvf']:.1f} | {100 * g['S_f1']:.1f} | "
                f"{100 * g['S_recall']:.1f} / {100 * g['S_precision']:.1f} |\n"
            )
    return text


def _cv_words(result: dict[str, Any]) -> str:
    """What a cross-validated grid trained, selected and scored."""
    cfg = result["config"]
    folds = result.get("cv_folds") or []
    text = (
        f"\nInter-patient (train DS1, test DS2: 49,712 beats of 22 records); seed {cfg['seed']}, "
        f"exactly {cfg['epochs']} epochs per model (cosine learning rate, last epoch kept, no "
        f"early stopping); window beats at {cfg['window_fs']:g} Hz. Selection by "
        f"{cfg['cv_folds']}-fold leave-records-out cross-validation over DS1 (out-of-fold "
        "macro-F1 over N,S,V,F; folds: "
        + "; ".join(", ".join(f) for f in folds)
        + "); the shipped cell is then trained on all of DS1, its temperature fitted on its "
        "out-of-fold logits. DS2 plays no part in training, selection or calibration. "
        "Brackets: 95% intervals from resampling DS2 records.\n"
    )
    rho = proxy_correlation(result["rows"])
    if rho is not None:
        text += (
            f"\nSpearman rank correlation between the cells' CV macro-F1 and their DS2 "
            f"macro-F1 (N,S,V,F): {rho:.2f} over {len(result['rows'])} cells (after the fact).\n"
        )
    return text


def proxy_correlation(rows: list[dict[str, Any]]) -> float | None:
    """Spearman correlation of validation and DS2 macro-F1 across cells (None below 3 cells)."""
    if len(rows) < 3:
        return None
    from scipy.stats import spearmanr

    val = [r["val_macro_f1"] for r in rows]
    test = [r["macro_f1_nsvf"] for r in rows]
    return float(spearmanr(val, test).statistic)


def ship_cell(
    cell_dir: str | Path,
    name: str,
    data_dir: str | Path,
    weights_dir: str | Path,
    mc_samples: int | None = None,
) -> dict[str, Any]:
    """Turn a trained grid cell into a shipped model ``weights_dir/name.*``.

    The weights are the cell's; the uncertainty score uses ``mc_samples`` MC-dropout passes
    (default 20 when the architecture has dropout, else 0: the calibrated softmax's entropy),
    the review summary is recomputed with them, the recorded command is the
    ``ecglens train`` line that trains the same run with that setting, and the card's
    metrics and intervals come from :func:`~ecglens.evaluate.mitdb.evaluate_mitdb`.
    """
    import json
    import shutil

    from ecglens.train.mitdb import (
        calibrate_and_review,
        load_split,
        refresh_card_metrics,
        reproduce_command,
        run_config_dict,
        run_config_from_dict,
    )

    cell_dir, weights_dir = Path(cell_dir), Path(weights_dir)
    saved = run_config_from_dict(json.loads((cell_dir / "run_config.json").read_text()))
    loaded = load_model(cell_dir / "model.safetensors")
    if mc_samples is None:
        from ecglens.predict.uncertainty import has_dropout

        mc_samples = 20 if has_dropout(loaded.module) else 0
    run = replace(saved, mc_samples=mc_samples)
    config = loaded.config.to_dict()
    beats, split = load_split(data_dir, run, progress=False)
    config.update(
        calibrate_and_review(
            loaded.module, beats.subset(split.val), beats.subset(split.test), run, config, "cpu"
        )
    )
    config["command"] = reproduce_command(run, Path("runs") / name, name)
    config["run_config"] = run_config_dict(run)
    target = weights_dir / f"{name}.safetensors"
    shutil.copyfile(cell_dir / "model.safetensors", target)
    atomic_write_json(target.with_suffix(".json"), config)
    return refresh_card_metrics(
        target,
        data_dir,
        note="Selected by validation macro-F1 (N,S,V,F) on "
        f"{_validation_words(saved.val_records)} among the cells of `ecglens benchmark mitdb`; "
        f"this is cell {cell_dir.name}. The command above "
        "trains the same run.",
        progress=False,
    )


def ship_cv_cell(
    cell_dir: str | Path,
    name: str,
    data_dir: str | Path,
    weights_dir: str | Path,
    grid: list[dict[str, Any]] | None = None,
    command: str | None = None,
    class_bias: dict[str, Any] | None = None,
    rhythm_rule: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Ship a cell of a cross-validated grid (``cv_folds > 0``) as ``weights_dir/name.*``.

    The weights, temperature (fitted on out-of-fold DS1 logits) and CV record are the
    cell's; ``grid`` (rows of ``benchmark.json``) adds every cell's CV score to the card;
    ``command`` replaces the recorded command (the grid command that trains the cell);
    ``class_bias`` (from :func:`~ecglens.train.mitdb.nested_bias_score` on the cell's
    out-of-fold logits: ``bias`` and its nested-CV ``macro_f1_nsvf`` / ``S_f1``) is folded
    into the output layer (:func:`~ecglens.train.mitdb.add_output_bias`) and recorded;
    ``rhythm_rule`` (a row's ``rhythm_rule``, from :func:`rhythm_rule_config`) is recorded
    and applied at inference (:mod:`ecglens.predict.rhythm`);
    the card's test metrics, per-record table and intervals come from
    :func:`~ecglens.evaluate.mitdb.evaluate_mitdb`.
    """
    import json
    import shutil

    from ecglens.train.mitdb import refresh_card_metrics

    cell_dir, weights_dir = Path(cell_dir), Path(weights_dir)
    config = json.loads((cell_dir / "model.json").read_text())
    if not config.get("cv"):
        raise EcgLensError("not a cross-validated cell (no cv in model.json)", cell_dir)
    if grid:
        selected = f"{cell_dir.name}_rhythm-rule" if rhythm_rule else cell_dir.name
        ordered = sorted(grid, key=lambda r: r["cell"] != selected)
        config["cv"]["grid"] = [
            {"cell": r["cell"], "macro_f1_nsvf": r["val_macro_f1"], "S_f1": r["val_S_f1"]}
            for r in ordered
        ]
    config["run_config"] = json.loads((cell_dir / "run_config.json").read_text())
    if command:
        config["command"] = command
    if rhythm_rule:
        from ecglens.train.mitdb import load_split, rhythm_rule_review, run_config_from_dict

        config["rhythm_rule"] = rhythm_rule
        run = run_config_from_dict(config["run_config"])
        beats, split = load_split(data_dir, run, progress=False)
        loaded = load_model(cell_dir / "model.safetensors")
        review = rhythm_rule_review(loaded.module, beats.subset(split.test), config)
        config["review"] = review["review"]
        config["calibration"]["test"]["ece_with_rhythm_rule"] = review["ece_with_rhythm_rule"]
    target = weights_dir / f"{name}.safetensors"
    if class_bias:
        from ecglens.models.registry import save_pretrained
        from ecglens.train.mitdb import add_output_bias

        loaded = load_model(cell_dir / "model.safetensors")
        add_output_bias(loaded.module, np.asarray(class_bias["bias"]), config["temperature"])
        config["class_bias"] = class_bias
        save_pretrained(loaded.module, config, target)
    else:
        shutil.copyfile(cell_dir / "model.safetensors", target)
    atomic_write_json(target.with_suffix(".json"), config)
    return refresh_card_metrics(
        target,
        data_dir,
        note="Selected by cross-validated macro-F1 (N,S,V,F) over DS1 among the cells of "
        f"`ecglens benchmark mitdb --cv-folds {config['cv']['n_folds']}`; this is cell "
        f"{cell_dir.name}{' with the rhythm rule' if rhythm_rule else ''}. The command above "
        "trains the same run.",
        progress=False,
    )
