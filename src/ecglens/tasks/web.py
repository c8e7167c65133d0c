"""What the web page's ``/explain`` answer holds for each kind of prediction, beside the
figure: the chosen beats with their waveform and relevance (beat and MI models), the relevance
along time per lead (12-lead models), nothing more (printouts); every answer carries
``faithfulness`` (:func:`faithfulness`: how far the map can be trusted on this model). Each
function returns ``(fields, figure)``; errors are :class:`EcgLensError` (the server answers
them with 422)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ecglens.errors import EcgLensError
from ecglens.explain import explain_12lead, explain_beats
from ecglens.explain.recommended import trust_of
from ecglens.models.registry import LoadedModel
from ecglens.plot.images import IMAGE_METHODS
from ecglens.predict.beats import BeatPredictions, display_beat


def rounded(values: np.ndarray, digits: int = 4) -> list[float]:
    """``values`` flattened to a list of floats with ``digits`` decimals (for JSON)."""
    return [round(float(v), digits) for v in np.asarray(values, dtype=np.float64).ravel()]


def faithfulness(loaded: LoadedModel, method: str) -> dict[str, Any]:
    """The answer's ``faithfulness`` field: ``{"method", "shown_faithful", "measured",
    "caveat", "text"}`` from :func:`~ecglens.explain.recommended.trust_of`, e.g.
    ``{"shown_faithful": false, "caveat": "not shown faithful for this model: read as a
    hint", ...}``."""
    return trust_of(loaded.name, method).to_dict()


def beats_of(prediction: Any) -> BeatPredictions:
    """The beats of a beat-model prediction (an MI prediction's beats too)."""
    return prediction if isinstance(prediction, BeatPredictions) else prediction.beats


def explain_beats_web(
    prediction: Any, loaded: LoadedModel, figure: Any, beats: list[int], method: str | None,
    chosen: str, device: Any,
) -> tuple[dict[str, Any], Any]:  # fmt: skip
    """The chosen beats (0-based) of a beat or MI prediction, each with its waveform,
    probabilities and relevance for its predicted class."""
    bp = beats_of(prediction)
    if not beats:
        raise EcgLensError("give at least one beat (field beat: a 0-based index)")
    bad = [b for b in beats if not 0 <= b < len(bp.sample)]
    if bad:
        raise EcgLensError(
            f"beat {bad[0]} out of range: record {bp.record} has {len(bp.sample)} beats "
            "(0-based)"
        )
    maps = explain_beats(bp, loaded, beats, method=chosen)
    config = loaded.config.beats
    fields = {
        "beat_fs": config.beat_fs,
        "r_index": config.r_index,
        "amplitude": config.amplitude_label,
        "beats": [_beat_entry(bp, b, maps[k]) for k, b in enumerate(beats)],
        "faithfulness": faithfulness(loaded, chosen),
    }
    return fields, figure(prediction, loaded, method=chosen, device=device, beats=beats)


def explain_12lead_web(
    prediction: Any, loaded: LoadedModel, figure: Any, beats: list[int], method: str | None,
    chosen: str, device: Any,
) -> tuple[dict[str, Any], Any]:  # fmt: skip
    """The relevance along time (max over leads) and, for per-lead explainers, per lead."""
    if beats:
        raise EcgLensError("beat applies to beat models; a 12-lead record is explained whole")
    relevance = explain_12lead(prediction, loaded, method=chosen, device=device)
    per_lead = relevance.ndim == 2  # (12, T) per-lead explainers: also over time
    fields = {
        "label": prediction.label,
        "explained_class": prediction.explained_class,
        "cam_classes": list(prediction.cam_classes),
        "sampling_rate": prediction.fs,
        "leads": list(prediction.lead_names),
        "relevance": rounded(relevance.max(axis=0) if per_lead else relevance),
        "faithfulness": faithfulness(loaded, chosen),
    }
    if per_lead:
        fields["relevance_per_lead"] = [rounded(r) for r in relevance]
    return fields, figure(prediction, loaded, method=chosen, device=device)


def explain_page_web(
    prediction: Any, loaded: LoadedModel, figure: Any, beats: list[int], method: str | None,
    chosen: str, device: Any,
) -> tuple[dict[str, Any], Any]:  # fmt: skip
    """A printout: its class and probabilities, what was found in the image (page found,
    corners, rotation, correction) and the figure (the straightened page with the Grad-CAM
    overlay of the predicted class)."""
    if beats:
        raise EcgLensError("beat applies to beat models; a printout is explained whole")
    fields: dict[str, Any] = {
        "label": prediction.label,
        "probability": round(prediction.probability, 5),
        "probabilities": {
            c: round(float(p), 5)
            for c, p in zip(prediction.classes, prediction.probabilities, strict=True)
        },
    }
    if prediction.page is not None:
        fields["page"] = prediction.page.to_dict()
    fields["faithfulness"] = faithfulness(loaded, method or IMAGE_METHODS[0])
    return fields, figure(prediction, loaded, method=method, device=device)


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
    entry["waveform"] = rounded(display_beat(bp.x[i]))
    entry["relevance"] = rounded(relevance)
    return entry
