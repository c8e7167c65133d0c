"""Read EDF/EDF+ and BDF/BDF+ files (Holter and wearable exports) through ``edfio``.

Only the signals sampled at the ECG channel's rate are kept (the ECG channel is chosen by
label, :func:`~ecglens.io.records.ecg_channel`); channels at other rates (respiration,
SpO2, accelerometers) are left out and listed in the record's warnings, so no signal is
resampled.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ecglens.errors import EcgLensError
from ecglens.io.base import (
    Record,
    _check_values,
    _ecg_rank,
    _Findings,
    _short,
    ecg_channel,
    to_millivolts,
)


def read_edf_record(path: str | Path, strict: bool = False) -> Record:
    """Read an EDF/EDF+/BDF/BDF+ file: (n_samples, n_leads) in mV for voltage channels.

    Lead names are the channel labels; annotation channels are skipped. The file's first
    byte decides EDF or BDF, whatever the extension. A discontinuous recording (EDF+D)
    is read with its data records joined, and reported (an error when ``strict``).
    """
    path = Path(path)
    if not path.is_file():
        raise EcgLensError("file not found", path)
    try:
        import edfio
    except ImportError as exc:
        raise EcgLensError("reading EDF/BDF files needs the edfio package", path) from exc
    with path.open("rb") as f:
        first = f.read(1)
    if first not in (b"0", b"\xff"):
        raise EcgLensError("not an EDF/BDF file (its header does not start with '0')", path)
    findings = _Findings(strict)
    n_records = _check_size(path, 2 if first == b"0" else 3, findings)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # edfio warns of what _check_size reported
            if first == b"0":
                edf = edfio.read_edf(path, header_encoding="latin-1")
            else:
                edf = edfio.read_bdf(path, header_encoding="latin-1")
        channels = list(edf.signals)
        reserved = str(edf.reserved)
    except Exception as exc:  # edfio raises ValueError and others for a malformed file
        raise EcgLensError(f"cannot read EDF/BDF file ({_short(exc)})", path) from exc
    if not channels:
        raise EcgLensError("file holds no signals", path)
    labels = [str(c.label).strip() for c in channels]
    ecg = ecg_channel(labels)
    if ecg is None:
        findings.note(f"no channel labelled as an ECG ({', '.join(labels)}): using {labels[0]}")
        ecg = 0
    fs = float(channels[ecg].sampling_frequency)
    keep = [i for i, c in enumerate(channels) if abs(c.sampling_frequency - fs) < 1e-9]
    left_out = [f"{labels[i]} ({channels[i].sampling_frequency:g} Hz)" for i in range(len(labels))]
    left_out = [t for i, t in enumerate(left_out) if i not in keep]
    if left_out:
        findings.note(f"channels at other rates than {fs:g} Hz left out: {', '.join(left_out)}")
    if reserved.upper().startswith(("EDF+D", "BDF+D")):
        findings.oddity("discontinuous recording (EDF+D): its data records joined end to end", path)
    columns, units = [], []
    try:
        for i in keep:
            values = np.asarray(channels[i].data, dtype=np.float64)
            if n_records is not None:
                values = values[: n_records * int(channels[i].samples_per_data_record)]
            unit = str(channels[i].physical_dimension).strip()
            if not unit and _ecg_rank(labels[i]) is not None:
                findings.note(f"channel {labels[i]!r} has no physical unit: taken as mV")
                unit = "mV"
            values, unit = to_millivolts(values, unit)
            columns.append(values)
            units.append(unit)
    except Exception as exc:
        raise EcgLensError(f"cannot read EDF/BDF samples ({_short(exc)})", path) from exc
    n = min(len(c) for c in columns)
    record = Record(
        signals=np.column_stack([c[:n] for c in columns]),
        fs=fs,
        lead_names=[labels[i] for i in keep],
        name=path.stem,
        path=path,
        warnings=findings.warnings,
        units=units,
    )
    _check_values(record, path)
    return record


def _check_size(path: Path, bytes_per_sample: int, findings: _Findings) -> int | None:
    """Refuse a file shorter than its header says (samples missing); note a longer one.

    Returns the number of data records the header declares (None when it says -1).
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        fixed = f.read(256)
        try:
            header_bytes = int(fixed[184:192])
            n_records = int(fixed[236:244])
            ns = int(fixed[252:256])
        except ValueError as exc:
            raise EcgLensError(f"malformed EDF/BDF header ({_short(exc)})", path) from exc
        if n_records < 0 or ns <= 0:
            return None  # -1: still being recorded, the length is unknown
        f.seek(256 + ns * 216)
        try:
            per_record = sum(int(f.read(8)) for _ in range(ns))
        except ValueError as exc:
            raise EcgLensError(f"malformed EDF/BDF header ({_short(exc)})", path) from exc
    expected = header_bytes + n_records * per_record * bytes_per_sample
    if size < expected:
        raise EcgLensError(f"file truncated: {size} bytes, header implies {expected}", path)
    if size > expected:
        findings.oddity(
            f"{size - expected} bytes after the {n_records} data records the header declares: "
            f"read those {n_records}",
            path,
        )
    return n_records
