"""Model registry: ``create_model(name)`` builds an architecture, ``load_model(name)`` loads
shipped weights (safetensors) with their config and model card."""

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
    "create_model",
    "list_models",
    "list_pretrained",
    "load_model",
    "register_model",
    "save_pretrained",
]
