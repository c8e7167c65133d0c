"""Beat CSV rows classified by a beat model: shapes, JSON, reference labels, refusals."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from ecglens.data.kaggle import write_kaggle_csv
from ecglens.data.labels import AAMI_CLASSES
from ecglens.errors import EcgLensError
from ecglens.inputs.beats import BeatConfig
from ecglens.models.registry import load_model
from ecglens.predict.beat_rows import BeatRowPredictions, classify_beat_rows

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def model(tiny_beat_model):
    """``model(n_classes=5, kwargs=..., **config)``: a tiny kachuee beat model, loaded."""

    def make(n_classes=5, **changes):
        kwargs = {"n_classes": n_classes, "channels": 4, "n_blocks": 2}
        kwargs.update(changes.pop("kwargs", {}))
        classes = list(AAMI_CLASSES) if n_classes == 5 else ["normal", "MI"]
        return load_model(tiny_beat_model(kwargs=kwargs, classes=classes, **changes))

    return make


def _csv(tmp_path, labels):
    x = np.random.default_rng(0).random((len(labels), 187)).astype(np.float32)
    return write_kaggle_csv(tmp_path / "beats.csv", x, np.asarray(labels))


def test_every_row_gets_probabilities_and_its_reference(tmp_path, model):
    loaded = model(optimistic=True, warning="OPTIMISTIC: patients leak")
    result = classify_beat_rows(_csv(tmp_path, [0, 1, 2, 3, 4, 0]), loaded)
    assert isinstance(result, BeatRowPredictions)
    assert result.probabilities.shape == (6, 5)
    np.testing.assert_allclose(result.probabilities.sum(1), 1.0, atol=1e-5)
    assert sum(result.class_counts().values()) == 6 and len(result.labels) == 6
    d = result.to_dict()
    assert d["record"].endswith("beats.csv") and d["model"] == "m" and d["n_beats"] == 6
    assert d["warning"] == "OPTIMISTIC: patients leak"
    assert [b["row"] for b in d["beats"]] == list(range(6))
    assert [b["reference"] for b in d["beats"]] == ["N", "S", "V", "F", "Q", "N"]
    assert set(d["beats"][0]["probabilities"]) == set(AAMI_CLASSES)


def test_labels_beyond_the_model_classes_are_left_out(tmp_path, model):
    loaded = model(n_classes=2)
    result = classify_beat_rows(_csv(tmp_path, [0, 1, 4]), loaded)
    d = result.to_dict()
    assert result.reference is None and "reference" not in d["beats"][0]
    assert "do not index the model's 2 classes" in d["notes"][0] and "warning" not in d


@pytest.mark.parametrize(
    "changes",
    [
        {"inputs": ["x", "rr_ratios"], "kwargs": {"n_rr_features": 4}},
        {"beats": asdict(BeatConfig(representation="window"))},
        {"beats": asdict(BeatConfig(context=3))},
    ],
)
def test_models_that_need_more_than_a_kachuee_beat_are_refused(tmp_path, changes, model):
    loaded = model(**changes)
    with pytest.raises(EcgLensError, match="cannot classify a beat CSV") as err:
        classify_beat_rows(_csv(tmp_path, [0, 1]), loaded)
    assert "\n" not in str(err.value)
