"""What ``ecglens benchmark explanations`` measured for each shipped model, read from
``ecglens/models/weights/explainers.json`` (the weights' side of the measurement: cards and
training read it without the explainers; :mod:`ecglens.explain.recommended` turns it into a
default explainer)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

EXPLAINERS_FILE = "explainers.json"


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    try:
        text = resources.files("ecglens.models").joinpath("weights", EXPLAINERS_FILE).read_text()
    except (FileNotFoundError, OSError):
        return {}
    try:
        table = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return table if isinstance(table, dict) else {}


def explainer_summary(model_name: str) -> dict[str, Any] | None:
    """The benchmark's entry for a shipped model: ``{"recommended", "why", "curves"}``, or None
    when the model was not benchmarked."""
    entry = _table().get(model_name)
    return dict(entry) if isinstance(entry, dict) else None
