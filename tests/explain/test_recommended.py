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


def _curves(*names):
    point = {"fraction": [0.0, 1.0], "deletion": [1.0, 0.0], "insertion": [0.0, 1.0]}
    return {n: point for n in ("random", "edge", *names)}


def test_trust_of_says_faithful_not_shown_or_not_measured(monkeypatch):
    table = {
        "good": {"recommended": "grad-cam", "qualified": ["grad-cam", "smoothgrad"],
                 "curves": _curves("grad-cam", "saliency", "smoothgrad")},
        "bad": {"recommended": None, "curves": _curves("grad-cam", "saliency")},
        "old": {"recommended": "saliency", "curves": _curves("grad-cam", "saliency")},
        "twelve": {"recommended": "cam", "qualified": ["cam"],
                   "curves": _curves("cam", "grad-cam")},
    }
    monkeypatch.setattr(measured, "_table", lambda: table)
    good = recommended.trust_of("good", "grad-cam")
    assert good.shown_faithful and good.measured and good.caveat is None
    assert "shown faithful for this model" in good.text and good.text.startswith("Grad-CAM")
    # qualified but not the default (e.g. too slow) is still shown faithful
    assert recommended.trust_of("good", "smoothgrad").shown_faithful
    # measured, failed the rule: the caveat, naming the recommended one
    sal = recommended.trust_of("good", "saliency")
    assert not sal.shown_faithful and sal.measured and sal.caveat == recommended.NOT_SHOWN
    assert "recommends Grad-CAM" in sal.text
    # no qualifying explainer at all (the default beat model today)
    bad = recommended.trust_of("bad", "grad-cam")
    assert bad.caveat == "not shown faithful for this model: read as a hint"
    assert "no explainer passed" in bad.text
    # a table without "qualified": only the recommended explainer counts
    assert recommended.trust_of("old", "saliency").shown_faithful
    assert not recommended.trust_of("old", "grad-cam").shown_faithful
    # not benchmarked (an image model today), or an explainer the benchmark did not run
    for model, method in (("an-image-model", "grad-cam"), ("bad", "occlusion")):
        t = recommended.trust_of(model, method)
        assert not t.shown_faithful and not t.measured and t.caveat == recommended.NOT_MEASURED
    # "both" (CAM above Grad-CAM) is shown faithful only when both parts are
    both = recommended.trust_of("twelve", "both")
    assert not both.shown_faithful and both.measured and "CAM and Grad-CAM" in both.text
    assert recommended.trust_of("twelve", "cam").to_dict() == {
        "method": "cam", "shown_faithful": True, "measured": True, "caveat": None,
        "text": recommended.trust_of("twelve", "cam").text,
    }


def test_shipped_models_without_a_recommendation_carry_the_caveat():
    for name, entry in measured._table().items():
        default = entry.get("default") or "grad-cam"
        trust = recommended.trust_of(name, default)
        assert trust.shown_faithful == (entry["recommended"] is not None), name
        if entry["recommended"] is None:
            assert trust.caveat == recommended.NOT_SHOWN
