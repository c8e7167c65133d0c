"""Kaggle-style heartbeat CSVs (``mitbih_train.csv``, ``mitbih_test.csv``).

One row per beat: 187 values in the Kachuee format followed by the class index
(0 N, 1 S, 2 V, 3 F, 4 Q), no header.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecglens._atomic import atomic_write
from ecglens.errors import EcgLensError
from ecglens.io.beat_csv import read_beat_csv
from ecglens.signal.beats import KACHUEE_LENGTH


def write_kaggle_csv(path: str | Path, x: np.ndarray, y: np.ndarray) -> Path:
    """Write beats (n, 187) and labels (n,) as a Kaggle-style CSV, atomically."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != KACHUEE_LENGTH:
        raise EcgLensError(f"Kaggle CSV rows need {KACHUEE_LENGTH} values, got shape {x.shape}")
    table = np.column_stack([x, np.asarray(y, dtype=np.float64)])
    return atomic_write(path, lambda p: np.savetxt(p, table, delimiter=",", fmt="%.9e"))


def read_kaggle_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a Kaggle-style CSV with labels: ``(x (n, 187) float32, y (n,) int64)``, the
    samples as the file holds them (:func:`~ecglens.io.beat_csv.read_beat_csv` with
    ``require_labels``, without clipping)."""
    return read_beat_csv(path, require_labels=True, clip=False)
