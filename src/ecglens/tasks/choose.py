"""Which model reads which input: the one rule the CLI (``predict``, ``explain``,
``report``), ``ecglens batch`` and the web server follow when no model is named, and the
check that a named model fits its input.

With no model named, the input decides (:func:`choose_model`):

- a printout image -> ``ecglens-images-fused``;
- a Kaggle-style CSV of beats -> ``kachuee-mitdb-inter``;
- a record with the 12 standard leads, at most ``TWELVE_LEAD_MAX_S`` long ->
  ``ecglens-ptbxl-binary`` (the CLI adds the beat model's prediction on lead II beside it);
- any other record (one or two leads, or a long 12-lead Holter) -> ``ecglens-mitdb-inter``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from ecglens.errors import EcgLensError
from ecglens.inputs.leads import lead_order
from ecglens.io import Record
from ecglens.io.formats import InputKind, input_kind
from ecglens.models.config import ModelConfig
from ecglens.models.registry import WEIGHTS_DIR, LoadedModel, list_pretrained
from ecglens.predict.beat_rows import check_takes_kaggle_beats
from ecglens.predict.tasks import get_task

BEAT_MODEL = "ecglens-mitdb-inter"
TWELVE_LEAD_MODEL = "ecglens-ptbxl-binary"
IMAGE_MODEL = "ecglens-images-fused"
BEAT_CSV_MODEL = "kachuee-mitdb-inter"
TWELVE_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
TWELVE_LEAD_MAX_S = 60.0  # longer 12-lead records (Holters) go to the beat model
RECORD_KINDS = (InputKind.WFDB, InputKind.EDF, InputKind.SAMPLES)


@dataclass(frozen=True)
class InputShape:
    """What decides the model: the input's kind, its lead names and its duration (seconds);
    leads empty and duration None when not read (images, CSVs of beats, unreadable)."""

    kind: InputKind
    lead_names: tuple[str, ...] = ()
    duration_s: float | None = None

    @property
    def twelve_lead(self) -> bool:
        """True for a record with the 12 standard leads, short enough for a 12-lead model."""
        if not self.lead_names or (self.duration_s or 0) > TWELVE_LEAD_MAX_S:
            return False
        try:
            lead_order(self.lead_names, TWELVE_LEADS)
        except EcgLensError:
            return False
        return True


def input_shape(
    source: str | Path | Record, fs: float | None = None, units: str | None = None
) -> InputShape:
    """The :class:`InputShape` of a path (its header only, where the format has one) or of a
    read record. An input that cannot be read gives its kind alone (the reader's error comes
    when it is classified)."""
    if isinstance(source, Record):
        return InputShape(InputKind.WFDB, tuple(source.lead_names), source.duration_s)
    kind = input_kind(source)
    if kind not in RECORD_KINDS:
        return InputShape(kind)
    from ecglens.io.chunks import NotWindowed, record_info
    from ecglens.io.records import read_record

    try:
        try:
            info = record_info(source, fs=fs, units=units)
            return InputShape(kind, tuple(info.lead_names), info.duration_s)
        except NotWindowed:
            record = read_record(source, fs=fs, units=units)
            return InputShape(kind, tuple(record.lead_names), record.duration_s)
    except EcgLensError:
        return InputShape(kind)


def preferred_models(shape: InputShape) -> list[str]:
    """The shipped models for ``shape``, best first (see the module doc)."""
    if shape.kind is InputKind.IMAGE:
        return [IMAGE_MODEL, "ecglens-images-cnn"]
    if shape.kind is InputKind.BEAT_CSV:
        return [BEAT_CSV_MODEL, "kachuee-mitdb-intra"]
    if shape.twelve_lead:
        return [TWELVE_LEAD_MODEL, BEAT_MODEL]
    return [BEAT_MODEL]


def choose_model(
    source: str | Path | Record | InputShape,
    fs: float | None = None,
    available: Mapping[str, ModelConfig] | None = None,
) -> str:
    """The model for ``source`` when none is named: the first of :func:`preferred_models`
    among ``available`` (name -> config; default: the shipped models); else the first
    available model that fits it. Raises :class:`EcgLensError` when none of them fits."""
    shape = source if isinstance(source, InputShape) else input_shape(source, fs)
    if available is None:
        available = {name: _config_of(name) for name in list_pretrained()}
    names = list(available)
    for name in preferred_models(shape):
        if name in available and fits(available[name], name, shape):
            return name
    for name in names:
        if fits(available[name], name, shape):
            return name
    raise EcgLensError(f"none of the models {', '.join(names)} reads {_what(shape)}")


def _config_of(name: str) -> ModelConfig:
    return ModelConfig.from_dict(json.loads((WEIGHTS_DIR / f"{name}.json").read_text()), name)


def fits(config: ModelConfig, name: str, shape: InputShape) -> bool:
    """True when the model (``config``) reads an input of ``shape``."""
    family = get_task(config.task).family
    if shape.kind is InputKind.IMAGE:
        return family == "image"
    if shape.kind is InputKind.BEAT_CSV:
        try:
            check_takes_kaggle_beats(SimpleNamespace(name=name, config=config))  # type: ignore[arg-type]
        except EcgLensError:
            return False
        return True
    if family == "12-lead":
        if not shape.lead_names:
            return True  # leads unknown: the 12-lead model's own check speaks
        try:
            lead_order(shape.lead_names, config.lead_names or TWELVE_LEADS)
        except EcgLensError:
            return False
        return True
    return family == "beats"


def models_that_fit(shape: InputShape) -> list[str]:
    """The shipped models that read an input of ``shape``, the preferred ones first."""
    shipped = list_pretrained()
    fitting = [n for n in shipped if fits(_config_of(n), n, shape)]
    first = [n for n in preferred_models(shape) if n in fitting]
    return first + [n for n in fitting if n not in first]


def check_model_fits(
    loaded: LoadedModel, source: str | Path, fs: float | None = None
) -> None:
    """Refuse, with one line naming the file and the models that fit, a named model that does
    not read ``source``."""
    shape = input_shape(source, fs)
    if fits(loaded.config, loaded.name, shape):
        return
    fitting = models_that_fit(shape)
    needs = ""
    if get_task(loaded.config.task).family == "12-lead" and shape.lead_names:
        leads = list(loaded.config.lead_names or TWELVE_LEADS)
        needs = f" (it needs {len(leads)}: {', '.join(leads)})"
    raise EcgLensError(
        f"model {loaded.name} does not read {_what(shape)}{needs}; models that do: "
        f"{', '.join(fitting) or 'none shipped'} (or leave --model out)",
        source,
    )


def _what(shape: InputShape) -> str:
    if shape.kind is InputKind.IMAGE:
        return "printout images"
    if shape.kind is InputKind.BEAT_CSV:
        return "CSVs of beats (187 values a row)"
    if shape.lead_names:
        return f"records of {len(shape.lead_names)} leads ({', '.join(shape.lead_names[:12])})"
    return "ECG records"


def companion_model(shape: InputShape, chosen: str) -> str | None:
    """The model whose prediction goes beside ``chosen``'s in the same JSON: the beat model on
    lead II beside the 12-lead model of a 12-lead record; else None."""
    return BEAT_MODEL if shape.twelve_lead and chosen == TWELVE_LEAD_MODEL else None
