"""Train/validation/test splits of MIT-BIH beats.

* intra-patient: a stratified random 80/20 split of all beats, as in the Kaggle
  heartbeat set. Beats of one patient land on both sides, so its scores are
  **optimistic** and every output says so.
* inter-patient: de Chazal et al. 2004, train on DS1, test on DS2 (no patient in
  both); the paced records are excluded.

Validation beats (early stopping, model selection, calibration) are a stratified
fraction of the training beats, or, inter-patient with ``val_records``, whole DS1
records held out of training; the test beats are never looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from ecglens.data.mitdb import ALL_RECORDS, DS1, DS2, BeatSet
from ecglens.errors import EcgLensError

SPLITS = ("inter-patient", "intra-patient")


@dataclass
class BeatSplit:
    """Indices into one BeatSet; ``optimistic`` marks a split that leaks patients."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    optimistic: bool
    description: str


def split_records(split: str) -> tuple[str, ...]:
    """Records a split draws beats from."""
    if split == "inter-patient":
        return tuple(sorted(DS1 + DS2))
    if split == "intra-patient":
        return ALL_RECORDS
    raise EcgLensError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def make_split(
    beats: BeatSet,
    split: str,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    val_records: int = 0,
) -> BeatSplit:
    """Split ``beats`` (loaded from :func:`split_records`) into train/val/test indices.

    ``val_records > 0`` (inter-patient only): validation is that many whole DS1 records,
    drawn with ``seed``, instead of a fraction of the DS1 beats, so that early stopping and
    model selection see patients the model was not trained on.
    """
    index = np.arange(len(beats))
    if split == "inter-patient":
        in_ds1 = np.isin(beats.record, DS1)
        in_ds2 = np.isin(beats.record, DS2)
        if not in_ds1.any() or not in_ds2.any():
            raise EcgLensError("inter-patient split needs beats of both DS1 and DS2 records")
        if val_records > 0:
            ds1 = in_ds1 & (beats.y >= 0)
            held = held_out_records(
                val_records, seed, class_counts(beats.record[ds1], beats.y[ds1], beats.classes)
            )
            in_val = np.isin(beats.record, held)
            return BeatSplit(
                split,
                index[in_ds1 & ~in_val],
                index[in_val],
                index[in_ds2],
                optimistic=False,
                description="de Chazal 2004: train DS1, test DS2 (22 records); paced records "
                f"excluded; validation = DS1 records {', '.join(held)} (held out whole)",
            )
        train, val = _stratified(index[in_ds1], beats.y[in_ds1], val_fraction, seed)
        return BeatSplit(
            split,
            train,
            val,
            index[in_ds2],
            optimistic=False,
            description="de Chazal 2004: train DS1 (22 records), test DS2 (22 records); "
            "paced records excluded; validation = stratified 10% of DS1 beats",
        )
    if split == "intra-patient":
        rest, test = _stratified(index, beats.y, test_fraction, seed)
        train, val = _stratified(rest, beats.y[rest], val_fraction, seed + 1)
        return BeatSplit(
            split,
            train,
            val,
            test,
            optimistic=True,
            description="OPTIMISTIC: stratified random 80/20 beat split of all 48 records "
            "(patients in both train and test, as in the Kaggle set); "
            "validation = stratified 10% of the training beats",
        )
    raise EcgLensError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


# Record-level validation must see the classes it selects on, and must not take away
# most of a rare class from training (DS1's F beats are nearly all in record 208).
VAL_MIN_BEATS = {"S": 50, "V": 50}
TRAIN_KEEP_FRACTION = 0.75  # of each of S, V, F's DS1 beats
MAX_DRAWS = 10_000


def class_counts(
    record: np.ndarray, y: np.ndarray, classes: tuple[str, ...]
) -> dict[str, dict[str, int]]:
    """Beats per class per record: ``{record: {class: count}}``."""
    out: dict[str, dict[str, int]] = {}
    for name in np.unique(record):
        counts = np.bincount(y[record == name], minlength=len(classes))
        out[str(name)] = {c: int(k) for c, k in zip(classes, counts, strict=True)}
    return out


def held_out_records(
    n: int, seed: int, counts: dict[str, dict[str, int]] | None = None
) -> tuple[str, ...]:
    """``n`` DS1 records drawn with ``seed`` for record-level validation.

    With ``counts`` (from :func:`class_counts` on DS1 beats), draws are repeated (seeded)
    until the held-out records hold at least :data:`VAL_MIN_BEATS` of S and V and training
    keeps :data:`TRAIN_KEEP_FRACTION` of the S, V and F beats. Only DS1 labels are used.
    """
    if not 0 < n < len(DS1):
        raise EcgLensError(f"validation records must be between 1 and {len(DS1) - 1}, got {n}")
    rng = np.random.default_rng(seed)
    for _ in range(MAX_DRAWS if counts else 1):
        held = tuple(sorted(DS1[i] for i in rng.permutation(len(DS1))[:n]))
        if counts is None or _usable_validation(held, counts):
            return held
    raise EcgLensError(
        f"no {n} DS1 records hold {VAL_MIN_BEATS} validation beats while training keeps "
        f"{TRAIN_KEEP_FRACTION:.0%} of S, V and F; choose another number of records"
    )


def _usable_validation(held: tuple[str, ...], counts: dict[str, dict[str, int]]) -> bool:
    def total(cls: str, records) -> int:
        return sum(counts.get(r, {}).get(cls, 0) for r in records)

    most_held = {c: (1 - TRAIN_KEEP_FRACTION) * total(c, counts) for c in ("S", "V", "F")}
    if any(total(c, held) > most for c, most in most_held.items()):
        return False
    return all(total(c, held) >= min(k, most_held[c]) for c, k in VAL_MIN_BEATS.items())


def _stratified(
    index: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(labels)
    stratify = labels if counts[counts > 0].min() >= 2 else None
    keep, held = train_test_split(index, test_size=fraction, random_state=seed, stratify=stratify)
    return np.sort(keep), np.sort(held)


# DS1 records holding most of its S beats: grouped cross-validation validates each once
DS1_S_RECORDS: tuple[str, ...] = ("209", "201", "207", "118", "220", "223")
CV_FOLDS = 6


def record_folds(
    counts: dict[str, dict[str, int]], n_folds: int = CV_FOLDS, seed: int = 0
) -> list[tuple[str, ...]]:
    """Leave-records-out folds over DS1 (grouped: every record's beats in one fold).

    ``counts``: beats per class per record (:func:`class_counts` on DS1 beats; only DS1
    labels). The ``n_folds`` records with the most S beats open one fold each, so that
    every fold validates S beats of a different patient (for DS1: 209, 201, 207, 118, 220,
    223); the other records follow, most V beats first, each into the fold with the fewest
    V beats so far (then fewest beats; ties broken by a ``seed``-ed shuffle).
    Returns the folds' sorted record names.
    """
    records = sorted(counts)
    if not 2 <= n_folds <= len(records):
        raise EcgLensError(f"folds must be between 2 and {len(records)}, got {n_folds}")
    rng = np.random.default_rng(seed)
    order = [records[i] for i in rng.permutation(len(records))]
    by_s = sorted(order, key=lambda r: -counts[r].get("S", 0))
    folds: list[list[str]] = [[r] for r in by_s[:n_folds]]
    rest = sorted(by_s[n_folds:], key=lambda r: -counts[r].get("V", 0))

    def load(fold: list[str]) -> tuple[int, int]:
        return (
            sum(counts[r].get("V", 0) for r in fold),
            sum(sum(counts[r].values()) for r in fold),
        )

    for r in rest:
        min(folds, key=load).append(r)
    return [tuple(sorted(f)) for f in folds]
