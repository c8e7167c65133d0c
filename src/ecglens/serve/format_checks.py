"""Checks of uploaded files before any reader parses them: a WFDB header's record line
(declared signals, samples and sampling rate) and its signal files' sizes (the sample count of a
header that leaves it out), an NPY header (numbers only, no pickle), a CSV/TXT that is text of
bounded lines, columns and values (read line by line, never parsed whole), an EDF/BDF header.
The ranges are those of :mod:`ecglens.io.limits`. Each raises :class:`ClientError` (422) naming
the client's file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecglens.errors import EcgLensError
from ecglens.io.beat_csv import BEAT_CSV_LENGTH
from ecglens.io.limits import MAX_SAMPLES, MAX_SIGNALS, check_fs, check_samples
from ecglens.io.records import samples_in_signal_file
from ecglens.serve.errors import ClientError, one_line

MAX_HEADER_BYTES = 256 * 1024
MAX_EDF_SIGNALS = 4096
MAX_LINE_BYTES = 16 * 1024  # one line of a CSV/TXT of samples (64 columns of long numbers)
# a CSV's signals and a time column, or a CSV of beats: a beat's samples and its label
MAX_COLUMNS = max(MAX_SIGNALS + 1, BEAT_CSV_LENGTH + 1)
SEPARATORS = (b",", b";", b"\t")


@dataclass
class WfdbHeader:
    """A checked single-segment WFDB header: its ``lines`` (as uploaded, decoded with
    ``encoding``), the record line (``record_line``, at index ``record_index``) naming
    ``record``, and the ``signal_lines`` (index, text) it declares."""

    lines: list[str]
    encoding: str
    record_index: int
    record_line: str
    record: str
    signal_lines: list[tuple[int, str]]
    frames: int | None = None  # the declared number of samples per signal; None: left out


def _signal_format(line: str) -> tuple[str, int, int]:
    """A signal line's format (e.g. "212"), samples per frame and byte offset ("16x4+24")."""
    tokens = line.split()
    m = re.match(r"^(\d+)(?:x(\d+))?(?::\d+)?(?:\+(\d+))?", tokens[1] if len(tokens) > 1 else "")
    if m is None:
        return "", 1, 0
    return m.group(1), max(1, int(m.group(2) or 1)), int(m.group(3) or 0)


def _within(check, value, where: str, *more) -> None:
    """``check(value, where, *more)`` of :mod:`ecglens.io.limits`, its error a 422."""
    try:
        check(value, where, *more)
    except EcgLensError as exc:
        raise ClientError(422, str(exc)) from exc


def check_wfdb_header(path: Path, where: str, max_samples: int = MAX_SAMPLES) -> WfdbHeader:
    """Read and check the WFDB header at ``path`` (``where``: the client's name for it): at
    most ``max_samples`` samples declared."""
    size = path.stat().st_size
    if size > MAX_HEADER_BYTES:
        raise ClientError(422, f"{where}: {size} bytes is too large for a WFDB header")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise ClientError(422, f"{where}: binary data, not a WFDB header (text)")
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = raw.decode("latin-1"), "latin-1"
    lines = text.splitlines()
    content = [(i, s) for i, s in enumerate(lines) if s.strip() and not s.lstrip().startswith("#")]
    if not content:
        raise ClientError(422, f"{where}: no record line: not a WFDB header")
    i0, record_line = content[0]
    fields = record_line.split()
    name = fields[0]
    if "/" in name:
        raise ClientError(
            422, f"{where}: a multi-segment record; the server reads single-segment records"
        )
    if len(fields) < 2 or not fields[1].isdigit():
        raise ClientError(
            422, f"{where}: malformed record line {one_line(record_line, 80)!r} (expected the "
            "record name, the number of signals, the sampling frequency...)"
        )
    n_sig = int(fields[1]) if len(fields[1]) <= 6 else MAX_SIGNALS + 1
    if not 1 <= n_sig <= MAX_SIGNALS:
        raise ClientError(422, f"{where}: declares {n_sig} signals (accepted: 1 to {MAX_SIGNALS})")
    if len(fields) > 2:
        rate = re.match(r"^(\d*\.?\d+(?:[eE][-+]?\d+)?)", fields[2])
        if rate is None:
            raise ClientError(422, f"{where}: malformed sampling frequency {fields[2][:40]!r}")
        fs = float(rate.group(1))
    else:
        fs = 250.0  # WFDB's default
    signal_lines = content[1 : 1 + n_sig]
    if len(signal_lines) < n_sig:
        raise ClientError(
            422, f"{where}: declares {n_sig} signals but describes {len(signal_lines)}"
        )
    per_frame = 0  # samples per frame, all signals together ("16x4": 4 samples a frame)
    fastest = 1
    for _, line in signal_lines:
        spf = _signal_format(line)[1]
        per_frame += spf
        fastest = max(fastest, spf)
    _within(check_fs, fs * fastest, where, "sampling frequency")
    if len(fields) > 3:
        if not fields[3].isdigit():
            raise ClientError(422, f"{where}: malformed number of samples {fields[3][:40]!r}")
        limit = min(max_samples, MAX_SAMPLES)
        if len(fields[3]) > 12 or int(fields[3]) * per_frame > limit:
            raise ClientError(
                422, f"{where}: declares {fields[3][:20]} frames of {per_frame} samples, more "
                f"than the {limit:,} samples the server accepts"
            )
    frames = int(fields[3]) if len(fields) > 3 else None
    return WfdbHeader(lines, encoding, i0, record_line, name, signal_lines, frames)


def check_wfdb_signal_sizes(
    header: WfdbHeader, files: dict[str, Path], where: str, max_samples: int = MAX_SAMPLES
) -> None:
    """Refuse a record whose signal files (``files``: the header's file name -> the saved
    file) hold more than ``max_samples`` samples, counted from their sizes when the header
    leaves the sample count out (else it was checked with the header), before any is read."""
    if header.frames is not None:
        return
    by_file: dict[str, list[str]] = {}
    for _, line in header.signal_lines:
        by_file.setdefault(line.split()[0], []).append(line)
    total = 0
    for file_name, lines in by_file.items():
        path = files.get(file_name.lower())
        if path is None:
            continue  # reported missing by the caller
        fmt, _, offset = _signal_format(lines[0])
        n = samples_in_signal_file(fmt, path.stat().st_size - offset)
        if n is None:
            raise ClientError(
                422, f"{where}: no number of samples and signal format {fmt} (compressed or "
                "unknown): give the number of samples on the record line"
            )
        total += n
    _within(check_samples, total, where,
            "holds (signal file sizes, no sample count in the header)", max_samples)


def check_npy(path: Path, where: str, max_samples: int = MAX_SAMPLES) -> None:
    """Refuse an NPY file whose header declares objects, non-numbers, more than 2 dimensions,
    more than ``max_samples`` values or more values than the file holds, before numpy reads
    it."""
    with path.open("rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except Exception as exc:  # numpy parses the header's dict: any error is the file's
            raise ClientError(
                422, f"{where}: not a readable NumPy .npy file ({type(exc).__name__}: {exc})"
            ) from exc
        data_bytes = path.stat().st_size - f.tell()
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ClientError(422, f"{where}: holds {dtype} values, not numbers (no pickle accepted)")
    if len(shape) not in (1, 2):
        raise ClientError(422, f"{where}: {len(shape)}-D array; expected (samples,) or "
                          "(samples, leads)")
    n = int(np.prod(shape, dtype=np.int64))
    _within(check_samples, n, where, "holds", max_samples)
    if len(shape) == 2 and min(shape) > MAX_SIGNALS:
        raise ClientError(
            422, f"{where}: shape {tuple(shape)}: more than {MAX_SIGNALS} signals either way"
        )
    if n * dtype.itemsize > data_bytes:
        raise ClientError(
            422, f"{where}: declares {n} values of {dtype} but holds {data_bytes} bytes"
        )


def check_text(path: Path, where: str, max_samples: int = MAX_SAMPLES) -> None:
    """Refuse a CSV/TXT that is not text of samples a reader can parse in bounded memory:
    a NUL byte (binary data), a line over ``MAX_LINE_BYTES``, a row of more than
    ``MAX_COLUMNS`` fields or more than ``max_samples`` values in all. Reads the file line by
    line (each line at most ``MAX_LINE_BYTES``), parses nothing."""
    values = 0
    with path.open("rb") as f:
        for number, line in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), 1):
            if len(line) > MAX_LINE_BYTES:
                raise ClientError(
                    422, f"{where}: line {number} is longer than {MAX_LINE_BYTES:,} bytes: not a "
                    f"CSV/TXT of samples (at most {MAX_COLUMNS} columns)"
                )
            if b"\x00" in line:
                raise ClientError(422, f"{where}: binary data, not a CSV/TXT of samples")
            fields = max(line.count(sep) for sep in SEPARATORS) + 1
            if fields == 1:
                fields = len(line.split()) or 1
            if fields > MAX_COLUMNS:
                raise ClientError(
                    422, f"{where}: line {number} has {fields} columns; at most {MAX_COLUMNS} "
                    f"({MAX_SIGNALS} signals and a time column, or a beat of "
                    f"{BEAT_CSV_LENGTH} samples and its label)"
                )
            values += fields
            if values > max_samples:
                break  # refused below, without reading the rest
    _within(check_samples, values, where, "holds at least" if values > max_samples else "holds",
            max_samples)


def check_edf(path: Path, where: str, max_samples: int = MAX_SAMPLES) -> None:
    """Refuse a file without the EDF/BDF version field, shorter than its declared header, with
    data records of no duration or more than ``max_samples`` samples (the reader checks the ECG
    channel's rate and the declared size)."""
    with path.open("rb") as f:
        head = f.read(256)
    if len(head) < 256 or head[:8] not in (b"0       ", b"\xffBIOSEMI"):
        raise ClientError(422, f"{where}: not an EDF/BDF file (no EDF header)")
    try:
        n_signals = int(head[252:256].decode("ascii").strip())
    except (UnicodeDecodeError, ValueError) as exc:
        raise ClientError(422, f"{where}: malformed EDF header (number of signals)") from exc
    if not 1 <= n_signals <= MAX_EDF_SIGNALS or path.stat().st_size < 256 * (n_signals + 1):
        raise ClientError(422, f"{where}: EDF header declares {n_signals} signals, which the "
                          "file does not hold")
    try:
        duration = float(head[244:252].decode("ascii").strip())
    except (UnicodeDecodeError, ValueError) as exc:
        raise ClientError(422, f"{where}: malformed EDF header (data record duration)") from exc
    if not 0 < duration < float("inf"):
        raise ClientError(422, f"{where}: EDF data records of {duration:g} s")
    bytes_per_sample = 2 if head[:1] == b"0" else 3
    _within(check_samples, (path.stat().st_size - 256 * (n_signals + 1)) // bytes_per_sample,
            where, "holds", max_samples)
