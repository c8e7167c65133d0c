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

from ecglens.explain.explainers import EXPLAINERS, explainers_for
from ecglens.models.measured import explainer_summary
from ecglens.models.registry import LoadedModel
from ecglens.predict.tasks import Task, task_of


def measured_method(model_name: str) -> str | None:
    """The benchmark's recommended explainer for ``model_name`` when it names a known
    explainer, else None (not measured, or none qualified)."""
    method = (explainer_summary(model_name) or {}).get("recommended")
    return method if isinstance(method, str) and method in EXPLAINERS else None


def recommended_method(loaded: LoadedModel) -> str:
    """The explainer ``explain``/``report`` use by default for ``loaded``: the benchmark's
    recommendation when it applies to the model's family, else the family's first explainer
    (:func:`~ecglens.explain.explainers.explainers_for`)."""
    return recommended_method_for(loaded.name, task_of(loaded))


def recommended_method_for(model_name: str, task: Task | str) -> str:
    """:func:`recommended_method` from a model's name and its task (or the task's family,
    e.g. "beats"), e.g. the web service's."""
    choices = explainers_for(task if isinstance(task, str) else task.family)
    method = measured_method(model_name)
    return method if method in choices else choices[0]


def measured_or(model_name: str, fallback: str) -> str:
    """The model's measured recommended explainer when there is one, else ``fallback`` (a
    figure's own default, e.g. :data:`~ecglens.explain.explainers.BOTH` for 12-lead
    records)."""
    return measured_method(model_name) or fallback
