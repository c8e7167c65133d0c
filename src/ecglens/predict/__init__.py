"""Inference: a record and a loaded model in, a prediction out.

:func:`run` takes any input (a file of any kind ecglens reads, or a read record) to a
:class:`Prediction`; :func:`classify` dispatches a read record on the model's task
(:mod:`ecglens.predict.tasks`): beat models (:func:`classify_record`), 12-lead models
(:func:`classify_12lead`) and MI models. This package imports
io, signal, data labels, models and inputs only: never training, evaluation or the CLI.
"""

from ecglens.predict.beats import (
    BeatPredictions,
    beat_probabilities,
    classify_record,
    detect_beats,
    display_beat,
)
from ecglens.predict.forward import TemperatureScaled, predict_logits, resolve_device
from ecglens.predict.run import Prediction, run
from ecglens.predict.tasks import Task, classify, get_task, list_tasks, register_task, task_of
from ecglens.predict.twelve_lead import Prediction12, classify_12lead

__all__ = [
    "BeatPredictions",
    "Prediction",
    "Prediction12",
    "Task",
    "TemperatureScaled",
    "beat_probabilities",
    "classify",
    "classify_12lead",
    "classify_record",
    "detect_beats",
    "display_beat",
    "get_task",
    "list_tasks",
    "predict_logits",
    "register_task",
    "resolve_device",
    "run",
    "task_of",
]
