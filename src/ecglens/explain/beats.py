"""Explain classified beats: relevance over each chosen beat's waveform."""

from __future__ import annotations

import numpy as np
import torch

from ecglens.errors import EcgLensError
from ecglens.explain.attribute import attribute, show_progress
from ecglens.explain.display import for_display
from ecglens.explain.recommended import recommended_method
from ecglens.inputs.beats import model_input_arrays
from ecglens.models.registry import LoadedModel
from ecglens.predict.beats import BeatPredictions


def explain_beats(
    predictions: BeatPredictions,
    loaded: LoadedModel,
    beat_indices: np.ndarray | list[int],
    layer: str | None = None,
    target: str = "predicted",
    method: str | None = None,
    raw: bool = False,
    progress: bool | None = None,
) -> np.ndarray:
    """Relevance maps (len(beat_indices), L) over the chosen beats for their predicted class
    (or the class ``target``), in display form (see :func:`~ecglens.explain.display.for_display`)
    unless ``raw``. For context models, the map over the middle (explained) beat. ``method``:
    an explainer of :func:`~ecglens.explain.explainers.explainers_for` ("beats"); None: the model's
    recommended explainer (:func:`~ecglens.explain.recommended.recommended_method`).
    ``progress``: a progress bar (None: for slow explainers when stderr is a terminal)."""
    method = method or recommended_method(loaded)
    idx = np.asarray(beat_indices, dtype=np.int64)
    if len(idx) and (idx.min() < 0 or idx.max() >= len(predictions.sample)):
        raise EcgLensError(
            f"beat index out of range: the record has {len(predictions.sample)} beats (0-based)",
            predictions.path,
        )
    arrays = model_input_arrays(predictions.x[idx], predictions.rr[idx], loaded.config.inputs)
    inputs = tuple(torch.as_tensor(a) for a in arrays)
    classes = predictions.probabilities[idx].argmax(1)
    if target != "predicted":
        if target not in predictions.classes:
            raise EcgLensError(f"unknown target class {target!r}")
        classes = np.full(len(idx), predictions.classes.index(target))
    shown = show_progress(method, progress)
    maps = attribute(loaded.module, inputs, classes, method=method, layer=layer, progress=shown)
    if maps.ndim == 3:  # per-input maps of context windows (n, K, L): keep the middle beat
        maps = maps[:, maps.shape[1] // 2]
    elif inputs[0].dim() == 3 and len(maps) == len(idx) * inputs[0].shape[1]:
        k = inputs[0].shape[1]  # one map per beat of each context window: keep the middle one
        maps = maps.reshape(len(idx), k, -1)[:, k // 2]
    return maps if raw else for_display(maps, method)
