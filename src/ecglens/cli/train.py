"""``ecglens train``, ``benchmark``, ``ensemble`` and ``export-kaggle``: training and what
produces or assembles training data and runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ecglens.cli.app import app
from ecglens.cli.options import (
    DEFAULT_DATA,
    RR,
    DataOpt,
    Dataset,
    DeviceOpt,
    KaggleAbnormalOpt,
    KaggleNormalOpt,
    KaggleTestOpt,
    KaggleTrainOpt,
    ProgressOpt,
    PtbxlTask,
    Representation,
    Split,
    check_output_file,
    command_line,
    data_dir,
)
from ecglens.cli.tables import print_ptbxl_metrics, print_trained, stdout
from ecglens.errors import EcgLensError
from ecglens.progress import console


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
            help="Beat input (mitdb, ptbxl --task mi): kachuee (125 Hz, 187 samples from the R "
            "peak, zero-padded after 1.2 x the median RR) or window (0.25 s before to 0.45 s "
            "after the R peak at --window-fs, no padding)."
        ),
    ] = Representation.kachuee,
    window_fs: Annotated[
        float,
        typer.Option(
            help="Sampling rate (Hz) of window beats; records are resampled. 267.142857 "
            "(187 / 0.7) gives 187 samples (67 before the R peak), the input length of the "
            "MIT-BIH models that ptbxl --task mi --init transfers from."
        ),
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
            "and RR in seconds; 7); context (rhythm + per-record rhythm context, P-wave "
            "evidence and morphology clusters; 32). Needs an architecture that takes them "
            "(cnn-lstm, kachuee); n_rr_features is set to match unless --arch-kwargs gives it."
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
        bool | None,
        typer.Option(
            help="Weight the loss by inverse class frequency (default: off; kaggle MIT-BIH and "
            "ptbxl --task mi: on)."
        ),
    ] = None,
    sampler: Annotated[
        str, typer.Option(help="none, or weighted (oversample rare classes).")
    ] = "none",
    monitor: Annotated[
        str | None,
        typer.Option(
            help="Validation metric for early stopping (default val_macro_f1; two-class runs "
            "val_auc)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for splits, initialisation and shuffling.")] = 0,
    resume: Annotated[
        bool, typer.Option(help="Continue from the last checkpoint in --out.")
    ] = False,
    normalize: Annotated[
        str,
        typer.Option(
            help="Window beats (mitdb, ptbxl --task mi): none, or record (divide by the "
            "record's median beat range)."
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
    cv_folds: Annotated[
        int,
        typer.Option(
            help="mitdb inter-patient: > 0 scores the run by leave-records-out "
            "cross-validation over DS1 with this many folds, then trains on all of DS1; "
            "exactly --epochs epochs, last epoch kept, temperature from out-of-fold logits."
        ),
    ] = 0,
    task: Annotated[
        PtbxlTask,
        typer.Option(
            help="ptbxl: binary (normal/abnormal, 12 leads), superclass (12 leads) or mi "
            "(myocardial infarction vs normal from the beats of one lead; with --arch cam-cnn "
            "or augustauskas2025 from the 12-lead record)."
        ),
    ] = PtbxlTask.binary,
    lead: Annotated[
        str, typer.Option(help="ptbxl --task mi: the lead whose beats are classified.")
    ] = "II",
    init: Annotated[
        str | None,
        typer.Option(
            help="ptbxl --task mi: start the encoder from this shipped MIT-BIH Kachuee model "
            "(e.g. kachuee-mitdb-intra) or .safetensors path, with a new head (transfer "
            "learning); the beats must have its input length (187: kachuee, or window at "
            "--window-fs 267.142857); default: from scratch."
        ),
    ] = None,
    freeze: Annotated[
        bool,
        typer.Option(help="With --init: keep the encoder as it is and train the head only."),
    ] = False,
    encoder_lr_scale: Annotated[
        float,
        typer.Option(
            help="With --init: fine-tune the encoder at this share of --lr (0-1; 1 = same)."
        ),
    ] = 1.0,
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
    train_csv: KaggleTrainOpt = None,
    test_csv: KaggleTestOpt = None,
    normal_csv: KaggleNormalOpt = None,
    abnormal_csv: KaggleAbnormalOpt = None,
    val_fraction: Annotated[
        float | None,
        typer.Option(help="kaggle: share of the training rows held out for validation (0.1)."),
    ] = None,
    test_fraction: Annotated[
        float | None,
        typer.Option(help="kaggle ptbdb: share of the rows held out for test (0.2)."),
    ] = None,
    data: DataOpt = None,
    device: DeviceOpt = "auto",
    progress: ProgressOpt = True,
) -> None:
    """Train a model; writes checkpoints, model.safetensors/.json/.md and metrics.

    mitdb: a beat classifier on one split. ptbxl: a 12-lead record classifier on folds 1-8,
    selected on fold 9, scored on fold 10 (PTB-XL options: --task, --baseline,
    --train-fraction, --no-augment; --epochs, --lr, --batch-size, --patience, --seed,
    --arch-kwargs apply to both). ptbxl --task mi: MI beats of one lead (--lead; cut as
    --representation, --window-fs, --normalize say), optionally transferred from a MIT-BIH
    model (--init, --freeze, --encoder-lr-scale). kaggle: the Kaggle
    heartbeat CSVs (--train/--test for MIT-BIH, --normal/--abnormal for PTB), random beat
    splits that put beats of one patient on both sides (OPTIMISTIC)."""
    kwargs = _json_option(arch_kwargs, "--arch-kwargs")
    if dataset == Dataset.kaggle:
        _train_kaggle(train_csv, test_csv, normal_csv, abnormal_csv, arch, kwargs,
                      val_fraction, test_fraction, init, freeze, encoder_lr_scale, epochs,
                      batch_size, lr, lr_schedule, patience, class_weighted, monitor, seed,
                      device, out, name, progress)
        return
    if dataset == Dataset.ptbxl and task == PtbxlTask.mi and arch not in TWELVE_LEAD_ARCHS:
        _train_mi(lead, init, freeze, encoder_lr_scale, train_fraction, arch, kwargs, epochs,
                  batch_size, lr, patience, seed, device, data, out, name, progress, resume,
                  representation.value, window_fs, normalize)
        return
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
            data_dir(data, "ptbxl"), out, run12, name=name, progress=progress, resume=resume
        )
        if config.get("metrics"):
            print_ptbxl_metrics(
                {"model": name or out.name, "task": task.value, **config["metrics"]}
            )
        console.print(f"wrote {out / 'model.safetensors'} (+ .json, .md)")
        return
    from ecglens.train.mitdb import MitdbRunConfig, train_mitdb

    run = MitdbRunConfig.from_options(
        split=split.value,
        arch=arch,
        representation=representation.value,
        window_fs=window_fs,
        context=context,
        normalize=normalize,
        rr=rr.value,
        arch_kwargs=kwargs,
        calibrate=calibrate,
        mc_samples=mc_samples,
        val_records=val_records,
        split_seed=split_seed,
        cv_folds=cv_folds,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        lr_schedule=lr_schedule,
        patience=patience,
        loss=loss,
        class_weighted=bool(class_weighted),
        sampler=sampler,
        max_class_weight=max_class_weight,
        monitor=monitor or "val_macro_f1",
        seed=seed,
        device=device,
    )
    if cv_folds:
        from ecglens.train.mitdb import train_mitdb_cv

        config = train_mitdb_cv(data_dir(data, dataset.value), out, run, name, progress=progress)
    else:
        config = train_mitdb(
            data_dir(data, dataset.value),
            out,
            run,
            name=name,
            resume=resume,
            progress=progress,
        )
    print_trained(name or out.name, split.value, config)
    console.print(f"wrote {out / 'model.safetensors'} (+ .json, .md)")


TWELVE_LEAD_ARCHS = ("cam-cnn", "augustauskas2025")  # --task mi with these: the 12-lead task


def _train_kaggle(train_csv, test_csv, normal_csv, abnormal_csv, arch, kwargs, val_fraction,
                  test_fraction, init, freeze, encoder_lr_scale, epochs, batch_size, lr,
                  lr_schedule, patience, class_weighted, monitor, seed, device, out, name,
                  progress) -> None:
    from ecglens.train.kaggle import KaggleRunConfig, train_kaggle_mitbih, train_kaggle_ptb

    mitbih = train_csv is not None or test_csv is not None
    ptb = normal_csv is not None or abnormal_csv is not None
    if mitbih == ptb or (mitbih and None in (train_csv, test_csv)) or (
        ptb and None in (normal_csv, abnormal_csv)
    ):
        raise EcgLensError(
            "kaggle: give --train and --test (mitbih_*.csv) or --normal and --abnormal "
            "(ptbdb_*.csv)"
        )
    run = KaggleRunConfig.from_options(
        dataset="mitbih" if mitbih else "ptbdb",
        arch=arch,
        arch_kwargs=kwargs,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        init=init,
        freeze=freeze,
        encoder_lr_scale=None if encoder_lr_scale == 1.0 else encoder_lr_scale,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        lr_schedule=lr_schedule,
        patience=patience,
        class_weighted=class_weighted,
        monitor=monitor,
        seed=seed,
        device=device,
    )
    if mitbih:
        config = train_kaggle_mitbih(train_csv, test_csv, out, run, name=name, progress=progress)
        print_trained(name or out.name, "kaggle", config)
    else:
        config = train_kaggle_ptb(normal_csv, abnormal_csv, out, run, name=name,
                                  progress=progress)
        m = config["metrics"]
        stdout.print(", ".join(f"{k} {m[k]:.4f}" for k in
                               ("accuracy", "sensitivity", "specificity", "f1", "roc_auc")
                               if isinstance(m.get(k), float)))
    console.print(f"[yellow]warning: {config['warning']}[/yellow]")
    console.print(f"wrote {out / 'model.safetensors'} (+ .json, .md)")


def _train_mi(lead, init, freeze, encoder_lr_scale, train_fraction, arch, kwargs, epochs,
              batch_size, lr, patience, seed, device, data, out, name, progress, resume,
              representation, window_fs, normalize) -> None:
    from ecglens.train.mi import MiRunConfig, train_mi

    run = MiRunConfig.from_options(
        lead=lead,
        init=init,
        freeze=freeze,
        encoder_lr_scale=encoder_lr_scale,
        train_fraction=train_fraction,
        arch=arch,
        arch_kwargs=kwargs,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        patience=patience,
        seed=seed,
        device=device,
        representation=representation,
        window_fs=window_fs,
        normalize=normalize,
    )
    from ecglens.explain import grad_cam

    config = train_mi(data_dir(data, "ptbxl"), out, run, name=name, progress=progress,
                      resume=resume, explain_fn=grad_cam)
    print_ptbxl_metrics({"model": name or out.name, "task": "mi", **config["metrics"]})
    console.print(f"wrote {out / 'model.safetensors'} (+ .json, .md)")


# -- ecglens benchmark mitdb | mi | images | explanations -------------------------------------

benchmark_app = typer.Typer(
    help="Studies that train, score or explain many models with shared seeds and write a "
    "table (OUT/benchmark.md) and its rows (OUT/benchmark.json): mitdb, mi, images, "
    "explanations.",
    no_args_is_help=True,
)
app.add_typer(benchmark_app, name="benchmark")

JsonOpt = Annotated[
    Path | None,
    typer.Option(
        "--json",
        help="Also write the study's rows (what OUT/benchmark.json holds) to this file.",
    ),
]
SeedOpt = Annotated[int, typer.Option(help="Seed shared by every cell.")]
NBootOpt = Annotated[
    int, typer.Option(help="Bootstrap resamples behind every 95% interval.")
]


def _json_option(text: str, option: str) -> dict:
    """A JSON object given on the command line; a clear error naming ``option`` otherwise."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EcgLensError(f"{option} is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise EcgLensError(f"{option} must be a JSON object, e.g. '{{\"hidden\": 64}}'")
    return value


def _given(**options) -> dict:
    """The options the user set, lists as tuples; the study's config keeps its own default
    for every other (an empty list or 0 counts as not set)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if v}


def _print_table(out: Path, json_file: Path | None) -> None:
    """Print the study's table and copy its rows to ``--json`` (atomically)."""
    print((out / "benchmark.md").read_text())
    if json_file is not None:
        from ecglens._atomic import atomic_write_text

        atomic_write_text(json_file, (out / "benchmark.json").read_text())
        console.print(f"wrote {json_file}")


@benchmark_app.command("mitdb")
def benchmark_mitdb_command(
    out: Annotated[
        Path, typer.Option(help="Folder for every cell's run, benchmark.md and benchmark.json.")
    ] = Path("runs/benchmark"),
    json_file: JsonOpt = None,
    arch: Annotated[
        list[str] | None,
        typer.Option(help="Architectures (repeat the option); default kachuee and cnn-lstm."),
    ] = None,
    rr: Annotated[
        list[str] | None,
        typer.Option(
            help="RR options (repeat): none, ratios (4 ratios to the local and record mean "
            "RR), rhythm (6 ratios to the record median, the neighbouring beats and the "
            "previous RR), context (rhythm + per-record rhythm, P-wave and morphology-cluster "
            "features; 32); default none and ratios."
        ),
    ] = None,
    imbalance: Annotated[
        list[str] | None,
        typer.Option(
            help="Imbalance strategies: weighted-ce, oversample, focal, none (repeat); "
            "default the first three."
        ),
    ] = None,
    normalize: Annotated[
        list[str] | None,
        typer.Option(
            help="Beat normalisations (repeat): record (divide by the record's median beat "
            "amplitude), median-beat (subtract the record's median beat first); default record."
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Maximum epochs per cell.")] = 8,
    patience: Annotated[int, typer.Option(help="Early-stopping patience per cell.")] = 3,
    seed: SeedOpt = 0,
    n_boot: NBootOpt = 1000,
    val_records: Annotated[
        int,
        typer.Option(
            help="Validate (early stopping, selection) on this many whole DS1 records held "
            "out of training (drawn with --seed so that they hold S and V beats and "
            "training keeps most of S, V and F); 0 = 10% of the DS1 beats instead."
        ),
    ] = 5,
    cv_folds: Annotated[
        int,
        typer.Option(
            help="> 0 selects by leave-records-out cross-validation over DS1 with this many "
            "folds (the S-richest DS1 records in different folds) instead of --val-records; "
            "every cell trains exactly --epochs epochs."
        ),
    ] = 0,
    rhythm_rule: Annotated[
        bool,
        typer.Option(
            "--rhythm-rule",
            help="With --cv-folds and --rr context: also score the rhythm rule (a beat called "
            "N becomes S when premature against the sinus cycle in a regular segment; "
            "ecglens.predict.rhythm) on each cell's out-of-fold logits, and add a row per cell "
            "with the setting the cross-validation selects.",
        ),
    ] = False,
    arch_kwargs: Annotated[
        str,
        typer.Option(
            help="Architecture keyword arguments as JSON for every cell, e.g. "
            "'{\"rr_gate\": true}' for beat-cam (use a separate --out per setting)."
        ),
    ] = "{}",
    augment: Annotated[
        str,
        typer.Option(
            help="Training-time beat changes: none, or recorder (random low-pass, gain, "
            "noise and baseline tilt, as other recorders make; ecglens.train.beat_augment). "
            "Use a separate --out."
        ),
    ] = "none",
    data: DataOpt = None,
    device: DeviceOpt = "auto",
    progress: ProgressOpt = True,
) -> None:
    """Inter-patient ablation grid on MIT-BIH (architecture x RR features x imbalance
    strategy x beat normalisation), seeded: trains every cell on DS1, scores it on DS2 with
    record-bootstrap intervals, and writes a Markdown table and JSON. Early stopping and
    selection use DS1 validation records only. Cells already trained are reused, so a grid
    can be resumed, or split across processes by --arch into the same --out."""
    check_output_file(json_file, "--json")
    from ecglens.studies.mitdb import BenchmarkConfig, run_benchmark

    cfg = BenchmarkConfig(
        **_given(architectures=arch, rr=rr, imbalance=imbalance, normalize=normalize),
        epochs=epochs,
        patience=patience,
        seed=seed,
        n_boot=n_boot,
        device=device,
        val_records=val_records,
        cv_folds=cv_folds,
        rhythm_rule=rhythm_rule,
        arch_kwargs=_json_option(arch_kwargs, "--arch-kwargs"),
        augment=augment,
    )
    cfg.cells()
    result = run_benchmark(
        data_dir(data, "mitdb"), out, cfg, progress=progress, command=command_line()
    )
    _print_table(out, json_file)
    how = f"{cv_folds}-fold cross-validated" if cv_folds else "validation"
    console.print(f"selected by {how} macro-F1: {result['best']}; wrote {out / 'benchmark.md'}")


@benchmark_app.command("mi")
def benchmark_mi_command(
    out: Annotated[
        Path,
        typer.Option(
            help="Folder for every cell's run, benchmark.md, benchmark.json and "
            "learning_curve.png."
        ),
    ] = Path("runs/benchmark-mi"),
    json_file: JsonOpt = None,
    fraction: Annotated[
        list[float] | None,
        typer.Option(
            help="Shares of the PTB-XL training records (repeat); default 0.05 0.1 0.25 0.5 1."
        ),
    ] = None,
    mode: Annotated[
        list[str] | None,
        typer.Option(
            help="scratch, transfer-frozen, transfer-finetune (repeat); default all three."
        ),
    ] = None,
    init: Annotated[
        str, typer.Option(help="The MIT-BIH model whose encoder the transfer modes keep.")
    ] = "kachuee-mitdb-intra",
    epochs: Annotated[int, typer.Option(help="Maximum epochs per cell.")] = 30,
    patience: Annotated[int, typer.Option(help="Early-stopping patience per cell.")] = 6,
    data: DataOpt = None,
    device: DeviceOpt = "auto",
    progress: ProgressOpt = True,
) -> None:
    """MI learning curve on PTB-XL: trains MI beat models on 5-100% of the training
    records, three seeds each, from scratch and by transfer from a MIT-BIH model; writes the
    table, JSON and learning_curve.png."""
    check_output_file(json_file, "--json")
    from ecglens.studies.mi import MiBenchmarkConfig, run_mi_benchmark

    cfg = MiBenchmarkConfig(
        **_given(fractions=fraction, modes=mode),
        init=init,
        epochs=epochs,
        patience=patience,
        device=device,
    )
    run_mi_benchmark(
        data_dir(data, "ptbxl"), out, cfg, progress=progress, command=command_line()
    )
    _print_table(out, json_file)
    console.print(f"wrote {out / 'benchmark.md'} and {out / 'learning_curve.png'}")


@benchmark_app.command("images")
def benchmark_images_command(
    out: Annotated[
        Path,
        typer.Option(
            help="Folder for every cell's run, the rendered PTB-XL printouts (rendered/, "
            "reused), benchmark.md and benchmark.json."
        ),
    ] = Path("runs/benchmark-images"),
    json_file: JsonOpt = None,
    epochs: Annotated[int, typer.Option(help="Epochs per cell.")] = 20,
    seed: SeedOpt = 0,
    n_boot: NBootOpt = 1000,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Folder of the printout images (normal/, mi/, post_mi/, abnormal/; default: "
            f"$ECGLENS_DATA/ecg-images, else {DEFAULT_DATA}/ecg-images); with ptb-xl/ beside "
            "it the study adds printouts rendered from PTB-XL."
        ),
    ] = None,
    device: Annotated[
        str, typer.Option(help="Torch device: cpu (also for auto), cuda, cuda:1...")
    ] = "auto",
    progress: ProgressOpt = True,
) -> None:
    """Printout-image models: the image models and both fusions by grouped 5-fold
    cross-validation on the Mendeley ECG images (each distinct image once), the leaky random
    split, robustness to phone-photo transforms; with ptb-xl beside the images also printouts
    rendered from PTB-XL: fold 10, cross-domain, pretraining, image vs signal."""
    check_output_file(json_file, "--json")
    from ecglens.studies.images import ImagesBenchmarkConfig, run_images_benchmark

    cfg = ImagesBenchmarkConfig(
        epochs=epochs,
        seed=seed,
        n_boot=n_boot,
        device="cpu" if device == "auto" else device,
    )
    run_images_benchmark(
        data_dir(data, "images"), out, cfg, progress=progress, command=command_line()
    )
    _print_table(out, json_file)
    console.print(f"wrote {out / 'benchmark.md'}")


@benchmark_app.command("explanations")
def benchmark_explanations_command(
    out: Annotated[
        Path,
        typer.Option(help="Folder for benchmark.md, benchmark.json and explainers.json."),
    ] = Path("runs/benchmark-explanations"),
    json_file: JsonOpt = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="Shipped models to benchmark (repeat); default every shipped beat and "
            "12-lead model.",
        ),
    ] = None,
    method: Annotated[
        list[str] | None,
        typer.Option(help="Explainers (repeat); default every explainer of each model's task."),
    ] = None,
    beats: Annotated[
        int,
        typer.Option(
            help="Examples per model (DS2 beats, PTB-XL fold-10 beats or records), drawn "
            "with --seed."
        ),
    ] = 64,
    seed: Annotated[int, typer.Option(help="Seed of the drawn examples.")] = 0,
    n_boot: NBootOpt = 1000,
    update_models: Annotated[
        bool,
        typer.Option(
            help="Write the recommendations into the shipped explainers.json and the model "
            "cards."
        ),
    ] = False,
    segment_ms: Annotated[
        float,
        typer.Option(
            help="Beats and records: deletion and insertion remove segments of this many ms, "
            "ranked by each map's mean over the segment (random and edge maps alike); 0: "
            "single samples (the rule's measure)."
        ),
    ] = 0.0,
    seed_model: Annotated[
        list[str] | None,
        typer.Option(
            "--seed-model",
            help="Another training of the benchmarked model's recipe with another seed (a run "
            "folder or weight file; repeat): adds each explainer's agreement across trainings "
            "(median per-beat Spearman, seed_spearman). Use with one --model.",
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Folder holding mitdb/ and ptb-xl/ (default: $ECGLENS_DATA, else "
            f"{DEFAULT_DATA})."
        ),
    ] = None,
) -> None:
    """Every explainer on every shipped beat and 12-lead model: cascading randomisation
    (sanity), deletion/insertion vs a random and an edge map (faithfulness), plausibility,
    stability and speed; writes the table, JSON and each model's recommended explainer."""
    check_output_file(json_file, "--json")
    from ecglens.studies.explanations import (
        ExplanationsBenchmarkConfig,
        run_explanations_benchmark,
    )

    cfg = ExplanationsBenchmarkConfig(
        models=tuple(model or ()),
        methods=tuple(method or ()),
        beats=beats,
        seed=seed,
        n_boot=n_boot,
        seed_models=tuple(seed_model or ()),
        segment_ms=segment_ms,
    )
    root = data if data is not None else data_dir(None, "mitdb").parent  # mitdb/, ptb-xl/
    run_explanations_benchmark(
        root, out, cfg, update_models=update_models, command=command_line()
    )
    _print_table(out, json_file)
    console.print(f"wrote {out / 'benchmark.md'}, {out / 'benchmark.json'}")


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

    config = build_ensemble(runs, out, data_dir(data, "mitdb"), progress=progress)
    print_trained(out.stem, config["split"], config)
    console.print(f"wrote {out.with_suffix('.safetensors')} (+ .json, .md)")


@app.command("seeds")
def seeds_command(
    run: Annotated[
        Path,
        typer.Argument(
            help="Folder of a cross-validated MIT-BIH run (`ecglens benchmark mitdb "
            "--cv-folds N` cell, or `ecglens train mitdb --cv-folds N`)."
        ),
    ],
    seed: Annotated[
        list[int],
        typer.Option("--seed", help="Training seed of one more copy (repeat)."),
    ],
    out: Annotated[
        Path, typer.Option(help="Folder for the copies: OUT/seed-N/model.* each.")
    ] = Path("runs/seeds"),
    data: DataOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Train a cross-validated run's final model again on all of DS1 with other seeds (same
    recipe and epochs): copies for `ecglens benchmark explanations --seed-model` (how much
    the explanations depend on the seed)."""
    from ecglens.train.mitdb import train_seed_copies

    folders = train_seed_copies(run, seed, out, data_dir(data, "mitdb"), progress=progress)
    for folder in folders:
        console.print(f"wrote {folder / 'model.safetensors'} (+ .json, .md)")


@app.command("export-kaggle")
def export_kaggle_command(
    out: Annotated[
        Path,
        typer.Option(
            help="Folder for mitbih_train.csv and mitbih_test.csv (ptbxl: ptbdb_normal.csv and "
            "ptbdb_abnormal.csv)."
        ),
    ] = Path("runs/kaggle"),
    dataset: Annotated[
        Dataset,
        typer.Option(
            help="mitdb: MIT-BIH beats of one split; ptbxl: lead II beats of PTB-XL records "
            "that are NORM only (normal) or hold an MI statement (abnormal), all folds."
        ),
    ] = Dataset.mitdb,
    lead: Annotated[str, typer.Option(help="ptbxl: the lead whose beats are written.")] = "II",
    split: Annotated[
        Split, typer.Option(help="Split whose train/test beats are written.")
    ] = Split.intra,
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
    data: DataOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Write beats in the Kaggle heartbeat CSV format (187 values + label, no header)."""
    import numpy as np

    if dataset == Dataset.ptbxl:
        from ecglens.data.kaggle_ptb import export_ptbxl_mi_csvs

        counts = export_ptbxl_mi_csvs(data_dir(data, "ptbxl"), out, lead=lead, progress=progress)
        console.print(f"wrote {out} ({counts})")
        return
    if dataset != Dataset.mitdb:
        raise EcgLensError(f"--dataset must be mitdb or ptbxl, not {dataset.value}")

    from ecglens.data.kaggle import write_kaggle_csv
    from ecglens.data.mitdb import load_mitdb_beats
    from ecglens.data.splits import make_split, split_records
    from ecglens.inputs.beats import BeatConfig

    beats = load_mitdb_beats(
        data_dir(data, "mitdb"), split_records(split.value), BeatConfig(), progress=progress
    )
    parts = make_split(beats, split.value, seed=seed)
    train = np.concatenate([parts.train, parts.val])
    for name, idx in (("mitbih_train.csv", np.sort(train)), ("mitbih_test.csv", parts.test)):
        write_kaggle_csv(out / name, beats.x[idx], beats.y[idx])
        console.print(f"wrote {out / name} ({len(idx)} beats)")
