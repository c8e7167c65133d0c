"""ECG printout images -> model input, and the phone-photo transforms used for augmentation
and for measuring robustness.

Steps of :func:`image_input` (training, evaluation and inference alike): decode the file
(:func:`ecglens.io.images.decode_image`); find the printout in it
(:func:`ecglens.inputs.page.find_page`: the page cut out and straightened when the image is
a photo, the image as it is when it already is the page; no ECG printout found: an error);
grayscale (Pillow's BT.601 luma) or RGB, values in [0, 1]; crop to the trace area (the
pink grid: rows 94-506 of the dataset's 524, so the header text and the footer are left
out); resize to ``height x width`` pixels (Pillow's antialiased bilinear filter);
normalise: "ink" = 1 - value (paper 0, trace 1), then standardised per image to mean 0 and
standard deviation 1 (a brighter or darker photo gives the same input).

:func:`photo_transform` imitates a phone photo of a printout: a small rotation, a
perspective tilt, blur, uneven light and JPEG re-encoding, each with a seeded numpy
Generator; pure functions on arrays (C, H, W) in [0, 1], white paper = 1.

This module loads no scikit-learn (which :mod:`ecglens.data.images` loads): inference
imports it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from ecglens.errors import EcgLensError
from ecglens.inputs.page import PageFound, find_page
from ecglens.io.images import decode_image

# Trace area of the printouts, as fractions of the image height. Measured on all 928 files
# (738x524): the pink grid's top edge is row 94 and its bottom edge row 505 in every one.
# Above it: the header (patient ID, "ECG REPORT", diagnosis, technician; 17.9 % of the
# height); below it: the footer (filter settings, heart rate, date; 3.4 %).
TRACE_TOP = 94 / 524
TRACE_BOTTOM = 506 / 524
MIN_STD = 1e-3  # an image whose ink varies less than this (std, of 1) is blank
MIN_SIZE = 16  # pixels: the smallest model input side accepted
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as Pillow's "L"

# photo_transform at strength 1 (each draw is uniform up to these): the page is turned by
# up to 3 degrees, each corner moved by up to 4 % of the side, blurred with a Gaussian of
# sigma up to 1.5 px at the dataset's 738-px width (scaled with the width), darkened by up
# to 45 % towards one side, and re-encoded as JPEG of quality down to 35.
PHOTO_TRANSFORMS = ("rotation", "perspective", "blur", "light", "jpeg")
MAX_ROTATION_DEG = 3.0
MAX_CORNER_SHIFT = 0.04  # fraction of the side
MAX_BLUR_SIGMA_PX = 1.5  # at REFERENCE_WIDTH_PX
REFERENCE_WIDTH_PX = 738
MAX_SHADE = 0.45  # fraction of the light lost at the darkest edge
JPEG_QUALITY = (95, 35)  # quality at strength 0, lowest quality at strength 1


@dataclass(frozen=True)
class ImageInputConfig:
    """What a model takes: ``height x width`` pixels of the (cropped) printout, 1 channel
    (grayscale) or 3 (RGB); saved in the model config as ``input``."""

    height: int = 128
    width: int = 224
    grayscale: bool = True
    crop: bool = True

    def __post_init__(self) -> None:
        for name in ("height", "width"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < MIN_SIZE:
                raise EcgLensError(f"image {name} must be an integer >= {MIN_SIZE} px, not {value}")
        for name in ("grayscale", "crop"):
            if not isinstance(getattr(self, name), bool):
                raise EcgLensError(f"image {name} must be true or false, not {getattr(self, name)}")

    @property
    def channels(self) -> int:
        return 1 if self.grayscale else 3


def read_printout(path: str | Path, grayscale: bool = True) -> np.ndarray:
    """The whole page as float32 (C, H, W) in [0, 1] (C = 1 grayscale or 3 RGB); a missing,
    corrupt or non-image file raises a one-line EcgLensError naming it."""
    return to_float(decode(path, grayscale))


def decode(path: str | Path, grayscale: bool = True) -> np.ndarray:
    """The file decoded as uint8 (C, H, W): Pillow "L" (BT.601 luma) or "RGB"
    (:func:`~ecglens.io.images.decode_image`)."""
    array = decode_image(path, grayscale)
    return array[None] if grayscale else array.transpose(2, 0, 1).copy()


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 (0-255) or float (0-1) (H, W) / (C, H, W) -> float32 (C, H, W) in [0, 1]."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise EcgLensError(f"expected an image (H, W), (1, H, W) or (3, H, W), got {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    return np.clip(image.astype(np.float32), 0.0, 1.0)


def _channels(image: np.ndarray, grayscale: bool) -> np.ndarray:
    if grayscale and image.shape[0] == 3:
        return np.tensordot(LUMA, image, axes=1)[None].astype(np.float32)
    if not grayscale and image.shape[0] == 1:
        return np.repeat(image, 3, axis=0)
    return image


def crop_rows(image: np.ndarray, top: float = TRACE_TOP, bottom: float = TRACE_BOTTOM):
    """Rows ``round(top * H)`` to ``round(bottom * H)`` of (..., H, W)."""
    height = image.shape[-2]
    return image[..., round(top * height) : round(bottom * height), :]


def trace_area(image: np.ndarray, config: ImageInputConfig) -> np.ndarray:
    """A page (uint8 or float, (H, W) or (C, H, W)) -> float32 (C, height, width) in [0, 1]:
    channels as the config says, cropped to the trace area (``crop``), resized."""
    image = _channels(to_float(image), config.grayscale)
    if config.crop:
        image = crop_rows(image)
    if image.shape[-1] < 2 or image.shape[-2] < 2:
        raise EcgLensError(f"image too small to read: {image.shape[-2]} x {image.shape[-1]} px")
    size = (config.width, config.height)
    planes = [
        np.asarray(Image.fromarray(plane).resize(size, Image.Resampling.BILINEAR))
        for plane in np.ascontiguousarray(image, dtype=np.float32)
    ]
    return np.clip(np.stack(planes), 0.0, 1.0).astype(np.float32)


def normalise(image: np.ndarray, path: str | Path | None = None) -> np.ndarray:
    """(C, H, W) in [0, 1] -> float32 ink (1 - value) standardised over the whole image
    (population std); an image with ink std below ``MIN_STD`` is blank: EcgLensError."""
    ink = 1.0 - np.asarray(image, dtype=np.float32)
    std = float(ink.std())
    if std < MIN_STD:
        raise EcgLensError("blank image: no trace to read (uniform pixels)", path)
    return ((ink - ink.mean()) / std).astype(np.float32)


def image_input(source: str | Path | np.ndarray, config: ImageInputConfig) -> np.ndarray:
    """A file or a page array -> the model input, float32 (C, height, width), normalised.

    A file is a photo or scan: the printout is found in it first (:func:`printout_input`;
    none found: EcgLensError). An array is taken to be the page already (training)."""
    if isinstance(source, str | Path):
        return printout_input(decode_image(source, grayscale=False), config, source)[0]
    return normalise(trace_area(source, config))


def printout_input(
    image: np.ndarray, config: ImageInputConfig, path: str | Path | None = None
) -> tuple[np.ndarray, PageFound]:
    """A photo or scan, uint8 (H, W, 3) RGB or (H, W) gray -> (the model input, float32
    (C, height, width), and what :func:`~ecglens.inputs.page.find_page` found). The page is
    found, straightened and cut out, then converted to the model's channels (Pillow's "L"
    for grayscale, as :func:`decode`), cropped, resized and normalised. An image that holds
    no ECG printout of the known layout raises EcgLensError "no ECG printout found in the
    image (why)"."""
    found = find_page(np.asarray(image))
    if not found.found:
        raise EcgLensError(f"no ECG printout found in the image ({found.reason})", path)
    return normalise(trace_area(model_pixels(found.warped, config.grayscale), config), path), found


def model_pixels(page: np.ndarray, grayscale: bool) -> np.ndarray:
    """A page uint8 (H, W, 3) or (H, W) -> uint8 (C, H, W) in the model's channels, converted
    by Pillow as :func:`decode` converts a file (so a file and its decoded pixels give the
    same input)."""
    pil = Image.fromarray(np.ascontiguousarray(page, dtype=np.uint8))
    array = np.asarray(pil.convert("L" if grayscale else "RGB"))
    return array[None] if grayscale else array.transpose(2, 0, 1).copy()


def _perspective_coefficients(
    src: Sequence[tuple[float, float]], dst: Sequence[tuple[float, float]]
) -> tuple[float, ...]:
    """Pillow's PERSPECTIVE data mapping output points ``src`` to input points ``dst``."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    solution = np.linalg.solve(np.array(rows, dtype=np.float64), np.array(rhs, dtype=np.float64))
    return tuple(float(c) for c in solution)


def _geometry(
    pil: Image.Image, rng: np.random.Generator, strength: float, kinds: Sequence[str]
) -> Image.Image:
    w, h = pil.size
    corners = np.array([(0, 0), (w, 0), (w, h), (0, h)], dtype=np.float64)
    moved = corners.copy()
    if "rotation" in kinds:
        angle = np.deg2rad(rng.uniform(-1, 1) * MAX_ROTATION_DEG * strength)
        centre = np.array([w / 2, h / 2])
        turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        moved = (moved - centre) @ turn.T + centre
    if "perspective" in kinds:
        moved = moved + rng.uniform(-1, 1, size=(4, 2)) * MAX_CORNER_SHIFT * strength * [w, h]
    coefficients = _perspective_coefficients(moved.tolist(), corners.tolist())
    white = 255 if pil.mode == "L" else (255, 255, 255)
    return pil.transform(
        (w, h), Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR,
        fillcolor=white,
    )  # fmt: skip


def _shade(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """(H, W) light field in (0, 1]: full light at one side falling linearly to
    1 - shade at the other, in a random direction."""
    h, w = shape
    direction = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = np.cos(direction) * xs / max(w - 1, 1) + np.sin(direction) * ys / max(h - 1, 1)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    shade = rng.uniform(0, 1) * MAX_SHADE * strength
    return (1.0 - shade * ramp).astype(np.float32)


def photo_transform(
    image: np.ndarray,
    rng: np.random.Generator,
    strength: float = 1.0,
    kinds: Sequence[str] = PHOTO_TRANSFORMS,
) -> np.ndarray:
    """A page (C, H, W) in [0, 1] (or uint8) as a phone photo of it: float32 (C, H, W).

    In this order, each of ``kinds`` drawn from ``rng`` up to its maximum times
    ``strength`` (0: 8-bit rounding only, and a quality-95 JPEG with "jpeg"): "rotation"
    (up to 3 degrees either way), "perspective" (each corner moved by up to 4 % of the
    side), "blur" (Gaussian, sigma up to 1.5 px per 738 px of width), "light" (up to 45 %
    darker towards a random side), "jpeg" (re-encoded at quality 95 down to 35). Paper
    uncovered by the rotation is white.
    """
    unknown = [k for k in kinds if k not in PHOTO_TRANSFORMS]
    if unknown:
        raise EcgLensError(f"unknown photo transform {unknown[0]!r}; known: {PHOTO_TRANSFORMS}")
    if not 0.0 <= strength <= 2.0:
        raise EcgLensError(f"strength must be in [0, 2], not {strength}")
    page = to_float(image)
    channels = page.shape[0]
    pixels = np.round(page * 255).astype(np.uint8)
    pil = Image.fromarray(pixels[0] if channels == 1 else pixels.transpose(1, 2, 0))
    if "rotation" in kinds or "perspective" in kinds:
        pil = _geometry(pil, rng, strength, kinds)
    if "blur" in kinds:
        sigma = rng.uniform(0, 1) * MAX_BLUR_SIGMA_PX * strength * pil.size[0] / REFERENCE_WIDTH_PX
        pil = pil.filter(ImageFilter.GaussianBlur(radius=sigma))
    out = np.asarray(pil, dtype=np.float32) / 255.0
    out = out[None] if channels == 1 else out.transpose(2, 0, 1)
    if "light" in kinds:
        out = out * _shade(out.shape[-2:], rng, strength)[None]
    if "jpeg" in kinds:
        best, worst = JPEG_QUALITY
        quality = int(round(best - rng.uniform(0, 1) * strength * (best - worst)))
        pixels = np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)
        pil = Image.fromarray(pixels[0] if channels == 1 else pixels.transpose(1, 2, 0))
        buffer = io.BytesIO()
        pil.save(buffer, "JPEG", quality=max(10, min(quality, 95)))
        with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
            out = np.asarray(decoded.convert(pil.mode), dtype=np.float32) / 255.0
        out = out[None] if channels == 1 else out.transpose(2, 0, 1)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


# photo_on_background: a printout lying on a table, photographed. The page is turned by up
# to 10 degrees, its corners moved by up to 4 % of its side, it fills 55-85 % of the photo's
# width, on a coloured, textured background; then light falling off by up to 45 %, blur and
# a JPEG of quality 40.
BACKGROUNDS = ("wood", "cloth", "tiles", "plain")
SCENE_ROTATION_DEG = 10.0
SCENE_PAGE_SHARE = (0.55, 0.85)
SCENE_JPEG_QUALITY = 40


def background(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A coloured, textured background, uint8 (H, W, 3): "wood" (grain), "cloth" (fine
    noise), "tiles" (a coloured grid of tiles), "plain" (one colour, a gradient); its hue
    drawn from ``rng``, saturation 0.3-0.9, value 0.15-0.8 (never white paper)."""
    import cv2

    h, w = shape
    hue = rng.uniform(0, 180)
    saturation = rng.uniform(0.3, 0.9) * 255
    value = rng.uniform(0.15, 0.8) * 255
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "wood":
        period = rng.uniform(8, 30)
        texture = 0.5 + 0.5 * np.sin(
            (ys + 6 * np.sin(xs / rng.uniform(40, 120))) * 2 * np.pi / period
        )
    elif kind == "cloth":
        texture = rng.uniform(0, 1, size=(h, w)).astype(np.float32)
    elif kind == "tiles":
        size = rng.uniform(30, 90)
        texture = ((np.floor(xs / size) + np.floor(ys / size)) % 2).astype(np.float32)
        texture = np.maximum(texture, ((xs % size) < 3) | ((ys % size) < 3))
    elif kind == "plain":
        texture = xs / max(w - 1, 1)
    else:
        raise EcgLensError(f"unknown background {kind!r}; known: {BACKGROUNDS}")
    hsv = np.stack(
        [
            np.full((h, w), hue, np.float32),
            np.full((h, w), saturation, np.float32),
            value * (0.75 + 0.25 * texture),
        ],
        axis=-1,
    )
    return cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)


def photo_on_background(
    page: np.ndarray,
    rng: np.random.Generator,
    size: tuple[int, int] = (900, 1200),
    kind: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A page (uint8 (H, W, 3) RGB) photographed lying on a table: the photo, uint8
    (size[0], size[1], 3), and the page's corners in it, (4, 2) x, y (top-left, top-right,
    bottom-right, bottom-left). The page is turned by up to ``SCENE_ROTATION_DEG`` either
    way, its corners moved by up to ``MAX_CORNER_SHIFT`` of its side, it fills
    ``SCENE_PAGE_SHARE`` of the photo's width, on a :func:`background` (``kind``, else one
    drawn); then uneven light (up to ``MAX_SHADE`` darker towards one side), a Gaussian
    blur (sigma up to 1.5 px per 738 px of page width) and JPEG quality
    ``SCENE_JPEG_QUALITY``. Everything is drawn from ``rng``."""
    import cv2

    page = np.ascontiguousarray(page, dtype=np.uint8)
    if page.ndim != 3 or page.shape[2] != 3:
        raise EcgLensError(f"expected an RGB page (H, W, 3), got {page.shape}")
    h, w = size
    kind = kind or BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    scene = background(kind, (h, w), rng)
    ph, pw = page.shape[:2]
    width = rng.uniform(*SCENE_PAGE_SHARE) * w
    height = width * ph / pw
    angle = np.deg2rad(rng.uniform(-1, 1) * SCENE_ROTATION_DEG)
    half = np.array([(-width, -height), (width, -height), (width, height), (-width, height)]) / 2
    half = half + rng.uniform(-1, 1, size=(4, 2)) * MAX_CORNER_SHIFT * np.array([width, height])
    turn = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    corners = half @ turn.T
    span = corners.max(axis=0) - corners.min(axis=0)
    corners = corners * min(1.0, float(np.min(0.98 * np.array([w, h]) / span)))  # all in view
    span = corners.max(axis=0) - corners.min(axis=0)
    room = np.maximum(np.array([w, h]) - span, 0)
    centre = -corners.min(axis=0) + rng.uniform(0, 1, size=2) * room
    corners = corners + centre
    source = np.array([(0, 0), (pw, 0), (pw, ph), (0, ph)], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(source, corners.astype(np.float32))
    warped = cv2.warpPerspective(page, matrix, (w, h), flags=cv2.INTER_AREA)
    inside = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), matrix, (w, h)) / 255.0
    photo = warped * inside[..., None] + scene * (1.0 - inside[..., None])
    photo = photo * _shade((h, w), rng, 1.0)[..., None]
    sigma = rng.uniform(0, 1) * MAX_BLUR_SIGMA_PX * width / REFERENCE_WIDTH_PX
    if sigma > 0.05:
        photo = cv2.GaussianBlur(photo.astype(np.float32), (0, 0), sigma)
    pixels = np.clip(np.round(photo), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=SCENE_JPEG_QUALITY)
    with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
        return np.asarray(decoded.convert("RGB")), corners
