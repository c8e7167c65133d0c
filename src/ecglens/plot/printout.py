"""12-lead records drawn as clinical printouts like the Mendeley ECG image set's, one page at
a time (:func:`ptbxl_page` is what ``ecglens images render`` draws; the render loop over
PTB-XL and its manifest are :mod:`ecglens.data.rendered`).

:func:`render_printout` is a pure function, record -> RGB uint8 page (524 x 738 px, the
size of the Mendeley copies): a 3 x 4 layout (columns I-II-III, aVR-aVL-aVF, V1-V3, V4-V6,
each a consecutive 2.5 s of the record, as :data:`ecglens.plot.paper.LAYOUT_3X4`) and a
10-s lead II rhythm strip, 25 mm/s and 10 mm/mV on a millimetre grid (5-mm lines bold), a
1-mV calibration pulse (10 mm high, 200 ms wide) at each row start, lead labels, a header
("ECG REPORT", record facts; never the diagnosis) and a footer with the settings.

Geometry (measured on the Mendeley copies; page pixels): :data:`PX_PER_MM` = 2.62 (their
calibration pulse is 26 px high, their 10 s span 656 px); grid from x = 23, y = 94 for 268 x
157 mm, so the trace-area crop of :mod:`ecglens.inputs.images` (rows 94-506) holds the grid
and nothing else; row baselines 23, 61, 99, 137 mm below the grid top (y = 154, 254, 353,
453 px; theirs 155, 255, 355, 455); traces from 10.5 mm (x = 50.5 px; theirs 51). The page is
drawn at 3x (:data:`SUPERSAMPLE`, 2214 x 1572 px, the originals' size) and reduced with a
Lanczos filter, as the Mendeley copies were. About 30 ms a record.

:func:`realistic_printout` makes it look printed and photographed: a paper tint, then
:func:`ecglens.inputs.images.photo_transform` (rotation, perspective, blur, uneven light
(shadow), JPEG), all drawn from one seeded Generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ecglens.data.ptbxl import LEADS_12
from ecglens.errors import EcgLensError
from ecglens.inputs.images import photo_transform, to_float
from ecglens.plot.paper import LAYOUT_3X4

PAGE_WIDTH, PAGE_HEIGHT = 738, 524  # px, the Mendeley copies
PX_PER_MM = 2.62
SUPERSAMPLE = 3
GRID_LEFT_PX, GRID_TOP_PX = 23.0, 94.0
GRID_WIDTH_MM, GRID_HEIGHT_MM = 268.0, 157.0
BASELINES_MM = (23.0, 61.0, 99.0, 137.0)  # below the grid top: three lead rows, rhythm strip
TRACE_START_MM = 10.5  # right of the grid's left edge
CAL_START_MM, CAL_RISE_MM, CAL_FALL_MM, CAL_END_MM = 2.0, 3.0, 8.0, 9.0  # 200 ms at 25 mm/s
PAPER_SPEED = 25.0  # mm/s
GAIN = 10.0  # mm/mV
DURATION_S = 10.0
RHYTHM_LEAD = "II"
PAPER = (254, 254, 252)
MINOR = (250, 226, 228)
MAJOR = (238, 182, 190)
INK = (20, 20, 20)
MAX_TINT = 0.08  # realism: the paper loses up to 8 % of one channel's light at strength 1


def mm_to_px(x_mm: float, y_mm: float) -> tuple[float, float]:
    """Grid millimetres (from the grid's top-left corner, y down) -> page pixels (x, y)."""
    return GRID_LEFT_PX + x_mm * PX_PER_MM, GRID_TOP_PX + y_mm * PX_PER_MM


def baseline_px(row: int) -> float:
    """Page y (px) of row ``row``'s baseline (0-2: the lead rows, 3: the rhythm strip)."""
    return mm_to_px(0.0, BASELINES_MM[row])[1]


def lead_cells() -> dict[str, tuple[float, float, float, float]]:
    """Lead -> (t0, t1) seconds of the record it shows, and (x0, y) page px where that span
    starts on its baseline; the rhythm strip is ``"II-rhythm"``."""
    out = {}
    span = DURATION_S / 4
    for r, row in enumerate(LAYOUT_3X4):
        for c, lead in enumerate(row):
            x0, y = mm_to_px(TRACE_START_MM + c * span * PAPER_SPEED, BASELINES_MM[r])
            out[lead] = (c * span, (c + 1) * span, x0, y)
    x0, y = mm_to_px(TRACE_START_MM, BASELINES_MM[3])
    out[f"{RHYTHM_LEAD}-rhythm"] = (0.0, DURATION_S, x0, y)
    return out


@lru_cache(maxsize=8)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSerif-Bold.ttf" if bold else "DejaVuSerif.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def _s(value: float) -> float:
    return value * SUPERSAMPLE


def _grid(draw: ImageDraw.ImageDraw) -> None:
    x_end, y_end = mm_to_px(GRID_WIDTH_MM, GRID_HEIGHT_MM)
    for major in (False, True):
        colour, width = (MAJOR, 2) if major else (MINOR, 1)
        for mm in range(int(GRID_WIDTH_MM) + 1):
            if (mm % 5 == 0) == major:
                x = _s(mm_to_px(mm, 0)[0])
                draw.line([(x, _s(GRID_TOP_PX)), (x, _s(y_end))], fill=colour, width=width)
        for mm in range(int(GRID_HEIGHT_MM) + 1):
            if (mm % 5 == 0) == major:
                y = _s(mm_to_px(0, mm)[1])
                draw.line([(_s(GRID_LEFT_PX), y), (_s(x_end), y)], fill=colour, width=width)
    draw.rectangle(
        [_s(GRID_LEFT_PX), _s(GRID_TOP_PX), _s(x_end), _s(y_end)], outline=MAJOR, width=3
    )


def _calibration(draw: ImageDraw.ImageDraw, row: int) -> None:
    base = _s(baseline_px(row))
    top = base - _s(GAIN * PX_PER_MM)
    xs = [_s(mm_to_px(mm, 0)[0]) for mm in (CAL_START_MM, CAL_RISE_MM, CAL_FALL_MM, CAL_END_MM)]
    points = [(xs[0], base), (xs[1], base), (xs[1], top), (xs[2], top), (xs[2], base),
              (xs[3], base)]  # fmt: skip
    draw.line(points, fill=INK, width=3, joint="curve")


def _trace(draw, y_mv: np.ndarray, fs: float, x0: float, y0: float, clip: tuple[float, float]):
    t = np.arange(len(y_mv)) / fs
    xs = _s(x0 + t * PAPER_SPEED * PX_PER_MM)
    ys = np.clip(_s(y0 - y_mv * GAIN * PX_PER_MM), _s(clip[0]), _s(clip[1]))
    draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=INK, width=3, joint="curve")


def _text(draw, xy_px: tuple[float, float], text: str, size: int, anchor="la", bold=False):
    draw.text((_s(xy_px[0]), _s(xy_px[1])), text, fill=INK, font=_font(_s_int(size), bold),
              anchor=anchor)  # fmt: skip


def _s_int(size: float) -> int:
    return int(round(size * SUPERSAMPLE))


def check_signals(signals: np.ndarray, fs: float, lead_names: Sequence[str]) -> np.ndarray:
    """(12, T) float64 in :data:`LEADS_12` order from (leads, T) or (T, leads) in mV named by
    ``lead_names`` (case-insensitive); needs 10 s at ``fs`` (longer records: the first 10 s)
    and finite values, else a one-line EcgLensError."""
    names = [str(n).upper() for n in lead_names]
    sig = np.asarray(signals, dtype=np.float64)
    if sig.ndim != 2 or len(names) not in sig.shape:
        raise EcgLensError(f"signals must be (leads, T) with {len(names)} leads, got {sig.shape}")
    if sig.shape[0] != len(names):
        sig = sig.T
    missing = [lead for lead in LEADS_12 if lead.upper() not in names]
    if missing:
        raise EcgLensError(f"a printout needs all 12 leads; missing {', '.join(missing)}")
    if not fs > 0:
        raise EcgLensError(f"sampling rate must be positive, not {fs}")
    n = int(round(DURATION_S * fs))
    if sig.shape[1] < n:
        raise EcgLensError(f"a printout needs 10 s; the record has {sig.shape[1] / fs:.2f} s")
    sig = sig[[names.index(lead.upper()) for lead in LEADS_12], :n]
    if not np.all(np.isfinite(sig)):
        raise EcgLensError("the record has non-finite samples (NaN or inf)")
    return sig


def render_printout(
    signals: np.ndarray,
    fs: float,
    lead_names: Sequence[str] = LEADS_12,
    header: Sequence[str] = (),
    footer: str | None = None,
) -> np.ndarray:
    """A 12-lead record (leads, T) in mV as a printout page: uint8 (524, 738, 3) RGB.

    ``header``: up to three lines of record facts under the title (say nothing of the
    diagnosis: the page is an input); ``footer``: the settings line (default: speed, gain,
    layout, rate). Layout and scale: see the module docstring; the geometry is exposed by
    :func:`mm_to_px`, :func:`baseline_px` and :func:`lead_cells`.
    """
    sig = check_signals(signals, fs, lead_names)
    size = (PAGE_WIDTH * SUPERSAMPLE, PAGE_HEIGHT * SUPERSAMPLE)
    page = Image.new("RGB", size, PAPER)
    draw = ImageDraw.Draw(page)
    _grid(draw)
    clip = (GRID_TOP_PX + 1, mm_to_px(0, GRID_HEIGHT_MM)[1] - 1)
    index = {lead: i for i, lead in enumerate(LEADS_12)}
    for row in range(4):
        _calibration(draw, row)
    for lead, (t0, t1, x0, y) in lead_cells().items():
        name = lead.removesuffix("-rhythm")
        i0, i1 = int(round(t0 * fs)), int(round(t1 * fs))
        _trace(draw, sig[index[name], i0 : i1 + (1 if i1 < sig.shape[1] else 0)], fs, x0, y, clip)
        _text(draw, (x0 + 1.0, y - 4.0), name, 9, anchor="ls")
        if t0 > 0:  # column separator through the three lead rows, as the Mendeley pages
            draw.line([(_s(x0), _s(y - 12 * PX_PER_MM)), (_s(x0), _s(y + 8 * PX_PER_MM))],
                      fill=INK, width=2)  # fmt: skip
    _text(draw, (PAGE_WIDTH / 2, 6.0), "ECG REPORT", 15, anchor="ma")
    for k, line in enumerate(list(header)[:3]):
        _text(draw, (20.0, 27.0 + 11.0 * k), line, 9)
    draw.line([(_s(20), _s(62)), (_s(PAGE_WIDTH - 20), _s(62))], fill=INK, width=5)
    _text(draw, (20.0, 66.0), "Diagnosis Information:", 9)
    _text(draw, (500.0, 66.0), "Technician :      Report Confirmed by:", 9)
    if footer is None:
        footer = f"{PAPER_SPEED:g}mm/s  {GAIN:g}mm/mV  4*2.5s+1r  {fs:g} Hz"
    _text(draw, (20.0, PAGE_HEIGHT - 6.0), footer, 8, anchor="ls")
    small = page.resize((PAGE_WIDTH, PAGE_HEIGHT), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.uint8).copy()


def realistic_printout(page: np.ndarray, rng: np.random.Generator, strength: float = 1.0):
    """A page (H, W, 3) uint8 as a printed, photographed copy: uint8 (H, W, 3).

    Paper tint (each channel darkened by up to ``MAX_TINT`` x ``strength``, drawn from
    ``rng``), then :func:`ecglens.inputs.images.photo_transform` at ``strength`` (rotation,
    perspective, blur, uneven light, JPEG) with the same ``rng``. ``strength`` 0 returns the
    page unchanged.
    """
    page = np.asarray(page)
    if page.ndim != 3 or page.shape[2] != 3 or page.dtype != np.uint8:
        raise EcgLensError(f"expected an RGB uint8 page (H, W, 3), got {page.shape} {page.dtype}")
    if strength == 0:
        return page.copy()
    tint = 1.0 - rng.uniform(0.0, MAX_TINT * strength, size=3)
    tinted = to_float(page.transpose(2, 0, 1)) * tint[:, None, None].astype(np.float32)
    out = photo_transform(tinted, rng, strength)
    return np.round(out.transpose(1, 2, 0) * 255).astype(np.uint8)


def ptbxl_page(
    signals: np.ndarray, fs: float, header: Sequence[str], rng: np.random.Generator, realism: float
) -> np.ndarray:
    """A PTB-XL record's page as ``ecglens images render`` draws it (the ``draw`` of
    :func:`ecglens.data.rendered.render_ptbxl`): :func:`render_printout` of the 12 leads
    (leads, T) in mV, then :func:`realistic_printout` with ``rng`` when ``realism`` > 0."""
    page = render_printout(signals, fs, LEADS_12, header=header)
    if realism > 0:
        page = realistic_printout(page, rng, realism)
    return page
