"""Kaggle PTB heartbeat CSVs (``ptbdb_normal.csv``, ``ptbdb_abnormal.csv``).

One row per beat, no header: 187 values in [0, 1] in the Kachuee et al. 2018 format (125 Hz,
from the R peak, zero padded), then the label: 0.0 in every row of the normal file, 1.0 in
every row of the abnormal (MI) file. Parsing and the value range check are
:func:`ecglens.io.beat_csv.read_beat_csv`'s; this module adds the per-file label.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from ecglens.data.kaggle import write_kaggle_csv
from ecglens.errors import EcgLensError
from ecglens.io.beat_csv import check_unit_range, read_beat_csv
from ecglens.signal.beats import KACHUEE_LENGTH

NORMAL_CSV = "ptbdb_normal.csv"
ABNORMAL_CSV = "ptbdb_abnormal.csv"
PTB_CLASSES: tuple[str, ...] = ("normal", "MI")


def write_ptbdb_csvs(
    out_dir: str | Path, beats_x: np.ndarray, labels: np.ndarray
) -> tuple[Path, Path]:
    """Write beats (n, 187) in [0, 1] with labels (n,) 0 normal / 1 MI as the two Kaggle files.

    Rows keep their order within each file; each file is written atomically. Returns the paths
    of ``ptbdb_normal.csv`` and ``ptbdb_abnormal.csv`` in ``out_dir``.
    """
    x = np.asarray(beats_x, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or x.shape[1] != KACHUEE_LENGTH:
        raise EcgLensError(f"beats_x must be (n, {KACHUEE_LENGTH}), got shape {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise EcgLensError(f"labels must be (n,) beside beats_x {x.shape}, got shape {y.shape}")
    if not np.all(np.isin(y, (0, 1))):
        raise EcgLensError("labels must be 0 (normal) or 1 (MI)")
    if not np.all(np.isfinite(x)):
        raise EcgLensError("beats_x holds NaN or infinite values")
    check_unit_range(x, None, "beats_x")
    out_dir = Path(out_dir)
    paths = (out_dir / NORMAL_CSV, out_dir / ABNORMAL_CSV)
    for label, path in enumerate(paths):
        if not np.any(y == label):
            raise EcgLensError(f"no {PTB_CLASSES[label]} beats to write", path)
    for label, path in enumerate(paths):
        rows = y == label
        write_kaggle_csv(path, np.clip(x[rows], 0.0, 1.0), np.full(int(rows.sum()), label))
    return paths


def read_ptbdb_csvs(
    normal_csv: str | Path, abnormal_csv: str | Path
) -> tuple[np.ndarray, np.ndarray]:
    """Read the two Kaggle PTB files: ``(x (n, 187) float32 in [0, 1], y (n,) int64)``.

    y is 0 for the normal file's rows, then 1 for the abnormal file's. Raises
    :class:`EcgLensError` naming the file when it is missing, empty, not numeric, has other than
    188 columns, holds NaN, a sample outside [0, 1] or a label other than the file's own.
    """
    xs, ys = [], []
    for expected, path in enumerate((Path(normal_csv), Path(abnormal_csv))):
        x, y = read_beat_csv(path, require_labels=True)  # samples checked in [0, 1], clipped
        wrong = np.flatnonzero(y != expected)
        if len(wrong):
            raise EcgLensError(
                f"row {wrong[0] + 1} has label {y[wrong[0]]}, but every row of the "
                f"{PTB_CLASSES[expected]} file must have label {expected} "
                f"({len(wrong)} rows do not)",
                path,
            )
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def stratified_beat_split(
    y: np.ndarray, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Random beat split stratified by class: ``(train (n_train,), test (n_test,))`` sorted indices.

    OPTIMISTIC, PATIENTS LEAK: the Kaggle PTB files carry no record or patient column, so this
    split (the random 80/20 beat split the published work on these files uses) puts beats of the
    same patient, often of the same 10-s recording, on both sides. Test scores then measure
    recognising a patient's beats, not detecting MI in a new patient; report them as such,
    beside a patient-disjoint result (PTB-XL strat_folds, :mod:`ecglens.data.ptbxl_mi`).
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise EcgLensError(f"y must be (n,) labels, got shape {y.shape}")
    if not 0 < test_fraction < 1:
        raise EcgLensError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    _, counts = np.unique(y, return_counts=True)
    if len(counts) == 0 or counts.min() < 2:
        raise EcgLensError("every class needs at least 2 beats for a stratified split")
    try:
        train, test = train_test_split(
            np.arange(len(y)), test_size=test_fraction, random_state=seed, stratify=y
        )
    except ValueError as exc:  # too few beats for both sides to hold every class
        raise EcgLensError(f"cannot split {len(y)} beats: {exc}") from exc
    return np.sort(train), np.sort(test)


def export_ptbxl_mi_csvs(
    root: str | Path,
    out_dir: str | Path,
    lead: str | int = "II",
    cache_dir: str | Path | None = "runs/cache",
    progress: bool = True,
) -> dict:
    """Write PTB-XL MI-vs-normal beats as ``ptbdb_normal.csv`` / ``ptbdb_abnormal.csv``.

    Beats come from :func:`~ecglens.data.ptbxl_mi.load_mi_beats` (lead ``lead``, Kachuee format,
    every strat_fold), each with its record's label; rows keep record order. PATIENTS LEAK, as
    in the original Kaggle files: the two files carry no record or patient column, so any
    random beat split of them puts beats of one patient on both sides (for a patient-disjoint
    result, use the PTB-XL folds). Returns counts: {"normal_csv", "abnormal_csv", "lead",
    "n_normal", "n_abnormal" (beats), "records": {"normal", "MI"}, "n_patients", "n_skipped"}.
    """
    from ecglens.data.ptbxl_mi import load_mi_beats

    mi = load_mi_beats(root, lead=lead, progress=progress, cache_dir=cache_dir)
    beats = mi.beats
    normal, abnormal = write_ptbdb_csvs(out_dir, beats.x, beats.y)
    records = {
        name: len({r for r, y in zip(beats.record, beats.y, strict=True) if y == label})
        for label, name in enumerate(PTB_CLASSES)
    }
    return {
        "normal_csv": str(normal),
        "abnormal_csv": str(abnormal),
        "lead": lead,
        "n_normal": int(np.sum(beats.y == 0)),
        "n_abnormal": int(np.sum(beats.y == 1)),
        "records": records,
        "n_patients": int(len(np.unique(mi.patient))),
        "n_skipped": len(mi.skipped),
    }
