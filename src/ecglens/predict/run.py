"""One entry point from an input to a prediction: :func:`run`.

>>> from ecglens.models import load_model
>>> from ecglens.predict import run
>>> prediction = run("data/mitdb-demo/213", load_model("ecglens-mitdb-inter"))
>>> prediction.to_dict()["class_counts"]

:func:`run` decides the input's kind once (:func:`ecglens.io.formats.input_kind`: a WFDB,
EDF or CSV/NPY record, a long record, a Kaggle-style CSV of beats, a printout image) and
dispatches to the model's task (:mod:`ecglens.predict.tasks`). The CLI, the web server,
batch inference and the HTML report all call it, so every input kind works the same in each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import torch

from ecglens.errors import EcgLensError
from ecglens.io import Record, read_record, select_lead
from ecglens.io.formats import InputKind, input_kind
from ecglens.models.registry import LoadedModel
from ecglens.predict.tasks import classify, task_of

STANDARD_BEAT_LEADS = ("II", "MLII")  # the leads beat models are trained on
LOW_USABLE_FRACTION = 0.5  # below this share of usable signal, a prediction warns


class Result(Protocol):
    """What every task's classifier returns (beats, 12-lead, MI, image, rows of beats)."""

    def to_dict(self) -> dict[str, Any]: ...


@dataclass
class LongRecordPrediction:
    """A record longer than ``LONG_RECORD_S``, classified window by window while its JSON is
    written (:func:`ecglens.predict.long.long_record_dict_stream`). :meth:`write_json` or
    :meth:`to_dict` may be called once; after :meth:`write_json`, ``summary`` holds the
    record's totals (every key but ``beats``)."""

    record: str
    pieces: Iterator[str]
    summary: dict[str, Any] = field(default_factory=dict)

    def write_json(self, f: TextIO) -> None:
        """Write the record's JSON object to ``f`` (one line), one window at a time."""
        first = last = ""
        for piece in self.pieces:
            f.write(piece)
            first, last = first or piece, piece
        head = json.loads(first[: -len(_BEATS_OPEN)] + "}")
        self.summary = {**head, **json.loads("{" + last[len(_BEATS_CLOSE) :])}

    def to_dict(self) -> dict[str, Any]:
        return json.loads("".join(self.pieces))


_BEATS_OPEN, _BEATS_CLOSE = ', "beats": [', "], "  # how the long-record JSON pieces join


@dataclass
class Prediction:
    """One input's prediction, whatever the task.

    source: the file (None for an in-memory record); kind: its input kind; result: the
    task's prediction (``BeatPredictions``, ``Prediction12``, ``MiPrediction``,
    ``ImagePrediction``, ``BeatRowPredictions`` or :class:`LongRecordPrediction`);
    warnings: what the reader or the checks found (in the JSON); notes: hints for people
    (printed, not in the JSON); read_s: seconds spent reading the record (0 when the
    classifier reads the file itself).
    """

    source: Path | None
    kind: InputKind
    result: Any
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    read_s: float = 0.0

    @property
    def record(self) -> str:
        return str(getattr(self.result, "record", self.source))

    @property
    def streamed(self) -> bool:
        """True for a long record, whose JSON is produced piece by piece."""
        return isinstance(self.result, LongRecordPrediction)

    def to_dict(self) -> dict[str, Any]:
        if self.streamed:
            return self.result.to_dict()  # carries its reader's warnings already
        return {**self.result.to_dict(), "warnings": list(self.warnings)}


def run(
    source: str | Path | Record,
    loaded: LoadedModel,
    *,
    device: str | torch.device = "cpu",
    fs: float | None = None,
    lead: str | int | None = None,
    strict: bool = False,
    mc_samples: int | None = None,
    review_threshold: float | None = None,
    long_record_s: float | None = None,
    units: str | None = None,
) -> Prediction:
    """Classify ``source`` (a path of any input kind, or a read :class:`Record`) with
    ``loaded``.

    fs: Hz, required for CSV/NPY samples, checked against WFDB/EDF headers; lead: name or
    0-based index (default: MLII/II when present, else the most ECG-like); strict: refuse
    recoverable header oddities; mc_samples, review_threshold: beat models' uncertainty
    options; long_record_s: beat-model records longer than this (default
    ``ecglens.predict.long.LONG_RECORD_S``) are classified in windows, their JSON streamed;
    units: "mV", "uV" or "V" for CSV/NPY samples (default: judged from their amplitude).
    Every beat prediction is checked for a plausible rate and polarity
    (:mod:`ecglens.signal.plausibility`). Raises :class:`EcgLensError` naming the file for
    what does not fit the model.
    """
    options = {"lead": lead, "mc_samples": mc_samples, "review_threshold": review_threshold}
    task = task_of(loaded)
    if isinstance(source, Record):
        result = classify(source, loaded, device=device, **options)
        return _with_checks(Prediction(None, InputKind.WFDB, result, list(source.warnings)))
    path = Path(source)
    kind = input_kind(path)
    if task.family == "image" or kind is InputKind.IMAGE:
        return Prediction(path, kind, _classify_image(path, kind, loaded, device, fs, lead))
    if kind is InputKind.BEAT_CSV:
        from ecglens.predict.beat_rows import classify_beat_rows

        return Prediction(path, kind, classify_beat_rows(path, loaded, device=device))
    if task.name == "beats":
        long = _long_record(path, loaded, device, fs, strict, long_record_s, options, units)
        if long is not None:
            return Prediction(path, kind, long)
    start = time.perf_counter()
    record = read_record(path, fs=fs, strict=strict, units=units)
    read_s = time.perf_counter() - start
    notes = []
    if lead is None and task.family == "beats" and len(record.lead_names) > 1:
        used = select_lead(record)[1]
        if used.upper() not in STANDARD_BEAT_LEADS:  # say when it is not II / MLII
            notes.append(
                f"beats of lead {used} (of {', '.join(record.lead_names)}); --lead to choose "
                "another"
            )
    result = classify(record, loaded, device=device, **options)
    return _with_checks(Prediction(path, kind, result, list(record.warnings), notes, read_s))


def _classify_image(
    path: Path, kind: InputKind, loaded: LoadedModel, device, fs, lead
) -> Any:
    from ecglens.models.registry import list_pretrained
    from ecglens.predict.images import classify_image

    if kind is not InputKind.IMAGE:
        raise EcgLensError(
            f"model {loaded.name} reads printout images (.png, .jpg, ...), not {kind} files",
            path,
        )
    if task_of(loaded).family != "image":
        image_models = [n for n in list_pretrained() if "images" in n]
        raise EcgLensError(
            "an image, not an ECG signal record: classify printouts with an image model "
            f"(--model {' or '.join(image_models)})",
            path,
        )
    return classify_image(path, loaded, device=device, fs=fs, lead=lead)


def _long_record(path, loaded, device, fs, strict, long_record_s, options, units=None):
    """The windowed prediction of a record longer than ``long_record_s``, else None."""
    from ecglens.io.chunks import NotWindowed, record_info
    from ecglens.predict.long import LONG_RECORD_S, long_record_dict_stream

    try:
        info = record_info(path, fs=fs, strict=strict, units=units)
    except NotWindowed:  # read whole, as any other record
        return None
    if info.duration_s <= (LONG_RECORD_S if long_record_s is None else long_record_s):
        return None
    pieces = long_record_dict_stream(
        info, loaded, fs=info.fs, device=device, extra={"warnings": list(info.warnings)}, **options
    )
    return LongRecordPrediction(info.name, pieces)


def _with_checks(prediction: Prediction) -> Prediction:
    """Warn when little of the lead is readable ECG, when its beats are implausible at the
    rate given (an error when clearly wrong) or when the lead looks inverted."""
    from ecglens.signal.plausibility import lead_findings, measure_lead

    result = prediction.result
    peaks, signal = getattr(result, "sample", None), getattr(result, "signal", None)
    if peaks is not None and signal is not None and hasattr(result, "fs"):
        check = measure_lead(signal, result.fs, peaks)
        if check is not None:
            given = prediction.kind is InputKind.SAMPLES  # the rate came from the user
            lead = str(getattr(result, "lead", ""))
            found, error = lead_findings(check, result.fs, lead, rate_given=given)
            if error is not None:
                raise EcgLensError(error, prediction.source or getattr(result, "record", None))
            prediction.warnings.extend(found)
    quality = getattr(result, "quality", None)
    if quality is not None and quality.usable_fraction < LOW_USABLE_FRACTION:
        prediction.warnings.append(
            f"only {100 * quality.usable_fraction:.0f}% of the lead is readable ECG: its "
            "beats in unusable stretches are flagged as artifacts and not counted"
        )
    return prediction
