"""Options, choices and helpers shared by the command groups (nothing here imports torch)."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ecglens.errors import EcgLensError

DEFAULT_DATA = "../shared/data"


class Split(StrEnum):
    inter = "inter-patient"
    intra = "intra-patient"


class Dataset(StrEnum):
    mitdb = "mitdb"
    ptbxl = "ptbxl"
    kaggle = "kaggle"
    images = "images"
    records = "records"  # any folder of annotated WFDB records (--data or a folder argument)
    rhythm = "rhythm"  # MIT-BIH's rhythm annotations: episodes, AF burden, heart rate


class PtbxlTask(StrEnum):
    binary = "binary"
    superclass = "superclass"
    mi = "mi"


DATA_FOLDERS = {"mitdb": "mitdb", "ptbxl": "ptb-xl", "images": "ecg-images"}


ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Shipped model name (see `ecglens models`) or a path to "
        "a .safetensors file / training run directory.",
    ),
]
InputModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Shipped model name (see `ecglens models`) or a path to a .safetensors file / "
        "training run directory. Default: the input decides: a one- or two-lead record -> "
        "ecglens-mitdb-inter; a 12-lead record (up to 60 s) -> ecglens-ptbxl-binary, with "
        "ecglens-mitdb-inter on lead II beside it; an image -> ecglens-images-fused; a CSV of "
        "beats -> kachuee-mitdb-inter. A model that does not read the input is refused.",
    ),
]
UnitsOpt = Annotated[
    str | None,
    typer.Option(
        "--units",
        help="Unit of CSV/NPY samples: mV, uV or V (default: judged from their amplitude; "
        "values that fit an ECG only in uV or V are converted with a warning). WFDB and EDF "
        "files carry their units in the header.",
    ),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        help="Torch threads (default: $OMP_NUM_THREADS, else 1: on a shared machine more "
        "threads spin-wait and run slower)."
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
        "--fs",
        help="Sampling rate in Hz: required for CSV/NPY sample files without a time column "
        "(a time column in seconds, ms or date-times gives it; both must agree within 1%); "
        "checked against WFDB/EDF headers.",
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
        help="WFDB records (path without extension, or .hea), EDF/BDF files, CSV/NPY sample "
        "files, Kaggle-style CSVs of beats, printout images (.png, .jpg, ...), or folders of any "
        "of these."
    ),
]
ProgressOpt = Annotated[bool, typer.Option(help="Show progress bars on stderr.")]
StrictOpt = Annotated[
    bool,
    typer.Option(
        help="Refuse records with recoverable header oddities (checksum mismatches, a length "
        "or first value that differs from the header) instead of reading them with a warning."
    ),
]
KaggleTrainOpt = Annotated[
    Path | None,
    typer.Option("--train", help="kaggle: mitbih_train.csv (187 values + label 0-4 a row)."),
]
KaggleTestOpt = Annotated[Path | None, typer.Option("--test", help="kaggle: mitbih_test.csv.")]
KaggleNormalOpt = Annotated[
    Path | None, typer.Option("--normal", help="kaggle: ptbdb_normal.csv (label 0).")
]
KaggleAbnormalOpt = Annotated[
    Path | None, typer.Option("--abnormal", help="kaggle: ptbdb_abnormal.csv (label 1, MI).")
]


def data_dir(data: Path | None, dataset: str) -> Path:
    if data is not None:
        return data
    root = Path(os.environ.get("ECGLENS_DATA", DEFAULT_DATA))
    return root / DATA_FOLDERS.get(dataset, dataset)


THREADS_ENV = "OMP_NUM_THREADS"
DEFAULT_THREADS = 1  # torch threads when neither --threads nor OMP_NUM_THREADS is given


def device_of(device: str, threads: int | None = None):
    """The torch device for ``device``; also sets torch's thread count: ``threads``, else
    $OMP_NUM_THREADS, else 1 (more threads spin-wait on a busy machine and run slower)."""
    import torch

    from ecglens.predict.forward import resolve_device

    if threads is None:
        threads = int(os.environ.get(THREADS_ENV, DEFAULT_THREADS) or DEFAULT_THREADS)
    if threads < 1:
        raise EcgLensError(f"--threads must be at least 1, not {threads}")
    torch.set_num_threads(threads)
    return resolve_device(device)


def check_records_exist(paths: list[Path]) -> None:
    """Fail fast, before torch is imported, when the only record asked for is not there."""
    if len(paths) != 1:
        return  # a run over several records reports each missing one and goes on
    p = paths[0]
    candidates = [p, p.with_suffix(".hea"), Path(f"{p}.hea"), Path(f"{p}.edf"), Path(f"{p}.bdf")]
    if not any(c.exists() for c in candidates):
        where = p if p.suffix else Path(f"{p}.hea")  # a WFDB record named without extension
        raise EcgLensError("record not found (also tried .edf and .bdf)", where)


def expand_records(paths: list[Path]) -> list[Path]:
    """Input paths from arguments: WFDB records (with or without extension), EDF/BDF,
    CSV/NPY and image files, or folders of any of these (every one inside)."""
    from ecglens.io.formats import expand_inputs

    return expand_inputs(paths)


def command_line() -> str:
    return "ecglens " + " ".join(shlex.quote(a) for a in sys.argv[1:])



class RR(StrEnum):
    none = "none"
    ratios = "ratios"
    rhythm = "rhythm"
    all = "all"
    context = "context"


class Representation(StrEnum):
    kachuee = "kachuee"
    window = "window"


def check_output_file(path: Path | None, option: str) -> None:
    """Refuse, before any work, an output path that is a folder or whose folder is a file."""
    if path is None:
        return
    if path.is_dir():
        raise EcgLensError(f"{option} names a folder; give a file name", path)
    if path.parent.exists() and not path.parent.is_dir():
        raise EcgLensError(f"{option}: {path.parent} is a file, not a folder", path)


def run_each(
    paths: list[Path], work: Callable[[Path], dict], description: str, progress: bool
) -> list[dict]:
    """``work(path)`` for every path; a record that fails with an :class:`EcgLensError` gets its
    one-line error on stderr and ``{"record", "path", "error"}`` in the results, and the run
    goes on with the others."""
    from ecglens.progress import console, track

    results = []
    for path in track(paths, description, enabled=progress and len(paths) > 1):
        try:
            results.append(work(path))
        except EcgLensError as exc:
            console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            results.append({"record": path.name, "path": str(path), "error": str(exc)})
    return results


def exit_if_any_failed(results: list[dict]) -> None:
    """After a run over several records: a summary line when any failed, and exit status 1."""
    failed = sum("error" in r for r in results)
    if len(results) > 1:  # one record: its one-line error says it all
        from ecglens.progress import console

        console.print(f"{len(results)} records, {failed} failed")
    if failed:
        raise typer.Exit(1)


def check_range(value: float | None, option: str, low: float | None, high: float | None) -> None:
    """Refuse, before any work, a value of ``option`` outside [low, high] (None: open)."""
    if value is None:
        return
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{low:g}, {high:g}]" if high is not None else f">= {low:g}"
        raise EcgLensError(f"{option} must be {bounds}, not {value:g}")
