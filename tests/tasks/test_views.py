"""The task table: every shipped model has a view with every hook, and predictions of each
kind find theirs."""

import pytest

from ecglens.errors import EcgLensError
from ecglens.models import list_pretrained, load_model
from ecglens.predict import run
from ecglens.predict.run import LongRecordPrediction
from ecglens.tasks import VIEWS, view_of, view_of_model


def test_every_shipped_model_has_a_view_with_every_hook():
    for name in list_pretrained():
        view = view_of_model(load_model(name))
        assert callable(view.table) and callable(view.rows) and callable(view.figure)
        for hook in ("TITLE", "model_section", "evaluation_section", "record_section",
                     "report_metadata"):
            assert hasattr(view.report, hook), (name, hook)


def test_views_are_keyed_by_prediction_type():
    assert len({v.result for v in VIEWS}) == len(VIEWS)
    assert view_of(LongRecordPrediction("r", iter(()))).name == "long recordings"
    with pytest.raises(EcgLensError, match="no view of int"):
        view_of(3)


def test_a_prediction_finds_its_view(demo_record):
    prediction = run(demo_record, load_model("kachuee-mitdb-inter"))
    assert view_of(prediction).name == "beat predictions"
    assert prediction.to_dict()["warnings"] == list(prediction.warnings)
