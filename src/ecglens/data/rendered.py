"""Printouts rendered from PTB-XL records (``ecglens images render``): labels, the render
loop (:func:`render_ptbxl`, each page drawn by the function it is given, e.g.
:func:`ecglens.plot.printout.ptbxl_page`) and the manifest.

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
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from ecglens._atomic import atomic_write, atomic_write_json, atomic_write_text
from ecglens.data.ptbxl import binary_label, load_ptbxl_metadata, ptbxl_dir, read_ptbxl_signals
from ecglens.errors import EcgLensError
from ecglens.progress import console, track

RENDERED_CLASSES: tuple[str, ...] = ("normal", "abnormal")
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("ecg_id", "file", "label", "strat_fold", "patient_id", "superclasses")
MENDELEY_TO_BINARY = {"normal": "normal", "mi": "abnormal", "post_mi": "abnormal",
                      "abnormal": "abnormal"}  # fmt: skip
TRAIN_FOLDS = (1, 2, 3, 4, 5, 6, 7, 8)
VAL_FOLDS = (9,)
TEST_FOLDS = (10,)
IMAGE_FORMATS = ("png", "jpg")
# draws one record's page: (signals (12, T) in mV, fs in Hz, header lines, rng, realism
# strength) -> uint8 (H, W, 3) RGB
DrawPage = Callable[[np.ndarray, float, Sequence[str], np.random.Generator, float], np.ndarray]


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


# -- the render loop over PTB-XL -----------------------------------------------------------


@dataclass(frozen=True)
class RenderConfig:
    """Settings of a render folder; saved as ``render.json``. ``realism``: strength of
    :func:`ecglens.plot.printout.realistic_printout` (0: clean pages); record k's draws use
    seed (``seed``, ecg_id). ``format``: png (lossless) or jpg (quality ``jpeg_quality``)."""

    sampling_rate: int = 100
    realism: float = 0.0
    seed: int = 0
    format: str = "png"
    jpeg_quality: int = 90
    layout: str = "3x4+II, 25 mm/s, 10 mm/mV, 738x524 px"

    def __post_init__(self) -> None:
        if self.format not in IMAGE_FORMATS:
            raise EcgLensError(f"format must be one of {', '.join(IMAGE_FORMATS)}, not "
                               f"{self.format!r}")  # fmt: skip
        if not 0.0 <= self.realism <= 2.0:
            raise EcgLensError(f"realism must be in [0, 2], not {self.realism}")
        if self.sampling_rate not in (100, 500):
            raise EcgLensError(f"PTB-XL has 100 or 500 Hz records, not {self.sampling_rate}")


def _encode(page: np.ndarray, config: RenderConfig) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(page)
    if config.format == "jpg":
        image.save(buffer, "JPEG", quality=config.jpeg_quality)
    else:
        image.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def record_header(row: Any, ecg_id: int) -> list[str]:
    """The header line of a PTB-XL record's page: id, age, sex, height, weight (no
    diagnosis)."""

    def fact(key: str, unit: str) -> str:
        value = row.get(key) if hasattr(row, "get") else None
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return f"   {unit}"
        return f"{value:g} {unit}" if isinstance(value, int | float) else f"{value} {unit}"

    sex = {0: "Male", 1: "Female"}.get(row.get("sex") if hasattr(row, "get") else None, "")
    return [
        f"ID : {ecg_id:05d}      {fact('age', 'Years')}      {sex}      {fact('height', 'cm')}"
        f"      {fact('weight', 'kg')}      PTB-XL",
        "Exam.Room:      Medication:",
    ]


def render_ptbxl(
    root: str | Path,
    out: str | Path,
    config: RenderConfig | None = None,
    ecg_ids: Sequence[int] | None = None,
    progress: bool = True,
    on_error: Callable[[str], None] | None = None,
    read: Callable[[Path, float], np.ndarray] = read_ptbxl_signals,
    *,
    draw: DrawPage,
) -> dict[str, Any]:
    """Render every labelled PTB-XL record under ``root`` (or those of ``ecg_ids``) into
    ``out``/images/<ecg_id>.<format>, then write ``out``/manifest.csv (see
    above) and ``out``/render.json, all atomically. ``draw(signals (12, T) in mV, fs,
    header lines, rng, realism) -> uint8 (H, W, 3) RGB page`` draws each record
    (:func:`ecglens.plot.printout.ptbxl_page`); record k's ``rng`` is seeded with
    (``config.seed``, ecg_id).

    A record that cannot be read or drawn is reported in one line (``on_error``, default the
    console) and skipped; it is listed under ``failed`` in render.json. Records without a
    diagnostic superclass are not rendered (``unlabelled``). Returns the render.json dict.
    """
    config = config or RenderConfig()
    folder = ptbxl_dir(root)
    out = Path(out)
    report = on_error or (
        lambda line: console.print(f"[red]error:[/red] {line}", highlight=False, soft_wrap=True)
    )
    meta = load_ptbxl_metadata(folder)
    if ecg_ids is not None:
        unknown = sorted(set(int(i) for i in ecg_ids) - set(meta.index.tolist()))
        if unknown:
            raise EcgLensError(f"ecg_id {unknown[0]} is not in ptbxl_database.csv", folder)
        meta = meta.loc[[int(i) for i in ecg_ids]]
    column = "filename_lr" if config.sampling_rate == 100 else "filename_hr"
    rows, failed, unlabelled = [], {}, []
    for ecg_id, row in track(list(meta.iterrows()), "Rendering printouts", enabled=progress):
        ecg_id = int(ecg_id)
        label = rendered_label(row["superclasses"])
        if label is None:
            unlabelled.append(ecg_id)
            continue
        path = folder / str(row[column])
        try:
            signals = read(path, float(config.sampling_rate))
            page = draw(
                signals,
                config.sampling_rate,
                record_header(row, ecg_id),
                np.random.default_rng([config.seed, ecg_id]),
                config.realism,
            )
        except EcgLensError as exc:
            failed[ecg_id] = str(exc)
            report(f"{path}: {exc}" if str(path) not in str(exc) else str(exc))
            continue
        name = f"images/{ecg_id:05d}.{config.format}"
        data = _encode(page, config)
        atomic_write(out / name, lambda p, data=data: p.write_bytes(data))
        rows.append(
            {
                "ecg_id": ecg_id,
                "file": name,
                "label": label,
                "strat_fold": int(row["strat_fold"]),
                "patient_id": int(row["patient_id"]),
                "superclasses": "|".join(row["superclasses"]),
            }
        )
    write_manifest(out, rows)
    counts = {c: sum(r["label"] == c for r in rows) for c in ("normal", "abnormal")}
    result = {
        "config": asdict(config),
        "source": str(folder),
        "n_rendered": len(rows),
        "per_class": counts,
        "unlabelled": unlabelled,
        "failed": {str(k): v for k, v in failed.items()},
    }
    atomic_write_json(out / "render.json", result)
    return result


def render_settings(out: str | Path) -> dict[str, Any] | None:
    """The render.json of a finished render folder (None when there is none)."""
    path = Path(out) / "render.json"
    if not path.is_file() or not (Path(out) / "manifest.csv").is_file():
        return None
    return json.loads(path.read_text())
