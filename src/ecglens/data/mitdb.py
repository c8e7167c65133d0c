"""MIT-BIH Arrhythmia Database: records, de Chazal's inter-patient sets, beat datasets.

Training and evaluation use the reference beat annotations for beat positions
(the usual protocol, so the classifier is scored apart from the detector);
``ecglens predict`` uses the R-peak detector instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ecglens._atomic import atomic_write
from ecglens.data.labels import AAMI_CLASSES, aami_labels
from ecglens.errors import EcgLensError
from ecglens.inputs.beats import BeatConfig, beat_inputs
from ecglens.io import read_annotations, read_record, select_lead

DS1: tuple[str, ...] = (
    "101",
    "106",
    "108",
    "109",
    "112",
    "114",
    "115",
    "116",
    "118",
    "119",
    "122",
    "124",
    "201",
    "203",
    "205",
    "207",
    "208",
    "209",
    "215",
    "220",
    "223",
    "230",
)
DS2: tuple[str, ...] = (
    "100",
    "103",
    "105",
    "111",
    "113",
    "117",
    "121",
    "123",
    "200",
    "202",
    "210",
    "212",
    "213",
    "214",
    "219",
    "221",
    "222",
    "228",
    "231",
    "232",
    "233",
    "234",
)
PACED: tuple[str, ...] = ("102", "104", "107", "217")
ALL_RECORDS: tuple[str, ...] = tuple(sorted(DS1 + DS2 + PACED))
CACHE_VERSION = "1"


@dataclass
class BeatSet:
    """Beats of one or more records.

    x: (n, L) float32 waveforms; rr: (n, 13) RR features (see ``rr_features``); y: (n,)
    int64 indices into ``classes`` (-1 when unknown); record: (n,) record names; sample: (n,) R-peak
    index at the record's own rate.
    """

    x: np.ndarray
    rr: np.ndarray
    y: np.ndarray
    record: np.ndarray
    sample: np.ndarray
    classes: tuple[str, ...] = AAMI_CLASSES
    checksums: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index: np.ndarray) -> BeatSet:
        return BeatSet(
            self.x[index],
            self.rr[index],
            self.y[index],
            self.record[index],
            self.sample[index],
            self.classes,
            dict(self.checksums),
        )

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y[self.y >= 0], minlength=len(self.classes))
        return {c: int(counts[i]) for i, c in enumerate(self.classes)}

    @staticmethod
    def concatenate(parts: Sequence[BeatSet]) -> BeatSet:
        if not parts:
            raise EcgLensError("no beats to concatenate")
        checksums: dict[str, str] = {}
        for p in parts:
            checksums.update(p.checksums)
        return BeatSet(
            np.concatenate([p.x for p in parts]),
            np.concatenate([p.rr for p in parts]),
            np.concatenate([p.y for p in parts]),
            np.concatenate([p.record for p in parts]),
            np.concatenate([p.sample for p in parts]),
            parts[0].classes,
            checksums,
        )


def record_checksum(path: Path) -> str:
    """SHA-256 over a WFDB record's .hea, .dat and .atr files (those present)."""
    digest = hashlib.sha256()
    for suffix in (".hea", ".dat", ".atr"):
        f = path.with_suffix(suffix)
        if f.exists():
            digest.update(f.read_bytes())
    return digest.hexdigest()


def annotated_record_beats(path: str | Path, config: BeatConfig) -> BeatSet:
    """Beats of one annotated WFDB record at its reference beat annotations."""
    path = Path(path)
    record = read_record(path)
    signal, _ = select_lead(record, config.lead)
    ann = read_annotations(path)
    keep, labels = aami_labels(ann.symbol)
    peaks = ann.sample[keep]
    x, rr = beat_inputs(signal, record.fs, peaks, config)
    return BeatSet(
        x=x,
        rr=rr,
        y=labels,
        record=np.full(len(labels), record.name, dtype=object),
        sample=peaks.astype(np.int64),
        checksums={record.name: record_checksum(path)},
    )


def load_mitdb_beats(
    data_dir: str | Path,
    records: Sequence[str] = ALL_RECORDS,
    config: BeatConfig | None = None,
    cache_dir: str | Path | None = "runs/cache",
    progress: bool = True,
) -> BeatSet:
    """Annotated beats of ``records`` from a MIT-BIH folder, cached per record as .npz."""
    from ecglens.progress import track

    config = config or BeatConfig()
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise EcgLensError("MIT-BIH folder not found", data_dir)
    code_version = _code_version()  # hash the processing code once per load
    parts = []
    for name in track(list(records), "Reading MIT-BIH records", enabled=progress):
        parts.append(_cached_record_beats(data_dir / name, config, cache_dir, code_version))
    return BeatSet.concatenate(parts)


def _code_version() -> str:
    """Hash of the code that turns a record into beats: a change invalidates the cache."""
    import ecglens.data.labels
    import ecglens.inputs.beats
    import ecglens.inputs.rhythm
    import ecglens.signal.beats
    import ecglens.signal.filters
    import ecglens.signal.pwave
    import ecglens.signal.resample

    digest = hashlib.sha256()
    for module in (
        ecglens.signal.filters,
        ecglens.signal.resample,
        ecglens.signal.beats,
        ecglens.data.labels,
        ecglens.inputs.beats,
        ecglens.inputs.rhythm,
        ecglens.signal.pwave,
    ):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def _cached_record_beats(
    path: Path, config: BeatConfig, cache_dir: str | Path | None, code_version: str
) -> BeatSet:
    if cache_dir is None:
        return annotated_record_beats(path, config)
    checksum = record_checksum(path)
    key = hashlib.sha256(
        f"{CACHE_VERSION}{asdict(config)}{checksum}{code_version}".encode()
    ).hexdigest()[:16]
    cache_file = Path(cache_dir) / "mitdb" / f"{path.name}-{key}.npz"
    if cache_file.exists():
        with np.load(cache_file, allow_pickle=False) as z:
            return BeatSet(
                z["x"],
                z["rr"],
                z["y"],
                z["record"].astype(object),
                z["sample"],
                checksums={path.name: checksum},
            )
    beats = annotated_record_beats(path, config)
    atomic_write(
        cache_file,
        lambda p: np.savez(
            p.open("wb"),
            x=beats.x,
            rr=beats.rr,
            y=beats.y,
            record=beats.record.astype(str),
            sample=beats.sample,
        ),
    )
    return beats
