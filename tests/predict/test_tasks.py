"""The task registry: every shipped model's task is registered, and classify() dispatches."""

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.io import read_record
from ecglens.models import list_pretrained, load_model
from ecglens.predict import BeatPredictions, classify, get_task, list_tasks, task_of


def test_every_shipped_model_has_a_registered_task():
    for name in list_pretrained():
        task = task_of(load_model(name))
        assert task.family in {"beats", "12-lead", "image"}


def test_known_tasks_and_a_clear_error_for_others():
    assert {"beats", "ptbxl-binary", "ptbxl-superclass"} <= set(list_tasks())
    with pytest.raises(EcgLensError, match="unknown task 'rhythm'"):
        get_task("rhythm")


def test_classify_dispatches_and_checks_options(demo_record):
    loaded = load_model("kachuee-mitdb-inter")
    record = read_record(demo_record)
    pred = classify(record, loaded, lead="MLII", review_threshold=0.5)
    assert isinstance(pred, BeatPredictions) and pred.to_dict()["n_beats"] > 2000
    assert np.allclose(pred.probabilities.sum(1), 1, atol=1e-5)
    twelve = load_model("ecglens-ptbxl-binary")
    with pytest.raises(EcgLensError, match="review_threshold does not apply to 12-lead"):
        classify(record, twelve, review_threshold=0.5)
