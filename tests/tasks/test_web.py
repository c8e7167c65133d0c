"""ecglens.tasks.web: the /explain answer carries how far its map can be trusted."""

import pytest
import torch

from ecglens.explain.recommended import NOT_SHOWN, trust_of
from ecglens.models import load_model, measured
from ecglens.plot.explain_beats import plot_beat_explanation
from ecglens.predict import run
from ecglens.tasks.web import explain_beats_web


@pytest.fixture(scope="module")
def inter():
    torch.set_num_threads(1)
    return load_model("ecglens-mitdb-inter")


def test_a_beat_explanation_of_a_model_without_a_faithful_explainer_says_so(
    demo_record, inter, monkeypatch
):
    curve = {"fraction": [0.0, 1.0], "deletion": [1.0, 0.0], "insertion": [0.0, 1.0]}
    table = {inter.name: {"recommended": None, "default": "grad-cam", "why": "w",
                          "curves": {"grad-cam": curve, "random": curve}}}
    monkeypatch.setattr(measured, "_table", lambda: table)
    prediction = run(demo_record, inter).result
    fields, fig = explain_beats_web(
        prediction, inter, plot_beat_explanation, [5], None, "grad-cam", "cpu"
    )
    got = fields["faithfulness"]
    assert got == trust_of(inter.name, "grad-cam").to_dict()
    assert got["shown_faithful"] is False and got["caveat"] == NOT_SHOWN
    assert any(NOT_SHOWN in t.get_text().replace("\n", " ") for t in fig.texts)
