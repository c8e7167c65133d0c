"""Find the ECG printout in a photo or scan: the page's corners, its perspective and
rotation corrected, and a check that it holds an ECG (a periodic grid and dark traces).

:func:`find_page` takes an RGB (H, W, 3) or grayscale (H, W) uint8 image and returns a
:class:`PageFound`. Steps (OpenCV):

1. **Paper**: a "whiteness" map (HSV value times one minus saturation: bright, colourless
   pixels), Otsu's threshold, a morphological closing (the traces and the grid are filled),
   the largest connected component. When it covers nearly the whole image
   (``FULL_FRAME``), or reaches all four edges of the image, or its corners are those of
   the image (``FRAME_MARGIN``), the image already is the page (a scan, a dataset copy): no
   correction is made and the pixels are used as they are.
2. **Corners**: the component's convex hull, simplified (``cv2.approxPolyDP``) to four
   corners when it can be, else its minimum-area rectangle (``cv2.minAreaRect``); ordered
   top-left, top-right, bottom-right, bottom-left with the page's long side horizontal
   (the printouts are landscape).
3. **Straighten**: ``cv2.getPerspectiveTransform`` / ``cv2.warpPerspective`` to the
   printout's size, ``PAGE_WIDTH_PX x PAGE_HEIGHT_PX`` (the Mendeley copies), so the model's
   trace-area crop (rows 94-506) falls on the grid; upside-down pages (the header's
   full-width rule in the lower half) are turned by 180 degrees.
4. **Check the page is an ECG printout** (:func:`ecg_evidence`): in the trace area, the
   brightness profiles along both axes have a peak at the period of the grid's 5-mm lines
   (13.1 px at 2.62 px/mm; ``GRID_PERIOD_PX``), dark ink runs across most of its width, and
   most columns cross 3-5 separate dark runs (the printout's 4 rows of traces), and that
   ink is thin lines, not patches. A page
   without them (a blank sheet, a document, a table, a texture) is not an ECG printout:
   ``found`` is False with the reason.

Thresholds were set on clean Mendeley images and on synthetic phone photos of them made by
:func:`ecglens.inputs.images.photo_on_background` with seeds other than the benchmark's (see
``docs/results/images.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

# The printout as the models know it (the Mendeley copies): 738 x 524 px, landscape, the
# grid box at x 23-725, y 94-505 px (5-mm lines every 13.1 px).
PAGE_WIDTH_PX = 738
PAGE_HEIGHT_PX = 524
GRID_BOX_PX = (23, 94, 725, 506)  # x0, y0, x1, y1
GRID_PERIOD_PX = 13.1  # the 5-mm grid lines at 2.62 px/mm
GRID_PERIOD_BAND_PX = (12.3, 14.0)  # periods counted as the grid's
DETECT_SIDE_PX = 900  # the image is reduced to this longest side to find the paper
FULL_FRAME = 0.96  # paper covering this share of the image: the image is the page
FRAME_MARGIN = 0.03  # corners this close to the image's (share of its side): the image is the page
MIN_PAGE_SHARE = 0.08  # paper smaller than this share of the image is not a page
MIN_QUAD_FILL = 0.85  # the paper must fill this share of its four-corner outline
ASPECT_RANGE = (1.1, 1.9)  # long side / short side of a landscape printout, after the warp
MIN_GRID_SCORE = 3.0  # grid peak / median spectral power (see _band_ratio)
TRACE_INK_RANGE = (0.004, 0.2)  # share of dark pixels in the trace area
MIN_TRACE_COLUMNS = 0.6  # share of the trace area's columns holding dark ink
MIN_TRACE_ROWS = 0.5  # share of columns crossing 3-5 dark runs (the 4 rows of traces)
HEADER_RULE_PX = 46  # y of the header's double rule, across the page
MIN_RULE_INK = 0.6  # share of a row's pixels that are ink on the header's rule
RULE_DARK = 0.5  # darker than the pink grid frame, which is also drawn across the page
DARK = 0.8  # a pixel darker than this share of the local paper brightness is ink
THICK_PX = 7  # ink that fills a square this wide is a patch, not a trace line
MAX_THICK_INK = 0.5  # share of the ink in such patches (traces: at most 0.21 in photos)
STRIP_PX = 48  # the grid is measured in strips this wide (see _band_ratio)


@dataclass
class PageFound:
    """What :func:`find_page` found.

    ``found``: an ECG printout of the known layout is in the image; ``reason``: why not
    (empty when found); ``corners``: (4, 2) x, y in the original image's pixels (top-left,
    top-right, bottom-right, bottom-left of the page), None when no paper was found;
    ``angle_deg``: the page's rotation in the image (its top edge against the horizontal,
    degrees, counter-clockwise positive; 180 for an upside-down page); ``correction``:
    "none" (the image is the page), "perspective" (the page was cut out and straightened);
    ``warped``: the page, uint8 (PAGE_HEIGHT_PX, PAGE_WIDTH_PX[, 3]) or the original image
    when no correction was made; ``evidence``: the check's numbers."""

    found: bool
    reason: str
    corners: np.ndarray | None
    angle_deg: float
    correction: str
    warped: np.ndarray | None
    evidence: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields of a prediction: ``page_found``, ``corners``, ``rotation_deg``,
        ``correction`` (and ``reason`` when not found)."""
        out: dict[str, Any] = {
            "page_found": self.found,
            "corners": None
            if self.corners is None
            else [[round(float(x), 1), round(float(y), 1)] for x, y in self.corners],
            "rotation_deg": round(float(self.angle_deg), 2),
            "correction": self.correction,
        }
        if not self.found:
            out["reason"] = self.reason
        return out


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _whiteness(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W): bright and colourless pixels high (value x (1 - saturation))."""
    if image.ndim == 2:
        return image
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    value = hsv[..., 2].astype(np.float32)
    saturation = hsv[..., 1].astype(np.float32) / 255.0
    return np.clip(value * (1.0 - saturation), 0, 255).astype(np.uint8)


def _paper_mask(small: np.ndarray) -> np.ndarray:
    """The largest bright, colourless region of ``small`` (uint8 0/1, (h, w))."""
    white = cv2.GaussianBlur(_whiteness(small), (5, 5), 0)
    _, mask = cv2.threshold(white, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    side = max(3, round(0.02 * max(small.shape[:2])) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
    # padded with background, so a thin strip of table at the image's edge stays table
    mask = cv2.copyMakeBorder(mask, side, side, side, side, cv2.BORDER_CONSTANT, value=0)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)[side:-side, side:-side]
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    if count < 2:
        return np.zeros_like(mask)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (labels == largest).astype(np.uint8)


def _order_corners(quad: np.ndarray) -> np.ndarray:
    """(4, 2) corners in image coordinates -> top-left, top-right, bottom-right,
    bottom-left, then turned so the first edge (the top) is a long side."""
    centre = quad.mean(axis=0)
    angles = np.arctan2(quad[:, 1] - centre[1], quad[:, 0] - centre[0])
    quad = quad[np.argsort(angles)]  # clockwise on screen (y down), from the left
    start = int(np.argmin(quad.sum(axis=1)))  # top-left: smallest x + y
    quad = np.roll(quad, -start, axis=0)
    top = np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])
    left = np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])
    if left > top:  # a portrait outline: the page lies on its side, turn it clockwise
        quad = np.roll(quad, 1, axis=0)
    return quad


def _quadrilateral(mask: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Four corners (4, 2) of the paper ``mask``, or None and the reason."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None, "no paper found"
    contour = max(contours, key=cv2.contourArea)
    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    quad = None
    for eps in (0.01, 0.02, 0.03, 0.05):
        approx = cv2.approxPolyDP(hull, eps * perimeter, True)
        if len(approx) == 4:
            quad = approx.reshape(4, 2).astype(np.float64)
            break
    if quad is None:
        quad = cv2.boxPoints(cv2.minAreaRect(hull)).astype(np.float64)
    area = cv2.contourArea(quad.astype(np.float32))
    if area <= 0 or float(mask.sum()) / area < MIN_QUAD_FILL:
        return None, "the paper is not a four-cornered sheet"
    return _order_corners(quad), ""


def _band_ratio(strips: np.ndarray) -> float:
    """Grid strength of ``strips`` (n, L): each row a profile across the grid lines (the
    mean over a strip of the page), pixels. The strips' power spectra are averaged (so a
    slightly turned grid, whose lines shift from strip to strip, still counts), then the
    highest power at the grid's periods is divided by the median power at periods of 4-60
    px (about 1: no grid)."""
    strips = np.asarray(strips, dtype=np.float32)
    trend = cv2.blur(strips, (31, 1), borderType=cv2.BORDER_REFLECT)
    detail = (strips - trend) * np.hanning(strips.shape[1])[None]
    power = (np.abs(np.fft.rfft(detail, axis=1)) ** 2).mean(axis=0)
    periods = strips.shape[1] / np.maximum(np.arange(len(power)), 1e-9)
    lo, hi = GRID_PERIOD_BAND_PX
    band = (periods >= lo) & (periods <= hi)
    ref = (periods >= 4) & (periods <= 60)
    if not band.any() or not ref.any():
        return 0.0
    return float(power[band].max() / max(np.median(power[ref]), 1e-12))


def _grid_strength(channel: np.ndarray) -> float:
    """The stronger of the two axes' :func:`_band_ratio` for a channel (H, W) of the trace
    area, in strips of ``STRIP_PX`` (the horizontal lines are often lost to the traces and
    to JPEG's colour subsampling)."""
    h, w = channel.shape
    rows = channel[: h - h % STRIP_PX].reshape(-1, STRIP_PX, w).mean(axis=1)
    cols = channel[:, : w - w % STRIP_PX].reshape(h, -1, STRIP_PX).mean(axis=2).T
    return max(_band_ratio(rows), _band_ratio(cols))


def _dark(gray: np.ndarray, threshold: float = DARK) -> np.ndarray:
    """Ink darker than ``DARK`` of the local paper brightness (bool, same shape): the
    traces, text and lines, not the pale grid."""
    gray = gray.astype(np.float32)
    paper = cv2.blur(cv2.dilate(gray, np.ones((9, 9), np.uint8)), (41, 41))
    return gray / np.maximum(paper, 1.0) < threshold


def ecg_evidence(page: np.ndarray) -> dict[str, float]:
    """The check's numbers on a straightened page (uint8, PAGE_HEIGHT_PX x PAGE_WIDTH_PX,
    RGB or gray), all in the grid box: ``grid`` (:func:`_grid_strength` of the darkness
    and, in colour, of the red-minus-green channel (the grid is pink), whichever is
    stronger), ``ink`` (share of dark pixels: below ``DARK`` of the local paper
    brightness), ``columns`` (share of columns holding dark ink)."""
    x0, y0, x1, y1 = GRID_BOX_PX
    gray = _gray(page).astype(np.float32)
    paper = cv2.blur(cv2.dilate(gray, np.ones((9, 9), np.uint8)), (41, 41))
    relative = gray / np.maximum(paper, 1.0)
    inner = (slice(y0 + 4, y1 - 4), slice(x0 + 4, x1 - 4))
    area = relative[inner]
    channels = [1.0 - area]
    if page.ndim == 3:
        rgb = page.astype(np.float32)
        channels.append(((rgb[..., 0] - rgb[..., 1]) / np.maximum(paper, 1.0))[inner])
    dark = cv2.dilate((area < DARK).astype(np.uint8), np.ones((5, 1), np.uint8)).astype(bool)
    starts = (dark[1:] & ~dark[:-1]).sum(axis=0) + dark[0]
    dark = area < DARK
    thick = cv2.morphologyEx(
        dark.astype(np.uint8), cv2.MORPH_OPEN, np.ones((THICK_PX, THICK_PX), np.uint8)
    )
    return {
        "thick": round(float(thick.sum() / max(dark.sum(), 1)), 3),
        "runs": float(np.median(starts)),
        "rows": round(float(((starts >= 3) & (starts <= 5)).mean()), 3),
        "grid": round(max(_grid_strength(c) for c in channels), 2),
        "ink": round(float(dark.mean()), 4),
        "columns": round(float(dark.any(axis=0).mean()), 3),
    }


def _is_ecg(evidence: dict[str, float]) -> str:
    """Why ``evidence`` is not an ECG printout ('' when it is)."""
    lo, hi = TRACE_INK_RANGE
    if not lo <= evidence["ink"] <= hi or evidence["columns"] < MIN_TRACE_COLUMNS:
        return "no ECG traces on the page"
    if evidence["thick"] > MAX_THICK_INK:
        return "dark patches, not ECG traces, on the page"
    if evidence["rows"] < MIN_TRACE_ROWS:
        return "no rows of ECG traces on the page"
    if evidence["grid"] < MIN_GRID_SCORE:
        return "no ECG grid on the page"
    return ""


def _upright(page: np.ndarray) -> tuple[np.ndarray, bool]:
    """``page`` turned by 180 degrees when the header's rule (the darkest full-width row,
    ``HEADER_RULE_PX`` from the top of the known printout) lies in its lower half."""
    row_ink = _dark(_gray(page), RULE_DARK).mean(axis=1)
    darkest = int(np.argmax(row_ink))
    if row_ink[darkest] >= MIN_RULE_INK and darkest > len(row_ink) / 2:
        return np.ascontiguousarray(page[::-1, ::-1]), True
    return page, False


def find_page(image: np.ndarray) -> PageFound:
    """The ECG printout in ``image`` (uint8 (H, W, 3) RGB or (H, W) gray), see the module
    docstring."""
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(
            f"expected a uint8 image (H, W) or (H, W, 3), got {image.dtype} {image.shape}"
        )
    height, width = image.shape[:2]
    scale = min(1.0, DETECT_SIDE_PX / max(height, width))
    small = image if scale == 1.0 else cv2.resize(
        image, (max(1, round(width * scale)), max(1, round(height * scale))),
        interpolation=cv2.INTER_AREA,
    )  # fmt: skip
    mask = _paper_mask(small)
    share = float(mask.mean())
    frame = np.array([(0, 0), (width, 0), (width, height), (0, height)], dtype=np.float64)
    if share >= FULL_FRAME or _touches_every_edge(mask):
        return _full_frame(image, frame)
    if share < MIN_PAGE_SHARE:
        return PageFound(False, "no sheet of paper found", None, 0.0, "none", None)
    quad, reason = _quadrilateral(mask)
    if quad is None:
        return PageFound(False, reason, None, 0.0, "none", None)
    corners = quad / scale
    if np.abs(corners - frame).max() <= FRAME_MARGIN * max(height, width):
        return _full_frame(image, frame)
    long_side = np.linalg.norm(corners[1] - corners[0])
    short_side = np.linalg.norm(corners[3] - corners[0])
    aspect = long_side / max(short_side, 1e-9)
    angle = float(
        np.degrees(np.arctan2(-(corners[1, 1] - corners[0, 1]), corners[1, 0] - corners[0, 0]))
    )
    if not ASPECT_RANGE[0] <= aspect <= ASPECT_RANGE[1]:
        reason = f"the sheet's sides ({aspect:.2f}:1) are not those of a landscape printout"
        return PageFound(False, reason, corners, angle, "none", None)
    target = np.array(
        [(0, 0), (PAGE_WIDTH_PX, 0), (PAGE_WIDTH_PX, PAGE_HEIGHT_PX), (0, PAGE_HEIGHT_PX)],
        dtype=np.float32,
    )
    source, factor = _reduced(image, long_side)
    matrix = cv2.getPerspectiveTransform((corners * factor).astype(np.float32), target)
    warped = cv2.warpPerspective(
        source, matrix, (PAGE_WIDTH_PX, PAGE_HEIGHT_PX), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    warped, turned = _upright(warped)
    if turned:
        corners = np.roll(corners, 2, axis=0)
        angle = (angle + 180.0 + 180.0) % 360.0 - 180.0
    evidence = ecg_evidence(warped)
    reason = _is_ecg(evidence)
    return PageFound(not reason, reason, corners, angle, "perspective", warped, evidence)


def _touches_every_edge(mask: np.ndarray) -> bool:
    """The paper reaches all four edges of the image (within ``FRAME_MARGIN``): a scan or a
    copy of the page itself, whose corners may hold ink."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return False
    h, w = mask.shape
    margin_x, margin_y = FRAME_MARGIN * w, FRAME_MARGIN * h
    return bool(
        xs.min() <= margin_x and xs.max() >= w - 1 - margin_x
        and ys.min() <= margin_y and ys.max() >= h - 1 - margin_y
    )  # fmt: skip


def _full_frame(image: np.ndarray, frame: np.ndarray) -> PageFound:
    """The image is the page: checked, used as it is."""
    evidence = ecg_evidence(_resized(image))
    reason = _is_ecg(evidence)
    return PageFound(not reason, reason, frame, 0.0, "none", image, evidence)


def _resized(image: np.ndarray) -> np.ndarray:
    """``image`` at the printout's size (for the check only)."""
    if image.shape[:2] == (PAGE_HEIGHT_PX, PAGE_WIDTH_PX):
        return image
    interpolation = cv2.INTER_AREA if image.shape[1] > PAGE_WIDTH_PX else cv2.INTER_LINEAR
    return cv2.resize(image, (PAGE_WIDTH_PX, PAGE_HEIGHT_PX), interpolation=interpolation)


def _reduced(image: np.ndarray, page_width: float) -> tuple[np.ndarray, float]:
    """``image`` shrunk (area averaging) so the page is at most twice the printout's width
    before the warp, which would otherwise alias; and the factor applied."""
    factor = min(1.0, 2 * PAGE_WIDTH_PX / max(page_width, 1.0))
    if factor == 1.0:
        return image, 1.0
    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), factor
