import re
from dataclasses import asdict

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ecglens.data.images import IMAGE_CLASSES
from ecglens.errors import EcgLensError
from ecglens.inputs.images import ImageInputConfig
from ecglens.models.registry import create_model, load_model, save_pretrained
from ecglens.predict.images import IMAGE_TASK
from ecglens.tasks import report

CNN = {"architecture": "image-cnn", "kwargs": {"channels": [4, 8]}}
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
def model_dir(tmp_path):
    kwargs = {"members": [CNN, CNN], "num_classes": 4, "mode": "probabilities"}
    torch.manual_seed(0)
    config = {
        "architecture": "image-fusion",
        "architecture_kwargs": kwargs,
        "task": IMAGE_TASK,
        "classes": list(IMAGE_CLASSES),
        "input": asdict(ImageInputConfig(32, 64)),
        "metrics": _metrics(),
        "cross_validation": {"description": "grouped 2-fold cross-validation"},
    }
    save_pretrained(create_model("image-fusion", **kwargs), config, tmp_path / "m" / "model", "# m")
    return tmp_path / "m"


def _printout(path, seed):
    image = Image.new("RGB", (246, 175), "white")
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(seed)
    for row in range(4):
        ys = 50 + 30 * row + rng.normal(0, 1, size=246)
        ys[np.arange(10, 240, 20)] -= 12
        draw.line(list(zip(range(246), ys.tolist(), strict=True)), fill="black")
    image.save(path)
    return path


def test_report_goes_on_after_a_corrupt_file(tmp_path, model_dir):
    good = [_printout(tmp_path / "Normal(1).png", 0), _printout(tmp_path / "HB(2).png", 1)]
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


def test_report_with_an_evaluation_and_wrong_options(tmp_path, model_dir):
    path = _printout(tmp_path / "a.png", 0)
    extra = {**_metrics(), "model": "m"}
    out = report(
        [path], load_model(model_dir), tmp_path / "r.html", metrics=[extra], progress=False
    )
    assert "Evaluation: m" in out.read_text()
    with pytest.raises(EcgLensError, match="lead does not apply to image models"):
        report([path], load_model(model_dir), tmp_path / "r.html", lead="II", progress=False)
