import numpy as np
import pytest
from conftest import draw_printout
from PIL import Image

from ecglens.errors import EcgLensError
from ecglens.inputs.images import (
    ImageInputConfig,
    background,
    image_input,
    model_pixels,
    photo_on_background,
    printout_input,
)
from ecglens.inputs.page import PAGE_HEIGHT_PX, PAGE_WIDTH_PX, ecg_evidence, find_page


def _page(seed: int = 0) -> np.ndarray:
    return np.asarray(draw_printout((738, 524), seed))


@pytest.mark.parametrize("kind", ["wood", "cloth", "tiles", "plain"])
def test_a_printout_turned_on_a_coloured_table_is_found_and_straightened(kind):
    page = _page()
    photo, corners = photo_on_background(page, np.random.default_rng(3), (800, 1100), kind)
    found = find_page(photo)
    assert found.found, found.reason
    assert found.correction == "perspective"
    np.testing.assert_allclose(found.corners, corners, atol=12)  # pixels of the photo
    top = corners[1] - corners[0]
    assert found.angle_deg == pytest.approx(np.degrees(np.arctan2(-top[1], top[0])), abs=1.0)
    assert found.warped.shape == (PAGE_HEIGHT_PX, PAGE_WIDTH_PX, 3)
    # straightened: the trace rows are level again, where the layout has them
    gray = found.warped.mean(axis=2)
    dark = gray < 0.8 * np.median(gray, axis=0)  # darker than the paper of its column
    for baseline in (154, 254, 355, 455):  # each row of trace within its band, all along
        assert dark[baseline - 30 : baseline + 10, 60:690].any(axis=0).mean() > 0.95


def test_an_upside_down_photo_is_turned():
    page = _page()[::-1, ::-1].copy()
    photo, _ = photo_on_background(page, np.random.default_rng(5), (800, 1100), "plain")
    found = find_page(photo)
    assert found.found, found.reason
    assert abs(found.angle_deg) > 170
    upright = find_page(photo_on_background(_page(), np.random.default_rng(5), (800, 1100))[0])
    # the header's rule (row 44-47 of the page) is at the top again
    assert (found.warped[35:60].mean(axis=2) < 100).mean(axis=1).max() > 0.5
    assert upright.found


def test_the_page_itself_is_used_as_it_is():
    page = _page()
    found = find_page(page)
    assert found.found and found.correction == "none" and found.angle_deg == 0
    assert found.warped is page
    config = ImageInputConfig(32, 64)
    x, _ = printout_input(page, config)
    np.testing.assert_array_equal(x, image_input(model_pixels(page, True), config))


@pytest.mark.parametrize(
    "scene",
    ["texture", "gradient", "patches", "blank page", "document", "grid paper"],
)
def test_images_with_no_ecg_are_refused(scene, tmp_path):
    rng = np.random.default_rng(0)
    if scene == "texture":
        image = background("wood", (600, 800), rng)
    elif scene == "patches":  # a smooth random field: bright and dark patches everywhere
        import cv2

        field = cv2.resize(rng.normal(size=(20, 27, 3)).astype(np.float32), (800, 600))
        image = ((field - field.min()) / np.ptp(field) * 255).astype(np.uint8)
    elif scene == "gradient":
        image = np.broadcast_to(np.linspace(0, 255, 800)[None, :, None], (600, 800, 3))
        image = image.astype(np.uint8).copy()
    else:
        sheet = Image.new("RGB", (738, 524), (246, 245, 242))
        from PIL import ImageDraw

        draw = ImageDraw.Draw(sheet)
        if scene == "document":
            for y in range(40, 490, 18):
                draw.text((40, y), "the quick brown fox jumps over the lazy dog " * 2, fill=0)
        if scene == "grid paper":
            for x in np.arange(0, 738, 13.1):
                draw.line([(x, 0), (x, 524)], fill=(246, 214, 214))
            for y in np.arange(0, 524, 13.1):
                draw.line([(0, y), (738, y)], fill=(246, 214, 214))
        image = photo_on_background(np.asarray(sheet), rng, (600, 800))[0]
    found = find_page(image)
    assert not found.found and found.reason
    path = tmp_path / "scene.png"
    Image.fromarray(image).save(path)
    with pytest.raises(EcgLensError, match=r"scene\.png: no ECG printout found in the image"):
        image_input(path, ImageInputConfig())


def test_a_blank_page_alone_is_refused():
    found = find_page(np.full((524, 738, 3), 250, np.uint8))
    assert not found.found
    assert found.to_dict()["page_found"] is False and found.to_dict()["reason"]


def test_evidence_separates_a_printout_from_its_blank_paper():
    printout = ecg_evidence(_page())
    assert printout["runs"] == 4 and printout["rows"] > 0.9
    blank = ecg_evidence(np.full((524, 738, 3), 250, np.uint8))
    assert blank["ink"] == 0 and blank["rows"] == 0


def test_json_fields():
    found = find_page(photo_on_background(_page(), np.random.default_rng(1), (700, 900))[0])
    d = found.to_dict()
    assert set(d) == {"page_found", "corners", "rotation_deg", "correction"}
    assert len(d["corners"]) == 4 and all(len(c) == 2 for c in d["corners"])


def test_bad_arrays():
    with pytest.raises(ValueError, match="uint8"):
        find_page(np.zeros((10, 10), np.float32))
