"""Read ECG records: WFDB (through ``wfdb``), EDF/BDF (through ``edfio``), CSV/NumPy samples.

Every failure becomes an :class:`~ecglens.errors.EcgLensError` naming the file.
Signals are returned as ``float64`` arrays of shape ``(n_samples, n_leads)``, voltage
leads in mV. Recoverable oddities of a file (a checksum that does not match or was left
at 0, a header that declares fewer samples than the file holds, an initial value that
differs from the first sample, gaps in a multi-segment record) become lines in
:attr:`Record.warnings`, or errors when ``strict=True``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecglens.errors import EcgLensError
from ecglens.io.base import (
    Record,
    _check_values,
    _Findings,
    _short,
    ecg_channel,
    to_millivolts,
)
from ecglens.io.formats import (
    EDF_FILES,
    IMAGE_FILES,
    READABLE,
    SAMPLE_FILES,
    WFDB_FILES,
    WFDB_HEADER,
)
from ecglens.io.limits import MAX_FS, MIN_FS, check_fs

# Bytes per sample of the byte-aligned WFDB formats; 212, 310 and 311 pack samples in bits.
_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2}
_PACKED_FORMATS = {"212", "310", "311"}
_FLAC_FORMATS = {"508", "516", "524"}  # read by wfdb through soundfile; sizes not checked
_READABLE_FORMATS = set(_BYTES_PER_SAMPLE) | _PACKED_FORMATS | _FLAC_FORMATS


@dataclass
class Annotations:
    """Reference annotations: sample indices (at the record's rate) and their symbols."""

    sample: np.ndarray
    symbol: np.ndarray
    fs: float


def _record_base(path: str | Path) -> Path:
    """``data/100``, ``data/100.hea`` and ``data/100.dat`` all name record ``data/100``."""
    path = Path(path)
    if path.suffix.lower() in WFDB_FILES:
        return path.with_suffix("")
    return path


def _sibling(base: Path, suffix: str) -> Path:
    return base.parent / (base.name + suffix)


def read_record(
    path: str | Path,
    fs: float | None = None,
    lead_names: list[str] | None = None,
    strict: bool = False,
    units: str | None = None,
) -> Record:
    """Read a WFDB record, an EDF/BDF file, or a CSV/NPY sample file (by extension).

    A path without extension names a WFDB record (``<path>.hea``) or, failing that,
    ``<path>.edf``/``<path>.bdf``. ``fs`` is required for CSV/NPY files without a time
    column and, for the others, must match the file when given; ``units`` ("mV", "uV", "V")
    is the unit of CSV/NPY samples (default: judged from their amplitude). With
    ``strict``, recoverable oddities (see the module doc) are errors, not warnings.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in IMAGE_FILES:
        raise EcgLensError(
            f"an image ({suffix}), not an ECG signal record: a printout photo or scan needs "
            "an image model (see `ecglens models`)",
            path,
        )
    if path.is_dir() and not _sibling(path, WFDB_HEADER).exists():
        raise EcgLensError(
            "a folder, not a record: give a record file inside it (or the folder to "
            "`ecglens predict`, which reads every record in it)",
            path,
        )
    if suffix in SAMPLE_FILES:
        return read_array_record(path, fs, lead_names, units)
    if suffix in EDF_FILES:
        from ecglens.io.edf import read_edf_record

        return _check_rate(read_edf_record(path, strict=strict), fs, path)
    if suffix not in WFDB_FILES and suffix != "":
        raise EcgLensError(f"not an ECG record format ecglens reads ({suffix}): {READABLE}", path)
    if suffix == "" and not _sibling(path, WFDB_HEADER).exists():
        for other in EDF_FILES:
            if _sibling(path, other).exists():
                from ecglens.io.edf import read_edf_record

                found = _sibling(path, other)
                return _check_rate(read_edf_record(found, strict=strict), fs, found)
        if path.is_file():
            raise EcgLensError(
                f"not an ECG record format ecglens reads (no extension, no {path.name}.hea "
                f"beside it): {READABLE}",
                path,
            )
        raise EcgLensError(
            f"record not found (no .hea header file; also tried {path.name}.edf, {path.name}.bdf)",
            _sibling(path, WFDB_HEADER),
        )
    record = read_wfdb_record(path, strict=strict)
    return _check_rate(record, fs, _sibling(_record_base(path), WFDB_HEADER))


def _check_rate(record: Record, fs: float | None, where: Path) -> Record:
    if fs is not None and abs(fs - record.fs) > 1e-6:
        raise EcgLensError(f"header says {record.fs:g} Hz but {fs:g} Hz was given", where)
    return record


def read_wfdb_record(
    path: str | Path, verify_checksums: bool = True, strict: bool = False
) -> Record:
    """Read a WFDB record (header + signal files, or a multi-segment record).

    Formats 8, 16, 24, 32, 61, 80, 160, 212, 310, 311 (and FLAC 508/516/524), byte
    offsets (``.mat`` signal files), several samples per frame (every signal is brought
    to the fastest one's rate by linear interpolation) and multi-segment records are
    read. Missing or truncated signal files and unknown formats are errors; checksum,
    length and initial-value mismatches are warnings unless ``strict``.
    """
    import wfdb

    base = _record_base(path)
    header = _sibling(base, WFDB_HEADER)
    if not header.exists():
        if Path(path).suffix.lower() == ".mat":
            raise EcgLensError(
                f"a MATLAB file with no WFDB header beside it ({header.name}): ecglens reads "
                ".mat signal files through their header",
                path,
            )
        raise EcgLensError("record not found (no .hea header file)", header)
    head = _read_header(base)
    if isinstance(head, wfdb.MultiRecord):
        return _read_multi_segment(base, head, verify_checksums, strict)
    findings = _Findings(strict)
    signals, fs, units = _read_single(base, head, findings, verify_checksums)
    record = Record(
        signals=signals,
        fs=fs,
        lead_names=_signal_names(head),
        name=base.name,
        path=base,
        comments=list(head.comments or []),
        warnings=findings.warnings,
        units=units,
    )
    _check_values(record, base.parent / head.file_name[0])
    return record


def _read_header(base: Path):
    import wfdb

    header = _sibling(base, WFDB_HEADER)
    try:
        return wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises many types for a malformed header
        raise EcgLensError(f"malformed WFDB header ({_short(exc)})", header) from exc


def _signal_names(head) -> list[str]:
    """The header's signal descriptions; ``lead<i>`` for those it leaves out."""
    return [f"lead{i}" if n is None else str(n) for i, n in enumerate(head.sig_name or [])]


def _read_single(
    base: Path, head, findings: _Findings, verify_checksums: bool
) -> tuple[np.ndarray, float, list[str]]:
    """Signals (n_samples, n_signals) in physical units, the rate in Hz and the units."""
    header = _sibling(base, WFDB_HEADER)
    if not head.sig_name:
        raise EcgLensError("header lists no signals", header)
    n_sig = len(head.sig_name)
    spf = [int(s or 1) for s in (head.samps_per_frame or [1] * n_sig)]
    for file_name in dict.fromkeys(head.file_name or []):
        _check_signal_file(base, head, file_name, spf, findings)
    first_file = base.parent / head.file_name[0]
    try:
        rec, digital = read_digital(base, head)
    except Exception as exc:
        raise EcgLensError(f"cannot read signals ({_short(exc)})", first_file) from exc
    if verify_checksums:
        _check_checksums(base, rec, digital, findings)
    gains, baselines, raw_units = signal_scaling(rec)
    physical, units = [], []
    for ch in range(n_sig):
        values, unit = to_physical(digital[ch], gains[ch], baselines[ch], raw_units[ch])
        physical.append(values)
        units.append(unit)
    fs = float(rec.fs)
    fastest = max(spf)
    if fastest > 1:
        n_frames = len(physical[0]) // spf[0]
        slow = [_signal_names(head)[ch] for ch in range(n_sig) if spf[ch] < fastest]
        if slow:
            findings.note(
                f"signals at different rates: {', '.join(slow)} interpolated to {fs * fastest:g} Hz"
            )
        t_out = np.arange(n_frames * fastest) / fastest
        physical = [
            p if spf[ch] == fastest else np.interp(t_out, np.arange(len(p)) / spf[ch], p)
            for ch, p in enumerate(physical)
        ]
        fs *= fastest
    return np.column_stack(physical), fs, units


def signal_scaling(head) -> tuple[list[float], list[float], list[str]]:
    """Each signal's ADC gain (WFDB's default 200 where the header leaves it out), baseline,
    and unit (mV where the header leaves it out), from a wfdb header or record."""
    n_sig = len(head.sig_name)
    gains = [float(g) if g else 200.0 for g in head.adc_gain]
    baselines = [float(b or 0) for b in head.baseline]
    units = [u or "mV" for u in (head.units or [None] * n_sig)]
    return gains, baselines, units


def to_physical(
    digital: np.ndarray, gain: float, baseline: float, unit: str
) -> tuple[np.ndarray, str]:
    """Digital samples as float64 physical values, in mV for a voltage ``unit``; and the
    unit (:func:`~ecglens.io.base.to_millivolts`)."""
    return to_millivolts((np.asarray(digital).astype(np.float64) - baseline) / gain, unit)


def read_digital(
    base: Path,
    head,
    sampfrom: int = 0,
    sampto: int | None = None,
    channels: list[int] | None = None,
):
    """wfdb's record and its digital samples ``[sampfrom, sampto)`` (default: all), one 1-D
    array per signal of ``channels`` (default: all), every sample (no frame smoothing)."""
    import wfdb

    picked = range(len(head.fmt)) if channels is None else channels
    window = {"sampfrom": sampfrom, "sampto": sampto, "channels": channels}
    if "61" not in {str(head.fmt[c]) for c in picked}:
        rec = wfdb.rdrecord(str(base), physical=False, smooth_frames=False, **window)
        return rec, [np.asarray(s) for s in rec.e_d_signal]
    # wfdb 4.3 cannot return format 61's big-endian samples as digital values: read them
    # physical and undo its scaling (exact: 16-bit values in float64); NaN = invalid sample
    rec = wfdb.rdrecord(str(base), physical=True, smooth_frames=False, **window)
    digital = []
    for ch, values in enumerate(rec.e_p_signal):
        raw = np.asarray(values) * float(rec.adc_gain[ch]) + float(rec.baseline[ch])
        digital.append(np.where(np.isnan(raw), -32768, np.rint(raw)).astype(np.int64))
    return rec, digital


def _check_signal_file(
    base: Path, head, file_name: str, spf: list[int], findings: _Findings
) -> None:
    """Refuse a missing or truncated signal file; note one holding more than the header says."""
    header = _sibling(base, WFDB_HEADER)
    data_file = base.parent / file_name
    idx = [i for i, f in enumerate(head.file_name) if f == file_name]
    fmts = {str(head.fmt[i]) for i in idx}
    if len(fmts) != 1:
        raise EcgLensError(f"signals in {file_name} mix formats {sorted(fmts)}", header)
    fmt = fmts.pop()
    if fmt not in _READABLE_FORMATS:
        raise EcgLensError(
            f"unknown signal format {fmt!r} for {file_name} (WFDB formats read: "
            f"{', '.join(sorted(_READABLE_FORMATS, key=int))})",
            header,
        )
    if not data_file.exists():
        raise EcgLensError("signal file missing", data_file)
    if fmt in _FLAC_FORMATS or not head.sig_len:
        return
    offset = int((head.byte_offset or [0] * len(head.file_name))[idx[0]] or 0)
    per_frame = sum(spf[i] for i in idx)
    size = data_file.stat().st_size
    expected = offset + _bytes_for(fmt, head.sig_len * per_frame)
    if size < expected:
        raise EcgLensError(
            f"signal file truncated: {size} bytes, header implies {expected}", data_file
        )
    frames = _samples_in(fmt, size - offset) // per_frame
    # MATLAB v5 files pad their data to a multiple of 8 bytes
    slack = 8 if data_file.suffix.lower() == ".mat" else 0
    if frames > head.sig_len and size - expected >= max(slack, 1):
        findings.oddity(
            f"{file_name} holds {frames} samples per signal but the header says "
            f"{head.sig_len}: read the first {head.sig_len}",
            data_file,
        )


def _bytes_for(fmt: str, n_samples: int) -> int:
    """Bytes that ``n_samples`` samples (all signals of a file together) take in ``fmt``."""
    if fmt == "212":
        return math.ceil(n_samples * 1.5)
    if fmt in ("310", "311"):
        return math.ceil(n_samples * 4 / 3)
    return n_samples * _BYTES_PER_SAMPLE[fmt]


def samples_in_signal_file(fmt: str, n_bytes: int) -> int | None:
    """Samples (all signals of a file together) that ``n_bytes`` of a WFDB signal file in
    format ``fmt`` hold: the sample count of a header that leaves it out. None for FLAC
    (compressed: its size does not bound it) and unknown formats."""
    if fmt in _FLAC_FORMATS or fmt not in _READABLE_FORMATS:
        return None
    return _samples_in(fmt, max(int(n_bytes), 0))


def _samples_in(fmt: str, n_bytes: int) -> int:
    """Whole samples that ``n_bytes`` bytes hold in ``fmt``."""
    if fmt == "212":
        return n_bytes * 2 // 3
    if fmt in ("310", "311"):
        return n_bytes * 3 // 4
    return n_bytes // _BYTES_PER_SAMPLE[fmt]


def _check_checksums(base: Path, rec, digital: list[np.ndarray], findings: _Findings) -> None:
    """Compare each signal's 16-bit sample sum and first sample with the header's fields."""
    names = _signal_names(rec)
    wanted = rec.checksum or [None] * len(names)
    initial = rec.init_value or [None] * len(names)
    unchecked = []
    for ch, name in enumerate(names):
        data_file = base.parent / rec.file_name[ch]
        got = (int(np.sum(digital[ch], dtype=np.int64)) + 32768) % 65536 - 32768  # as int16
        want = wanted[ch]
        if want is None:
            unchecked.append(name)
        elif (int(want) - got) % 65536 != 0:
            if int(want) == 0:
                findings.oddity(
                    f"signal {name!r}: the header's checksum is 0 (not filled in; the samples "
                    f"sum to {got}), so the samples are not verified",
                    data_file,
                )
            else:
                findings.oddity(
                    f"signal {name!r} fails its header checksum ({got} != {int(want)})"
                    ": the file may be corrupted",
                    data_file,
                )
        skewed = bool(rec.skew and rec.skew[ch])
        start = initial[ch]
        fmt = str(rec.fmt[ch])
        checkable = start is not None and fmt != "8" and not skewed and len(digital[ch])
        if checkable and int(digital[ch][0]) != int(start):
            findings.oddity(
                f"signal {name!r} starts at {int(digital[ch][0])} but the header's "
                f"initial value is {int(start)}",
                data_file,
            )
    if unchecked:
        findings.note(f"no checksum in the header for {', '.join(unchecked)}: not verified")


def _read_multi_segment(base: Path, master, verify_checksums: bool, strict: bool) -> Record:
    """Join the segments of a multi-segment record (fixed or variable layout).

    Signals are matched by name; a null segment (``~``) or a signal missing from a segment
    is a gap, filled with 0 and reported (an error when ``strict``). Signals absent from
    every segment are left out.
    """
    header = _sibling(base, WFDB_HEADER)
    findings = _Findings(strict)
    fs = float(master.fs)
    names: list[str] | None = None
    pieces: list[tuple[int, Record | None]] = []
    by_message: dict[str, list[str]] = {}
    for i, (seg_name, seg_len) in enumerate(zip(master.seg_name, master.seg_len, strict=True)):
        seg_len = int(seg_len)
        if seg_name == "~":
            pieces.append((seg_len, None))
            continue
        seg_base = base.parent / seg_name
        if not _sibling(seg_base, WFDB_HEADER).exists():
            raise EcgLensError(f"segment header of record {base.name} missing", seg_base)
        if i == 0 and seg_len == 0:
            names = _signal_names(_read_header(seg_base))
            continue
        seg = _read_segment(seg_base, verify_checksums, strict)
        if abs(seg.fs - fs) > 1e-6:
            raise EcgLensError(
                f"segment at {seg.fs:g} Hz in a record at {fs:g} Hz",
                _sibling(seg_base, WFDB_HEADER),
            )
        if seg.n_samples < seg_len:
            raise EcgLensError(
                f"segment holds {seg.n_samples} samples but {header.name} says {seg_len}",
                _sibling(seg_base, WFDB_HEADER),
            )
        if seg.n_samples > seg_len:
            findings.oddity(
                f"segment {seg_name} holds {seg.n_samples} samples but the master header "
                f"says {seg_len}: read the first {seg_len}",
                _sibling(seg_base, WFDB_HEADER),
            )
        for message in seg.warnings:
            by_message.setdefault(message, []).append(seg_name)
        if names is None:
            names = list(seg.lead_names)
        pieces.append((seg_len, seg))
    if names is None:
        raise EcgLensError("multi-segment record holds no segments with signals", header)
    present = [n for n in names if any(s is not None and n in s.lead_names for _, s in pieces)]
    total = sum(n for n, _ in pieces)
    signals = np.zeros((total, len(present)))
    units = [""] * len(present)
    gap = np.zeros(len(present), dtype=np.int64)
    start = 0
    for seg_len, seg in pieces:
        for col, name in enumerate(present):
            if seg is not None and name in seg.lead_names:
                j = seg.lead_names.index(name)
                signals[start : start + seg_len, col] = seg.signals[:seg_len, j]
                units[col] = units[col] or (seg.units[j] if seg.units else "mV")
            else:
                gap[col] += seg_len
        start += seg_len
    for message, segs in by_message.items():
        shown = ", ".join(segs[:3]) + (f" and {len(segs) - 3} more" if len(segs) > 3 else "")
        findings.note(f"segment{'s' if len(segs) > 1 else ''} {shown}: {message}")
    if gap.any():
        detail = ", ".join(f"{n} {g / fs:.1f} s" for n, g in zip(present, gap, strict=True) if g)
        findings.oddity(f"gaps in the multi-segment record filled with 0 ({detail})", header)
    record = Record(
        signals=signals,
        fs=fs,
        lead_names=present,
        name=base.name,
        path=base,
        comments=list(master.comments or []),
        warnings=findings.warnings,
        units=units,
    )
    _check_values(record, header)
    return record


def _read_segment(seg_base: Path, verify_checksums: bool, strict: bool) -> Record:
    import wfdb

    head = _read_header(seg_base)
    if isinstance(head, wfdb.MultiRecord):
        raise EcgLensError(
            "a segment may not itself be multi-segment", _sibling(seg_base, WFDB_HEADER)
        )
    findings = _Findings(strict)
    signals, fs, units = _read_single(seg_base, head, findings, verify_checksums)
    return Record(
        signals=signals,
        fs=fs,
        lead_names=_signal_names(head),
        name=seg_base.name,
        path=seg_base,
        warnings=findings.warnings,
        units=units,
    )


def read_array_record(
    path: str | Path,
    fs: float | None = None,
    lead_names: list[str] | None = None,
    units: str | None = None,
) -> Record:
    """Read samples from a CSV/TXT (one column per lead, optional header row) or NPY file.

    Shape (n_samples,) or (n_samples, n_leads). A time column (seconds, milliseconds or
    date-time stamps) gives the sampling rate and is left out; ``fs`` (Hz) is needed without
    one and must agree with it within 1% otherwise (:func:`resolve_rate`). ``units`` ("mV",
    "uV", "V"; default: judged from the amplitudes, see :func:`units_factor`) brings the
    values to mV.
    """
    path = Path(path)
    if not path.exists():
        raise EcgLensError("file not found", path)
    names = lead_names
    warnings = []
    try:
        values, header_names, stamps = _read_samples_table(path)
    except EcgLensError:
        raise
    except Exception as exc:
        raise EcgLensError(f"cannot read samples ({_short(exc)})", path) from exc
    if names is None:
        names = header_names
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[0] < 2:
        raise EcgLensError(
            f"expected (samples,) or (samples, leads), got shape {values.shape}", path
        )
    if values.shape[0] < values.shape[1]:
        values = values.T  # (leads, samples) given: transpose
        warnings.append(f"values read as {values.shape[1]} leads of {values.shape[0]} samples")
    if names is None or len(names) != values.shape[1]:
        names = [f"lead{i}" for i in range(values.shape[1])]
    for k, seconds in stamps.items():
        values[:, k] = seconds
    clocks = [k for k in range(values.shape[1]) if is_time_column(values[:, k])]
    clock = clock_name = None
    if clocks and len(clocks) < values.shape[1]:
        dropped = ", ".join(repr(names[k]) for k in clocks)
        rates = [(clock_rate(values[:, k], None if k in stamps else names[k]), k) for k in clocks]
        clock, k = next(((r, k) for r, k in rates if r is not None), (None, clocks[0]))
        clock_name = names[k]
        what = f"a clock at {clock:.6g} Hz" if clock is not None else "time or sample index"
        warnings.append(f"column {dropped} rises at a constant step ({what}), not an ECG "
                        "lead: left out")
        keep = [k for k in range(values.shape[1]) if k not in clocks]
        values, names = values[:, keep], [names[k] for k in keep]
    rate = resolve_rate(fs, clock, clock_name, path)
    record = Record(
        signals=values,
        fs=rate,
        lead_names=names,
        name=path.stem,
        path=path,
        warnings=warnings,
        units=["mV"] * values.shape[1],
    )
    _check_values(record, path)
    factor, message = units_factor(typical_amplitude(values, rate), units, path)
    if factor != 1.0:
        record.signals = values * factor
    if message:
        record.warnings.append(message)
    return record


def is_time_column(column: np.ndarray) -> bool:
    """True for a column that rises at every row at a near-constant step (a time or
    sample-index column of a CSV file, clock jitter allowed); an ECG lead never does."""
    steps = np.diff(np.asarray(column, dtype=np.float64))
    if len(steps) < 2 or not np.all(steps > 0):
        return False
    return bool(np.ptp(steps) <= CLOCK_JITTER * np.median(steps) + 1e-12)


RATE_TOLERANCE = 0.01  # a time column's rate and --fs may differ by this fraction
CLOCK_JITTER = 0.5  # a clock's steps may spread by this fraction of the median step
UNITS = {"mV": 1.0, "uV": 1e-3, "V": 1e3}  # --units -> factor to mV
# Robust amplitude (mV) of a lead that reads as an ECG in mV: QRS amplitudes of 0.3-5 mV,
# with margins for low-voltage leads and noise (MIT-BIH MLII: 1-3.3 mV).
PLAUSIBLE_MV = (0.1, 20.0)


def _read_samples_table(path: Path) -> tuple[np.ndarray, list[str] | None, dict[int, np.ndarray]]:
    """Values (rows, columns) of a CSV/TXT/NPY file, the header's column names (None without a
    header row) and the columns that held timestamps (as seconds; NaN in ``values``)."""
    if path.suffix.lower() == ".npy":
        return np.load(path, allow_pickle=False), None, {}
    import pandas as pd

    first = _first_line(path)
    sep = next((d for d in (",", ";", "\t") if d in first), r"\s+")
    has_header = not _is_numeric_row(first, sep)
    frame = pd.read_csv(path, header=0 if has_header else None, sep=sep, engine="python")
    names = [str(c).strip() for c in frame.columns] if has_header else None
    stamps: dict[int, np.ndarray] = {}
    for k, column in enumerate(frame.columns):
        if not pd.api.types.is_numeric_dtype(frame[column].dtype):
            seconds = timestamps_in_seconds(frame[column])
            if seconds is not None:
                stamps[k] = seconds
                frame[column] = np.nan
    return frame.to_numpy(dtype=np.float64), names, stamps


def timestamps_in_seconds(column) -> np.ndarray | None:
    """A column of date-time strings (ISO 8601, "2024-05-01 12:00:00.004", ...) as seconds
    from its first row; None when it does not parse as date-times."""
    import pandas as pd

    try:
        stamps = pd.to_datetime(column, errors="raise", format="mixed")
    except (ValueError, TypeError):
        return None
    return (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy(dtype=np.float64)


# Time units a clock column's name may carry -> seconds per unit.
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "seconds": 1.0, "ms": 1e-3, "msec": 1e-3,
               "millis": 1e-3, "milliseconds": 1e-3, "us": 1e-6, "µs": 1e-6,
               "microseconds": 1e-6}  # fmt: skip
_INDEX_NAMES = {"sample", "samples", "index", "idx", "n", "i", "row", "sample_index"}


def clock_rate(column: np.ndarray, name: str | None = None) -> float | None:
    """The sampling rate (Hz) a time column gives: seconds, milliseconds (by its name, e.g.
    ``time_ms``, or by a step that is only a plausible rate in ms, e.g. 4 -> 250 Hz),
    microseconds by name; None for a sample index (integer steps of 1, or a name such as
    ``sample``) or a step that is a plausible ECG rate in no unit."""
    values = np.asarray(column, dtype=np.float64)
    span, steps = values[-1] - values[0], len(values) - 1
    if steps < 1 or span <= 0:
        return None
    step = span / steps
    words = [w for w in re.split(r"[^a-zµ]+", (name or "").lower()) if w]
    if any(w in _INDEX_NAMES for w in words):
        return None
    for word in reversed(words):
        if word in _TIME_UNITS:
            return 1.0 / (step * _TIME_UNITS[word])
    integer = np.allclose(values, np.round(values))
    if integer and abs(step - 1.0) < 1e-9:
        return None  # 0, 1, 2, ...: a sample index, not a clock
    for unit in (1.0, 1e-3):  # seconds first, then milliseconds
        rate = 1.0 / (step * unit)
        if MIN_FS <= rate <= MAX_FS:
            return rate
    return None


def resolve_rate(
    given: float | None, clock: float | None, clock_name: str | None, where: Path
) -> float:
    """The sampling rate of a sample file: the time column's, ``given`` (``--fs``), or both
    when they agree within ``RATE_TOLERANCE``; checked with :func:`check_fs`."""
    if given is not None:
        check_fs(given, where, "--fs")
    if clock is None:
        if given is None:
            raise EcgLensError(
                "a CSV/NumPy sample file needs its sampling rate: give --fs HZ (e.g. --fs 250) "
                "or a time column in seconds or ms",
                where,
            )
        return float(given)
    check_fs(clock, where, f"the rate of time column {clock_name!r}")
    if given is not None and abs(given - clock) > RATE_TOLERANCE * clock:
        raise EcgLensError(
            f"time column {clock_name!r} steps at {clock:.6g} Hz but --fs {given:g} was given: "
            f"give --fs {clock:.6g} or leave --fs out",
            where,
        )
    if given is not None:
        return float(given)
    whole = round(clock)  # clocks rounded to the ms or µs: 360.0013 Hz is 360 Hz
    return float(whole) if abs(clock - whole) <= 1e-3 * clock else round(clock, 6)


def typical_amplitude(values: np.ndarray, fs: float) -> float:
    """A robust peak-to-peak amplitude of the leads (their units): per lead, the 0.5-99.5
    percentile range after removing a 1-s moving mean (baseline wander); the median over
    leads. (n_samples, n_leads) in; a number out (0 for flat leads)."""
    from scipy.ndimage import uniform_filter1d

    window = max(1, int(round(fs)))
    amplitudes = []
    for lead in np.asarray(values, dtype=np.float64).T:
        x = lead[: int(fs * 300)]  # the first five minutes say enough
        x = x[np.isfinite(x)]  # non-finite samples are the reader's error, not this check's
        if len(x) < 2:
            continue
        detrended = x - uniform_filter1d(x, window, mode="nearest")
        low, high = np.percentile(detrended, [0.5, 99.5])
        amplitudes.append(float(high - low))
    return float(np.median(amplitudes)) if amplitudes else 0.0


def units_factor(amplitude: float, units: str | None, where: Path) -> tuple[float, str | None]:
    """The factor that brings samples of robust ``amplitude`` (:func:`typical_amplitude`) to
    mV, and a warning or None. ``units`` given ("mV", "uV", "V"): its factor, with a warning
    when the result is no ECG amplitude; not given: mV when plausible (``PLAUSIBLE_MV``),
    else µV or V when only those fit (converted, with a warning), else an error."""
    low, high = PLAUSIBLE_MV
    if units is not None:
        key = units.replace("µ", "u").replace("μ", "u")
        match = {k.lower(): k for k in UNITS}.get(key.lower())
        if match is None:
            raise EcgLensError(f"--units must be one of {', '.join(UNITS)}, not {units!r}", where)
        factor = UNITS[match]
        mv = amplitude * factor
        if amplitude > 0 and not low <= mv <= high:
            return factor, (
                f"amplitudes of about {mv:.3g} mV in {match} are not those of an ECG "
                f"({low:g}-{high:g} mV): check --units"
            )
        return factor, None
    if amplitude == 0 or low <= amplitude <= high:
        return 1.0, None
    for unit in ("uV", "V"):
        if low <= amplitude * UNITS[unit] <= high:
            return UNITS[unit], (
                f"values of about {amplitude:.3g} peak to peak fit an ECG only in {unit}: "
                f"converted from {unit} to mV (give --units to say otherwise)"
            )
    raise EcgLensError(
        f"values of about {amplitude:.3g} peak to peak fit an ECG in none of mV, uV or V "
        f"({low:g}-{high:g} mV): give --units, or check that the file holds ECG samples",
        where,
    )


def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                return line.strip()
    return ""


def _is_numeric_row(line: str, sep: str) -> bool:
    cells = [c for c in re.split(sep if sep != r"\s+" else r"\s+", line) if c.strip()]
    try:
        [float(c) for c in cells]
    except ValueError:
        return False
    return bool(cells)


def select_lead(record: Record, lead: str | int | None = None) -> tuple[np.ndarray, str]:
    """One lead of ``record`` as a 1-D array, with its name.

    ``lead`` is a name (case-insensitive) or a 0-based index; by default the channel whose
    label is most ECG-like (:func:`ecg_channel`: lead II or MLII first, so a 12-lead record
    gives lead II, then "ECG", then other leads in their order), else the first signal.
    """
    names = record.lead_names
    where = record.path or record.name
    if lead is None:
        best = ecg_channel(names)
        idx = 0 if best is None else best
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
    ann_file = _sibling(base, f".{extension}")
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


