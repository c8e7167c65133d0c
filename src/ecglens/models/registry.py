"""A small timm-style registry.

Architectures register a factory under a name (``@register_model("kachuee")``) in any
module of the :mod:`ecglens.models` package: the registry imports every module of the
package once, the first time a model is created or loaded, so a new architecture needs no
list to be added to. Trained weights live in ``ecglens/models/weights/<name>.safetensors`` beside
``<name>.json`` (architecture name, its keyword arguments, and everything the
pipeline needs to feed it: task, classes, input representation, preprocessing
statistics, metrics; read into a :class:`~ecglens.models.config.ModelConfig`) and
``<name>.md`` (the model card).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ecglens._atomic import atomic_write, atomic_write_json, atomic_write_text
from ecglens.errors import EcgLensError
from ecglens.models.config import ModelConfig

WEIGHTS_DIR = Path(__file__).parent / "weights"
_REGISTRY: dict[str, Callable[..., torch.nn.Module]] = {}
# Modules of the package that register nothing (the rest are imported to find architectures).
_NOT_ARCHITECTURES = frozenset({"registry", "config"})
_discovered = False


def register_model(name: str) -> Callable:
    """Decorator registering ``factory(**kwargs) -> nn.Module`` under ``name``."""

    def wrap(factory: Callable[..., torch.nn.Module]) -> Callable[..., torch.nn.Module]:
        _REGISTRY[name] = factory
        return factory

    return wrap


def _import_architectures() -> None:
    """Import every module of :mod:`ecglens.models` once, so its ``@register_model``
    decorators run (lazily: the CLI's start-up does not pay for torch modules)."""
    global _discovered
    if _discovered:
        return
    package = importlib.import_module(__package__ or "ecglens.models")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _NOT_ARCHITECTURES:
            importlib.import_module(f"{package.__name__}.{module.name}")
    _discovered = True


def list_models() -> list[str]:
    """Names of registered architectures."""
    _import_architectures()
    return sorted(_REGISTRY)


def create_model(name: str, **kwargs: Any) -> torch.nn.Module:
    """Build an untrained architecture by registry name."""
    _import_architectures()
    if name not in _REGISTRY:
        raise EcgLensError(f"unknown architecture {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**kwargs)


def list_pretrained() -> list[str]:
    """Names of weights shipped inside the package."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))


@dataclass
class LoadedModel:
    """A model with its config (architecture, classes, representation...) and card."""

    name: str
    module: torch.nn.Module
    config: ModelConfig  # a plain dict is checked and typed on construction
    card: str = ""
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.config, ModelConfig):
            if not isinstance(self.config, Mapping):
                raise EcgLensError(f"model {self.name}: config must be a mapping")
            self.config = ModelConfig.from_dict(self.config, self.name)

    @property
    def classes(self) -> list[str]:
        return list(self.config.classes)

    @property
    def task(self) -> str:
        """The task the config names (see :mod:`ecglens.predict.tasks`)."""
        return self.config.task


def _resolve(name_or_path: str | Path) -> Path:
    """Find ``<x>.safetensors`` for a shipped name, a path to it, or a run directory."""
    p = Path(name_or_path)
    candidates = [
        WEIGHTS_DIR / f"{name_or_path}.safetensors",
        p,
        p.with_suffix(".safetensors"),
        p / "model.safetensors",
    ]
    for c in candidates:
        if c.suffix == ".safetensors" and c.is_file():
            return c
    import difflib

    shipped = list_pretrained()
    close = difflib.get_close_matches(str(name_or_path), shipped, n=1, cutoff=0.6)
    if close:
        raise EcgLensError(
            f"no such model: did you mean {close[0]}? (`ecglens models` lists all)", p
        )
    known = ", ".join(shipped) or "none"
    raise EcgLensError(f"no such model (shipped models: {known}; or give a .safetensors path)", p)


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load shipped weights by name (see :func:`list_pretrained`) or from a path.

    Weights are read with safetensors (no pickle). The JSON beside them says
    which architecture to build and with which arguments.
    """
    weights = _resolve(name_or_path)
    config_file = weights.with_suffix(".json")
    if not config_file.exists():
        raise EcgLensError("model config (.json) missing beside the weights", config_file)
    name = weights.parent.name if weights.stem == "model" else weights.stem
    try:
        raw = json.loads(config_file.read_text())
    except json.JSONDecodeError as exc:
        raise EcgLensError(f"malformed model config ({exc})", config_file) from exc
    config = ModelConfig.from_dict(raw, f"{name} ({config_file})")
    module = create_model(config.architecture, **config.architecture_kwargs)
    try:
        state = load_file(str(weights), device=str(device))
        module.load_state_dict(state)
    except Exception as exc:
        raise EcgLensError(f"weights do not load ({type(exc).__name__})", weights) from exc
    module.to(device).eval()
    card_file = weights.with_suffix(".md")
    card = card_file.read_text() if card_file.exists() else ""
    return LoadedModel(name=name, module=module, config=config, card=card, path=weights)


def save_pretrained(
    module: torch.nn.Module,
    config: ModelConfig | Mapping[str, Any],
    path: str | Path,
    card: str | None = None,
) -> Path:
    """Write ``<path>.safetensors`` + ``.json`` (+ ``.md``) atomically; a dict ``config`` is
    checked with :meth:`ModelConfig.from_dict` first and written as it is (same key order)."""
    path = Path(path).with_suffix(".safetensors")
    if isinstance(config, ModelConfig):
        config = config.to_dict()
    else:
        ModelConfig.from_dict(config, path.stem)
        config = config if isinstance(config, dict) else dict(config)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write(path, lambda p: save_file(state, str(p)))
    atomic_write_json(path.with_suffix(".json"), config)
    if card is not None:
        atomic_write_text(path.with_suffix(".md"), card)
    return path
