"""The ``/explain`` response of a prediction: the relevance of chosen beats (waveform, map,
probabilities) or of a 12-lead record along time, and the explanation figure (PNG or SVG,
base64)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from ecglens.explain import explain_12lead, explain_beats
from ecglens.explain.recommended import recommended_method_for
from ecglens.inputs.beats import BeatConfig
from ecglens.models.registry import LoadedModel
from ecglens.plot.style import close_figure, figure_to_png_bytes
from ecglens.predict.beats import BeatPredictions, display_beat
from ecglens.predict.tasks import resolve
from ecglens.serve.errors import ClientError
from ecglens.serve.results import Result, beat_predictions


def chosen_method(result: Result, method: str | None) -> str:
    """``method`` when it applies to the result's task (else 422), by default the measured
    recommendation for the model."""
    task = result.task
    if method is not None and method not in task.methods:
        raise ClientError(
            422, f"method {method!r} does not apply to {task.description}; choose "
            f"{', '.join(task.methods)}"
        )
    return method or recommended_method_for(result.model, task)  # measured default


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
    figure = resolve(task.figure)
    bp = beat_predictions(prediction)
    if bp is not None:
        if not beats:
            raise ClientError(422, "give at least one beat (field beat: a 0-based index)")
        bad = [b for b in beats if not 0 <= b < len(bp.sample)]
        if bad:
            raise ClientError(
                422, f"beat {bad[0]} out of range: record {result.record} has "
                f"{len(bp.sample)} beats (0-based)"
            )
        maps = explain_beats(bp, loaded, beats, method=chosen)
        config = BeatConfig(**loaded.config["beats"])
        out["beat_fs"] = config.beat_fs
        out["r_index"] = config.r_index
        out["amplitude"] = config.amplitude_label
        out["beats"] = [_beat_entry(bp, b, maps[k]) for k, b in enumerate(beats)]
        fig = figure(prediction, loaded, method=chosen, device=device, beats=beats)
    elif task.family == "12-lead":
        if beats:
            raise ClientError(
                422, "beat applies to beat models; a 12-lead record is explained whole"
            )
        relevance = explain_12lead(prediction, loaded, method=chosen, device=device)
        per_lead = relevance.ndim == 2  # (12, T) per-lead explainers: also over time
        out |= {
            "label": prediction.label,
            "explained_class": prediction.explained_class,
            "cam_classes": list(prediction.cam_classes),
            "sampling_rate": prediction.fs,
            "leads": list(prediction.lead_names),
            "relevance": _rounded(relevance.max(axis=0) if per_lead else relevance),
        }
        if per_lead:
            out["relevance_per_lead"] = [_rounded(r) for r in relevance]
        fig = figure(prediction, loaded, method=chosen, device=device)
    elif task.family == "beats":
        raise ClientError(
            422, "a CSV of beats is explained with `ecglens explain`; the server "
            "explains records"
        )
    else:
        fig = figure(prediction, loaded, method=method, device=device, beats=beats or None)
    out["figure"] = None if fmt == "none" else _encode_figure(fig, fmt)
    if fmt == "none":
        close_figure(fig)
    return out


def _rounded(values: np.ndarray, digits: int = 4) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(values, dtype=np.float64).ravel()]


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


def _beat_entry(bp: BeatPredictions, i: int, relevance: np.ndarray) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "index": i,
        "sample": int(bp.sample[i]),
        "time_s": round(float(bp.sample[i]) / bp.fs, 4),
        "label": bp.classes[int(np.argmax(bp.probabilities[i]))],
        "probabilities": {
            c: round(float(p), 5) for c, p in zip(bp.classes, bp.probabilities[i], strict=True)
        },
    }
    if bp.uncertainty is not None:
        entry["uncertainty"] = round(float(bp.uncertainty[i]), 5)
        if bp.review_threshold is not None:
            entry["review"] = bool(bp.uncertainty[i] > bp.review_threshold)
    if bp.artifact is not None:
        entry["artifact"] = bool(bp.artifact[i])
    entry["waveform"] = _rounded(display_beat(bp.x[i]))
    entry["relevance"] = _rounded(relevance)
    return entry
