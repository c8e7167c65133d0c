"""PTB-XL myocardial infarction (MI) vs normal, as single-lead beats.

Record labels, from the diagnostic superclasses the project gives each record
(:func:`~ecglens.data.ptbxl.superclasses_of`, through
:func:`~ecglens.data.ptbxl.load_ptbxl_metadata`: a diagnostic SCP statement counts toward its
``diagnostic_class`` at any likelihood by default, ``min_likelihood`` to raise that):

* **MI** (label 1): the record's diagnostic superclasses include MI, whatever else they
  include (NORM, STTC, CD, HYP);
* **normal** (label 0): NORM is the record's only diagnostic superclass;
* every other record (STTC, CD or HYP without MI, or no diagnostic superclass) is excluded.

Counts on the shared 1,987-record subset (ecg_id 1-1999, 100 Hz): 1,377 records kept (1,007
normal, 370 MI), 610 excluded (588 with other superclasses only, 22 with none). No record of
the subset has both NORM and MI. Records per split (strat_fold):

=========================  ======  ====
split (strat_fold)         normal  MI
=========================  ======  ====
train (1-8)                   763   266
validation (9)                110    55
test (10)                     134    49
=========================  ======  ====

Beats: R peaks from :func:`ecglens.signal.peaks.ecg_peaks` on one lead (default II), cut by the
project's beat pipeline (default: the Kachuee format, 187 samples at 125 Hz from the R peak,
scaled to [0, 1]). Every beat carries its record's label; scores are meant per record (see
:func:`record_probability`), and train/validation/test are whole strat_folds, so no patient is
on two sides.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ecglens._atomic import atomic_write
from ecglens.data.mitdb import BeatSet, record_checksum
from ecglens.data.ptbxl import check_patient_disjoint, load_ptbxl_metadata, ptbxl_dir
from ecglens.data.ptbxl import mi_label as ptbxl_mi_label
from ecglens.errors import EcgLensError
from ecglens.inputs.beats import BeatConfig, beat_inputs
from ecglens.io import read_record, select_lead
from ecglens.signal.peaks import ecg_peaks

MI_CLASSES: tuple[str, ...] = ("normal", "MI")
CACHE_VERSION = "1"
TABLE_COLUMNS = ("ecg_id", "patient_id", "strat_fold", "label", "path")
Progress = Callable[[int, int], None]  # called as progress(records done, records in all)


def mi_label(superclasses: Iterable[str]) -> int | None:
    """1 when MI is among ``superclasses``, 0 when NORM is the only one, None otherwise
    (:func:`ecglens.data.ptbxl.mi_label`, the rule of the 12-lead MI task too)."""
    label = ptbxl_mi_label(superclasses)
    return None if math.isnan(label) else int(label)


def mi_record_table(root: str | Path, min_likelihood: float = 0.0) -> pd.DataFrame:
    """The kept PTB-XL records, one row each, sorted by ecg_id.

    Columns: ecg_id, patient_id, strat_fold (int64), label (int64: 0 normal, 1 MI) and path
    (str: the 100 Hz WFDB record, ``filename_lr`` without extension, whether or not it is on
    disk). Raises :class:`EcgLensError` when a patient has records in two strat_folds.
    """
    folder = ptbxl_dir(root)
    meta = load_ptbxl_metadata(folder, min_likelihood)
    labels = meta["superclasses"].apply(mi_label)
    kept = meta[labels.notna()]
    table = pd.DataFrame(
        {
            "ecg_id": kept.index.to_numpy(dtype=np.int64),
            "patient_id": kept["patient_id"].to_numpy(dtype=np.int64),
            "strat_fold": kept["strat_fold"].to_numpy(dtype=np.int64),
            "label": labels[labels.notna()].to_numpy(dtype=np.int64),
            "path": [str(folder / f) for f in kept["filename_lr"]],
        }
    )
    check_patient_disjoint(table)
    return table.sort_values("ecg_id", ignore_index=True)


def record_beats_mi(
    path: str | Path, lead: str | int = "II", config: BeatConfig | None = None
) -> BeatSet:
    """Beats of one WFDB record at R peaks detected on ``lead``.

    ``config`` (default :class:`BeatConfig`: Kachuee, x (n, 187) float32 at 125 Hz) says how
    beats are cut; its own ``lead`` is ignored. Returns a :class:`BeatSet` with y = -1
    (unknown), record = the record's file name, sample = R-peak indices at the record's rate,
    classes :data:`MI_CLASSES`. No R peak: an empty BeatSet. Raises :class:`EcgLensError` for an
    unreadable record, a missing lead or a flat or too short signal.
    """
    path = Path(path)
    config = config or BeatConfig()
    record = read_record(path)
    signal, _ = select_lead(record, lead)
    peaks = ecg_peaks(signal, record.fs)
    x, rr = beat_inputs(signal, record.fs, peaks, config)
    return BeatSet(
        x=x,
        rr=rr,
        y=np.full(len(peaks), -1, dtype=np.int64),
        record=np.full(len(peaks), record.name, dtype=object),
        sample=peaks.astype(np.int64),
        classes=MI_CLASSES,
        checksums={record.name: record_checksum(path)},
    )


@dataclass
class MiBeats:
    """Beats of PTB-XL records with their record's fold and patient.

    beats: record = ecg_id as str, y = the record's label (0 normal, 1 MI) for every beat;
    fold, patient: (n_beats,) int64 strat_fold and patient_id of each beat; skipped: ecg_id ->
    why its record gave no beats (unreadable file, no R peak found...).
    """

    beats: BeatSet
    fold: np.ndarray
    patient: np.ndarray
    skipped: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.beats)

    def subset(self, index: np.ndarray) -> MiBeats:
        """Beats where ``index`` (bool (n,) or indices) selects; ``skipped`` kept."""
        return MiBeats(
            self.beats.subset(index), self.fold[index], self.patient[index], dict(self.skipped)
        )


def load_mi_beats(
    root: str | Path,
    lead: str | int = "II",
    folds: Iterable[int] | None = None,
    progress: bool | Progress = False,
    cache_dir: str | Path | None = None,
    config: BeatConfig | None = None,
) -> MiBeats:
    """Beats of every kept record (see :func:`mi_record_table`) in ``folds`` (None: all).

    Records that fail to read or give no beats are skipped and listed in ``skipped``.
    ``progress``: True for a progress bar on stderr, or a callable ``(done, total)`` called
    after each record. ``cache_dir``: beats cached per record as
    ``<cache_dir>/ptbxl_mi/<record>-<key>.npz``, the key hashing the record's files, the lead,
    the beat config and the beat-making code. Raises :class:`EcgLensError` when no record
    gives beats.
    """
    config = config or BeatConfig()
    table = mi_record_table(root)
    if folds is not None:
        table = table[table["strat_fold"].isin(list(folds))]
    code_version = _code_version() if cache_dir is not None else ""
    parts: list[BeatSet] = []
    fold_parts: list[np.ndarray] = []
    patient_parts: list[np.ndarray] = []
    skipped: dict[int, str] = {}
    rows = list(table.itertuples(index=False))
    for done, row in enumerate(_progress(rows, progress), start=1):
        ecg_id = int(row.ecg_id)
        try:
            beats = _cached_record_beats(Path(row.path), lead, config, cache_dir, code_version)
        except EcgLensError as exc:
            skipped[ecg_id] = str(exc)
        else:
            if len(beats) == 0:
                skipped[ecg_id] = f"{row.path}: no R peaks found on lead {lead}"
            else:
                n = len(beats)
                name = str(ecg_id)
                beats.y = np.full(n, row.label, dtype=np.int64)
                beats.record = np.full(n, name, dtype=object)
                beats.checksums = {name: next(iter(beats.checksums.values()))}
                parts.append(beats)
                fold_parts.append(np.full(n, row.strat_fold, dtype=np.int64))
                patient_parts.append(np.full(n, row.patient_id, dtype=np.int64))
        if callable(progress):
            progress(done, len(rows))
    if not parts:
        raise EcgLensError(
            f"no beats from the {len(rows)} PTB-XL MI/normal records selected"
            + (f" (first skipped: {next(iter(skipped.values()))})" if skipped else ""),
            ptbxl_dir(root),
        )
    return MiBeats(
        BeatSet.concatenate(parts),
        np.concatenate(fold_parts),
        np.concatenate(patient_parts),
        skipped,
    )


def _progress(items: list, progress: bool | Progress) -> Iterable:
    from ecglens.progress import track

    return track(items, "PTB-XL MI beats", enabled=progress is True)


def _code_version() -> str:
    """Hash of the code that turns a record into beats: a change invalidates the cache."""
    import ecglens.inputs.beats
    import ecglens.signal.beats
    import ecglens.signal.filters
    import ecglens.signal.peaks
    import ecglens.signal.resample

    modules = {
        ecglens.signal.beats.__file__,
        ecglens.signal.filters.__file__,
        ecglens.signal.peaks.__file__,
        ecglens.signal.resample.__file__,
        ecglens.inputs.beats.__file__,
        __file__,
    }
    digest = hashlib.sha256()
    for module_file in sorted(str(m) for m in modules):
        digest.update(Path(module_file).read_bytes())
    return digest.hexdigest()[:16]


def _cached_record_beats(
    path: Path, lead: str | int, config: BeatConfig, cache_dir: str | Path | None, code: str
) -> BeatSet:
    if cache_dir is None:
        return record_beats_mi(path, lead, config)
    if not path.with_suffix(".hea").is_file():
        raise EcgLensError("record not found (no .hea header file)", path.with_suffix(".hea"))
    checksum = record_checksum(path)
    key = hashlib.sha256(
        f"{CACHE_VERSION}|{lead}|{asdict(config)}|{checksum}|{code}".encode()
    ).hexdigest()[:16]
    cache_file = Path(cache_dir) / "ptbxl_mi" / f"{path.name}-{key}.npz"
    if cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as z:
            n = len(z["sample"])
            return BeatSet(
                z["x"],
                z["rr"],
                np.full(n, -1, dtype=np.int64),
                np.full(n, path.name, dtype=object),
                z["sample"],
                MI_CLASSES,
                {path.name: checksum},
            )
    beats = record_beats_mi(path, lead, config)
    arrays = {"x": beats.x, "rr": beats.rr, "sample": beats.sample}
    atomic_write(cache_file, lambda p: _save_npz(p, arrays))
    return beats


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with path.open("wb") as fh:
        np.savez(fh, **arrays)


def record_probability(
    beat_probabilities: np.ndarray, record_ids: np.ndarray, how: str = "mean"
) -> tuple[np.ndarray, np.ndarray]:
    """Per-record aggregate of beat scores: ``(records (m,), score (m,) float64)``.

    beat_probabilities: (n,) per-beat P(MI); record_ids: (n,) the record of each beat; how:
    "mean" or "median". Records come in order of first appearance. Applied to the beat labels
    it gives the record labels, since every beat carries its record's label.
    """
    p = np.asarray(beat_probabilities, dtype=np.float64)
    ids = np.asarray(record_ids)
    if how not in ("mean", "median"):
        raise EcgLensError(f"how must be 'mean' or 'median', not {how!r}")
    if p.ndim != 1 or ids.shape != p.shape:
        raise EcgLensError(
            f"beat_probabilities {p.shape} and record_ids {ids.shape} must be (n,) and (n,)"
        )
    if not np.all(np.isfinite(p)):
        raise EcgLensError("beat_probabilities holds NaN or infinite values")
    grouped = pd.Series(p).groupby(ids, sort=False)
    scores = grouped.mean() if how == "mean" else grouped.median()
    return scores.index.to_numpy(), scores.to_numpy(dtype=np.float64)
