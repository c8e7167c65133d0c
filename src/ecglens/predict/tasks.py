"""The task registry: what each kind of model does with a record.

A model's JSON config names its task (``"task": "beats"``). The task says which inputs module
prepares the record (its ``family``), which function classifies it (returning a prediction with
``to_dict()``) and which options that function takes. :func:`ecglens.predict.run` dispatches
through :func:`classify` instead of ``if`` chains on task names. The explainers of a family
are facts of :mod:`ecglens.explain.explainers` (``explainers_for(task.family)``).

What the front ends do with a prediction (its table, figure, report, Parquet rows) is in the
task table one layer up, :mod:`ecglens.tasks`: inference never imports plotting or report code
(data flows one way: inputs -> predict -> explain -> plot -> report -> tasks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ecglens.errors import EcgLensError
from ecglens.models.registry import LoadedModel
from ecglens.predict.beats import classify_record
from ecglens.predict.images import classify_image
from ecglens.predict.mi import MI_TASK, classify_mi
from ecglens.predict.twelve_lead import TWELVE_LEAD_TASKS, classify_12lead


@dataclass(frozen=True)
class Task:
    """One task a model can be trained for.

    name: the config's ``task``; family: the inputs module (``"beats"``: one lead cut into beats;
    ``"12-lead"``: a whole 12-lead record); classify: ``(record, loaded, **options) ->``
    prediction with ``to_dict()``; options: the keyword options ``classify`` takes beyond
    ``device``.
    """

    name: str
    family: str
    description: str
    classify: Callable[..., Any]
    options: tuple[str, ...]


_TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add ``task`` to the registry (a later registration under the same name replaces it)."""
    _TASKS[task.name] = task
    return task


def list_tasks() -> list[str]:
    return sorted(_TASKS)


def get_task(name: str) -> Task:
    """The registered task called ``name``."""
    if name not in _TASKS:
        raise EcgLensError(f"unknown task {name!r}; known: {', '.join(list_tasks())}")
    return _TASKS[name]


def task_of(loaded: LoadedModel) -> Task:
    """The task of a loaded model, as its config names it."""
    try:
        return get_task(loaded.task)
    except EcgLensError as exc:
        raise EcgLensError(f"model {loaded.name}: {exc}") from exc


def classify(record, loaded: LoadedModel, device="cpu", **options: Any):
    """Classify ``record`` (:class:`~ecglens.io.Record`) with ``loaded``, whatever its task.

    ``options`` go to the task's classifier (beats: ``lead``, ``mc_samples``,
    ``review_threshold``, ``peaks``, ``with_reference``); an option given a value that the
    task does not take is an error, None is ignored.
    """
    task = task_of(loaded)
    unknown = sorted(k for k, v in options.items() if v is not None and k not in task.options)
    if unknown:
        raise EcgLensError(
            f"option {', '.join(unknown)} does not apply to {task.description} "
            f"(model {loaded.name})"
        )
    given = {k: v for k, v in options.items() if v is not None}
    return task.classify(record, loaded, device=device, **given)


register_task(
    Task(
        name="beats",
        family="beats",
        description="single-lead beat models",
        classify=classify_record,
        options=("lead", "mc_samples", "review_threshold", "peaks", "with_reference"),
    )
)
_WHAT = ("normal vs abnormal", "superclasses", "MI vs normal")
for _name, _what in zip(TWELVE_LEAD_TASKS, _WHAT, strict=True):
    register_task(
        Task(
            name=_name,
            family="12-lead",
            description=f"12-lead models ({_what})",
            classify=classify_12lead,
            options=(),
        )
    )
register_task(
    Task(
        name=MI_TASK,
        family="beats",
        description="myocardial-infarction beat models",
        classify=classify_mi,
        options=("lead",),
    )
)
register_task(
    Task(
        name="kaggle-ptb",
        family="beats",
        description="MI-vs-normal beat models trained on the Kaggle PTB CSVs",
        classify=classify_record,
        options=("lead", "mc_samples", "review_threshold", "peaks", "with_reference"),
    )
)
register_task(
    Task(
        name="images",
        family="image",
        description="printout-image models",
        classify=classify_image,  # takes the image file's path, not a Record
        options=(),
    )
)
