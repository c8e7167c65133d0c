"""Kept for code written against earlier releases: the beat API now lives in
:mod:`ecglens.predict` (inference) and :mod:`ecglens.explain` (explanations)."""

from ecglens.explain.beats import explain_beats
from ecglens.predict.beats import (
    BeatPredictions,
    beat_probabilities,
    classify_record,
    detect_beats,
    display_beat,
)
from ecglens.predict.forward import TemperatureScaled
from ecglens.predict.uncertainty import has_dropout

__all__ = [
    "BeatPredictions",
    "TemperatureScaled",
    "beat_probabilities",
    "classify_record",
    "detect_beats",
    "display_beat",
    "explain_beats",
    "has_dropout",
]
