"""The recommended explainer: the benchmark's choice, the task's default otherwise."""

from ecglens.explain import recommended
from ecglens.explain.explainers import explainers_for
from ecglens.models import measured
from ecglens.models.registry import load_model
from ecglens.predict.tasks import task_of


def test_recommendation_applies_when_the_task_offers_it(monkeypatch):
    loaded = load_model("kachuee-mitdb-inter")
    table = {"kachuee-mitdb-inter": {"recommended": "saliency", "why": "w", "curves": {}}}
    monkeypatch.setattr(measured, "_table", lambda: table)
    assert recommended.recommended_method(loaded) == "saliency"
    assert recommended.explainer_summary("kachuee-mitdb-inter")["why"] == "w"
    table["kachuee-mitdb-inter"]["recommended"] = "cam"  # not a beat-model explainer
    assert recommended.recommended_method(loaded) == explainers_for(task_of(loaded).family)[0]
    table["kachuee-mitdb-inter"]["recommended"] = None  # nothing qualified
    assert recommended.recommended_method(loaded) == explainers_for(task_of(loaded).family)[0]


def test_unknown_models_have_no_summary():
    assert recommended.explainer_summary("no-such-model") is None


def test_shipped_table_names_only_known_explainers():
    from ecglens.explain.attribute import METHODS

    for entry in measured._table().values():
        assert entry["recommended"] in (None, *METHODS)
        assert {"fraction", "deletion", "insertion"} <= set(next(iter(entry["curves"].values())))
