"""Printouts rendered from PTB-XL records (``ecglens images render``): labels and manifest.

Label rule (the same as :mod:`ecglens.data.ptbxl`'s binary task, so that an image model and
the signal model ``ecglens-ptbxl-binary`` are scored on one task): a record's diagnostic
superclasses are those of its SCP statements with ``scp_statements.diagnostic == 1`` (any
likelihood); ``normal`` = NORM is its only superclass; ``abnormal`` = any other superclass
(MI, STTC, CD, HYP) is present, NORM together with another included. Records with no
diagnostic superclass get no label and are not rendered.

Cross-domain rows map the Mendeley classes onto this binary task (:data:`MENDELEY_TO_BINARY`):
``normal`` -> normal; ``mi``, ``post_mi``, ``abnormal`` (abnormal heartbeat) -> abnormal. A
4-class Mendeley model's P(abnormal) is 1 - P(normal); its binary label is "abnormal" when
its argmax is any class but normal.

Manifest (``manifest.csv`` in the render folder), one row per rendered record: ``ecg_id``,
``file`` (relative to the folder), ``label``, ``strat_fold`` (PTB-XL's official fold),
``patient_id``, ``superclasses`` ("|"-joined, :data:`~ecglens.data.ptbxl.SUPERCLASSES`
order).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecglens._atomic import atomic_write_text
from ecglens.data.ptbxl import binary_label
from ecglens.errors import EcgLensError

RENDERED_CLASSES: tuple[str, ...] = ("normal", "abnormal")
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("ecg_id", "file", "label", "strat_fold", "patient_id", "superclasses")
MENDELEY_TO_BINARY = {"normal": "normal", "mi": "abnormal", "post_mi": "abnormal",
                      "abnormal": "abnormal"}  # fmt: skip
TRAIN_FOLDS = (1, 2, 3, 4, 5, 6, 7, 8)
VAL_FOLDS = (9,)
TEST_FOLDS = (10,)


def rendered_label(superclasses: Iterable[str]) -> str | None:
    """The label of a record: "normal" (NORM only), "abnormal" (any other diagnostic
    superclass) or None (no diagnostic superclass)."""
    value = binary_label(superclasses)
    if np.isnan(value):
        return None
    return RENDERED_CLASSES[int(value)]


def binary_of_mendeley(classes: Sequence[str]) -> np.ndarray:
    """Mendeley class names -> (n,) int64 binary index into :data:`RENDERED_CLASSES`."""
    unknown = [c for c in classes if c not in MENDELEY_TO_BINARY]
    if unknown:
        raise EcgLensError(f"unknown Mendeley class {unknown[0]!r}")
    return np.array([RENDERED_CLASSES.index(MENDELEY_TO_BINARY[c]) for c in classes], np.int64)


def binary_probabilities(probabilities: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """(n, k) probabilities over ``classes`` -> (n, 2) over :data:`RENDERED_CLASSES`: the
    summed probability of the classes that map to normal / abnormal."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(classes):
        raise EcgLensError(f"probabilities {p.shape} do not match {len(classes)} classes")
    if tuple(classes) == RENDERED_CLASSES:
        return p
    target = binary_of_mendeley(classes)
    return np.stack([p[:, target == 0].sum(1), p[:, target == 1].sum(1)], axis=1)


@dataclass
class RenderedSet:
    """A render folder's manifest as arrays: ``files`` (absolute paths), ``labels`` (index
    into :data:`RENDERED_CLASSES`), ``ecg_id``, ``strat_fold``, ``patient_id``: (n,)."""

    root: Path
    files: list[Path]
    labels: np.ndarray
    ecg_id: np.ndarray
    strat_fold: np.ndarray
    patient_id: np.ndarray
    classes: tuple[str, ...] = RENDERED_CLASSES

    def __len__(self) -> int:
        return len(self.files)

    def folds(self, folds: Sequence[int]) -> np.ndarray:
        """Indices of the records in ``folds``."""
        return np.flatnonzero(np.isin(self.strat_fold, list(folds)))

    def counts(self) -> dict[str, dict[str, int]]:
        """Records per split (train 1-8, val 9, test 10) and class."""
        out = {}
        for name, folds in (("train", TRAIN_FOLDS), ("val", VAL_FOLDS), ("test", TEST_FOLDS)):
            idx = self.folds(folds)
            out[name] = {c: int((self.labels[idx] == i).sum()) for i, c in enumerate(self.classes)}
        return out


def manifest_text(rows: Sequence[dict]) -> str:
    """CSV text of manifest rows (dicts with :data:`MANIFEST_COLUMNS`), sorted by ecg_id."""
    frame = pd.DataFrame(list(rows), columns=list(MANIFEST_COLUMNS)).sort_values("ecg_id")
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue()


def write_manifest(folder: str | Path, rows: Sequence[dict]) -> Path:
    """Write ``folder``/manifest.csv atomically."""
    return atomic_write_text(Path(folder) / MANIFEST, manifest_text(rows))


def read_manifest(folder: str | Path) -> RenderedSet:
    """Read a render folder (``manifest.csv`` and the files it names); a missing or
    malformed manifest, an unknown label or a missing file: one-line EcgLensError."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise EcgLensError("no manifest.csv here: make one with `ecglens images render`", folder)
    try:
        frame = pd.read_csv(path, dtype={"superclasses": str})
    except (ValueError, pd.errors.ParserError) as exc:
        raise EcgLensError(f"malformed manifest ({type(exc).__name__})", path) from exc
    missing = [c for c in MANIFEST_COLUMNS[:4] if c not in frame.columns]
    if missing:
        raise EcgLensError(f"manifest lacks column {missing[0]!r}", path)
    bad = sorted(set(frame["label"]) - set(RENDERED_CLASSES))
    if bad:
        raise EcgLensError(f"unknown label {bad[0]!r} (known: {', '.join(RENDERED_CLASSES)})", path)
    files = [folder / str(f) for f in frame["file"]]
    absent = [f for f in files if not f.is_file()]
    if absent:
        raise EcgLensError(f"{len(absent)} files named in the manifest are missing", absent[0])
    patient = frame["patient_id"] if "patient_id" in frame.columns else -np.ones(len(frame))
    return RenderedSet(
        root=folder,
        files=files,
        labels=np.array([RENDERED_CLASSES.index(v) for v in frame["label"]], dtype=np.int64),
        ecg_id=frame["ecg_id"].to_numpy(dtype=np.int64),
        strat_fold=frame["strat_fold"].to_numpy(dtype=np.int64),
        patient_id=np.asarray(patient, dtype=np.int64),
    )
