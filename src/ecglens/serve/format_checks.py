"""Checks of uploaded files before any reader parses them: a WFDB header's record line
(declared signals, samples and sampling rate), an NPY header (numbers only, no pickle), a
CSV/TXT that is text, an EDF/BDF header. Each raises :class:`ClientError` (422) naming the
client's file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecglens.serve.errors import ClientError, one_line

MAX_SIGNALS = 64  # signals a WFDB header may declare
MAX_SAMPLES = 50_000_000  # signals x samples a header (or an NPY file) may declare
MAX_FS = 100_000.0  # Hz
MAX_HEADER_BYTES = 256 * 1024
MAX_EDF_SIGNALS = 4096


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


def check_wfdb_header(path: Path, where: str) -> WfdbHeader:
    """Read and check the WFDB header at ``path`` (``where``: the client's name for it)."""
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
    n_sig = int(fields[1])
    if not 1 <= n_sig <= MAX_SIGNALS:
        raise ClientError(422, f"{where}: declares {n_sig} signals (accepted: 1 to {MAX_SIGNALS})")
    if len(fields) > 2:
        rate = re.match(r"^(\d*\.?\d+(?:[eE][-+]?\d+)?)", fields[2])
        if rate is None:
            raise ClientError(422, f"{where}: malformed sampling frequency {fields[2][:40]!r}")
        fs = float(rate.group(1))
        if not 0 < fs <= MAX_FS:
            raise ClientError(
                422, f"{where}: sampling frequency {fs:g} Hz outside (0, {MAX_FS:g}]"
            )
    signal_lines = content[1 : 1 + n_sig]
    if len(signal_lines) < n_sig:
        raise ClientError(
            422, f"{where}: declares {n_sig} signals but describes {len(signal_lines)}"
        )
    per_frame = 0  # samples per frame, all signals together ("16x4": 4 samples a frame)
    for _, line in signal_lines:
        tokens = line.split()
        spf = re.match(r"^\d+x(\d+)", tokens[1]) if len(tokens) > 1 else None
        per_frame += max(1, int(spf.group(1))) if spf else 1
    if len(fields) > 3:
        if not fields[3].isdigit():
            raise ClientError(422, f"{where}: malformed number of samples {fields[3][:40]!r}")
        if int(fields[3]) * per_frame > MAX_SAMPLES:
            raise ClientError(
                422, f"{where}: declares {int(fields[3])} frames of {per_frame} samples, more "
                f"than the {MAX_SAMPLES:,} samples the server accepts"
            )
    return WfdbHeader(lines, encoding, i0, record_line, name, signal_lines)


def check_npy(path: Path, where: str) -> None:
    """Refuse an NPY file whose header declares objects, non-numbers, more than 2 dimensions or
    more values than the file holds, before numpy reads it."""
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
    if n > MAX_SAMPLES:
        raise ClientError(422, f"{where}: {n} values, more than the {MAX_SAMPLES:,} accepted")
    if n * dtype.itemsize > data_bytes:
        raise ClientError(
            422, f"{where}: declares {n} values of {dtype} but holds {data_bytes} bytes"
        )


def check_text(path: Path, where: str) -> None:
    """Refuse a CSV/TXT whose first 64 kB hold a NUL byte (binary data)."""
    with path.open("rb") as f:
        head = f.read(65536)
    if b"\x00" in head:
        raise ClientError(422, f"{where}: binary data, not a CSV/TXT of samples")


def check_edf(path: Path, where: str) -> None:
    """Refuse a file without the EDF/BDF version field or shorter than its declared header."""
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
