"""Kaggle-style heartbeat CSVs (``mitbih_train.csv``, ``mitbih_test.csv``).

One row per beat: 187 values in the Kachuee format followed by the class index
(0 N, 1 S, 2 V, 3 F, 4 Q), no header.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecglens._atomic import atomic_write
from ecglens.errors import EcgLensError
from ecglens.signal.beats import KACHUEE_LENGTH


def write_kaggle_csv(path: str | Path, x: np.ndarray, y: np.ndarray) -> Path:
    """Write beats (n, 187) and labels (n,) as a Kaggle-style CSV, atomically."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != KACHUEE_LENGTH:
        raise EcgLensError(f"Kaggle CSV rows need {KACHUEE_LENGTH} values, got shape {x.shape}")
    table = np.column_stack([x, np.asarray(y, dtype=np.float64)])
    return atomic_write(path, lambda p: np.savetxt(p, table, delimiter=",", fmt="%.9e"))


def read_kaggle_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a Kaggle-style CSV: ``(x (n, 187) float32, y (n,) int64)``."""
    path = Path(path)
    if not path.exists():
        raise EcgLensError("file not found", path)
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise EcgLensError(f"not a numeric CSV ({str(exc).splitlines()[0]})", path) from exc
    if table.shape[1] != KACHUEE_LENGTH + 1:
        raise EcgLensError(
            f"expected {KACHUEE_LENGTH + 1} columns (187 samples + label), got {table.shape[1]}",
            path,
        )
    if not np.all(np.isfinite(table)):
        raise EcgLensError("holds NaN or infinite values", path)
    labels = table[:, -1]
    if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() > 4:
        raise EcgLensError("labels (last column) must be integers 0-4 (N, S, V, F, Q)", path)
    return table[:, :-1].astype(np.float32), labels.astype(np.int64)
