"""Each shipped model's recommended explainer, chosen by ``ecglens benchmark explanations``.

The benchmark writes ``ecglens/models/weights/explainers.json``::

    {model: {"recommended": method | null, "why": "...", "baseline": "zero",
     "curves": {name: {"fraction": [...], "deletion": [...], "insertion": [...]}}}}

where the curves' names are the explainers measured plus ``"random"`` (a random map) and
``"edge"`` (|signal derivative|), each the mean target-class probability over the benchmark's
examples when that share of samples is deleted (replaced by the baseline) or inserted. The
benchmark also writes ``"qualified"`` (every explainer that passed its rule, the recommended
one among them) and ``"measured"`` (every explainer it measured).

``explain``, ``report`` and the web page use :func:`recommended_method` as the default
explainer (``--method`` chooses another); the HTML report draws the deletion and insertion
curves of :func:`explainer_summary`.

:func:`trust_of` is the one place that decides how far a map of a given explainer can be
trusted on a given model; every figure, report section and web answer reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecglens.explain.explainers import BOTH, BOTH_PARTS, EXPLAINERS, explainers_for, label_of
from ecglens.models.cam import outputs_cam
from ecglens.models.measured import explainer_summary
from ecglens.models.registry import LoadedModel
from ecglens.predict.tasks import Task, task_of


def measured_method(model_name: str) -> str | None:
    """The benchmark's recommended explainer for ``model_name`` when it names a known
    explainer, else None (not measured, or none qualified)."""
    method = (explainer_summary(model_name) or {}).get("recommended")
    return method if isinstance(method, str) and method in EXPLAINERS else None


def model_explainers(loaded: LoadedModel) -> tuple[str, ...]:
    """The explainers that apply to ``loaded`` (its family's, and CAM when the network
    outputs one); the first is its fallback default."""
    return explainers_for(task_of(loaded).family, outputs_cam(loaded.module))


def recommended_method(loaded: LoadedModel) -> str:
    """The explainer ``explain``/``report`` use by default for ``loaded``: the benchmark's
    recommendation when it applies to the model, else its first explainer
    (:func:`model_explainers`)."""
    return recommended_method_for(loaded.name, task_of(loaded), outputs_cam(loaded.module))


def recommended_method_for(
    model_name: str, task: Task | str, cam_output: bool | None = None
) -> str:
    """:func:`recommended_method` from a model's name and its task (or the task's family,
    e.g. "beats"), e.g. the web service's; ``cam_output`` as in
    :func:`~ecglens.explain.explainers.explainers_for`."""
    choices = explainers_for(task if isinstance(task, str) else task.family, cam_output)
    method = measured_method(model_name)
    return method if method in choices else choices[0]


def measured_or(model_name: str, fallback: str) -> str:
    """The model's measured recommended explainer when there is one, else ``fallback`` (a
    figure's own default, e.g. :data:`~ecglens.explain.explainers.BOTH` for 12-lead
    records)."""
    return measured_method(model_name) or fallback


@dataclass(frozen=True)
class Trust:
    """How far a map of ``method`` can be trusted on ``model``.

    ``shown_faithful``: the explainer passed the benchmark's rule on this model (sanity check
    and removal metrics, see :mod:`ecglens.studies.explanations`); ``measured``: the
    benchmark measured this explainer on this model at all; ``caveat``: the sentence figures,
    reports and the web page show next to the map when not shown faithful (None when it is);
    ``text``: what a figure prints in every case."""

    model: str
    method: str
    shown_faithful: bool
    measured: bool
    caveat: str | None
    text: str

    def to_dict(self) -> dict[str, Any]:
        """The web answer's ``faithfulness`` field."""
        return {
            "method": self.method,
            "shown_faithful": self.shown_faithful,
            "measured": self.measured,
            "caveat": self.caveat,
            "text": self.text,
        }


NOT_SHOWN = "not shown faithful for this model: read as a hint"
NOT_MEASURED = "faithfulness not measured for this model: read as a hint"


def qualified_methods(model_name: str) -> tuple[str, ...]:
    """The explainers that passed the benchmark's rule on ``model_name`` (its ``qualified``
    list; an older table without it: the recommended explainer alone)."""
    summary = explainer_summary(model_name) or {}
    listed = summary.get("qualified")
    if isinstance(listed, list):
        return tuple(m for m in listed if isinstance(m, str))
    best = summary.get("recommended")
    return (best,) if isinstance(best, str) else ()


def measured_methods(model_name: str) -> tuple[str, ...]:
    """The explainers the benchmark measured on ``model_name`` (its curves, less the
    reference maps)."""
    summary = explainer_summary(model_name) or {}
    curves = summary.get("curves") or {}
    listed = summary.get("measured")
    names = listed if isinstance(listed, list) else list(curves)
    return tuple(m for m in names if m in EXPLAINERS)


def trust_of(model_name: str, method: str) -> Trust:
    """How far ``method``'s map can be trusted on ``model_name`` (:class:`Trust`): shown
    faithful when the benchmark's rule holds for it on this model; "not shown faithful" when
    measured and it does not; "not measured" when the benchmark did not measure it there.
    :data:`~ecglens.explain.explainers.BOTH` counts as shown faithful only when both its
    parts are."""
    parts = BOTH_PARTS if method == BOTH else (method,)
    label = " and ".join(label_of(p) for p in parts)
    measured = all(p in measured_methods(model_name) for p in parts)
    faithful = measured and all(p in qualified_methods(model_name) for p in parts)
    if faithful:
        text = (
            f"{label}: shown faithful for this model (passes the randomisation check and beats "
            "a random map on removal; ecglens benchmark explanations)"
        )
        return Trust(model_name, method, True, True, None, text)
    caveat = NOT_SHOWN if measured else NOT_MEASURED
    best = measured_method(model_name)
    if measured and best is None:
        reason = "no explainer passed the benchmark's checks on it"
    elif measured:
        reason = f"the benchmark recommends {label_of(best)}"
    else:
        reason = "not in ecglens benchmark explanations"
    return Trust(model_name, method, False, measured, caveat, f"{label}: {caveat} ({reason})")
