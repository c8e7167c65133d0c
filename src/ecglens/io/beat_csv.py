"""Kaggle-style CSVs of beats: one beat a row, no header.

Each row holds 187 samples in the Kachuee et al. 2018 format (125 Hz, from the R peak, scaled to
[0, 1], zero padded), optionally followed by an integer class label (0-4: N, S, V, F, Q in
``mitbih_*.csv``; 0 normal, 1 MI in ``ptbdb_*.csv``). Signal CSVs (a few columns, one per lead)
are told apart by :func:`looks_like_beat_csv`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ecglens.errors import EcgLensError

BEAT_CSV_LENGTH = 187  # samples per beat (the Kachuee format; 1.5 s at 125 Hz)
MAX_LABEL = 4  # labels are class indices 0-4 (MIT-BIH N, S, V, F, Q; PTB uses 0-1)
RANGE_TOLERANCE = 1e-6  # how far outside [0, 1] a sample may be (rounding) before it is refused


def looks_like_beat_csv(path: str | Path) -> bool:
    """True when the first non-empty line of ``path`` has 187 or 188 numeric comma-separated
    fields (a beat CSV); False otherwise, also for a missing or unreadable file. Reads one line.
    """
    try:
        with Path(path).open(encoding="utf-8", errors="replace") as f:
            line = next((s.strip() for s in f if s.strip()), "")
    except OSError:
        return False
    cells = line.split(",")
    if len(cells) not in (BEAT_CSV_LENGTH, BEAT_CSV_LENGTH + 1):
        return False
    try:
        [float(c) for c in cells]
    except ValueError:
        return False
    return True


def read_beat_csv(
    path: str | Path, require_labels: bool = False, clip: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a beat CSV: ``(x (n, 187) float32, labels (n,) int64 or None)``.

    187 columns: beats only (labels None); 188: the last column is the label, an integer 0-4.
    ``require_labels``: only 188 columns are accepted (a training or test file). ``clip``: the
    samples are checked to lie in [0, 1] (:func:`check_unit_range`) and clipped there;
    without it they are returned as the file holds them.
    Raises :class:`EcgLensError` naming the file when it is missing, empty, not numeric (a
    header row, ragged rows), has another number of columns, holds NaN or infinite values, a
    sample outside [0, 1] (with ``clip``) or a label that is not an integer 0-4.
    """
    path = Path(path)
    if not path.is_file():
        raise EcgLensError("file not found", path)
    if path.stat().st_size == 0:
        raise EcgLensError("file is empty", path)
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise EcgLensError(
            f"not a numeric CSV of beats without header ({str(exc).splitlines()[0]})", path
        ) from exc
    if table.size == 0:
        raise EcgLensError("file holds no beats", path)
    if require_labels and table.shape[1] != BEAT_CSV_LENGTH + 1:
        raise EcgLensError(
            f"expected {BEAT_CSV_LENGTH + 1} columns ({BEAT_CSV_LENGTH} samples + label), "
            f"got {table.shape[1]}",
            path,
        )
    if table.shape[1] not in (BEAT_CSV_LENGTH, BEAT_CSV_LENGTH + 1):
        raise EcgLensError(
            f"expected {BEAT_CSV_LENGTH} columns (beat samples) or {BEAT_CSV_LENGTH + 1} "
            f"(samples + label), got {table.shape[1]}",
            path,
        )
    if not np.all(np.isfinite(table)):
        row = int(np.flatnonzero(~np.all(np.isfinite(table), axis=1))[0]) + 1
        raise EcgLensError(f"holds NaN or infinite values (first in row {row})", path)
    labels = None
    if table.shape[1] == BEAT_CSV_LENGTH + 1:
        raw = table[:, -1]
        bad = np.flatnonzero((raw != np.round(raw)) | (raw < 0) | (raw > MAX_LABEL))
        if len(bad):
            raise EcgLensError(
                f"the last of {BEAT_CSV_LENGTH + 1} columns is the label and must be an integer "
                f"0-{MAX_LABEL}; row {bad[0] + 1} has {raw[bad[0]]:g}",
                path,
            )
        labels = raw.astype(np.int64)
        table = table[:, :-1]
    if not clip:
        return table.astype(np.float32), labels
    check_unit_range(table, path)
    return np.clip(table, 0.0, 1.0).astype(np.float32), labels


def check_unit_range(x: np.ndarray, path: str | Path | None = None, name: str = "samples") -> None:
    """Raise :class:`EcgLensError` (naming ``path``) when a value of ``x`` (called ``name``)
    lies outside [0, 1] by more than rounding: beats in the Kachuee format are scaled to
    [0, 1]."""
    if x.size == 0:
        return
    low, high = float(np.min(x)), float(np.max(x))
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise EcgLensError(
            f"{name} must lie in [0, 1] (Kachuee format), found values in [{low:g}, {high:g}]",
            path,
        )


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
