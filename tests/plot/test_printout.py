import time

import numpy as np
import pytest

from ecglens.data.ptbxl import LEADS_12
from ecglens.errors import EcgLensError
from ecglens.inputs.images import TRACE_BOTTOM, TRACE_TOP
from ecglens.plot.paper import LAYOUT_3X4
from ecglens.plot.printout import (
    CAL_FALL_MM,
    CAL_RISE_MM,
    GAIN,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    PAPER_SPEED,
    PX_PER_MM,
    baseline_px,
    lead_cells,
    mm_to_px,
    ptbxl_page,
    realistic_printout,
    render_printout,
)

FS = 100.0


def _dark(page: np.ndarray) -> np.ndarray:
    return page.astype(int).sum(-1) < 300


def _flat() -> np.ndarray:
    return np.zeros((12, int(10 * FS)))


@pytest.fixture(scope="module")
def flat_page() -> np.ndarray:
    return render_printout(_flat(), FS)


def test_page_size_and_trace_area_match_the_mendeley_crop(flat_page):
    assert flat_page.shape == (PAGE_HEIGHT, PAGE_WIDTH, 3) and flat_page.dtype == np.uint8
    top, bottom = round(TRACE_TOP * PAGE_HEIGHT), round(TRACE_BOTTOM * PAGE_HEIGHT)
    # every baseline and the whole calibration pulse lie inside the crop's rows
    for row in range(4):
        assert top + 10 * PX_PER_MM < baseline_px(row) < bottom - 5
    # the header (title) is above the crop: dark pixels there, none of the grid
    assert _dark(flat_page[:top]).any()


def test_flat_traces_lie_on_their_baselines(flat_page):
    dark = _dark(flat_page)
    x0, x1 = int(mm_to_px(12, 0)[0]), int(mm_to_px(255, 0)[0])
    for row in range(4):
        y = baseline_px(row)
        band = dark[int(y) - 1 : int(y) + 3, x0:x1]
        assert band.any(axis=0).mean() > 0.9  # the line runs across the page


def test_grid_spacing_is_the_millimetre_scale(flat_page):
    page = flat_page.astype(float)
    redness = page[..., 0] - page[..., 1]
    # a band of rows with no trace, label or pulse: between rows 1 and 2, columns past the pulse
    y0, y1 = int(baseline_px(0) + 12), int(baseline_px(1) - 30)
    profile = redness[y0:y1, 60:700].mean(0)
    spectrum = np.abs(np.fft.rfft(profile - profile.mean()))
    frequency = np.argmax(spectrum[5:]) + 5
    period_px = len(profile) / frequency
    # the strongest periodicity: the 5 mm bold lines (or the 1 mm lines)
    assert min(abs(period_px - 5 * PX_PER_MM), abs(period_px - PX_PER_MM)) < 0.3
    on = [redness[y0:y1, round(mm_to_px(5 * k, 0)[0])].mean() for k in range(3, 50)]
    off = [redness[y0:y1, round(mm_to_px(5 * k + 2.5, 0)[0])].mean() for k in range(3, 50)]
    assert np.mean(on) > np.mean(off) + 10  # bold lines every 5 mm


def test_calibration_pulse_is_ten_millimetres(flat_page):
    dark = _dark(flat_page)
    x = round(mm_to_px((CAL_RISE_MM + CAL_FALL_MM) / 2, 0)[0])
    for row in range(4):
        base = baseline_px(row)
        ys = np.flatnonzero(dark[int(base - 40) : int(base + 5), x]) + int(base - 40)
        height = base - ys.min()
        assert height == pytest.approx(GAIN * PX_PER_MM, abs=1.5)


def test_each_lead_is_drawn_in_its_layout_cell():
    signals = _flat()
    cells = lead_cells()
    for lead in LEADS_12:
        t0, t1, _, _ = cells[lead]
        signals[LEADS_12.index(lead), int(round((t0 + t1) / 2 * FS))] = 1.0  # 1 mV spike
    dark = _dark(render_printout(signals, FS))
    for r, row in enumerate(LAYOUT_3X4):
        for lead in row:
            t0, t1, x0, y = cells[lead]
            x = round(x0 + (t1 - t0) / 2 * PAPER_SPEED * PX_PER_MM)
            ys = np.flatnonzero(dark[int(y - 40) : int(y + 3), x - 1 : x + 2].any(1))
            peak = y - (ys.min() + int(y - 40))
            assert peak == pytest.approx(GAIN * PX_PER_MM, abs=2.5), lead
            assert y == pytest.approx(baseline_px(r))
    # the rhythm strip repeats lead II's spike (II spans 0-2.5 s in the layout)
    _, _, x0, y = cells["II-rhythm"]
    x = round(x0 + 1.25 * PAPER_SPEED * PX_PER_MM)
    ys = np.flatnonzero(dark[int(y - 40) : int(y + 3), x - 1 : x + 2].any(1))
    assert y - (ys.min() + int(y - 40)) == pytest.approx(GAIN * PX_PER_MM, abs=2.5)


def test_render_is_pure_and_fast():
    rng = np.random.default_rng(0)
    signals = rng.normal(0, 0.3, (12, 1000))
    began = time.perf_counter()
    a = render_printout(signals, FS)
    assert time.perf_counter() - began < 2.0  # about 0.05 s on one core
    assert np.array_equal(a, render_printout(signals.copy(), FS))
    # (T, leads) input and other lead orders give the same page
    order = list(reversed(LEADS_12))
    assert np.array_equal(a, render_printout(signals[::-1].T, FS, order))


def test_bad_signals_are_refused():
    with pytest.raises(EcgLensError, match="missing V6"):
        render_printout(np.zeros((11, 1000)), FS, LEADS_12[:11])
    with pytest.raises(EcgLensError, match="needs 10 s"):
        render_printout(np.zeros((12, 500)), FS)
    bad = _flat()
    bad[3, 10] = np.nan
    with pytest.raises(EcgLensError, match="non-finite"):
        render_printout(bad, FS)


def test_realism_is_seeded(flat_page):
    a = realistic_printout(flat_page, np.random.default_rng([0, 1]), 1.0)
    b = realistic_printout(flat_page, np.random.default_rng([0, 1]), 1.0)
    c = realistic_printout(flat_page, np.random.default_rng([0, 2]), 1.0)
    assert a.shape == flat_page.shape and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.array_equal(a, flat_page)
    assert np.array_equal(realistic_printout(flat_page, np.random.default_rng(0), 0.0), flat_page)
    with pytest.raises(EcgLensError, match="RGB uint8"):
        realistic_printout(flat_page[..., 0], np.random.default_rng(0))


def test_ptbxl_page_is_the_page_then_its_realism(flat_page):
    rng = np.random.default_rng([0, 1])
    assert np.array_equal(ptbxl_page(_flat(), FS, (), rng, 0.0), flat_page)
    real = ptbxl_page(_flat(), FS, (), np.random.default_rng([0, 1]), 1.0)
    assert np.array_equal(real, realistic_printout(flat_page, np.random.default_rng([0, 1]), 1.0))
