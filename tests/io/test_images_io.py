"""The one image decoder: uint8 pages, one-line errors naming the file."""

import numpy as np
import pytest
from PIL import Image

from ecglens.errors import EcgLensError
from ecglens.io.images import decode_image


def test_decodes_gray_and_rgb(tmp_path):
    path = tmp_path / "page.png"
    pixels = np.zeros((20, 30, 3), dtype=np.uint8)
    pixels[..., 0] = 200
    Image.fromarray(pixels).save(path)
    gray, rgb = decode_image(path), decode_image(path, grayscale=False)
    assert gray.shape == (20, 30) and gray.dtype == np.uint8
    assert rgb.shape == (20, 30, 3) and int(rgb[0, 0, 0]) == 200
    assert int(gray[0, 0]) == round(0.299 * 200)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such image file"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_bytes(b"not an image"), "not a readable image"),
    ],
)
def test_errors_name_the_file(tmp_path, make, message):
    path = tmp_path / "scan.jpg"
    make(path)
    with pytest.raises(EcgLensError, match=f"scan.jpg: {message}"):
        decode_image(path)
