import ast
from pathlib import Path

import numpy as np
import pytest
import torch

import ecglens
from ecglens.data.images import IMAGE_CLASSES
from ecglens.errors import EcgLensError
from ecglens.models.registry import load_model
from ecglens.predict.images import ImagePrediction, classify_image


@pytest.fixture
def committee(tiny_image_model):
    """A tiny committee of two untrained image-cnn, saved as a shipped image model."""
    return load_model(tiny_image_model("tiny"))


def test_classify_image_gives_probabilities_and_json(tmp_path, committee, printout_image):
    path = printout_image(tmp_path / "Normal(1).png")
    pred = classify_image(path, committee)
    assert isinstance(pred, ImagePrediction)
    assert pred.probabilities.shape == (4,)
    assert pred.probabilities.sum() == pytest.approx(1.0)
    assert pred.label == IMAGE_CLASSES[int(np.argmax(pred.probabilities))]
    assert pred.x.shape == (1, 32, 64)
    d = pred.to_dict()
    assert set(d) == {
        "record", "path", "model", "task", "label", "probabilities",
        "page_found", "corners", "rotation_deg", "correction",
    }  # fmt: skip
    assert d["record"] == "Normal(1).png" and d["task"] == "images" and d["model"] == "tiny"
    assert list(d["probabilities"]) == list(IMAGE_CLASSES)
    # the file is the page itself: found, used as it is, its corners those of the image
    assert d["page_found"] is True and d["correction"] == "none" and d["rotation_deg"] == 0
    assert d["corners"] == [[0, 0], [246, 0], [246, 175], [0, 175]]


def test_a_photo_of_a_printout_is_straightened(tmp_path, committee):
    from conftest import draw_printout
    from PIL import Image

    from ecglens.inputs.images import photo_on_background

    photo, corners = photo_on_background(
        np.asarray(draw_printout((738, 524))), np.random.default_rng(4), (700, 900), "wood"
    )
    path = tmp_path / "photo.jpg"
    Image.fromarray(photo).save(path, quality=90)
    d = classify_image(path, committee).to_dict()
    assert d["page_found"] is True and d["correction"] == "perspective"
    np.testing.assert_allclose(d["corners"], corners, atol=12)


def test_no_printout_no_class(tmp_path, committee):
    from PIL import Image

    from ecglens.inputs.images import background

    path = tmp_path / "table.jpg"
    Image.fromarray(background("wood", (600, 800), np.random.default_rng(0))).save(path)
    with pytest.raises(EcgLensError, match=r"table\.jpg: no ECG printout found in the image"):
        classify_image(path, committee)


@pytest.mark.slow
def test_the_shipped_model_refuses_a_photo_with_no_ecg(tmp_path):
    from PIL import Image, ImageDraw

    from ecglens.inputs.images import photo_on_background

    sheet = Image.new("RGB", (738, 524), (246, 245, 242))
    draw = ImageDraw.Draw(sheet)
    for y in range(40, 490, 18):  # a page of text
        draw.text((40, y), "lorem ipsum dolor sit amet " * 3, fill=(20, 20, 20))
    photo, _ = photo_on_background(np.asarray(sheet), np.random.default_rng(1), (700, 900))
    path = tmp_path / "letter.jpg"
    Image.fromarray(photo).save(path)
    with pytest.raises(EcgLensError, match="no ECG printout found in the image"):
        classify_image(path, load_model("ecglens-images-cnn"))


def test_committee_probability_is_the_members_mean(tmp_path, committee, printout_image):
    path = printout_image(tmp_path / "a.png")
    pred = classify_image(path, committee)
    x = torch.as_tensor(pred.x[None])
    with torch.no_grad():
        members = [torch.softmax(m(x), -1) for m in committee.module.members]
    np.testing.assert_allclose(pred.probabilities, torch.stack(members).mean(0)[0], atol=1e-6)


def test_options_of_other_tasks(tmp_path, committee, printout_image):
    path = printout_image(tmp_path / "a.png")
    classify_image(path, committee, lead=None, fs=None)
    with pytest.raises(EcgLensError, match="lead does not apply to image models"):
        classify_image(path, committee, lead="II")


def test_bad_files_and_wrong_models(tmp_path, committee, printout_image):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really")
    with pytest.raises(EcgLensError, match="broken.jpg"):
        classify_image(bad, committee)
    committee.config = committee.config.replace(task="beats")
    with pytest.raises(EcgLensError, match="not an image model"):
        classify_image(printout_image(tmp_path / "a.png"), committee)


def test_image_inference_modules_import_no_training_data_or_scikit_learn():
    """Direct imports (test_layers follows the whole graph): ecglens.data.images loads
    scikit-learn, which inference must not."""
    root = Path(ecglens.__file__).parent
    banned = ("sklearn", "ecglens.data", "ecglens.train", "ecglens.evaluate", "ecglens.cli")
    for module in ("inputs/images.py", "predict/images.py", "plot/images.py"):
        tree = ast.parse((root / module).read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.startswith(banned)], module
