"""Read long records in windows: samples ``[start, stop)`` of one lead, never the whole signal.

A 24-hour two-lead Holter at 250 Hz holds 43 million samples (350 MB in float64), and a
7-day patch seven times that; the readers of :mod:`ecglens.io.records` load a record whole.
Here only a window of one lead is ever held in float64:

- NPY: ``np.load(mmap_mode="r")``; a window is copied out of the memory map as float64.
  Layouts as :func:`~ecglens.io.records.read_array_record`: (n,), (n, leads) or (leads, n).
- CSV/TXT: :func:`record_info` counts the lines (bytes scanned in ``COUNT_BLOCK_BYTES``
  blocks, nothing parsed) and parses the first ``HEAD_ROWS`` rows (header row, separator,
  time column); :func:`iter_windows` then parses the file once, in ``CSV_CHUNK_ROWS``-row
  chunks with pandas' C parser, converting only the lead's column and keeping at most a
  window and one chunk (no temporary file). :func:`read_window` alone parses from the
  start of the file up to the window on every call: use :func:`iter_windows` for many.
- WFDB (single-segment records, one sample per frame): ``wfdb.rdrecord(sampfrom, sampto,
  channels)`` reads only the window's bytes; digital values become mV as in
  :func:`~ecglens.io.records.read_wfdb_record`. The header checks are the same (a missing or
  truncated signal file is an error, extra samples a warning); checksums are not verified
  (that needs every sample of every signal).
- EDF/EDF+: the one EDF reader, :func:`~ecglens.io.edf.open_edf` with ``lazy=True`` (its
  data records memory-mapped) and :func:`~ecglens.io.edf.read_edf_samples`; channels and
  their units as :func:`~ecglens.io.edf.read_edf_record` chooses them.

Not read in windows (:class:`NotWindowed`, an :class:`~ecglens.errors.EcgLensError`, so a
caller can fall back to :func:`~ecglens.io.records.read_record`): BDF files (edfio reads
them whole), multi-segment WFDB records, records with several samples per frame, FLAC
signal files without a length in the header, and CSV files with the leads in rows.

A time or sample-index column (a column rising at a constant step) of a CSV/NPY file is
recognised on its first ``HEAD_ROWS`` rows and left out, as ``read_array_record`` does
over the whole file. Values are checked per window: NaN or infinite samples raise an
error naming the file and the time where they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ecglens.errors import EcgLensError
from ecglens.io import formats
from ecglens.io.base import NotWindowed, Record, _Findings, _short, to_millivolts
from ecglens.io.edf import open_edf, read_edf_samples
from ecglens.io.records import (
    _FLAC_FORMATS,
    _check_signal_file,
    _is_numeric_row,
    _read_header,
    _record_base,
    _samples_in,
    _sibling,
    _signal_names,
    clock_rate,
    is_time_column,
    read_digital,
    resolve_rate,
    select_lead,
    signal_scaling,
    to_physical,
    typical_amplitude,
    units_factor,
)

HEAD_ROWS = 4096  # rows of a CSV/NPY file read to recognise its layout and a time column
CSV_CHUNK_ROWS = 1 << 19  # rows parsed at a time when a CSV is streamed (4 MB a column)
COUNT_BLOCK_BYTES = 1 << 24  # bytes read at a time when counting a CSV's lines (16 MiB)
MAX_LINE_BYTES = 1 << 16  # a longer first line means leads in rows: not read in windows
_SEPARATORS = (",", ";", "\t")


@dataclass(frozen=True)
class RecordInfo:
    """What a record holds, without its samples.

    name: the record's name; path: the file (a WFDB record without extension); fs: Hz;
    n_samples: samples per lead; lead_names / units: one per lead (voltage leads in "mV");
    format: "npy", "csv", "wfdb" or "edf"; warnings: recoverable oddities, one line each.
    """

    name: str
    path: Path
    fs: float
    n_samples: int
    lead_names: tuple[str, ...]
    format: str
    units: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    source: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    def lead_index(self, lead: str | int | None = None) -> int:
        """Index of ``lead`` (a name, case-insensitive, or a 0-based index; by default the
        most ECG-like label, as :func:`~ecglens.io.records.select_lead` chooses)."""
        probe = Record(
            signals=np.arange(len(self.lead_names), dtype=np.float64)[None, :],
            fs=self.fs,
            lead_names=list(self.lead_names),
            name=self.name,
            path=self.path,
        )
        return int(select_lead(probe, lead)[0][0])


def record_info(
    path: str | Path, fs: float | None = None, strict: bool = False, units: str | None = None
) -> RecordInfo:
    """Name, rate, length, leads and format of a record, read from its header (WFDB, EDF),
    the NPY header, or a CSV's first rows and line count; no samples are converted.

    ``fs`` is required for CSV/NPY files without a time column (and must agree with one) and
    must match the header of the others; ``units`` as
    :func:`~ecglens.io.records.read_array_record`. With
    ``strict``, the header oddities ``read_record`` warns of are errors, as there. Raises
    :class:`~ecglens.errors.EcgLensError` naming the file for what ``read_record`` refuses,
    :class:`NotWindowed` for records that can only be read whole (see the module doc).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in formats.IMAGE_FILES:
        raise EcgLensError(f"an image ({suffix}), not an ECG signal record", path)
    if suffix in formats.SAMPLE_FILES:
        if not path.is_file():
            raise EcgLensError("file not found", path)
        return _npy_info(path, fs, units) if suffix == ".npy" else _csv_info(path, fs, units)
    if suffix == "" and not _sibling(path, formats.WFDB_HEADER).exists():
        found = [_sibling(path, s) for s in formats.EDF_FILES if _sibling(path, s).exists()]
        if found:
            path, suffix = found[0], found[0].suffix.lower()
    if suffix in formats.EDF_FILES:
        return _check_rate(_edf_info(path, strict), fs)
    if suffix not in formats.WFDB_FILES and suffix != "":
        raise EcgLensError(
            f"not an ECG record format ecglens reads ({suffix}): {formats.READABLE}", path
        )
    return _check_rate(_wfdb_info(path, strict), fs)


def read_window(
    path: str | Path | RecordInfo,
    start: int,
    stop: int,
    fs: float | None = None,
    lead: str | int | None = None,
) -> np.ndarray:
    """Samples ``[start, stop)`` of one lead: (stop - start,) float64 in mV.

    ``path`` is a record (as :func:`record_info` takes it, with ``fs`` for CSV/NPY) or its
    :class:`RecordInfo`; ``lead`` as :meth:`RecordInfo.lead_index`. Only the window is read
    into memory (a CSV is parsed from its start up to the window).
    """
    info = path if isinstance(path, RecordInfo) else record_info(path, fs)
    return next(iter_windows(info, [(start, stop)], lead))


def iter_windows(
    info: RecordInfo, spans: Iterable[tuple[int, int]], lead: str | int | None = None
) -> Iterator[np.ndarray]:
    """One lead's samples for each ``(start, stop)`` of ``spans``: (stop - start,) float64 mV.

    Spans may overlap; for a CSV file they must come in order (starts and stops not
    decreasing), since it is parsed once from start to end.
    """
    index = info.lead_index(lead)
    if info.format == "csv":
        yield from _csv_windows(info, spans, index)
        return
    read = {"npy": _npy_read, "wfdb": _wfdb_read, "edf": _edf_read}[info.format]
    for start, stop in spans:
        _check_span(info, start, stop)
        yield _checked(read(info, start, stop, index), info, start)


def _check_span(info: RecordInfo, start: int, stop: int) -> None:
    if not 0 <= start < stop <= info.n_samples:
        raise EcgLensError(
            f"window [{start}, {stop}) outside the record's {info.n_samples} samples", info.path
        )


def _checked(values: np.ndarray, info: RecordInfo, start: int) -> np.ndarray:
    """``values`` as float64, or an error naming the file and where non-finite samples are."""
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        first = (start + int(np.argmax(bad))) / info.fs
        raise EcgLensError(
            f"{int(bad.sum())} samples are NaN or infinite (the first at {first:.3f} s)",
            info.path,
        )
    return values


def _check_rate(info: RecordInfo, fs: float | None) -> RecordInfo:
    if fs is not None and abs(fs - info.fs) > 1e-6:
        raise EcgLensError(f"header says {info.fs:g} Hz but {fs:g} Hz was given", info.path)
    return info


def _drop_clocks(
    head: np.ndarray, names: list[str] | None, fs: float | None, path: Path
) -> tuple[list[int], list[str], list[str], float]:
    """Columns to keep, their names, the warnings and the sampling rate: a column of ``head``
    (rows, columns) that rises at a constant step is a clock, left out unless every column is
    one; a clock in seconds or ms gives the rate (checked against ``fs`` as
    :func:`~ecglens.io.records.resolve_rate` does)."""
    n = head.shape[1]
    named = names is not None and len(names) == n
    if not named:
        names = [f"lead{i}" for i in range(n)]
    clocks = [k for k in range(n) if is_time_column(head[:, k])]
    if not clocks or len(clocks) == n:
        return list(range(n)), names, [], resolve_rate(fs, None, None, path)
    rates = [(clock_rate(head[:, k], names[k] if named else None), k) for k in clocks]
    clock, first = next(((r, k) for r, k in rates if r is not None), (None, clocks[0]))
    dropped = ", ".join(repr(names[k]) for k in clocks)
    what = f"a clock at {clock:.6g} Hz" if clock is not None else "time or sample index"
    message = (
        f"column {dropped} rises at a constant step ({what}), not an ECG lead: left out"
    )
    keep = [k for k in range(n) if k not in clocks]
    rate = resolve_rate(fs, clock, names[first], path)
    return keep, [names[k] for k in keep], [message], rate


def _units(head: np.ndarray, fs: float, units: str | None, path: Path) -> tuple[float, list[str]]:
    """The factor to mV of the samples (judged on ``head``, the kept columns' first rows)
    and its warning, as :func:`~ecglens.io.records.read_array_record` judges the whole file."""
    factor, message = units_factor(typical_amplitude(head, fs), units, path)
    return factor, [message] if message else []


# -- NPY ------------------------------------------------------------------------------------


def _npy_map(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:
        raise EcgLensError(f"cannot read samples ({_short(exc)})", path) from exc


def _npy_info(path: Path, fs: float | None, units: str | None) -> RecordInfo:
    values = _npy_map(path)
    if values.dtype.kind not in "biuf":
        raise EcgLensError(f"expected numbers, got an array of {values.dtype}", path)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[0] < 2:
        raise EcgLensError(
            f"expected (samples,) or (samples, leads), got shape {values.shape}", path
        )
    warns = []
    transposed = values.shape[0] < values.shape[1]
    if transposed:
        values = values.T
        warns.append(f"values read as {values.shape[1]} leads of {values.shape[0]} samples")
    head = np.asarray(values[:HEAD_ROWS], dtype=np.float64)
    keep, names, dropped, rate = _drop_clocks(head, None, fs, path)
    factor, unit_warns = _units(head[:, keep], rate, units, path)
    return RecordInfo(
        name=path.stem,
        path=path,
        fs=rate,
        n_samples=int(values.shape[0]),
        lead_names=tuple(names),
        format="npy",
        units=("mV",) * len(keep),
        warnings=tuple(warns + dropped + unit_warns),
        source={"columns": keep, "transposed": transposed, "factor": factor},
    )


def _npy_read(info: RecordInfo, start: int, stop: int, index: int) -> np.ndarray:
    values = _npy_map(info.path)
    column = info.source["columns"][index]
    factor = info.source["factor"]
    if values.ndim == 1:
        return np.array(values[start:stop], dtype=np.float64) * factor
    if info.source["transposed"]:
        return np.array(values[column, start:stop], dtype=np.float64) * factor
    return np.array(values[start:stop, column], dtype=np.float64) * factor


# -- CSV ------------------------------------------------------------------------------------


def _csv_info(path: Path, fs: float | None, units: str | None) -> RecordInfo:
    """Layout (separator, header row, time column) from the first rows; length from a line
    count of the file's bytes."""
    import pandas as pd

    skip, first = 0, ""
    with path.open("rb") as f:
        while True:
            raw = f.readline(MAX_LINE_BYTES)
            if not raw:
                break
            if len(raw) >= MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise NotWindowed(
                    f"a line longer than {MAX_LINE_BYTES} bytes (leads in rows?): "
                    "not read in windows",
                    path,
                )
            first = raw.decode("utf-8", errors="replace").strip()
            skip += 1
            if first:
                break
    if not first:
        raise EcgLensError("record holds no samples", path)
    sep = next((d for d in _SEPARATORS if d in first), r"\s+")
    names = None
    if not _is_numeric_row(first, sep):
        names = [c.strip().strip("\"'") for c in re.split(sep, first)]
    else:
        skip -= 1
    n_rows = _count_lines(path) - skip
    try:
        frame = pd.read_csv(
            path, header=None, skiprows=skip, nrows=min(HEAD_ROWS, max(n_rows, 1)), sep=sep,
            engine="c", skip_blank_lines=False,
        )  # fmt: skip
    except Exception as exc:
        raise EcgLensError(f"cannot read samples ({_short(exc)})", path) from exc
    if not all(pd.api.types.is_numeric_dtype(d) for d in frame.dtypes):  # e.g. date-times
        raise NotWindowed("a column that is not numbers: not read in windows", path)
    head = frame.to_numpy(dtype=np.float64)
    if head.ndim != 2 or n_rows < 2:
        raise EcgLensError(f"expected (samples, leads), got {n_rows} rows", path)
    if n_rows < head.shape[1]:
        raise NotWindowed("leads in rows, samples in columns: not read in windows", path)
    keep, names, dropped, rate = _drop_clocks(head, names, fs, path)
    factor, unit_warns = _units(head[:, keep], rate, units, path)
    return RecordInfo(
        name=path.stem,
        path=path,
        fs=rate,
        n_samples=int(n_rows),
        lead_names=tuple(names),
        format="csv",
        units=("mV",) * len(keep),
        warnings=tuple(dropped + unit_warns),
        source={"columns": keep, "skip": skip, "sep": sep, "factor": factor},
    )


def _count_lines(path: Path) -> int:
    """Lines of ``path`` up to its last non-blank byte (a last line without a newline
    counts; blank lines at the end do not)."""
    seen, before_last = 0, -1
    with path.open("rb") as f:
        while block := f.read(COUNT_BLOCK_BYTES):
            body = block.rstrip()
            if body:
                before_last = seen + body.count(b"\n")
            seen += block.count(b"\n")
    return before_last + 1


def _csv_reader(info: RecordInfo, column: int, first_row: int, n_rows: int, chunk: int | None):
    import pandas as pd

    return pd.read_csv(
        info.path, header=None, skiprows=info.source["skip"] + first_row, nrows=n_rows,
        usecols=[column], sep=info.source["sep"], engine="c", dtype=np.float64,
        skip_blank_lines=False, chunksize=chunk,
    )  # fmt: skip


def _csv_windows(
    info: RecordInfo, spans: Iterable[tuple[int, int]], index: int
) -> Iterator[np.ndarray]:
    """Stream the lead's column once; hold at most the current window and one chunk."""
    column = info.source["columns"][index]
    chunks = None
    buffer, pos = np.zeros(0), 0  # pos: the record sample at buffer[0]
    previous = (0, 0)

    def next_chunk() -> np.ndarray:
        try:
            return next(chunks).iloc[:, 0].to_numpy(dtype=np.float64)
        except StopIteration as exc:
            raise EcgLensError(
                f"file ended after {pos + len(buffer)} samples, expected {info.n_samples}",
                info.path,
            ) from exc
        except Exception as exc:
            raise EcgLensError(f"cannot read samples ({_short(exc)})", info.path) from exc

    for start, stop in spans:
        _check_span(info, start, stop)
        if start < previous[0] or stop < previous[1]:
            raise EcgLensError("CSV windows must come in order (the file is read once)", info.path)
        previous = (start, stop)
        if chunks is None:
            try:
                chunks = _csv_reader(info, column, start, info.n_samples - start, CSV_CHUNK_ROWS)
            except Exception as exc:
                raise EcgLensError(f"cannot read samples ({_short(exc)})", info.path) from exc
            pos = start
        while pos + len(buffer) < start:  # rows between two windows: read and dropped
            pos, buffer = pos + len(buffer), next_chunk()
        buffer, pos = buffer[start - pos :], start
        parts = [buffer]
        have = pos + len(buffer)
        while have < stop:
            parts.append(next_chunk())
            have += len(parts[-1])
        buffer = np.concatenate(parts) if len(parts) > 1 else buffer
        yield _checked(buffer[: stop - pos] * info.source["factor"], info, start)


# -- WFDB -----------------------------------------------------------------------------------


def _wfdb_info(path: Path, strict: bool) -> RecordInfo:
    import wfdb

    base = _record_base(path)
    header = _sibling(base, formats.WFDB_HEADER)
    if not header.exists():
        raise EcgLensError("record not found (no .hea header file)", header)
    head = _read_header(base)
    if isinstance(head, wfdb.MultiRecord):
        raise NotWindowed("a multi-segment record: not read in windows", header)
    if not head.sig_name:
        raise EcgLensError("header lists no signals", header)
    n_sig = len(head.sig_name)
    spf = [int(s or 1) for s in (head.samps_per_frame or [1] * n_sig)]
    if max(spf) > 1:
        raise NotWindowed("several samples per frame: not read in windows", header)
    findings = _Findings(strict)
    for file_name in dict.fromkeys(head.file_name or []):
        _check_signal_file(base, head, file_name, spf, findings)
    n_samples = head.sig_len
    if not n_samples:
        if {str(f) for f in head.fmt} & _FLAC_FORMATS:
            raise NotWindowed("no signal length in the header: not read in windows", header)
        n_samples = _length_from_file(base, head)
    units = [to_millivolts(np.zeros(1), unit)[1] for unit in signal_scaling(head)[2]]
    return RecordInfo(
        name=base.name,
        path=base,
        fs=float(head.fs),
        n_samples=int(n_samples),
        lead_names=tuple(_signal_names(head)),
        format="wfdb",
        units=tuple(units),
        warnings=tuple(findings.warnings),
        source={"head": head},
    )


def _length_from_file(base: Path, head) -> int:
    """Frames in a signal file whose header leaves out the length."""
    file_name = head.file_name[0]
    per_frame = sum(1 for f in head.file_name if f == file_name)
    offset = int((head.byte_offset or [0])[0] or 0)
    size = (base.parent / file_name).stat().st_size
    return _samples_in(str(head.fmt[0]), size - offset) // per_frame


def _wfdb_read(info: RecordInfo, start: int, stop: int, index: int) -> np.ndarray:
    """The window's samples through the whole-record reader's own functions (wfdb's
    ``rdrecord(sampfrom, sampto, channels)``)."""
    head = info.source["head"]
    try:
        _, digital = read_digital(info.path, head, start, stop, [index])
    except Exception as exc:
        raise EcgLensError(f"cannot read signals ({_short(exc)})", info.path) from exc
    gains, baselines, units = signal_scaling(head)
    return to_physical(digital[0], gains[index], baselines[index], units[index])[0]


# -- EDF ------------------------------------------------------------------------------------


def _edf_info(path: Path, strict: bool) -> RecordInfo:
    edf = open_edf(path, strict=strict, lazy=True)  # data records memory-mapped
    return RecordInfo(
        name=path.stem,
        path=path,
        fs=edf.fs,
        n_samples=edf.n_samples,
        lead_names=tuple(edf.lead_names),
        format="edf",
        units=tuple(edf.units),
        warnings=tuple(edf.warnings),
        source={"edf": edf},
    )


def _edf_read(info: RecordInfo, start: int, stop: int, index: int) -> np.ndarray:
    return read_edf_samples(info.source["edf"], index, start, stop)
