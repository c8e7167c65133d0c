"""Physical ranges every input is checked against, in one place: the CLI, the web server and
batch inference all call these checks at their boundary.

Sampling rates outside ``[MIN_FS, MAX_FS]`` are not ECG recordings (ambulatory recorders run at
125-1,000 Hz, research systems up to 10 kHz); a record is resampled for a model only to rates
within ``[MIN_MODEL_FS, MAX_MODEL_FS]``. A record read whole holds at most ``MAX_SAMPLES``
samples (all signals together: 50M is about 24 h of 2 leads at 288 Hz, 400 MB in float64) in at
most ``MAX_SIGNALS`` signals."""

from __future__ import annotations

import math
from pathlib import Path

from ecglens.errors import EcgLensError

MIN_FS = 50.0  # Hz: the lowest rate of a signal ecglens reads
MAX_FS = 10_000.0  # Hz: the highest
MIN_MODEL_FS = 25.0  # Hz: the lowest rate a model resamples to
MAX_MODEL_FS = 1_000.0  # Hz: the highest
MAX_SIGNALS = 64  # signals (leads and other channels) in one record
MAX_SAMPLES = 50_000_000  # samples of one record read whole, all signals together


def check_fs(fs: float, where: str | Path | None = None, option: str = "sampling rate") -> float:
    """``fs`` (Hz) when it is a finite rate within ``[MIN_FS, MAX_FS]``; else an
    :class:`EcgLensError` naming ``option`` (e.g. "--fs") and ``where`` (the file)."""
    if not isinstance(fs, (int, float)) or isinstance(fs, bool) or not math.isfinite(fs):
        raise EcgLensError(f"{option} must be a number of Hz, not {fs!r}", where)
    if not MIN_FS <= fs <= MAX_FS:
        raise EcgLensError(
            f"{option} {fs:g} Hz is outside {MIN_FS:g}-{MAX_FS:,.0f} Hz, the rates of ECG "
            "recordings", where
        )  # fmt: skip
    return float(fs)


def check_signals(n_signals: int, where: str | Path | None = None) -> int:
    """``n_signals`` when within ``1..MAX_SIGNALS``; else an :class:`EcgLensError`."""
    if not 1 <= n_signals <= MAX_SIGNALS:
        raise EcgLensError(
            f"{n_signals} signals (accepted: 1 to {MAX_SIGNALS})", where
        )  # fmt: skip
    return int(n_signals)


def check_samples(
    n_samples: int,
    where: str | Path | None = None,
    what: str = "holds",
    limit: int = MAX_SAMPLES,
) -> int:
    """``n_samples`` (all signals together) when at most ``limit`` (``MAX_SAMPLES``, or a
    front end's lower budget); else an :class:`EcgLensError` saying what the file ``what``
    ("holds", "declares")."""
    if n_samples > min(limit, MAX_SAMPLES):
        raise EcgLensError(
            f"{what} {n_samples:,} samples, more than the {min(limit, MAX_SAMPLES):,} read at "
            "once", where,
        )  # fmt: skip
    return int(n_samples)
