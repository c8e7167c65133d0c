"""What kind of input a file is: the one suffix table of ecglens.

Every front end (CLI, web server, batch, report) asks :func:`input_kind` and
:func:`expand_inputs`; no other module lists file suffixes.

>>> input_kind("data/mitdb-demo/213")
<InputKind.WFDB: 'wfdb'>
>>> input_kind("scan.JPG")
<InputKind.IMAGE: 'image'>
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path

from ecglens.errors import EcgLensError


class InputKind(StrEnum):
    """The kinds of input ecglens reads."""

    WFDB = "wfdb"  # a WFDB record: <name>.hea + signal files
    EDF = "edf"  # an EDF/EDF+ or BDF file
    SAMPLES = "samples"  # CSV/TXT/NPY samples, one column per lead (needs the rate)
    BEAT_CSV = "beat-csv"  # a Kaggle-style CSV of beats: 187 values [+ label] a row
    IMAGE = "image"  # a photo or scan of a printout


WFDB_HEADER = ".hea"
WFDB_SIGNAL = (".dat", ".mat")  # signal files of a WFDB record
WFDB_ANNOTATION = (".atr",)  # reference beat annotations beside a record
WFDB_FILES = (WFDB_HEADER, *WFDB_SIGNAL, *WFDB_ANNOTATION)
EDF_FILES = (".edf", ".bdf")
SAMPLE_FILES = (".csv", ".txt", ".npy")
IMAGE_FILES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")
# one-line summary of what is readable, for error messages
READABLE = (
    "WFDB records (.hea), EDF/BDF (.edf, .bdf), samples (.csv, .txt, .npy), "
    "printout images (.png, .jpg, ...)"
)
GLOB_CHARS = "*?["


def looks_like_beat_csv(path: str | Path) -> bool:
    """True when ``path`` is a CSV whose first non-empty line holds 187 or 188 numbers (see
    :mod:`ecglens.io.beat_csv`)."""
    from ecglens.io.beat_csv import looks_like_beat_csv as check

    return Path(path).suffix.lower() == ".csv" and check(path)


def input_kind(path: str | Path) -> InputKind:
    """The kind of input at ``path``, from its suffix (and, for a CSV, its first line).

    A path without suffix names a WFDB record (``<path>.hea``) or an EDF/BDF file beside it.
    Raises :class:`EcgLensError` naming the file for a suffix ecglens does not read.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in WFDB_FILES:
        return InputKind.WFDB
    if suffix in EDF_FILES:
        return InputKind.EDF
    if suffix in IMAGE_FILES:
        return InputKind.IMAGE
    if suffix in SAMPLE_FILES:
        return InputKind.BEAT_CSV if looks_like_beat_csv(path) else InputKind.SAMPLES
    if suffix == "" or not path.is_file():
        for other in EDF_FILES:
            if path.parent.joinpath(path.name + other).exists():
                return InputKind.EDF
        return InputKind.WFDB
    raise EcgLensError(f"not a format ecglens reads ({suffix}): {READABLE}", path)


def record_name(path: str | Path) -> str:
    """The name a record is reported under: the file name without a known suffix."""
    path = Path(path)
    known = WFDB_FILES + EDF_FILES + SAMPLE_FILES + IMAGE_FILES
    return path.stem if path.suffix.lower() in known else path.name


def _hidden(p: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in p.relative_to(root).parts)


def _segments_of(header: Path) -> set[Path]:
    """The segment records a multi-segment WFDB header lists (none for a single record)."""
    try:
        with header.open(encoding="latin-1") as f:
            lines = [ln.split() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    except OSError:
        return set()
    if not lines or "/" not in lines[0][0]:
        return set()
    n = int(lines[0][0].split("/")[1]) if lines[0][0].split("/")[1].isdigit() else 0
    return {header.parent / ln[0] for ln in lines[1 : n + 1] if ln and ln[0] != "~"}


def inputs_among(files: Iterable[Path], samples: bool = True) -> list[Path]:
    """The inputs among ``files`` (sorted): WFDB records (without extension; segments of
    multi-segment records left out), EDF/BDF files, images and, with ``samples``, CSV/NPY
    files."""
    files = list(files)
    suffixes = EDF_FILES + IMAGE_FILES + (SAMPLE_FILES if samples else ())
    headers = [f for f in files if f.suffix.lower() == WFDB_HEADER]
    segments = {s for h in headers for s in _segments_of(h)}
    found = {h.with_suffix("") for h in headers} - segments
    found |= {f for f in files if f.suffix.lower() in suffixes}
    return sorted(found)


def expand_inputs(
    paths: Sequence[str | Path], recursive: bool = False, samples: bool = True
) -> list[Path]:
    """Input paths from arguments: files and records as given, folders expanded to the
    inputs inside (WFDB records, EDF/BDF, images, CSV/NPY when ``samples``; with
    ``recursive`` also in sub-folders), globs matched. Raises :class:`EcgLensError` for a
    folder or glob holding no input."""
    out: list[Path] = []
    for given in paths:
        text = str(given)
        path = Path(text)
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.iterdir()
            files = [p for p in pattern if p.is_file() and not _hidden(p, path)]
        elif any(c in text for c in GLOB_CHARS) and not path.exists():
            files = []
            for match in sorted(glob.glob(text, recursive=True)):
                m = Path(match)
                files += [p for p in m.rglob("*") if p.is_file()] if m.is_dir() else [m]
        else:
            out.append(path.with_suffix("") if path.suffix.lower() == WFDB_HEADER else path)
            continue
        found = inputs_among(files, samples)
        if not found:
            what = "WFDB records (.hea), EDF/BDF, images" + (", CSV/NPY" if samples else "")
            raise EcgLensError(f"holds no inputs ecglens reads ({what})", path)
        out.extend(found)
    return out
