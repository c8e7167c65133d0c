"""A model's config: the typed form of ``weights/<name>.json`` (as timm's ``PretrainedCfg``).

:meth:`ModelConfig.from_dict` checks every known key's type when a model loads and raises
a one-line :class:`~ecglens.errors.EcgLensError` naming the model and the key; keys it does
not know are kept in ``extra``. :meth:`ModelConfig.to_dict` gives back the same JSON, key
for key and in the same order, so a config written by training stays byte-identical.

Fields group by model family: every model has ``architecture``/``classes``/``task``; beat
models add ``inputs``/``beats`` (:class:`~ecglens.inputs.beat_config.BeatConfig`), calibration
and the rhythm rule; 12-lead models ``fs``/``lead_names``/``preprocessing``/``threshold``;
the MI model ``lead``/``aggregate``; image models ``input``
(:class:`~ecglens.inputs.images.ImageInputConfig`). The rest is provenance (training
settings, data, metrics) kept as plain JSON.

For code not yet converted, a config also reads like the dict it came from
(``cfg["classes"]``, ``cfg.get("temperature", 1.0)``, ``"beats" in cfg``): the values are
the JSON values (``cfg["beats"]`` is a dict), and only keys present in the JSON are there.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Union, get_args, get_origin, get_type_hints

from ecglens.errors import EcgLensError
from ecglens.inputs.beat_config import BeatConfig
from ecglens.inputs.images import ImageInputConfig

JSON = Any  # a JSON value: None, bool, int, float, str, list or dict
_REQUIRED = ("architecture", "classes")
_BLOCKS: dict[str, type] = {"beats": BeatConfig, "input": ImageInputConfig}


@dataclass(frozen=True, eq=False)
class ModelConfig(Mapping):
    """Everything a shipped model needs beyond its weights; see the module docstring."""

    # every model
    architecture: str
    classes: list[str]
    architecture_kwargs: dict[str, Any] = field(default_factory=dict)
    task: str = ""  # a key of ecglens.predict.tasks; "" = none named
    name: str | None = None
    members: list[Any] | str | None = None  # ensemble members (runs) or the member kind
    weights_dtype: str | None = None  # e.g. "float16" when the weights were stored halved
    # beat models (task "beats", "ptbxl-mi", Kaggle tasks)
    inputs: list[str] | None = None  # model_input_arrays names, e.g. ["x", "rr_rhythm"]
    beats: BeatConfig | None = None
    temperature: float = 1.0  # softmax temperature fitted after training
    mc_samples: int = 0  # Monte Carlo dropout passes for the uncertainty (0 = none)
    calibrate: bool | None = None
    calibration: dict[str, Any] | None = None
    rhythm_rule: dict[str, Any] | None = None  # {"settings": RhythmRule fields, ...}
    cluster_vote: dict[str, Any] | None = None  # {"settings": ClusterVote fields, ...}
    class_bias: dict[str, Any] | None = None
    review: list[dict[str, Any]] | None = None
    optimistic: bool = False  # evaluated on a split that leaks patients
    warning: str | None = None  # shown with predictions of an optimistic model
    # 12-lead models (task "ptbxl-binary", "ptbxl-superclass")
    outputs: list[str] | None = None
    fs: float | None = None  # Hz
    n_leads: int | None = None
    length: int | None = None  # samples
    lead_names: list[str] | None = None
    preprocessing: dict[str, Any] | None = None  # ecglens.inputs.twelve_lead.preprocessing_config
    threshold: float | dict[str, float] | None = None  # one, or one per class
    threshold_rule: str | None = None
    threshold_description: str | None = None
    complexity: dict[str, Any] | None = None
    # MI model (task "ptbxl-mi")
    lead: str | None = "II"  # the lead its beats are cut from (None: the record's default)
    aggregate: str = "mean"  # how beat probabilities make a record's
    relevance: dict[str, Any] | None = None
    # image models (task "images")
    input: ImageInputConfig | None = None
    cross_validation: dict[str, Any] | None = None
    folds: list[Any] | None = None
    train_minutes: float | None = None
    parameters: int | dict[str, Any] | None = None  # a fold's count, or a committee's
    cv_metrics_float32: dict[str, Any] | None = None
    # provenance: how the model was trained and scored
    split: str | dict[str, Any] | None = None
    split_description: str | None = None
    val_records: int | None = None
    cv_folds: int | None = None
    cv: dict[str, Any] | None = None
    transfer: dict[str, Any] | None = None
    run: dict[str, Any] | None = None
    run_config: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
    seed: int | None = None
    best_epoch: int | str | None = None
    history: list[dict[str, Any]] | None = None
    data: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    command: str | None = None
    val_metrics: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    metrics_at_training: dict[str, Any] | None = None
    metrics_note: str | None = None
    # keys this class does not know, kept as they were
    extra: dict[str, Any] = field(default_factory=dict)
    # the JSON's key order (top level and blocks), so to_dict gives back the same JSON
    layout: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the fields' types (from_dict has checked a JSON's already, naming the model)."""
        if self.layout:
            return
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _BLOCKS:
                if value is not None and not isinstance(value, _BLOCKS[f.name]):
                    kind = _BLOCKS[f.name].__name__
                    raise EcgLensError(
                        f"config key {f.name!r} must be a {kind}, not {_kind(value)}"
                    )
            elif f.name not in ("extra", "layout"):
                _check(value, _field_types()[f.name], f"config key {f.name!r}")

    # ---- reading a dict ----

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], name: str = "model") -> ModelConfig:
        """Check ``d`` (a parsed model JSON) and type it; ``name`` goes into errors."""
        if isinstance(d, ModelConfig):
            return d
        if not isinstance(d, Mapping):
            raise EcgLensError(f"model {name}: config must be a JSON object, not {_kind(d)}")
        for key in _REQUIRED:
            if key not in d:
                raise EcgLensError(f"model {name}: config has no {key!r}")
        hints = _field_types()
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        layout: dict[str, tuple[str, ...]] = {"": tuple(d)}
        for key, value in d.items():
            if key not in hints or key in ("extra", "layout"):
                extra[key] = value
                continue
            _check(value, hints[key], f"model {name}: config key {key!r}")
            if key in _BLOCKS and value is not None:
                layout[key] = tuple(value)
                value = _block(_BLOCKS[key], value, name, key)
            known[key] = value
        return cls(**known, extra=extra, layout=layout)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the same keys in the same order as the dict it was read from."""
        return {key: self[key] for key in self.keys()}

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with ``changes`` (fields; a block as its class or as a dict), checked; new
        keys go last in :meth:`to_dict`."""
        if not self.layout:
            return dataclasses.replace(self, **changes)
        hints = _field_types()
        layout = dict(self.layout)
        layout[""] = layout[""] + tuple(k for k in changes if k not in layout[""])
        for key, value in changes.items():
            if key not in hints or key in ("extra", "layout"):
                raise EcgLensError(f"config has no field {key!r}")
            layout.pop(key, None)
            if key in _BLOCKS and isinstance(value, dict):
                layout[key] = tuple(value)
                changes[key] = _block(_BLOCKS[key], value, "config", key)
            elif key in _BLOCKS:
                if value is not None and not isinstance(value, _BLOCKS[key]):
                    raise EcgLensError(f"config key {key!r} must be an object, not {_kind(value)}")
            else:
                _check(value, hints[key], f"config key {key!r}")
        return dataclasses.replace(self, **changes, layout=layout)

    # ---- read-only mapping view (the JSON values), for code that reads keys ----

    def keys(self):  # type: ignore[override]
        """Keys of the JSON form, in order."""
        if "" in self.layout:
            return list(self.layout[""])
        out = []
        for f in dataclasses.fields(self):
            if f.name in ("extra", "layout"):
                continue
            default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
            if f.name in _REQUIRED or getattr(self, f.name) != default:
                out.append(f.name)
        return out + list(self.extra)

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        if key in self.extra or key in ("extra", "layout"):
            return self.extra[key]
        value = getattr(self, key)
        if key in _BLOCKS and value is not None:
            names = self.layout.get(key) or [f.name for f in dataclasses.fields(value)]
            return {k: getattr(value, k) for k in names}
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __eq__(self, other: object) -> bool:
        """Equal to a config or a plain mapping with the same JSON form."""
        if isinstance(other, ModelConfig):
            return self.to_dict() == other.to_dict()
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # holds dicts


@functools.cache
def _field_types() -> dict[str, Any]:
    return get_type_hints(ModelConfig)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return names.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(tp))
    if tp is type(None):
        return "null"
    if tp in (BeatConfig, ImageInputConfig) or origin is dict or tp is dict:
        return "an object"
    if origin is list or tp is list:
        plural = {str: "strings", int: "integers", float: "numbers"}
        (item,) = get_args(tp) or (Any,)
        return f"a list of {plural[item]}" if item in plural else "a list"
    return {str: "a string", int: "an integer", float: "a number", bool: "true/false"}.get(
        tp, "any value"
    )


def _matches(value: Any, tp: Any) -> bool:
    """Whether the JSON ``value`` fits the annotation ``tp`` (ints count as numbers)."""
    if tp is Any:
        return True
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp in (BeatConfig, ImageInputConfig):
        return isinstance(value, dict)
    if origin is list or tp is list:
        (item,) = get_args(tp) or (Any,)
        # a tuple is written as a JSON list (training code may hand one in)
        return isinstance(value, list | tuple) and all(_matches(v, item) for v in value)
    if origin is dict or tp is dict:
        args = get_args(tp)
        item = args[1] if args else Any
        return isinstance(value, dict) and all(_matches(v, item) for v in value.values())
    return isinstance(value, tp)


def _check(value: Any, tp: Any, where: str) -> None:
    if not _matches(value, tp):
        raise EcgLensError(f"{where} must be {_describe(tp)}, not {_kind(value)}")


def _block(cls: type, value: dict[str, Any], name: str, key: str) -> Any:
    """Build a typed block (``beats``, ``input``) from its JSON object, checking each key."""
    hints = get_type_hints(cls)
    for k, v in value.items():
        if k not in hints:
            known = ", ".join(hints)
            raise EcgLensError(f"model {name}: config key '{key}.{k}' is unknown (known: {known})")
        _check(v, hints[k], f"model {name}: config key '{key}.{k}'")
    try:
        return cls(**value)
    except EcgLensError as exc:
        raise EcgLensError(f"model {name}: config key {key!r}: {exc}") from exc
