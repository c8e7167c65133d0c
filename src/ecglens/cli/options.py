"""Options, choices and helpers shared by the command groups (nothing here imports torch)."""

from __future__ import annotations

import os
import shlex
import sys
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


class PtbxlTask(StrEnum):
    binary = "binary"
    superclass = "superclass"
    mi = "mi"


class Benchmark(StrEnum):
    mitdb = "mitdb"
    mi = "mi"


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


def device_of(device: str):
    from ecglens.predict.forward import resolve_device

    return resolve_device(device)


def expand_records(paths: list[Path]) -> list[Path]:
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


def command_line() -> str:
    return "ecglens " + " ".join(shlex.quote(a) for a in sys.argv[1:])



class RR(StrEnum):
    none = "none"
    ratios = "ratios"
    rhythm = "rhythm"
    all = "all"


class Representation(StrEnum):
    kachuee = "kachuee"
    window = "window"
