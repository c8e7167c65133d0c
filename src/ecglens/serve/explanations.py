"""The ``/explain`` response of a prediction: the relevance of chosen beats (waveform, map,
probabilities) or of a 12-lead record along time, and the explanation figure (PNG or SVG,
base64)."""

from __future__ import annotations

import base64
import io
from typing import Any

from ecglens.explain.recommended import model_explainers, recommended_method
from ecglens.models.registry import LoadedModel
from ecglens.plot.style import close_figure, figure_to_png_bytes
from ecglens.serve.errors import ClientError
from ecglens.serve.results import Result
from ecglens.tasks import view_of


def chosen_method(result: Result, method: str | None, loaded: LoadedModel) -> str:
    """``method`` when it applies to the result's model ``loaded`` (else 422), by default the
    measured recommendation for the model."""
    task = result.task
    methods = model_explainers(loaded)
    if method is not None and method not in methods:
        raise ClientError(
            422, f"method {method!r} does not apply to {task.description}; choose "
            f"{', '.join(methods)}"
        )
    return method or recommended_method(loaded)  # measured default


def explanation(
    result: Result,
    loaded: LoadedModel,
    beats: list[int],
    method: str | None,
    chosen: str,
    fmt: str,
    device: str,
) -> dict[str, Any]:
    """The /explain response for ``result`` with ``loaded`` (a replica of its model):
    ``beats`` (0-based) for beat models, ``method`` as asked (None: the default) and
    ``chosen`` (:func:`chosen_method`), figure ``fmt`` ("png", "svg" or "none"). Call it
    holding the figure lock (matplotlib draws one figure at a time)."""
    task, prediction = result.task, result.prediction
    out: dict[str, Any] = {
        "record": result.record,
        "model": result.model,
        "task": task.name,
        "method": chosen,
    }
    view = view_of(prediction)
    if view.web is None:
        raise ClientError(
            422, f"{view.name} are explained with `ecglens explain`; the server explains records"
        )
    fields, fig = view.web(prediction, loaded, view.figure, beats, method, chosen, device)
    out |= fields
    out["figure"] = None if fmt == "none" else _encode_figure(fig, fmt)
    if fmt == "none":
        close_figure(fig)
    return out


def _encode_figure(fig: Any, fmt: str) -> dict[str, str]:
    try:
        if fmt == "svg":
            buffer = io.BytesIO()
            fig.savefig(buffer, format="svg")
            data, media = buffer.getvalue(), "image/svg+xml"
        else:
            data, media = figure_to_png_bytes(fig), "image/png"
    finally:
        close_figure(fig)
    return {"format": fmt, "media_type": media, "data": base64.b64encode(data).decode("ascii")}
