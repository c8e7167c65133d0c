import re

import pytest

from ecglens.data.images import IMAGE_CLASSES
from ecglens.errors import EcgLensError
from ecglens.models.registry import load_model
from ecglens.tasks import report

METRIC = {"value": 0.5, "ci": [0.4, 0.6]}


def _metrics():
    per_class = {c: {k: METRIC for k in ("precision", "recall", "f1")} for c in IMAGE_CLASSES}
    return {
        "evaluation": "grouped 2-fold cross-validation, out-of-fold",
        "n_distinct": 8,
        "accuracy": METRIC,
        "macro_f1": METRIC,
        "per_class": per_class,
        "confusion_matrix": [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 1, 1]],
        "classes": list(IMAGE_CLASSES),
    }


@pytest.fixture
def model_dir(tiny_image_model):
    return tiny_image_model(
        "m",
        card="# m",
        metrics=_metrics(),
        cross_validation={"description": "grouped 2-fold cross-validation"},
    )


def test_report_goes_on_after_a_corrupt_file(tmp_path, model_dir, printout_image):
    good = [
        printout_image(tmp_path / "Normal(1).png", 0),
        printout_image(tmp_path / "HB(2).png", 1),
    ]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    out = report(
        [good[0], bad, good[1]], load_model(model_dir), tmp_path / "r.html", progress=False,
        command="x", errors=[],
    )
    html = out.read_text()
    assert "Image Normal(1).png" in html and "Image HB(2).png" in html
    assert ": not read" in html and "error: " in html
    assert re.search(r"broken\.jpg: (corrupt image|not a readable image)", html)
    assert html.count("<img") >= 3  # confusion matrix + two printouts
    assert "most relevant panel" in html.lower() and "grouped 2-fold" in html


def test_report_with_an_evaluation_and_wrong_options(tmp_path, model_dir, printout_image):
    path = printout_image(tmp_path / "a.png", 0)
    extra = {**_metrics(), "model": "m"}
    out = report(
        [path], load_model(model_dir), tmp_path / "r.html", metrics=[extra], progress=False
    )
    assert "Evaluation: m" in out.read_text()
    with pytest.raises(EcgLensError, match="lead does not apply to image models"):
        report([path], load_model(model_dir), tmp_path / "r.html", lead="II", progress=False)
