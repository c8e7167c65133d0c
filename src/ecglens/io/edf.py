"""Read EDF/EDF+ and BDF/BDF+ files (Holter and wearable exports) through ``edfio``.

One reader for whole and windowed reads: :func:`open_edf` reads the header and chooses the
channels (:func:`choose_channels`), :func:`read_edf_samples` reads samples ``[sampfrom,
sampto)`` of one channel, :func:`read_edf_record` a whole file (or a window of it) as a
:class:`~ecglens.io.base.Record`.

Only the signals sampled at the ECG channel's rate are kept (the ECG channel is chosen by
label, :func:`~ecglens.io.base.ecg_channel`); channels at other rates (respiration,
SpO2, accelerometers) are left out and listed in the warnings, so no signal is resampled.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ecglens.errors import EcgLensError
from ecglens.io.base import (
    NotWindowed,
    Record,
    _check_values,
    _ecg_rank,
    _Findings,
    _short,
    ecg_channel,
    to_millivolts,
)
from ecglens.io.limits import check_fs

EDF_FIRST_BYTE = b"0"
BDF_FIRST_BYTE = b"\xff"


@dataclass
class EdfFile:
    """An opened EDF/BDF file: its header facts and the channels ecglens reads.

    fs: Hz (the ECG channel's rate); channels: indices of the kept signals in the file;
    lead_names / units: one per kept channel (voltage channels in "mV"); raw_units: their
    units as the file says (empty ones of ECG channels taken as mV); n_samples: samples per
    kept channel; declared_records: data records the header declares (None for -1);
    lazy: data records memory-mapped (EDF only); warnings: one line each.
    """

    path: Path
    fs: float
    channels: list[int]
    lead_names: list[str]
    units: list[str]
    raw_units: list[str]
    n_samples: int
    declared_records: int | None
    lazy: bool
    warnings: list[str] = field(default_factory=list)
    edf: Any = field(default=None, repr=False)


def choose_channels(
    labels: list[str], rates: list[float], findings: _Findings
) -> tuple[int, list[int]]:
    """The ECG channel (by label, else the first) and the channels at its rate.

    ``labels`` and ``rates`` (Hz) one per signal; channels at other rates and a missing ECG
    label are noted in ``findings``. Returns ``(ecg index, kept indices)``.
    """
    ecg = ecg_channel(labels)
    if ecg is None:
        findings.note(f"no channel labelled as an ECG ({', '.join(labels)}): using {labels[0]}")
        ecg = 0
    fs = rates[ecg]
    keep = [i for i, rate in enumerate(rates) if abs(rate - fs) < 1e-9]
    left_out = [f"{labels[i]} ({rates[i]:g} Hz)" for i in range(len(labels)) if i not in keep]
    if left_out:
        findings.note(f"channels at other rates than {fs:g} Hz left out: {', '.join(left_out)}")
    return ecg, keep


def open_edf(path: str | Path, strict: bool = False, lazy: bool = False) -> EdfFile:
    """Read the header of an EDF/EDF+/BDF/BDF+ file and choose its channels.

    The file's first byte decides EDF or BDF, whatever the extension. With ``lazy`` the data
    records are memory-mapped, not read (EDF only: a BDF file raises :class:`NotWindowed`).
    A file shorter than its header says is an error; a longer one and a discontinuous
    recording (EDF+D) are read with a warning (errors when ``strict``).
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
    if lazy and first == BDF_FIRST_BYTE:
        raise NotWindowed("a BDF file: not read in windows (edfio reads BDF whole)", path)
    if first not in (EDF_FIRST_BYTE, BDF_FIRST_BYTE):
        raise EcgLensError("not an EDF/BDF file (its header does not start with '0')", path)
    findings = _Findings(strict)
    n_records = _check_size(path, 2 if first == EDF_FIRST_BYTE else 3, findings)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # edfio warns of what _check_size reported
            if first == EDF_FIRST_BYTE:
                edf = edfio.read_edf(path, lazy_load_data=lazy, header_encoding="latin-1")
            else:
                edf = edfio.read_bdf(path, header_encoding="latin-1")
        channels = list(edf.signals)
        reserved = str(edf.reserved)
    except Exception as exc:  # edfio raises ValueError and others for a malformed file
        raise EcgLensError(f"cannot read EDF/BDF file ({_short(exc)})", path) from exc
    if not channels:
        raise EcgLensError("file holds no signals", path)
    labels = [str(c.label).strip() for c in channels]
    rates = [float(c.sampling_frequency) for c in channels]
    ecg, keep = choose_channels(labels, rates, findings)
    check_fs(rates[ecg], path, f"channel {labels[ecg]!r}: sampling rate")
    for i in keep:
        check_calibration(channels[i], labels[i], path)
    if reserved.upper().startswith(("EDF+D", "BDF+D")):
        findings.oddity("discontinuous recording (EDF+D): its data records joined end to end", path)
    units, raw_units = [], []
    for i in keep:
        unit = str(channels[i].physical_dimension).strip()
        if not unit and _ecg_rank(labels[i]) is not None:
            findings.note(f"channel {labels[i]!r} has no physical unit: taken as mV")
            unit = "mV"
        raw_units.append(unit)
        units.append(to_millivolts(np.zeros(1), unit)[1])
    records = edf.num_data_records if n_records is None else min(n_records, edf.num_data_records)
    return EdfFile(
        path=path,
        fs=rates[ecg],
        channels=keep,
        lead_names=[labels[i] for i in keep],
        units=units,
        raw_units=raw_units,
        n_samples=int(records * channels[ecg].samples_per_data_record),
        declared_records=n_records,
        lazy=lazy,
        warnings=findings.warnings,
        edf=edf,
    )


def check_calibration(signal: Any, label: str, path: Path) -> None:
    """Refuse a channel whose physical or digital minimum equals its maximum: its samples
    cannot be scaled to physical units (edfio would return raw counts)."""
    try:
        ranges = {
            "physical": (float(signal.physical_min), float(signal.physical_max)),
            "digital": (float(signal.digital_min), float(signal.digital_max)),
        }
    except ValueError as exc:
        raise EcgLensError(
            f"channel {label!r}: malformed calibration ({_short(exc)})", path
        ) from exc
    for kind, (low, high) in ranges.items():
        if not np.isfinite(low) or not np.isfinite(high) or low == high:
            raise EcgLensError(
                f"channel {label!r}: {kind} minimum {low:g} equals its maximum {high:g}: "
                "no calibration to physical units",
                path,
            )


def read_edf_samples(
    edf: EdfFile, index: int, sampfrom: int = 0, sampto: int | None = None
) -> np.ndarray:
    """Samples ``[sampfrom, sampto)`` (default: to the end) of kept channel ``index``:
    float64, in mV for a voltage channel. A lazily opened file reads only those samples."""
    signal = edf.edf.signals[edf.channels[index]]
    try:
        if edf.lazy:
            stop = edf.n_samples if sampto is None else sampto
            values = signal.get_data_slice(sampfrom / edf.fs, stop / edf.fs)
        else:
            values = np.asarray(signal.data, dtype=np.float64)
            if edf.declared_records is not None:  # extra data records are not read
                values = values[: edf.declared_records * int(signal.samples_per_data_record)]
            values = values[sampfrom:sampto]
    except Exception as exc:
        raise EcgLensError(f"cannot read EDF/BDF samples ({_short(exc)})", edf.path) from exc
    return to_millivolts(np.asarray(values, dtype=np.float64), edf.raw_units[index])[0]


def read_edf_record(
    path: str | Path, strict: bool = False, sampfrom: int = 0, sampto: int | None = None
) -> Record:
    """Read an EDF/EDF+/BDF/BDF+ file: (n_samples, n_leads) in mV for voltage channels.

    Samples ``[sampfrom, sampto)`` (default: all) of the channels :func:`open_edf` keeps;
    lead names are the channel labels. A discontinuous recording (EDF+D) is read with its
    data records joined, and reported (an error when ``strict``).
    """
    edf = open_edf(path, strict=strict)
    columns = [read_edf_samples(edf, k, sampfrom, sampto) for k in range(len(edf.channels))]
    n = min(len(c) for c in columns)
    record = Record(
        signals=np.column_stack([c[:n] for c in columns]),
        fs=edf.fs,
        lead_names=list(edf.lead_names),
        name=edf.path.stem,
        path=edf.path,
        warnings=edf.warnings,
        units=list(edf.units),
    )
    _check_values(record, edf.path)
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
