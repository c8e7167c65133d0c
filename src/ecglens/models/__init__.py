"""Model registry: ``create_model(name)`` builds an architecture, ``load_model(name)`` loads
shipped weights (safetensors) with their config (a typed :class:`ModelConfig`) and model card."""

from ecglens.models.config import ModelConfig
from ecglens.models.registry import (
    LoadedModel,
    create_model,
    list_models,
    list_pretrained,
    load_model,
    register_model,
    save_pretrained,
)

__all__ = [
    "LoadedModel",
    "ModelConfig",
    "create_model",
    "list_models",
    "list_pretrained",
    "load_model",
    "register_model",
    "save_pretrained",
]
