"""``ecglens evaluate``: score a model on a database's test split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecglens.cli.app import app
from ecglens.cli.options import (
    DataOpt,
    Dataset,
    DeviceOpt,
    KaggleAbnormalOpt,
    KaggleNormalOpt,
    KaggleTestOpt,
    ModelOpt,
    ProgressOpt,
    PtbxlTask,
    Split,
    command_line,
    data_dir,
    device_of,
)
from ecglens.cli.tables import stdout
from ecglens.errors import EcgLensError
from ecglens.progress import console


def _evaluate_mitdb(loaded, data, split, seed, task, progress, device) -> dict:
    from ecglens.cli.tables import print_metrics
    from ecglens.evaluate.mitdb import evaluate_mitdb

    metrics = evaluate_mitdb(
        loaded, data_dir(data, "mitdb"), split, seed=seed, progress=progress, device=device
    )
    print_metrics(metrics)
    return metrics


def _evaluate_ptbxl(loaded, data, split, seed, task, progress, device) -> dict:
    from ecglens.cli.tables import print_ptbxl_metrics
    from ecglens.evaluate.ptbxl import evaluate_ptbxl

    metrics = evaluate_ptbxl(
        loaded, data_dir(data, "ptbxl"), task=task, progress=progress, device=device
    )
    print_ptbxl_metrics(metrics)
    return metrics


def _evaluate_mi(loaded, data, split, seed, task, progress, device) -> dict:
    from ecglens.cli.tables import print_ptbxl_metrics
    from ecglens.evaluate.mi import evaluate_mi

    if task not in (None, "mi"):
        raise EcgLensError(f"model {loaded.name} was trained for mi, not {task}")
    metrics = evaluate_mi(loaded, data_dir(data, "ptbxl"), progress=progress, device=device)
    print_ptbxl_metrics(metrics)
    return metrics


def _pct(cell) -> str:
    """'Se 80.1 [71.2, 88.0]' style: a fraction (or bootstrap {value, ci}) as a percentage."""
    if isinstance(cell, dict):
        lo, hi = cell["ci"]
        if cell["value"] is None or lo is None or hi is None:
            return _pct(cell["value"])
        return f"{100 * cell['value']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
    return "-" if cell is None or cell != cell else f"{100 * cell:.1f}"


def print_record_scores(metrics: dict) -> None:
    """Per-record S/V table, then pooled Se/+P/F1 per class with record-bootstrap intervals."""
    from rich.table import Table

    t = Table(title=f"{metrics['model']} on {metrics['folder']} (per record, EC57 matching)")
    for col in ("record", "lead", "beats", "acc", "S n", "S Se", "S +P", "V n", "V Se", "V +P",
                "AF beats S%"):  # fmt: skip
        t.add_column(col, justify="right")
    for name, r in metrics["per_record"].items():
        af = r["af"]
        t.add_row(
            name, r["lead"], str(r["n_reference"]), _pct(r["accuracy_matched"]),
            str(r["S"]["support"]), _pct(r["S"]["Se"]), _pct(r["S"]["+P"]),
            str(r["V"]["support"]), _pct(r["V"]["Se"]), _pct(r["V"]["+P"]),
            _pct(af["S_share"]) if af["beats"] else "",
        )  # fmt: skip
    stdout.print(t)
    pooled = metrics["pooled"]
    boot = metrics.get("bootstrap", {}).get("metrics", {})
    t = Table(title=f"pooled over {metrics['n_records']} records (gross), 95% record-bootstrap")
    for col in ("class", "Se %", "+P %", "F1 %", "reference", "called"):
        t.add_column(col, justify="right")
    for c, v in pooled["per_class"].items():
        b = boot.get("per_class", {}).get(c, {})
        t.add_row(
            c, _pct(b.get("Se", v["Se"])), _pct(b.get("+P", v["+P"])),
            _pct(b.get("F1", v["F1"])), str(v["support"]), str(v["called"]),
        )  # fmt: skip
    stdout.print(t)
    det, af = pooled["detection"], pooled["af"]
    stdout.print(
        f"accuracy (matched beats) {_pct(boot.get('accuracy_matched', pooled['accuracy_matched']))}"
        f"  macro-F1 (N,S,V,F) {_pct(boot.get('macro_f1_nsvf', pooled['macro_f1_nsvf']))}\n"
        f"beat detection Se {_pct(det['Se'])} +P {_pct(det['+P'])} "
        f"(missed {det['fn']}, false {det['fp']})\n"
        + (
            f"beats in AF/AFL episodes: {af['beats']}, called S {_pct(af['S_share'])}%"
            if af["beats"]
            else "no AF/AFL rhythm annotations"
        )
    )


def _evaluate_records(loaded, data, lead, only, n_boot, progress, device) -> dict:
    from ecglens.evaluate.records import evaluate_records

    if data is None:
        raise EcgLensError(
            "records: name the folder of annotated WFDB records (ecglens evaluate records DIR)"
        )
    metrics = evaluate_records(
        loaded, data, lead=lead, device=device, n_boot=n_boot, progress=progress, only=only
    )
    print_record_scores(metrics)
    return metrics


# the evaluation of each (database, model task)
EVALUATORS = {
    ("mitdb", "beats"): _evaluate_mitdb,
    ("ptbxl", "ptbxl-binary"): _evaluate_ptbxl,
    ("ptbxl", "ptbxl-superclass"): _evaluate_ptbxl,
    ("ptbxl", "ptbxl-mi"): _evaluate_mi,
    ("ptbxl", "ptbxl-mi-12lead"): _evaluate_ptbxl,
    ("images", "images"): None,  # set below
    ("records", "beats"): None,  # takes a folder and a lead: see _evaluate_records
    ("kaggle", "beats"): None,  # needs the CSV files: see _evaluate_kaggle
    ("kaggle", "kaggle-ptb"): None,
}


def _evaluate_images(loaded, data, split, seed, task, progress, device) -> dict:
    from ecglens.evaluate.images import evaluate_images

    metrics = evaluate_images(loaded, data_dir(data, "images"), device=device, progress=progress)
    stdout.print(
        f"accuracy {metrics['accuracy']['value']:.4f} {metrics['accuracy']['ci']}  "
        f"macro-F1 {metrics['macro_f1']['value']:.4f} {metrics['macro_f1']['ci']}"
    )
    return metrics


EVALUATORS[("images", "images")] = _evaluate_images


def _evaluate_kaggle(loaded, test_csv, normal_csv, abnormal_csv, device) -> dict:
    from ecglens.cli.tables import print_metrics
    from ecglens.evaluate.kaggle import evaluate_kaggle

    metrics = evaluate_kaggle(loaded, test_csv, normal_csv, abnormal_csv, device=device)
    if "per_class" in metrics and "n" in metrics:
        print_metrics(metrics)
    else:
        stdout.print(", ".join(
            f"{k} {metrics[k]:.4f}" for k in ("accuracy", "sensitivity", "specificity", "f1",
                                               "roc_auc") if isinstance(metrics.get(k), float)
        ))  # fmt: skip
    console.print(f"[yellow]warning: {metrics['warning']}[/yellow]")
    return metrics


def _evaluate_rhythm(loaded, data, split, seed, task, progress, device) -> dict:
    """Every MIT-BIH record through ``ecglens predict``: its summary's episodes and heart
    rate against the rhythm and beat annotations (:mod:`ecglens.evaluate.rhythm`)."""
    import numpy as np

    from ecglens.data.mitdb import ALL_RECORDS, DS1, DS2
    from ecglens.evaluate.rhythm import MITDB_AF_RECORDS, RhythmScores, record_rhythm
    from ecglens.predict import run
    from ecglens.progress import track

    root = data_dir(data, "mitdb")
    scores = RhythmScores()
    for record in track([str(r) for r in ALL_RECORDS], "records", enabled=progress):
        result = run(root / record, loaded, device=device).result
        times = np.asarray(result.sample) / result.fs
        scores.records.append(record_rhythm(root / record, result.summary, result.labels, times))
    out = scores.to_dict()
    for name, records in (("ds1", DS1), ("ds2", DS2)):
        out[name] = {
            "af": scores.score("af", map(str, records)).to_dict(),
            "svt": scores.score("svt", map(str, records)).to_dict(),
            "vt": scores.score("vt", map(str, records)).to_dict(),
        }
    out["af_records_list"] = list(MITDB_AF_RECORDS)
    _print_rhythm_scores(out)
    return out


def _print_rhythm_scores(out: dict) -> None:
    from rich.table import Table

    def pct(v) -> str:
        return "-" if v is None else f"{v:.1f}"

    t = Table(title="rhythm episodes against MIT-BIH's rhythm annotations")
    for col in ("episodes", "records", "duration Se", "duration +P", "episode Se",
                "episode +P", "reference", "detected"):  # fmt: skip
        t.add_column(col, justify="right")
    rows = [("AF+AFL", "AF records", out["af_records"]), ("AF+AFL", "all 48", out["af"]),
            ("AF+AFL", "DS2", out["ds2"]["af"]), ("SVT", "all 48", out["svt"]),
            ("VT", "all 48", out["vt"])]  # fmt: skip
    for kind, records, d in rows:
        t.add_row(kind, records, pct(d["duration_se"]), pct(d["duration_ppv"]),
                  pct(d["episode_se"]), pct(d["episode_ppv"]), str(d["reference_episodes"]),
                  str(d["detected_episodes"]))  # fmt: skip
    stdout.print(t)
    stdout.print(
        f"AF burden error, worst AF record: {out['af_burden_error_max']:.2f} points; "
        f"heart rate error, worst record: {out['hr_error_max']:.2f} beats/min; "
        f"S calls inside reference AF: {out['s_calls_in_reference_af']} of {out['s_calls']} "
        f"({pct(out['s_calls_in_af_share'])}%)"
    )


EVALUATORS[("rhythm", "beats")] = _evaluate_rhythm


@app.command("evaluate")
def evaluate_command(
    dataset: Annotated[Dataset, typer.Argument(help="Database to evaluate on.")],
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="records: the folder of annotated WFDB records (.hea with .atr), e.g. "
            "$ECGLENS_DATA/svdb-dev (or give it with --data).",
            show_default=False,
        ),
    ] = None,
    model: ModelOpt = "ecglens-mitdb-inter",
    split: Annotated[
        Split,
        typer.Option(
            help="mitdb: inter-patient (DS1 -> DS2, new patients) or intra-patient (random "
            "beat split: OPTIMISTIC)."
        ),
    ] = Split.inter,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write metrics JSON here.")
    ] = None,
    data: DataOpt = None,
    seed: Annotated[
        int | None, typer.Option(help="mitdb: split seed (default: the model's training seed).")
    ] = None,
    task: Annotated[
        PtbxlTask | None,
        typer.Option(help="PTB-XL task (default: the model's): binary, superclass or mi."),
    ] = None,
    lead: Annotated[
        str | None,
        typer.Option(
            help="records: lead name or 0-based index (default: MLII/II when present, else "
            "the most ECG-like, e.g. ECG1)."
        ),
    ] = None,
    only: Annotated[
        str | None,
        typer.Option(
            help="records: score only these records: names separated by commas, or DS1 / DS2 "
            "(MIT-BIH's inter-patient halves)."
        ),
    ] = None,
    n_boot: Annotated[
        int,
        typer.Option(help="records: record-bootstrap replicates for the 95% intervals (0: none)."),
    ] = 1000,
    test_csv: KaggleTestOpt = None,
    normal_csv: KaggleNormalOpt = None,
    abnormal_csv: KaggleAbnormalOpt = None,
    device: DeviceOpt = "auto",
    progress: ProgressOpt = True,
) -> None:
    """Score a model on a database split: accuracy, per-class Se/+P/F1, macro-F1 (beats);
    accuracy, F1, ROC-AUC with intervals (12-lead). `records DIR`: any folder of annotated
    WFDB records through the model's own beat detector, EC57-style (150 ms matching), per
    record and pooled with record-bootstrap intervals. `rhythm`: the recording summary of
    every MIT-BIH record against its rhythm annotations (AF/flutter duration and episode
    Se/+P, AF burden error, SVT and VT episodes, heart rate)."""
    from ecglens.models.registry import load_model
    from ecglens.predict import task_of

    dev = device_of(device)
    loaded = load_model(model, dev)
    task_name = task_of(loaded).name
    if (dataset.value, task_name) not in EVALUATORS:
        where = sorted(d for d, t in EVALUATORS if t == task_name)
        raise EcgLensError(
            f"model {loaded.name} ({task_name}) is scored on {' or '.join(where) or 'nothing'}, "
            f"not {dataset.value}"
        )
    if folder is not None and dataset != Dataset.records:
        raise EcgLensError(f"{dataset.value} takes no folder argument: use --data")
    if dataset == Dataset.kaggle:
        metrics = _evaluate_kaggle(loaded, test_csv, normal_csv, abnormal_csv, dev)
    elif dataset == Dataset.records:
        metrics = _evaluate_records(loaded, folder or data, lead, only, n_boot, progress, dev)
    else:
        metrics = EVALUATORS[(dataset.value, task_name)](
            loaded, data, split.value, seed, None if task is None else task.value, progress, dev
        )
    metrics["command"] = command_line()
    if json_file is not None:
        from ecglens._atomic import atomic_write_json

        atomic_write_json(json_file, metrics)
        console.print(f"wrote {json_file}")
