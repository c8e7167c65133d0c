"""One record per explainer: what it computes and every fact the rest of ecglens needs.

:func:`ecglens.explain.attribute` dispatches through :data:`EXPLAINERS`; the figures read
their labels, the CLI its ``--method`` help (:func:`methods_help`), the task table which
explainers apply to a model family (:func:`explainers_for`, first = the fallback default)
and the explanations study which ones are seeded. Adding an explainer: write its function
(``(model, inputs, target, layer, **options) -> maps``, see :mod:`ecglens.explain.attribute`
for the shapes) and add its record here.

Reading the table loads no torch or numpy (the CLI builds its help from it): each record's
function imports its implementation when first called.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ecglens.errors import EcgLensError

if TYPE_CHECKING:
    import numpy as np

FAMILIES = ("beats", "12-lead", "image")  # model families (a task's ``family``)
Display = Literal["minmax", "magnitude", "evidence"]


@dataclass(frozen=True)
class Explainer:
    """One explainer.

    name: what ``--method`` and :func:`~ecglens.explain.attribute` call it; attribute: its
    function ``(model, inputs, target, layer, **options) -> (B, ...) float32``; per_input:
    maps shaped like one example of the input (per lead, per beat of a context window),
    else over time only; seeded: takes ``seed`` (its maps depend on it); cost: "fast" (one
    or a few backward passes per example) or "slow" (tens to hundreds of passes: drawn under
    a progress bar); label: how figures and reports name it; help: one line for ``--help``;
    families: the model families it applies to (:data:`FAMILIES`); display: how
    :func:`~ecglens.explain.display.for_display` shows its raw maps ("minmax": min-max
    scaled; "magnitude": |map| scaled by its maximum; "evidence": ReLU, scaled by its
    maximum); takes_layer: accepts a conv ``layer``; own_progress: can draw captum's own
    progress bar over its perturbations (``show_progress``).
    """

    name: str
    attribute: Callable[..., np.ndarray]
    per_input: bool
    seeded: bool
    cost: Literal["fast", "slow"]
    label: str
    help: str
    families: tuple[str, ...]
    display: Display = "evidence"
    takes_layer: bool = False
    own_progress: bool = False
    needs_cam_output: bool = False

    @property
    def slow(self) -> bool:
        """Whether it is drawn under a progress bar (many passes per example)."""
        return self.cost == "slow"


# The functions import their implementation when called (see the module docstring).
def _cam(model, inputs, target, layer=None, **options) -> np.ndarray:
    from ecglens.explain.cam import class_activation_map

    return class_activation_map(model, inputs, target, layer, **options)


def _grad_cam(model, inputs, target, layer=None, **options) -> np.ndarray:
    from ecglens.explain.gradcam import grad_cam_raw

    return grad_cam_raw(model, inputs, target, layer, **options)


def _saliency(model, inputs, target, layer=None, **options) -> np.ndarray:
    from ecglens.explain.captum_methods import saliency

    return saliency(model, inputs, target, layer, **options)


def _smoothgrad(model, inputs, target, layer=None, **options) -> np.ndarray:
    from ecglens.explain.captum_methods import smoothgrad

    return smoothgrad(model, inputs, target, layer, **options)


def _integrated_gradients(model, inputs, target, layer=None, **options) -> np.ndarray:
    from ecglens.explain.captum_methods import integrated_gradients

    return integrated_gradients(model, inputs, target, layer, **options)


def _occlusion(model, inputs, target, layer=None, **options) -> np.ndarray:
    from ecglens.explain.captum_methods import occlusion

    return occlusion(model, inputs, target, layer, **options)


def _shapley(model, inputs, target, layer=None, **options) -> np.ndarray:
    from ecglens.explain.captum_methods import shapley

    return shapley(model, inputs, target, layer, **options)


_RECORDS = (
    Explainer(
        name="cam",
        attribute=_cam,
        per_input=False,
        seeded=False,
        cost="fast",
        label="CAM",
        help="the network's own class activation map (exact: its mean is the waveform's "
        "share of the logit)",
        families=("beats", "12-lead"),
        display="minmax",
        needs_cam_output=True,
    ),
    Explainer(
        name="grad-cam",
        attribute=_grad_cam,
        per_input=False,
        seeded=False,
        cost="fast",
        label="Grad-CAM",
        help="Grad-CAM at a conv layer, over time",
        families=FAMILIES,
        takes_layer=True,
    ),
    Explainer(
        name="saliency",
        attribute=_saliency,
        per_input=True,
        seeded=False,
        cost="fast",
        label="Saliency",
        help="|gradient| of the class score",
        families=FAMILIES,
        display="magnitude",
    ),
    Explainer(
        name="smoothgrad",
        attribute=_smoothgrad,
        per_input=True,
        seeded=True,
        cost="slow",
        label="SmoothGrad",
        help="mean |gradient| over noisy copies, seeded",
        families=FAMILIES,
        display="magnitude",
    ),
    Explainer(
        name="integrated-gradients",
        attribute=_integrated_gradients,
        per_input=True,
        seeded=False,
        cost="slow",
        label="Integrated Gradients",
        help="gradients integrated from a flat-line baseline",
        families=FAMILIES,
    ),
    Explainer(
        name="occlusion",
        attribute=_occlusion,
        per_input=True,
        seeded=False,
        cost="slow",
        label="Occlusion",
        help="drop in the class score when a window is zeroed",
        families=FAMILIES,
        own_progress=True,
    ),
    Explainer(
        name="shapley",
        attribute=_shapley,
        per_input=True,
        seeded=True,
        cost="slow",
        label="Shapley sampling",
        help="sampled Shapley values of segments, seeded",
        families=FAMILIES,
        own_progress=True,
    ),
)
# In the order the task lists use: a family's first explainer is its fallback default.
EXPLAINERS: dict[str, Explainer] = {e.name: e for e in _RECORDS}

# A display-only combination, not an explainer: 12-lead figures draw CAM above Grad-CAM
# (:func:`ecglens.plot.explain12.plot_12lead_explanation`); ``ecglens explain`` accepts it.
BOTH = "both"
BOTH_PARTS = ("cam", "grad-cam")
BOTH_FAMILIES = ("12-lead",)


def get_explainer(name: str) -> Explainer:
    """The record of explainer ``name``; an unknown name is an error listing the known ones
    (with the closest as a suggestion)."""
    try:
        return EXPLAINERS[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), EXPLAINERS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise EcgLensError(
            f"unknown method {name!r}{hint}; known explainers: {', '.join(EXPLAINERS)}"
        ) from None


# Families whose every shipped architecture outputs a class activation map (the 12-lead
# networks); a beat model does when its architecture is ``beat-cam``.
CAM_FAMILIES = ("12-lead",)


def explainers_for(family: str, cam_output: bool | None = None) -> tuple[str, ...]:
    """Names of the explainers that apply to models of ``family`` ("beats", "12-lead",
    "image"), in table order; the first is the model's fallback default. ``cam_output``:
    whether the model outputs its own class activation map (None: the family's usual,
    :data:`CAM_FAMILIES`); without one, the explainers that need it are left out."""
    if family not in FAMILIES:
        raise EcgLensError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
    if cam_output is None:
        cam_output = family in CAM_FAMILIES
    return tuple(
        e.name
        for e in EXPLAINERS.values()
        if family in e.families and (cam_output or not e.needs_cam_output)
    )


def figure_methods(family: str, cam_output: bool | None = None) -> tuple[str, ...]:
    """What ``ecglens explain`` accepts as ``--method`` for ``family`` (``cam_output`` as in
    :func:`explainers_for`): its explainers, and :data:`BOTH` for the families whose figure
    draws it."""
    both = (BOTH,) if family in BOTH_FAMILIES else ()
    return (*explainers_for(family, cam_output), *both)


def label_of(name: str) -> str:
    """How figures name explainer ``name`` (e.g. "grad-cam" -> "Grad-CAM"); an unknown name
    is shown as given."""
    record = EXPLAINERS.get(name)
    return record.label if record is not None else name


def methods_help() -> str:
    """The ``--method`` help text, one clause per explainer, from the records."""
    parts = []
    for e in EXPLAINERS.values():
        only = "" if set(e.families) == set(FAMILIES) else f"; {', '.join(e.families)} models only"
        parts.append(f"{e.name} ({e.help}{only})")
    per_input = ", ".join(e.name for e in EXPLAINERS.values() if e.per_input)
    return (
        f"Explainer: {'; '.join(parts)}; {BOTH} ({' above '.join(label_of(p) for p in BOTH_PARTS)}"
        f"; {', '.join(BOTH_FAMILIES)} models only). Default: the model's recommended explainer "
        f"(`ecglens benchmark explanations`; see its card). Per-lead maps on 12-lead records: "
        f"{per_input}."
    )
