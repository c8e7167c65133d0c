"""The ``ecglens`` command line: a thin layer over the Python API.

Every user error (bad file, missing lead, unknown model...) is printed as one
line ``error: <file>: <what is wrong>`` on stderr with exit status 1.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ecglens.cli.progress import console
from ecglens.errors import EcgLensError

stdout = Console()  # results (tables, metrics) go to stdout; progress and notes to stderr

app = typer.Typer(
    help="ecglens: classify electrocardiograms and show why (beats, Grad-CAM, reports).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_DATA = "../shared/data"


class Split(StrEnum):
    inter = "inter-patient"
    intra = "intra-patient"


class Dataset(StrEnum):
    mitdb = "mitdb"
    ptbxl = "ptbxl"


class Task(StrEnum):
    binary = "binary"
    superclass = "superclass"


DATA_FOLDERS = {"mitdb": "mitdb", "ptbxl": "ptb-xl"}


ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Shipped model name (see `ecglens models`) or a path to "
        "a .safetensors file / training run directory.",
    ),
]
DeviceOpt = Annotated[
    str,
    typer.Option(help="Torch device: auto (cuda when available, else cpu), cpu, cuda, cuda:1..."),
]
LeadOpt = Annotated[
    str | None,
    typer.Option(
        help="Lead name or 0-based index; default MLII when present, else the first signal."
    ),
]
FsOpt = Annotated[
    float | None,
    typer.Option(
        "--fs", help="Sampling rate in Hz: required for CSV/NPY sample files, checked for WFDB."
    ),
]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        help="Folder holding the database (default: $ECGLENS_DATA/<dataset>, else "
        f"{DEFAULT_DATA}/<dataset>)."
    ),
]
RecordsArg = Annotated[
    list[Path],
    typer.Argument(
        help="WFDB records (path without extension, or .hea), CSV/NPY sample files, or folders "
        "of WFDB records."
    ),
]
ProgressOpt = Annotated[bool, typer.Option(help="Show progress bars on stderr.")]


def _data_dir(data: Path | None, dataset: str) -> Path:
    if data is not None:
        return data
    root = Path(os.environ.get("ECGLENS_DATA", DEFAULT_DATA))
    return root / DATA_FOLDERS.get(dataset, dataset)


def _is_12lead(loaded) -> bool:
    return str(loaded.config.get("task", "")).startswith("ptbxl")


def _device(device: str):
    from ecglens.train.trainer import resolve_device

    return resolve_device(device)


def _expand_records(paths: list[Path]) -> list[Path]:
    """Record paths from arguments: WFDB records (with or without extension), CSV/NPY
    files, or folders of WFDB records (every .hea inside)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            headers = sorted(p.glob("*.hea"))
            if not headers:
                raise EcgLensError("folder holds no WFDB records (.hea files)", p)
            out.extend(h.with_suffix("") for h in headers)
        else:
            out.append(p)
    return out


def _command_line() -> str:
    return "ecglens " + " ".join(shlex.quote(a) for a in sys.argv[1:])


@app.command("models")
def models_command(
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
) -> None:
    """List shipped models (with their test metrics) and registered architectures."""
    from ecglens.models.registry import list_models, list_pretrained, load_model

    rows = [_model_summary(name, load_model(name).config) for name in list_pretrained()]
    if json_out:
        print(json.dumps({"pretrained": rows, "architectures": list_models()}, indent=2))
        return
    table = Table(title="Shipped models")
    for col in ("name", "architecture", "task", "split", "test metrics"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["architecture"], r["task"], r["split"], r["summary"])
    stdout.print(table)
    stdout.print("Architectures: " + ", ".join(list_models()))


def _value(metric) -> float | None:
    return metric.get("value") if isinstance(metric, dict) else metric


def _model_summary(name: str, config: dict) -> dict:
    """One line per shipped model: its task, split and headline test metrics."""
    m = config.get("metrics") or {}
    split = config.get("split")
    if isinstance(split, dict):
        split = "PTB-XL folds 1-8 / 9 / 10"
    elif config.get("optimistic"):
        split = f"{split} (optimistic)"
    names = ("accuracy", "macro_f1_nsvf", "macro_f1", "roc_auc", "f1", "macro_auc")
    parts = [f"{k} {_value(m[k]):.3f}" for k in names if k in m and _value(m[k]) is not None]
    return {
        "name": name,
        "architecture": config["architecture"],
        "task": str(config.get("task")),
        "split": str(split),
        "summary": ", ".join(parts[:3]),
        "metrics": {k: _value(m[k]) for k in names if k in m},
    }


@app.command("predict")
def predict_command(
    records: RecordsArg,
    model: ModelOpt = "ecglens-mitdb-inter",
    json_file: Annotated[
        Path | None,
        typer.Option(
            "--json", help="Write predictions as JSON (one record) or JSON Lines (several)."
        ),
    ] = None,
    lead: LeadOpt = None,
    fs: FsOpt = None,
    table: Annotated[bool, typer.Option(help="Print the per-beat table.")] = True,
    max_rows: Annotated[
        int, typer.Option(help="At most this many beats in the printed table.")
    ] = 40,
    review_threshold: Annotated[
        float | None,
        typer.Option(
            help="Flag beats whose uncertainty (normalised predictive entropy, 0-1) exceeds "
            'this for human review; the JSON gets "review": true on them.'
        ),
    ] = None,
    mc_samples: Annotated[
        int | None,
        typer.Option(
            help="MC-dropout passes for the uncertainty score (default: the model's setting; "
            "0 = one deterministic pass, uncertainty from its softmax entropy)."
        ),
    ] = None,
    device: DeviceOpt = "auto",
    progress: ProgressOpt = True,
) -> None:
    """Detect and classify every beat of one or more records; print a table and class counts.

    Each beat gets calibrated class probabilities and an uncertainty score."""
    from ecglens.cli.progress import track
    from ecglens.io import read_record
    from ecglens.models.registry import load_model
    from ecglens.pipeline import classify_record

    dev = _device(device)
    loaded = load_model(model, dev)
    paths = _expand_records(records)
    results = []
    for path in track(paths, "Classifying records", enabled=progress and len(paths) > 1):
        record = read_record(path, fs=fs)
        if _is_12lead(loaded):
            from ecglens.pipeline12 import classify_12lead

            pred12 = classify_12lead(record, loaded, device=dev)
            results.append(pred12.to_dict())
            if table:
                _print_12lead(results[-1])
            continue
        pred = classify_record(
            record,
            loaded,
            lead=lead,
            device=dev,
            mc_samples=mc_samples,
            review_threshold=review_threshold,
        )
        results.append(pred.to_dict())
        if table:
            _print_beats(pred, max_rows)
    if json_file is not None:
        from ecglens._atomic import atomic_write_text

        if len(results) == 1:
            text = json.dumps(results[0], indent=1) + "\n"
        else:
            text = "".join(json.dumps(r) + "\n" for r in results)
        atomic_write_text(json_file, text)
        console.print(f"wrote {json_file}")


def _print_12lead(result: dict) -> None:
    t = Table(title=f"{result['record']} (model {result['model']})")
    for col in ("label", "probability", "threshold", "sampling rate", "notes"):
        t.add_column(col)
    prob = result.get("probability")
    if prob is None:
        probs = result.get("probabilities", {})
        prob_text = ", ".join(f"{c} {p:.3f}" for c, p in probs.items())
    else:
        prob_text = f"{prob:.3f} (abnormal)"
    notes = result.get("notes") or []
    rate = f"{result['sampling_rate']:g} Hz"
    if result.get("resampled_from"):
        rate += f" (resampled from {result['resampled_from']:g} Hz)"
    threshold = result.get("threshold")
    t.add_row(str(result["label"]), prob_text, json.dumps(threshold), rate, "; ".join(notes))
    stdout.print(t)


def _uncertainty_cell(pred, i: int) -> str:
    if pred.uncertainty is None:
        return "-"
    flag = pred.review_threshold is not None and pred.uncertainty[i] > pred.review_threshold
    return f"{pred.uncertainty[i]:.3f}" + (" review" if flag else "")


def _print_beats(pred, max_rows: int) -> None:
    labels = pred.labels
    t = Table(title=f"{pred.record} ({pred.lead}, {pred.fs:g} Hz, model {pred.model})")
    for col in ("beat", "sample", "time (s)", "label", "p(label)", "uncertainty"):
        t.add_column(col, justify="right")
    if pred.reference is not None:
        t.add_column("reference", justify="right")
    order = range(len(labels))
    abnormal = [i for i in order if labels[i] != "N"]
    shown = sorted(set(list(range(min(5, len(labels)))) + abnormal))[:max_rows]
    for i in shown:
        row = [
            str(i),
            str(int(pred.sample[i])),
            f"{pred.sample[i] / pred.fs:.2f}",
            labels[i],
            f"{pred.probabilities[i].max():.3f}",
            _uncertainty_cell(pred, i),
        ]
        if pred.reference is not None:
            ref = int(pred.reference[i])
            row.append(pred.classes[ref] if ref >= 0 else "-")
        t.add_row(*row)
    stdout.print(t)
    if len(shown) < len(labels):
        console.print(
            f"(showing {len(shown)} of {len(labels)} beats: the first 5 and non-N beats;"
            " --json for all)"
        )
    counts = pred.class_counts()
    stdout.print("class counts: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    if pred.review_threshold is not None and pred.uncertainty is not None:
        n_review = int((pred.uncertainty > pred.review_threshold).sum())
        console.print(
            f"{n_review} of {len(labels)} beats flagged for review "
            f"(uncertainty > {pred.review_threshold:g})"
        )


@app.command("explain")
def explain_command(
    record: Annotated[Path, typer.Argument(help="A WFDB record or CSV/NPY sample file.")],
    beat: Annotated[
        list[int] | None,
        typer.Option(
            help="0-based beat index as listed by `ecglens predict` (repeat for several); "
            "beat models only."
        ),
    ] = None,
    model: ModelOpt = "ecglens-mitdb-inter",
    out: Annotated[
        Path | None, typer.Option(help="PNG to write (default runs/explain/<record>-beat<N>.png).")
    ] = None,
    layer: Annotated[
        str | None, typer.Option(help="Conv layer for Grad-CAM (default: the last Conv1d).")
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            help="12-lead models: cam (the network's own class activation map), grad-cam, or "
            "both (two figures side by side)."
        ),
    ] = "both",
    lead: LeadOpt = None,
    fs: FsOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Draw beats with their Grad-CAM relevance for the predicted class (PNG); for 12-lead
    models, the record on ECG paper with its CAM / Grad-CAM."""
    from ecglens.data.mitdb import BeatConfig
    from ecglens.io import read_record
    from ecglens.models.registry import load_model
    from ecglens.pipeline import classify_record, display_beat, explain_beats
    from ecglens.plot import plot_beat_attribution, plot_beat_grid
    from ecglens.plot.style import save_figure

    dev = _device(device)
    loaded = load_model(model, dev)
    rec = read_record(record, fs=fs)
    if _is_12lead(loaded):
        from ecglens.pipeline12 import classify_12lead
        from ecglens.plot.explain12 import plot_12lead_explanation

        fig = plot_12lead_explanation(classify_12lead(rec, loaded, dev), loaded, method, dev)
        out = out or Path("runs/explain") / f"{rec.name}-{method}.png"
        save_figure(fig, out)
        console.print(f"wrote {out}")
        return
    if not beat:
        raise EcgLensError("give at least one --beat for a beat model")
    pred = classify_record(rec, loaded, lead=lead, device=dev)
    maps = explain_beats(pred, loaded, beat, layer=layer)
    beats = BeatConfig(**loaded.config["beats"])
    labels = pred.labels
    if len(beat) == 1:
        i = beat[0]
        probs = dict(zip(pred.classes, map(float, pred.probabilities[i]), strict=True))
        fig = plot_beat_attribution(
            display_beat(pred.x[i]),
            maps[0],
            beats.beat_fs,
            label=labels[i],
            probabilities=probs,
            title=f"{pred.record} beat {i} at {pred.sample[i] / pred.fs:.2f} s",
            r_index=beats.r_index,
            amplitude_label=beats.amplitude_label,
        )
    else:
        fig = plot_beat_grid(
            [display_beat(b) for b in pred.x[beat]],
            maps,
            [labels[i] for i in beat],
            beats.beat_fs,
            r_index=beats.r_index,
            amplitude_label=beats.amplitude_label,
        )
    out = out or Path("runs/explain") / f"{pred.record}-beat{'-'.join(map(str, beat))}.png"
    save_figure(fig, out)
    console.print(f"wrote {out}")


@app.command("evaluate")
def evaluate_command(
    dataset: Annotated[Dataset, typer.Argument(help="Database to evaluate on.")],
    model: ModelOpt = "ecglens-mitdb-inter",
    split: Annotated[
        Split,
        typer.Option(
            help="inter-patient (DS1 -> DS2, new patients) or intra-patient (random beat split: "
            "OPTIMISTIC)."
        ),
    ] = Split.inter,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write metrics JSON here.")
    ] = None,
    data: DataOpt = None,
    seed: Annotated[
        int | None, typer.Option(help="Split seed (default: the model's training seed).")
    ] = None,
    task: Annotated[
        Task | None,
        typer.Option(help="PTB-XL task (default: the model's): binary or superclass."),
    ] = None,
    device: DeviceOpt = "auto",
    progress: ProgressOpt = True,
) -> None:
    """Score a model on a database split: accuracy, per-class Se/+P/F1, macro-F1."""
    from ecglens.evaluate.mitdb import evaluate_mitdb
    from ecglens.models.registry import load_model

    dev = _device(device)
    loaded = load_model(model, dev)
    if dataset == Dataset.ptbxl or _is_12lead(loaded):
        from ecglens.evaluate.ptbxl import evaluate_ptbxl

        metrics = evaluate_ptbxl(
            loaded,
            _data_dir(data, "ptbxl"),
            task=None if task is None else task.value,
            progress=progress,
            device=dev,
        )
        _print_ptbxl_metrics(metrics)
    else:
        metrics = evaluate_mitdb(
            loaded,
            _data_dir(data, dataset.value),
            split.value,
            seed=seed,
            progress=progress,
            device=dev,
        )
        _print_metrics(metrics)
    metrics["command"] = _command_line()
    if json_file is not None:
        from ecglens._atomic import atomic_write_json

        atomic_write_json(json_file, metrics)
        console.print(f"wrote {json_file}")


def _print_ptbxl_metrics(metrics: dict) -> None:
    t = Table(title=f"{metrics.get('model', '')} on PTB-XL fold 10 ({metrics.get('task')})")
    for col in ("metric", "value", "95% CI"):
        t.add_column(col, justify="right")
    for key, value in metrics.items():
        if isinstance(value, dict) and "value" in value and "ci" in value:
            lo, hi = value["ci"]
            t.add_row(key, f"{value['value']:.4f}", f"[{lo:.4f}, {hi:.4f}]")
    stdout.print(t)
    counts = {k: v for k, v in metrics.items() if k.startswith("n_") and isinstance(v, int)}
    stdout.print(", ".join(f"{k} {v}" for k, v in counts.items()))


def _print_metrics(metrics: dict) -> None:
    title = f"{metrics.get('model', '')} on {metrics.get('split', '')}"
    if metrics.get("optimistic"):
        title += " (OPTIMISTIC: patients in both train and test)"
    t = Table(title=title)
    for col in ("class", "Se (recall)", "+P (precision)", "F1", "support"):
        t.add_column(col, justify="right")
    for c, v in metrics["per_class"].items():
        t.add_row(
            c, f"{v['recall']:.4f}", f"{v['precision']:.4f}", f"{v['f1']:.4f}", str(v["support"])
        )
    stdout.print(t)
    stdout.print(
        f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
        f"beats {metrics['n']}"
    )
    if metrics.get("warning"):
        console.print(f"[yellow]warning: {metrics['warning']}[/yellow]")


def _print_trained(name: str, split: str, config: dict) -> None:
    """The test metrics of a beat model just trained or assembled."""
    _print_metrics(
        {
            "model": name,
            "split": split,
            "optimistic": config.get("optimistic", False),
            **config["metrics"],
        }
    )


class RR(StrEnum):
    none = "none"
    ratios = "ratios"
    rhythm = "rhythm"
    all = "all"


class Representation(StrEnum):
    kachuee = "kachuee"
    window = "window"


@app.command("train")
def train_command(
    dataset: Annotated[Dataset, typer.Argument(help="Database to train on.")],
    split: Annotated[
        Split, typer.Option(help="Which split's training beats to use.")
    ] = Split.inter,
    arch: Annotated[
        str | None,
        typer.Option(help="Architecture from the registry (default: kachuee; ptbxl: cam-cnn)."),
    ] = None,
    representation: Annotated[
        Representation,
        typer.Option(
            help="Beat input: kachuee (125 Hz, 187 samples) or window (native-rate window)."
        ),
    ] = Representation.kachuee,
    window_fs: Annotated[
        float, typer.Option(help="Sampling rate (Hz) of window beats; records are resampled.")
    ] = 360.0,
    context: Annotated[
        int,
        typer.Option(
            help="Beats per example: 1 = the beat alone; 3, 5... = with its neighbours "
            "(for sequence models such as cnn-lstm)."
        ),
    ] = 1,
    rr: Annotated[
        RR,
        typer.Option(
            help="RR-interval features beside the waveform: none; ratios (pre/post RR over "
            "the local and the record mean: per-record normalised; 4 features); rhythm "
            "(pre/post RR over the record median and over the median of the neighbouring "
            "beats, post/pre RR, pre RR over the previous one; 6 features); all (the ratios "
            "and RR in seconds; 7). Needs an architecture that takes them (cnn-lstm, "
            "kachuee); n_rr_features is set to match unless --arch-kwargs gives it."
        ),
    ] = RR.none,
    arch_kwargs: Annotated[
        str, typer.Option(help="Architecture keyword arguments as JSON, e.g. '{\"hidden\": 64}'.")
    ] = "{}",
    out: Annotated[Path, typer.Option(help="Run directory for checkpoints and the model.")] = Path(
        "runs/train"
    ),
    name: Annotated[str | None, typer.Option(help="Model name for the card.")] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Maximum epochs (default 30; ptbxl 60).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Examples per batch (default 256 beats; ptbxl 64 records).")
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate (default 0.001).")] = None,
    lr_schedule: Annotated[str, typer.Option(help="plateau, cosine or none.")] = "plateau",
    patience: Annotated[
        int | None, typer.Option(help="Early-stopping patience in epochs (default 6; ptbxl 15).")
    ] = None,
    loss: Annotated[str, typer.Option(help="ce (cross-entropy) or focal.")] = "ce",
    class_weighted: Annotated[
        bool, typer.Option(help="Weight the loss by inverse class frequency.")
    ] = False,
    sampler: Annotated[
        str, typer.Option(help="none, or weighted (oversample rare classes).")
    ] = "none",
    monitor: Annotated[
        str, typer.Option(help="Validation metric for early stopping.")
    ] = "val_macro_f1",
    seed: Annotated[int, typer.Option(help="Seed for splits, initialisation and shuffling.")] = 0,
    resume: Annotated[
        bool, typer.Option(help="Continue from the last checkpoint in --out.")
    ] = False,
    normalize: Annotated[
        str,
        typer.Option(
            help="Window beats: none, or record (divide by the record's median beat range)."
        ),
    ] = "none",
    calibrate: Annotated[
        bool, typer.Option(help="Fit a softmax temperature on the validation beats.")
    ] = True,
    mc_samples: Annotated[
        int,
        typer.Option(
            help="MC-dropout passes `predict` uses for the uncertainty score (0: softmax "
            "entropy); saved with the model."
        ),
    ] = 0,
    max_class_weight: Annotated[
        float, typer.Option(help="Cap for inverse-frequency class weights (rare classes).")
    ] = 30.0,
    val_records: Annotated[
        int,
        typer.Option(
            help="inter-patient: hold out this many whole DS1 records for validation (early "
            "stopping, selection, calibration) instead of 10% of the DS1 beats; 0 = beats."
        ),
    ] = 0,
    split_seed: Annotated[
        int | None,
        typer.Option(
            help="mitdb: seed of the validation draw (default: --seed), so that runs with "
            "different seeds can share one validation set (e.g. ensemble members)."
        ),
    ] = None,
    task: Annotated[Task, typer.Option(help="ptbxl: binary or superclass.")] = Task.binary,
    baseline: Annotated[
        str,
        typer.Option(
            help="ptbxl baseline-wander removal: polynomial (10th-degree detrend, as the paper) "
            "or highpass (0.5 Hz Butterworth)."
        ),
    ] = "polynomial",
    train_fraction: Annotated[
        float, typer.Option(help="ptbxl: share of the training folds used (learning curves).")
    ] = 1.0,
    augment: Annotated[
        bool,
        typer.Option(
            help="ptbxl: training-time augmentation (noise, amplitude, shift, baseline wander)."
        ),
    ] = True,
    data: DataOpt = None,
    device: DeviceOpt = "auto",
    progress: ProgressOpt = True,
) -> None:
    """Train a model; writes checkpoints, model.safetensors/.json/.md and metrics.

    mitdb: a beat classifier on one split. ptbxl: a 12-lead record classifier on folds 1-8,
    selected on fold 9, scored on fold 10 (PTB-XL options: --task, --baseline,
    --train-fraction, --no-augment; --epochs, --lr, --batch-size, --patience, --seed,
    --arch-kwargs apply to both)."""
    try:
        kwargs = json.loads(arch_kwargs)
    except json.JSONDecodeError as exc:
        raise EcgLensError(f"--arch-kwargs is not valid JSON ({exc})") from exc
    if dataset == Dataset.ptbxl:
        from ecglens.train.ptbxl import PtbxlRunConfig, train_ptbxl

        run12 = PtbxlRunConfig.from_options(
            task=task.value,
            arch=arch or "cam-cnn",
            baseline=baseline,
            epochs=epochs,
            seed=seed,
            lr=lr,
            batch_size=batch_size,
            patience=patience,
            arch_kwargs=kwargs,
            train_fraction=train_fraction,
            augment=augment,
            device=device,
        )
        config = train_ptbxl(
            _data_dir(data, "ptbxl"), out, run12, name=name, progress=progress, resume=resume
        )
        if config.get("metrics"):
            _print_ptbxl_metrics(
                {"model": name or out.name, "task": task.value, **config["metrics"]}
            )
        console.print(f"wrote {out / 'model.safetensors'} (+ .json, .md)")
        return
    arch = arch or "kachuee"
    epochs, batch_size = epochs or 30, batch_size or 256
    lr, patience = lr or 1e-3, patience or 6
    from ecglens.data.mitdb import BeatConfig
    from ecglens.train.mitdb import RR_OPTIONS, RR_WIDTHS, MitdbRunConfig, train_mitdb
    from ecglens.train.trainer import TrainConfig

    rr_inputs = RR_OPTIONS[rr.value]
    if rr_inputs:
        kwargs.setdefault("n_rr_features", RR_WIDTHS[rr.value])
    run = MitdbRunConfig(
        split=split.value,
        architecture=arch,
        architecture_kwargs=kwargs,
        beats=BeatConfig(
            representation=representation.value,
            window_fs=window_fs,
            context=context,
            normalize=normalize,
        ),
        calibrate=calibrate,
        mc_samples=mc_samples,
        val_records=val_records,
        split_seed=split_seed,
        inputs=("x", *rr_inputs),
        train=TrainConfig(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            lr_schedule=lr_schedule,
            patience=patience,
            loss=loss,
            class_weighted=class_weighted,
            sampler=sampler,
            max_class_weight=max_class_weight,
            monitor=monitor,
            seed=seed,
            device=device,
        ),
    )
    config = train_mitdb(
        _data_dir(data, dataset.value),
        out,
        run,
        name=name,
        resume=resume,
        progress=progress,
    )
    _print_trained(name or out.name, split.value, config)
    console.print(f"wrote {out / 'model.safetensors'} (+ .json, .md)")


@app.command("benchmark")
def benchmark_command(
    dataset: Annotated[Dataset, typer.Argument(help="Database to run the ablation grid on.")],
    out: Annotated[
        Path, typer.Option(help="Folder for every cell's run, benchmark.md/.json.")
    ] = Path("runs/benchmark"),
    arch: Annotated[
        list[str] | None,
        typer.Option(help="Architectures (repeat the option); default kachuee and cnn-lstm."),
    ] = None,
    rr: Annotated[
        list[str] | None,
        typer.Option(
            help="RR options (repeat): none, ratios (4 ratios to the local and record mean "
            "RR), rhythm (6 ratios to the record median, the neighbouring beats and the "
            "previous RR); default none and ratios."
        ),
    ] = None,
    imbalance: Annotated[
        list[str] | None,
        typer.Option(
            help="Imbalance strategies: weighted-ce, oversample, focal, none (repeat); "
            "default the first three."
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Maximum epochs per cell.")] = 8,
    patience: Annotated[int, typer.Option(help="Early-stopping patience per cell.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed shared by every cell.")] = 0,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples of DS2 records.")] = 1000,
    val_records: Annotated[
        int,
        typer.Option(
            help="Validate (early stopping, selection) on this many whole DS1 records held "
            "out of training (drawn with --seed so that they hold S and V beats and "
            "training keeps most of S, V and F); 0 = 10% of the DS1 beats instead."
        ),
    ] = 5,
    normalize: Annotated[
        list[str] | None,
        typer.Option(
            help="Beat normalisations (repeat): record (divide by the record's median beat "
            "amplitude), median-beat (subtract the record's median beat first); default record."
        ),
    ] = None,
    data: DataOpt = None,
    device: DeviceOpt = "auto",
    progress: ProgressOpt = True,
) -> None:
    """Inter-patient ablation grid (architecture x RR features x imbalance strategy
    [x beat normalisation]), seeded: trains every cell on DS1, scores it on DS2 with
    record-bootstrap intervals, and writes a Markdown table and JSON. Early stopping and
    selection use DS1 validation records only. Cells already trained are reused, so a grid
    can be resumed, or split across processes by --arch into the same --out."""
    from ecglens.train.benchmark import BenchmarkConfig, run_benchmark

    defaults = BenchmarkConfig()
    cfg = BenchmarkConfig(
        architectures=tuple(arch or defaults.architectures),
        rr=tuple(rr or defaults.rr),
        imbalance=tuple(imbalance or defaults.imbalance),
        normalize=tuple(normalize or defaults.normalize),
        epochs=epochs,
        patience=patience,
        seed=seed,
        n_boot=n_boot,
        device=device,
        val_records=val_records,
    )
    cfg.cells()
    result = run_benchmark(
        _data_dir(data, dataset.value), out, cfg, progress=progress, command=_command_line()
    )
    print((out / "benchmark.md").read_text())
    console.print(f"best by validation macro-F1: {result['best']}; wrote {out / 'benchmark.md'}")


@app.command("ensemble")
def ensemble_command(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="Run folders of `ecglens train mitdb` (or benchmark cells) that differ only "
            "in --seed and share their validation records (--split-seed)."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="Output path: writes OUT.safetensors, OUT.json and OUT.md; the model's name "
            "is the file name."
        ),
    ] = Path("runs/ensemble/model"),
    data: DataOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Average MIT-BIH beat models trained with different seeds into one model: its
    probabilities are the members' mean, its uncertainty score their predictive entropy
    (high where members disagree); temperature refitted on the shared validation beats,
    card metrics from `ecglens evaluate`."""
    from ecglens.train.ensemble import build_ensemble

    config = build_ensemble(runs, out, _data_dir(data, "mitdb"), progress=progress)
    _print_trained(out.stem, config["split"], config)
    console.print(f"wrote {out.with_suffix('.safetensors')} (+ .json, .md)")


@app.command("export-kaggle")
def export_kaggle_command(
    out: Annotated[
        Path, typer.Option(help="Folder for mitbih_train.csv and mitbih_test.csv.")
    ] = Path("runs/kaggle"),
    split: Annotated[
        Split, typer.Option(help="Split whose train/test beats are written.")
    ] = Split.intra,
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
    data: DataOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Write MIT-BIH beats in the Kaggle heartbeat CSV format (187 values + label)."""
    import numpy as np

    from ecglens.data.kaggle import write_kaggle_csv
    from ecglens.data.mitdb import BeatConfig, load_mitdb_beats
    from ecglens.data.splits import make_split, split_records

    beats = load_mitdb_beats(
        _data_dir(data, "mitdb"), split_records(split.value), BeatConfig(), progress=progress
    )
    parts = make_split(beats, split.value, seed=seed)
    train = np.concatenate([parts.train, parts.val])
    for name, idx in (("mitbih_train.csv", np.sort(train)), ("mitbih_test.csv", parts.test)):
        write_kaggle_csv(out / name, beats.x[idx], beats.y[idx])
        console.print(f"wrote {out / name} ({len(idx)} beats)")


@app.command("report")
def report_command(
    records: RecordsArg,
    model: ModelOpt = "ecglens-mitdb-inter",
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("runs/report.html"),
    lead: LeadOpt = None,
    fs: FsOpt = None,
    metrics_json: Annotated[
        list[Path] | None,
        typer.Option("--metrics", help="Metrics JSON files from `ecglens evaluate` to include."),
    ] = None,
    device: DeviceOpt = "auto",
    progress: ProgressOpt = True,
) -> None:
    """Write one self-contained HTML report: model card, metrics, record strips, Grad-CAM
    (12-lead models: the records on ECG paper with their CAM and Grad-CAM)."""
    from ecglens.models.registry import load_model
    from ecglens.report.beats import build_beat_report

    metrics = [json.loads(Path(p).read_text()) for p in (metrics_json or [])]
    if _is_12lead(load_model(model)):
        from ecglens.report.ptbxl import build_ptbxl_report

        path = build_ptbxl_report(
            _expand_records(records),
            model,
            out,
            device=_device(device),
            metrics=metrics[0] if metrics else None,
            progress=progress,
            command=_command_line(),
        )
        console.print(f"wrote {path}")
        return
    path = build_beat_report(
        _expand_records(records),
        model,
        out,
        lead=lead,
        fs=fs,
        device=_device(device),
        extra_metrics=metrics,
        progress=progress,
        command=_command_line(),
    )
    console.print(f"wrote {path}")


def main() -> None:
    """Console entry point: one-line errors, non-zero exit."""
    try:
        app()
    except EcgLensError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # last resort: never a traceback for the user
        if os.environ.get("ECGLENS_DEBUG"):
            raise
        console.print(
            f"[red]error:[/red] {type(exc).__name__}: {exc} "
            "(set ECGLENS_DEBUG=1 for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
