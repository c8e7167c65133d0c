"""Each shipped model's recommended explainer, chosen by ``ecglens benchmark explanations``.

The benchmark writes ``ecglens/models/weights/explainers.json``::

    {model: {"recommended": method | null, "why": "...", "baseline": "zero",
     "curves": {name: {"fraction": [...], "deletion": [...], "insertion": [...]}}}}

where the curves' names are the explainers measured plus ``"random"`` (a random map) and
``"edge"`` (|signal derivative|), each the mean target-class probability over the benchmark's
examples when that share of samples is deleted (replaced by the baseline) or inserted.

``explain``, ``report`` and the web page use :func:`recommended_method` as the default
explainer (``--method`` chooses another); the HTML report draws the deletion and insertion
curves of :func:`explainer_summary`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from ecglens.models.registry import LoadedModel
from ecglens.predict.tasks import Task, task_of

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


def recommended_method(loaded: LoadedModel) -> str:
    """The explainer ``explain``/``report`` use by default for ``loaded``: the benchmark's
    recommendation when it applies to the model's task, else the task's first method."""
    return recommended_method_for(loaded.name, task_of(loaded))


def recommended_method_for(model_name: str, task: Task) -> str:
    """:func:`recommended_method` from a model's name and task (e.g. the web service's)."""
    summary = explainer_summary(model_name)
    method = summary.get("recommended") if summary else None
    return method if method in task.methods else task.default_method
