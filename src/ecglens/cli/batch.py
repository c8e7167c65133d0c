"""``ecglens batch``: every record under a folder (or a glob) to rows in Parquet, on Dask."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecglens.cli.app import app
from ecglens.cli.options import (
    DeviceOpt,
    FsOpt,
    InputModelOpt,
    LeadOpt,
    ProgressOpt,
    StrictOpt,
    ThreadsOpt,
    UnitsOpt,
    check_range,
)
from ecglens.progress import console


@app.command("batch")
def batch_command(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Folders (searched recursively for WFDB .hea and EDF/BDF files; CSV/NPY with "
            "--fs) or globs such as 'archive/**/*.hea'."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="Output folder of Parquet parts (FILE.parquet/part-*.parquet, read as one "
            "dataset by pandas/pyarrow) plus _errors.jsonl; an existing one is resumed."
        ),
    ],
    model: InputModelOpt = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of a running Dask scheduler (tcp://host:8786); default: a "
                     "local cluster."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Local cluster: worker processes (default: one per core)."),
    ] = None,
    lead: LeadOpt = None,
    fs: FsOpt = None,
    units: UnitsOpt = None,
    review_threshold: Annotated[
        float | None, typer.Option(help="Beat models: flag beats above this uncertainty (0-1).")
    ] = None,
    mc_samples: Annotated[
        int | None, typer.Option(help="Beat models: MC-dropout passes (default: the model's).")
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option(help="On resume, try again the records listed in _errors.jsonl.")
    ] = False,
    strict: StrictOpt = False,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Classify every record of an archive on Dask distributed: per-beat rows (record, sample,
    time_s, label, class probabilities, uncertainty, review, artifact) for beat models, one row
    per record for record models. The model is loaded once per worker; finished records are
    committed in parts (atomically), so a killed run resumes where it stopped; a bad record is
    logged in _errors.jsonl and skipped."""
    check_range(review_threshold, "--review-threshold", 0.0, 1.0)
    check_range(mc_samples, "--mc-samples", 0, None)
    check_range(workers, "--workers", 1, None)
    from ecglens.batch import BatchConfig, require_batch_extra, run_batch

    require_batch_extra()
    config = BatchConfig(
        model=model,
        device=device,
        lead=lead,
        fs=fs,
        review_threshold=review_threshold,
        mc_samples=mc_samples,
        strict=strict,
        workers=workers,
        torch_threads=threads or 1,
        scheduler=scheduler,
        retry_failed=retry_failed,
        units=units,
    )
    try:
        summary = run_batch(inputs, out, config, progress=progress)
    except KeyboardInterrupt:
        console.print(f"interrupted: finished records are committed in {out}; run again to resume")
        raise typer.Exit(130) from None
    d = summary.to_dict()
    console.print(
        f"{summary.counts_line()}; {d['beats']} beats, {d['records_per_s']:.2f} records/s; "
        f"wrote {out}"
    )
    if summary.exit_status:
        _say_once_what_to_pass(out)
        raise typer.Exit(summary.exit_status)


def _say_once_what_to_pass(out: Path) -> None:
    """One line for the sample files that failed for want of their sampling rate."""
    from ecglens.batch.run import read_errors

    needs_fs = sum("needs its sampling rate" in e.get("error", "") for e in read_errors(out))
    if needs_fs:
        console.print(
            f"{needs_fs} CSV/NPY file{'s' if needs_fs > 1 else ''} without a time column: pass "
            "--fs HZ (their sampling rate) and run again",
            soft_wrap=True,
        )
