import numpy as np
import pytest
from conftest import draw_printout
from PIL import Image

from ecglens.data import images as data_images
from ecglens.errors import EcgLensError
from ecglens.inputs.images import (
    PHOTO_TRANSFORMS,
    TRACE_BOTTOM,
    TRACE_TOP,
    ImageInputConfig,
    decode,
    image_input,
    normalise,
    photo_transform,
    read_printout,
    trace_area,
)

SIZE = (246, 175)  # (W, H) pixels: a third of the dataset's 738 x 524


def _printout(seed: int = 0) -> Image.Image:
    """Header band, pink grid, four rows of spiky black traces (the dataset's layout)."""
    return draw_printout(SIZE, seed)


@pytest.fixture
def printout_file(tmp_path):
    path = tmp_path / "Normal(1).jpg"
    _printout().save(path, quality=90)
    return path


def test_trace_area_fractions_match_the_data_module():
    assert (TRACE_TOP, TRACE_BOTTOM) == (data_images.TRACE_TOP, data_images.TRACE_BOTTOM)


def test_image_input_shape_and_normalisation(printout_file):
    x = image_input(printout_file, ImageInputConfig(40, 72))
    assert x.shape == (1, 40, 72) and x.dtype == np.float32
    assert abs(float(x.mean())) < 1e-5 and abs(float(x.std()) - 1.0) < 1e-4
    rgb = image_input(printout_file, ImageInputConfig(40, 72, grayscale=False))
    assert rgb.shape == (3, 40, 72)


def test_file_and_array_give_the_same_input(printout_file):
    config = ImageInputConfig(32, 64)
    from_file = image_input(printout_file, config)
    np.testing.assert_array_equal(from_file, image_input(decode(printout_file), config))
    np.testing.assert_allclose(from_file, image_input(read_printout(printout_file), config))


def test_crop_removes_the_header(printout_file):
    page = read_printout(printout_file)
    cropped = trace_area(page, ImageInputConfig(64, 64, crop=True))
    whole = trace_area(page, ImageInputConfig(64, 64, crop=False))
    assert cropped.shape == whole.shape == (1, 64, 64)
    assert whole[0, :3].min() < 0.5 < cropped[0, :3].min()  # the header's black bar


def test_matches_the_data_modules_reader(printout_file):
    ours = read_printout(printout_file)
    theirs = data_images.read_image(printout_file)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\xff\xd8\xff\xe0broken"])
def test_unreadable_files_name_the_file(tmp_path, content):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(EcgLensError, match="bad.jpg"):
        image_input(path, ImageInputConfig())


def test_missing_file_and_blank_image(tmp_path):
    with pytest.raises(EcgLensError, match="no such image file"):
        image_input(tmp_path / "nope.png", ImageInputConfig())
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 80), 255).save(blank)
    with pytest.raises(EcgLensError, match=r"blank\.png: no ECG printout found in the image"):
        image_input(blank, ImageInputConfig())
    with pytest.raises(EcgLensError, match="blank image"):
        normalise(np.ones((1, 8, 8), np.float32))


@pytest.mark.parametrize(
    "kwargs", [{"height": 8}, {"width": 10.5}, {"grayscale": "yes"}, {"crop": 1}]
)
def test_config_is_checked(kwargs):
    with pytest.raises(EcgLensError):
        ImageInputConfig(**kwargs)


def test_photo_transform_is_seeded_and_keeps_the_shape(printout_file):
    page = read_printout(printout_file)
    a = photo_transform(page, np.random.default_rng(3))
    b = photo_transform(page, np.random.default_rng(3))
    c = photo_transform(page, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert a.shape == page.shape and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert not np.array_equal(a, c) and not np.allclose(a, page, atol=0.02)
    rgb = photo_transform(read_printout(printout_file, grayscale=False), np.random.default_rng(3))
    assert rgb.shape == (3, SIZE[1], SIZE[0])


def test_strength_zero_changes_nothing_but_rounding(printout_file):
    page = read_printout(printout_file)
    kinds = [k for k in PHOTO_TRANSFORMS if k != "jpeg"]
    out = photo_transform(page, np.random.default_rng(0), 0.0, kinds)
    np.testing.assert_allclose(out, page, atol=1 / 255 + 1e-6)


@pytest.mark.parametrize("kind", PHOTO_TRANSFORMS)
def test_each_transform_alone_changes_the_page(printout_file, kind):
    page = read_printout(printout_file)
    out = photo_transform(page, np.random.default_rng(1), 1.0, (kind,))
    assert np.abs(out - page).max() > 0.02


def test_unknown_transform_and_strength():
    page = np.ones((1, 20, 20), np.float32)
    with pytest.raises(EcgLensError, match="unknown photo transform"):
        photo_transform(page, np.random.default_rng(0), 1.0, ("fisheye",))
    with pytest.raises(EcgLensError, match="strength"):
        photo_transform(page, np.random.default_rng(0), -1.0)
