"""PTB-XL: metadata, diagnostic-superclass labels, signal arrays and the official folds.

Label rule (Strodthoff et al. 2020's benchmark, the default here): an SCP statement of a
record counts toward its diagnostic superclass (``diagnostic_class`` in ``scp_statements.csv``:
NORM, MI, STTC, CD, HYP) when the statement is diagnostic (``diagnostic == 1``) and its
likelihood is ``>= min_likelihood`` (default 0: any likelihood). Records with no superclass
are excluded. Binary task: normal (0) when the only superclass is NORM, abnormal (1) when any
other superclass is present, NORM together with another superclass included.

Arrays are ``(n, 12, T)`` float32 in mV, leads in the order of :data:`LEADS_12`.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ecglens._atomic import atomic_write
from ecglens.errors import EcgLensError
from ecglens.inputs.leads import lead_order

SUPERCLASSES: tuple[str, ...] = ("NORM", "MI", "STTC", "CD", "HYP")
LEADS_12: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"
)  # fmt: skip
PTBXL_DIR = "ptb-xl"
DURATION_S = 10.0
_CACHE_VERSION = 1


@dataclass(frozen=True)
class PtbxlConfig:
    """What to load from PTB-XL and how to split it.

    root: the data root holding ``ptb-xl/`` or the ``ptb-xl`` folder itself;
    sampling_rate: 100 (``records100``, T=1000) or 500 Hz (``records500``, T=5000);
    task: "binary" (y (n,), 1 = abnormal) or "superclass" (y (n, 5) multi-hot over
    :data:`SUPERCLASSES`);
    min_likelihood: statements with a likelihood (0-100) below this do not count.
    """

    root: str | Path
    sampling_rate: Literal[100, 500] = 100
    task: Literal["binary", "superclass", "mi"] = "binary"
    min_likelihood: float = 0.0
    train_folds: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    val_folds: tuple[int, ...] = (9,)
    test_folds: tuple[int, ...] = (10,)

    def __post_init__(self) -> None:
        if self.sampling_rate not in (100, 500):
            raise EcgLensError(f"PTB-XL has 100 or 500 Hz records, not {self.sampling_rate}")
        if self.task not in ("binary", "superclass", "mi"):
            raise EcgLensError(f"task must be 'binary' or 'superclass', not {self.task!r}")


@dataclass
class PtbxlData:
    """Loaded records with labels.

    x: (n, 12, T) float32 mV; y: (n,) or (n, 5) float32; ecg_id, patient_id, strat_fold: (n,)
    int64. ``missing`` lists the ecg_ids whose file is not on disk, ``failed`` maps ecg_ids whose
    file could not be read to the reason; ``n_excluded`` counts records without a superclass.
    """

    x: np.ndarray
    y: np.ndarray
    ecg_id: np.ndarray
    patient_id: np.ndarray
    strat_fold: np.ndarray
    classes: tuple[str, ...]
    fs: float
    lead_names: tuple[str, ...] = LEADS_12
    missing: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    n_excluded: int = 0

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_skipped(self) -> int:
        return len(self.missing) + len(self.failed)

    def subset(self, mask: np.ndarray) -> PtbxlData:
        """Records where ``mask`` (bool (n,) or indices) selects; bookkeeping fields kept."""
        return replace(
            self,
            x=self.x[mask],
            y=self.y[mask],
            ecg_id=self.ecg_id[mask],
            patient_id=self.patient_id[mask],
            strat_fold=self.strat_fold[mask],
        )


def ptbxl_dir(root: str | Path) -> Path:
    """The folder holding ``ptbxl_database.csv``: ``root`` itself or ``root/ptb-xl``."""
    root = Path(root)
    for candidate in (root, root / PTBXL_DIR):
        if (candidate / "ptbxl_database.csv").is_file():
            return candidate
    raise EcgLensError("PTB-XL not found (no ptbxl_database.csv here or in ptb-xl/)", root)


def load_scp_statements(root: str | Path) -> pd.DataFrame:
    """``scp_statements.csv`` indexed by statement code."""
    path = ptbxl_dir(root) / "scp_statements.csv"
    if not path.is_file():
        raise EcgLensError("scp_statements.csv missing", path)
    return pd.read_csv(path, index_col=0)


def diagnostic_superclass_map(statements: pd.DataFrame) -> dict[str, str]:
    """Statement code -> diagnostic superclass, for diagnostic statements only."""
    diag = statements[statements["diagnostic"] == 1]
    return {str(k): str(v) for k, v in diag["diagnostic_class"].items() if isinstance(v, str)}


def superclasses_of(
    scp_codes: Mapping[str, float], code_to_class: Mapping[str, str], min_likelihood: float = 0.0
) -> list[str]:
    """Diagnostic superclasses of one record, in :data:`SUPERCLASSES` order.

    ``scp_codes``: statement -> likelihood (0-100). A statement counts when it is in
    ``code_to_class`` (diagnostic) and its likelihood is ``>= min_likelihood``.
    """
    found = {
        code_to_class[code]
        for code, likelihood in scp_codes.items()
        if code in code_to_class and float(likelihood) >= min_likelihood
    }
    return [c for c in SUPERCLASSES if c in found]


def binary_label(superclasses: Iterable[str]) -> float:
    """0.0 when the only superclass is NORM, 1.0 when any other is present, NaN when none."""
    classes = set(superclasses)
    if not classes:
        return math.nan
    return 0.0 if classes == {"NORM"} else 1.0


def mi_label(superclasses: Iterable[str]) -> float:
    """1.0 when MI is among ``superclasses``, 0.0 when NORM is the only one, NaN otherwise
    (the record is left out of the MI task)."""
    classes = set(superclasses)
    if "MI" in classes:
        return 1.0
    return 0.0 if classes == {"NORM"} else math.nan


def multi_hot(superclasses: Iterable[str]) -> np.ndarray:
    """(5,) float32 indicator over :data:`SUPERCLASSES`."""
    classes = set(superclasses)
    return np.array([c in classes for c in SUPERCLASSES], dtype=np.float32)


def _record_exists(base: Path) -> bool:
    return base.with_suffix(".hea").is_file() and base.with_suffix(".dat").is_file()


def load_ptbxl_metadata(root: str | Path, min_likelihood: float = 0.0) -> pd.DataFrame:
    """``ptbxl_database.csv`` indexed by ecg_id, with labels and file availability.

    ``scp_codes`` is parsed to dicts (statement -> likelihood, 0-100) and ``patient_id`` to
    int. Added columns: ``superclasses`` (list, :data:`SUPERCLASSES` order), ``binary``
    (1.0 abnormal, 0.0 normal, NaN excluded) and ``has_lr`` / ``has_hr`` (the 100 / 500 Hz
    record named by ``filename_lr`` / ``filename_hr`` is on disk).

    Label rule: a statement counts toward a diagnostic superclass when it is a diagnostic
    statement (``scp_statements.diagnostic == 1``; its superclass is ``diagnostic_class``) and its
    likelihood is ``>= min_likelihood`` (default 0, i.e. any likelihood, as in Strodthoff et al.
    2020's benchmark). Records with no diagnostic superclass are excluded (``binary`` NaN,
    ``superclasses`` empty). Binary: normal = the only superclass is NORM; abnormal = any other
    superclass present (NORM together with another superclass counts as abnormal).
    """
    folder = ptbxl_dir(root)
    path = folder / "ptbxl_database.csv"
    try:
        meta = pd.read_csv(path, index_col="ecg_id")
        meta["scp_codes"] = meta["scp_codes"].apply(ast.literal_eval)
    except (ValueError, SyntaxError, KeyError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise EcgLensError(f"malformed PTB-XL metadata ({reason})", path) from exc
    meta["patient_id"] = meta["patient_id"].astype(np.int64)
    meta["strat_fold"] = meta["strat_fold"].astype(np.int64)
    code_to_class = diagnostic_superclass_map(load_scp_statements(folder))
    meta["superclasses"] = meta["scp_codes"].apply(
        lambda codes: superclasses_of(codes, code_to_class, min_likelihood)
    )
    meta["binary"] = meta["superclasses"].apply(binary_label).astype(float)
    meta["mi"] = meta["superclasses"].apply(mi_label).astype(float)
    meta["has_lr"] = [_record_exists(folder / f) for f in meta["filename_lr"]]
    meta["has_hr"] = [_record_exists(folder / f) for f in meta["filename_hr"]]
    return meta


def read_ptbxl_signals(path: str | Path, fs: float) -> np.ndarray:
    """One PTB-XL record as (12, T) float32 mV in :data:`LEADS_12` order, T = 10 s * fs."""
    from ecglens.io import read_record

    record = read_record(path)
    if abs(record.fs - fs) > 1e-6:
        raise EcgLensError(f"sampled at {record.fs:g} Hz, expected {fs:g} Hz", path)
    n = int(round(DURATION_S * fs))
    if record.n_samples != n:
        raise EcgLensError(f"{record.n_samples} samples, expected {n} (10 s)", path)
    order, _ = lead_order(record.lead_names, LEADS_12, path)
    return np.ascontiguousarray(record.signals[:, order].T, dtype=np.float32)


def _labels(meta: pd.DataFrame, task: str) -> np.ndarray:
    if task in ("binary", "mi"):
        return meta[task].to_numpy(dtype=np.float32)
    y = np.zeros((len(meta), len(SUPERCLASSES)), dtype=np.float32)
    for i, classes in enumerate(meta["superclasses"]):
        y[i] = multi_hot(classes)
    return y


def _cache_key(files: list[str], folder: Path, sampling_rate: int) -> str:
    entries = [[f, (folder / f).with_suffix(".dat").stat().st_size] for f in files]
    payload = {
        "version": _CACHE_VERSION,
        "sampling_rate": sampling_rate,
        "leads": LEADS_12,
        "records": entries,
    }
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


def _read_all(
    folder: Path, files: list[str], ids: np.ndarray, fs: int, progress: bool
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Read records into a preallocated (n, 12, T) array; failures are collected, not raised."""
    n_samples = int(round(DURATION_S * fs))
    x = np.zeros((len(files), len(LEADS_12), n_samples), dtype=np.float32)
    ok = np.zeros(len(files), dtype=bool)
    failed: dict[int, str] = {}
    items = list(enumerate(files))
    if progress:
        from rich.progress import track

        items = track(items, description=f"Reading PTB-XL ({fs} Hz)", transient=True)
    for i, f in items:
        try:
            x[i] = read_ptbxl_signals(folder / f, fs)
            ok[i] = True
        except EcgLensError as exc:
            failed[int(ids[i])] = str(exc)
    return x, ok, failed


def load_ptbxl(
    config: PtbxlConfig,
    progress: bool = True,
    cache_dir: str | Path | None = "runs/cache",
    log: Callable[[str], None] | None = None,
) -> PtbxlData:
    """Load every labelled PTB-XL record found on disk as arrays (see :class:`PtbxlData`).

    Records without a diagnostic superclass are excluded; records whose file is absent
    (``missing``) or unreadable (``failed``) are skipped and counted. The signal array is cached
    as ``<cache_dir>/ptbxl_<fs>hz_<hash>.npz`` keyed by the record list (names and sizes) and
    sampling rate (``cache_dir=None``: no cache). A summary line goes to ``log`` (default: the
    console on stderr when ``progress`` is true).
    """
    if log is None and progress:
        from rich.console import Console

        console = Console(stderr=True)
        log = console.print
    folder = ptbxl_dir(config.root)
    meta = load_ptbxl_metadata(folder, config.min_likelihood)
    labelled = meta[meta["mi" if config.task == "mi" else "binary"].notna()]
    n_excluded = len(meta) - len(labelled)
    column, exists = (
        ("filename_lr", "has_lr") if config.sampling_rate == 100 else ("filename_hr", "has_hr")
    )
    missing = [int(i) for i in labelled.index[~labelled[exists]]]
    present = labelled[labelled[exists]]
    files = [str(f) for f in present[column]]
    ids = present.index.to_numpy(dtype=np.int64)

    cache = None
    if cache_dir is not None and files:
        key = _cache_key(files, folder, config.sampling_rate)
        cache = Path(cache_dir) / f"ptbxl_{config.sampling_rate}hz_{key}.npz"
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            x, ok = z["x"], z["ok"]
            failed = dict(zip(z["failed_ids"].tolist(), z["failed_msgs"].tolist(), strict=True))
        source = f"cache {cache}"
    else:
        x, ok, failed = _read_all(folder, files, ids, config.sampling_rate, progress)
        if cache is not None:
            payload = {
                "x": x,
                "ok": ok,
                "failed_ids": np.array(list(failed), dtype=np.int64),
                "failed_msgs": np.array(list(failed.values()), dtype=str),
            }
            atomic_write(cache, lambda p: _save_npz(p, payload))
        source = str(folder)
    kept = present[ok]
    data = PtbxlData(
        x=x if ok.all() else x[ok],
        y=_labels(kept, config.task),
        ecg_id=ids[ok],
        patient_id=np.array(kept["patient_id"], dtype=np.int64),  # owned, writable copies
        strat_fold=np.array(kept["strat_fold"], dtype=np.int64),
        classes={"binary": ("abnormal",), "mi": ("MI",)}.get(config.task, SUPERCLASSES),
        fs=float(config.sampling_rate),
        missing=missing,
        failed=failed,
        n_excluded=n_excluded,
    )
    if log is not None:
        log(
            f"PTB-XL {config.sampling_rate} Hz: {len(data)} records loaded from {source}; "
            f"{len(missing)} not on disk, {len(failed)} unreadable, "
            f"{n_excluded} without a diagnostic superclass (of {len(meta)} in the metadata)"
        )
    return data


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with path.open("wb") as fh:
        np.savez(fh, **arrays)


def split_by_fold(data: PtbxlData, config: PtbxlConfig) -> tuple[PtbxlData, PtbxlData, PtbxlData]:
    """(train, val, test) by ``strat_fold`` (default folds 1-8 / 9 / 10)."""
    groups = (config.train_folds, config.val_folds, config.test_folds)
    train_f, val_f, test_f = (set(g) for g in groups)
    overlap = (train_f & val_f) | (train_f & test_f) | (val_f & test_f)
    if overlap:
        raise EcgLensError(f"folds {sorted(overlap)} are in two of train/val/test")
    train, val, test = (data.subset(np.isin(data.strat_fold, folds)) for folds in groups)
    return train, val, test


def check_patient_disjoint(data: PtbxlData | pd.DataFrame) -> None:
    """Raise :class:`EcgLensError` when a patient_id has records in two different strat_folds."""
    if isinstance(data, pd.DataFrame):
        patient, fold = data["patient_id"].to_numpy(), data["strat_fold"].to_numpy()
    else:
        patient, fold = data.patient_id, data.strat_fold
    folds_per_patient = pd.Series(fold).groupby(pd.Series(patient)).nunique()
    bad = folds_per_patient[folds_per_patient > 1]
    if len(bad):
        shown = ", ".join(str(p) for p in bad.index[:10])
        raise EcgLensError(f"{len(bad)} patients have records in several strat_folds: {shown}")
