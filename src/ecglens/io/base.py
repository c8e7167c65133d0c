"""What every ECG reader shares: the :class:`Record` type (arrays with shapes and units), unit
conversion to mV, the choice of the ECG channel among a file's signals, and the findings
(warnings, or errors under strict reading) a reader collects."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecglens.errors import EcgLensError

# Voltage units (lower case, no spaces) -> factor to mV.
_TO_MV = {
    "nv": 1e-6,
    "uv": 1e-3,
    "µv": 1e-3,
    "μv": 1e-3,
    "microvolt": 1e-3,
    "microvolts": 1e-3,
    "mv": 1.0,
    "millivolt": 1.0,
    "millivolts": 1.0,
    "v": 1e3,
    "volt": 1e3,
    "volts": 1e3,
}


_STANDARD_LEADS = {"I", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"}


@dataclass
class Record:
    """A multi-lead ECG record.

    signals: (n_samples, n_leads), voltage leads in mV; fs: sampling rate in Hz;
    units: one per lead ("mV" for every voltage lead; empty when not known);
    warnings: recoverable oddities met while reading, one line each.
    """

    signals: np.ndarray
    fs: float
    lead_names: list[str]
    name: str
    path: Path | None = None
    comments: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return int(self.signals.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs


class NotWindowed(EcgLensError):
    """A record that cannot be read in windows (:mod:`ecglens.io.chunks`): read it whole with
    :func:`~ecglens.io.records.read_record`."""


class _Findings:
    """Warnings met while reading; ``oddity`` raises instead when strict."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.warnings: list[str] = []

    def oddity(self, message: str, path: Path) -> None:
        if self.strict:
            raise EcgLensError(f"{message} (refused under strict reading)", path)
        self.warnings.append(message)

    def note(self, message: str) -> None:
        self.warnings.append(message)


def to_millivolts(values: np.ndarray, unit: str) -> tuple[np.ndarray, str]:
    """``values`` in mV and ``"mV"`` when ``unit`` is a voltage (nV, uV/µV, mV, V);
    otherwise ``values`` unchanged and ``unit`` as given (stripped)."""
    scale = _TO_MV.get(re.sub(r"\s+", "", unit).lower())
    if scale is None:
        return values, unit.strip()
    return (values * scale if scale != 1.0 else values), "mV"


def _ecg_rank(label: str) -> int | None:
    """How ECG-like a channel label is: 0 lead II / MLII, 1 plain "ECG"/"ECG1", 2 other
    "ECG ..."/"EKG ..." labels, 3 other standard lead names; None when not an ECG."""
    text = re.sub(r"[\s_\-.:/()]+", " ", label.upper()).strip()
    rest = re.sub(r"^(ECG|EKG)\s*", "", text).strip()
    prefixed = rest != text
    rest = re.sub(r"^LEAD\s*", "", rest).replace(" ", "")
    if re.search(r"HR|RATE|PULSE|BPM", rest):
        return None
    if rest in ("II", "MLII", "DII"):
        return 0
    if prefixed and rest in ("", "1", "CH1"):
        return 1
    if prefixed:
        return 2
    if rest in _STANDARD_LEADS or re.fullmatch(r"ML(I|III|V\d)|MV\d", rest):
        return 3
    return None


def ecg_channel(names: list[str]) -> int | None:
    """Index of the channel most likely to be an ECG lead, judged by its label.

    Prefers lead II ("II", "MLII", "ECG II"), then a plain "ECG"/"EKG"/"ECG1", then any
    other "ECG ..." label, then other standard lead names (I, V1, ...); the first of equals.
    None when no label looks like an ECG (e.g. "Resp", "SpO2", "EEG Fpz-Cz").
    """
    ranked = [(r, i) for i, n in enumerate(names) if (r := _ecg_rank(str(n))) is not None]
    return min(ranked)[1] if ranked else None


def _check_values(record: Record, path: Path) -> None:
    if record.n_samples == 0:
        raise EcgLensError("record holds no samples", path)
    if not np.all(np.isfinite(record.signals)):
        bad = int(np.sum(~np.isfinite(record.signals)))
        raise EcgLensError(f"{bad} samples are NaN or infinite", path)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
