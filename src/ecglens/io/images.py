"""Decode an image file (a photo or scan of an ECG printout): the one image decoder of
ecglens, used by the model inputs (:mod:`ecglens.inputs.images`) and the image data set
(:mod:`ecglens.data.images`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ecglens.errors import EcgLensError


def decode_image(path: str | Path, grayscale: bool = True) -> np.ndarray:
    """The file decoded in full as uint8: (H, W) Pillow "L" (ITU-R BT.601 luma) when
    ``grayscale``, else (H, W, 3) "RGB". A missing, corrupt or non-image file raises a
    one-line :class:`EcgLensError` naming it."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L" if grayscale else "RGB"))
    except FileNotFoundError as exc:
        raise EcgLensError("no such image file", path) from exc
    except IsADirectoryError as exc:
        raise EcgLensError("is a folder, not an image file", path) from exc
    except UnidentifiedImageError as exc:
        raise EcgLensError("not a readable image (unknown or damaged format)", path) from exc
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise EcgLensError(f"corrupt image ({reason})", path) from exc
