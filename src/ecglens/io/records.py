"""Read ECG records from WFDB files (through ``wfdb``) or plain CSV/NumPy sample files.

Every failure becomes an :class:`~ecglens.errors.EcgLensError` naming the file.
Signals are returned in physical units (mV for PhysioNet ECG databases) as
``float64`` arrays of shape ``(n_samples, n_leads)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecglens.errors import EcgLensError

PREFERRED_LEAD = "MLII"
_ARRAY_SUFFIXES = {".csv", ".txt", ".npy"}


@dataclass
class Record:
    """A multi-lead ECG record.

    signals: (n_samples, n_leads) in mV; fs: sampling rate in Hz.
    """

    signals: np.ndarray
    fs: float
    lead_names: list[str]
    name: str
    path: Path | None = None
    comments: list[str] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return int(self.signals.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs


@dataclass
class Annotations:
    """Reference annotations: sample indices (at the record's rate) and their symbols."""

    sample: np.ndarray
    symbol: np.ndarray
    fs: float


def _record_base(path: str | Path) -> Path:
    """``data/100``, ``data/100.hea`` and ``data/100.dat`` all name record ``data/100``."""
    path = Path(path)
    if path.suffix in {".hea", ".dat", ".atr"}:
        return path.with_suffix("")
    return path


def read_record(
    path: str | Path, fs: float | None = None, lead_names: list[str] | None = None
) -> Record:
    """Read a WFDB record, or a CSV/NPY sample file when ``path`` ends in .csv/.txt/.npy.

    ``fs`` is required for CSV/NPY files (they carry no sampling rate) and, for
    WFDB records, must match the header when given.
    """
    path = Path(path)
    if path.suffix.lower() in _ARRAY_SUFFIXES:
        if fs is None:
            raise EcgLensError("a CSV/NumPy sample file needs its sampling rate (--fs)", path)
        return read_array_record(path, fs, lead_names)
    record = read_wfdb_record(path)
    if fs is not None and abs(fs - record.fs) > 1e-6:
        raise EcgLensError(
            f"header says {record.fs:g} Hz but {fs:g} Hz was given", path.with_suffix(".hea")
        )
    return record


def read_wfdb_record(path: str | Path, verify_checksums: bool = True) -> Record:
    """Read a WFDB record (header + signal files) and check it is complete and intact."""
    import wfdb

    base = _record_base(path)
    header = base.with_suffix(".hea")
    if not header.exists():
        raise EcgLensError("record not found (no .hea header file)", header)
    try:
        head = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises many types for a malformed header
        raise EcgLensError(f"malformed WFDB header ({_short(exc)})", header) from exc
    if not head.sig_name:
        raise EcgLensError("header lists no signals", header)
    for file_name in sorted(set(head.file_name or [])):
        data_file = base.parent / file_name
        if not data_file.exists():
            raise EcgLensError("signal file missing", data_file)
        expected = _expected_size(head, file_name)
        if expected is not None and data_file.stat().st_size < expected:
            raise EcgLensError(
                f"signal file truncated: {data_file.stat().st_size} bytes, "
                f"header implies {expected}",
                data_file,
            )
    try:
        rec = wfdb.rdrecord(str(base), physical=False)
    except Exception as exc:
        raise EcgLensError(
            f"cannot read signals ({_short(exc)})", base.with_suffix(".dat")
        ) from exc
    digital = np.asarray(rec.d_signal)
    if verify_checksums and rec.checksum:
        computed = rec.calc_checksum()
        for i, (want, got) in enumerate(zip(rec.checksum, computed, strict=False)):
            if want is not None and (int(want) - int(got)) % 65536 != 0:
                data_file = base.parent / rec.file_name[i]
                raise EcgLensError(
                    f"signal {rec.sig_name[i]!r} fails its header checksum "
                    f"({got} != {want}): the file is corrupted",
                    data_file,
                )
    gain = np.asarray(rec.adc_gain, dtype=float)
    baseline = np.asarray(rec.baseline, dtype=float)
    gain[gain == 0] = 200.0  # WFDB's documented default gain
    signals = (digital.astype(np.float64) - baseline) / gain
    record = Record(
        signals=signals,
        fs=float(rec.fs),
        lead_names=[str(n) for n in rec.sig_name],
        name=base.name,
        path=base,
        comments=list(rec.comments or []),
    )
    _check_values(record, base.with_suffix(".dat"))
    return record


def _expected_size(head, file_name: str) -> int | None:
    """Bytes a signal file must hold for the header's sample count (None if unknown)."""
    bits = {
        "212": 12,
        "16": 16,
        "61": 16,
        "80": 8,
        "310": 10,
        "311": 10,
        "24": 24,
        "32": 32,
        "8": 8,
    }
    if not head.sig_len:
        return None
    idx = [i for i, f in enumerate(head.file_name) if f == file_name]
    fmts = {head.fmt[i] for i in idx}
    if len(fmts) != 1 or next(iter(fmts)) not in bits:
        return None
    offset = (head.byte_offset[idx[0]] or 0) if head.byte_offset else 0
    return offset + (head.sig_len * len(idx) * bits[next(iter(fmts))] + 7) // 8


def read_array_record(path: str | Path, fs: float, lead_names: list[str] | None = None) -> Record:
    """Read samples from a CSV/TXT (one column per lead, optional header row) or NPY file.

    Values are taken as mV. Shape (n_samples,) or (n_samples, n_leads).
    """
    path = Path(path)
    if not path.exists():
        raise EcgLensError("file not found", path)
    if fs <= 0:
        raise EcgLensError(f"sampling rate must be positive, got {fs:g}", path)
    names = lead_names
    try:
        if path.suffix.lower() == ".npy":
            values = np.load(path, allow_pickle=False)
        else:
            import pandas as pd

            first = _first_line(path)
            sep = next((d for d in (",", ";", "\t") if d in first), r"\s+")
            has_header = not _is_numeric_row(first, sep)
            frame = pd.read_csv(path, header=0 if has_header else None, sep=sep, engine="python")
            if has_header and names is None:
                names = [str(c).strip() for c in frame.columns]
            values = frame.to_numpy(dtype=np.float64)
    except EcgLensError:
        raise
    except Exception as exc:
        raise EcgLensError(f"cannot read samples ({_short(exc)})", path) from exc
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[0] < 2:
        raise EcgLensError(
            f"expected (samples,) or (samples, leads), got shape {values.shape}", path
        )
    if values.shape[0] < values.shape[1]:
        values = values.T  # (leads, samples) given: transpose
    if names is None or len(names) != values.shape[1]:
        names = [f"lead{i}" for i in range(values.shape[1])]
    record = Record(signals=values, fs=float(fs), lead_names=names, name=path.stem, path=path)
    _check_values(record, path)
    return record


def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                return line.strip()
    return ""


def _is_numeric_row(line: str, sep: str) -> bool:
    import re

    cells = [c for c in re.split(sep if sep != r"\s+" else r"\s+", line) if c.strip()]
    try:
        [float(c) for c in cells]
    except ValueError:
        return False
    return bool(cells)


def _check_values(record: Record, path: Path) -> None:
    if record.n_samples == 0:
        raise EcgLensError("record holds no samples", path)
    if not np.all(np.isfinite(record.signals)):
        bad = int(np.sum(~np.isfinite(record.signals)))
        raise EcgLensError(f"{bad} samples are NaN or infinite", path)


def select_lead(record: Record, lead: str | int | None = None) -> tuple[np.ndarray, str]:
    """One lead of ``record`` as a 1-D array, with its name.

    ``lead`` is a name (case-insensitive) or a 0-based index; by default MLII
    when the record has it, else the first signal.
    """
    names = record.lead_names
    where = record.path or record.name
    if lead is None:
        upper = [n.upper() for n in names]
        idx = upper.index(PREFERRED_LEAD) if PREFERRED_LEAD in upper else 0
    elif isinstance(lead, int) or (isinstance(lead, str) and lead.lstrip("-").isdigit()):
        idx = int(lead)
        if not 0 <= idx < len(names):
            raise EcgLensError(
                f"no lead index {idx}: record has {len(names)} ({', '.join(names)})", where
            )
    else:
        upper = [n.upper() for n in names]
        if lead.upper() not in upper:
            raise EcgLensError(f"no lead {lead!r}: record has {', '.join(names)}", where)
        idx = upper.index(lead.upper())
    return record.signals[:, idx], names[idx]


def read_annotations(path: str | Path, extension: str = "atr") -> Annotations:
    """Read a WFDB annotation file (``<record>.<extension>``)."""
    import wfdb

    base = _record_base(path)
    ann_file = base.with_suffix(f".{extension}")
    if not ann_file.exists():
        raise EcgLensError("annotation file not found", ann_file)
    try:
        ann = wfdb.rdann(str(base), extension)
    except Exception as exc:
        raise EcgLensError(f"malformed annotation file ({_short(exc)})", ann_file) from exc
    return Annotations(
        sample=np.asarray(ann.sample, dtype=np.int64),
        symbol=np.asarray(ann.symbol, dtype=object),
        fs=float(ann.fs or 0.0),
    )


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
