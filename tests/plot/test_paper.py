"""The 12-lead paper renderer: physical scale, layout, relevance overlay and input checks."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ecglens.errors import EcgLensError
from ecglens.plot.paper import MM_PER_INCH, plot_ecg_paper

LEADS = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
FS = 100.0


def _ecg(n: int = 1000) -> np.ndarray:
    t = np.arange(n) / FS
    beat = np.exp(-(((t % 0.8) - 0.3) ** 2) / 0.0005)  # 75 bpm spikes, 1 mV
    return np.stack([beat * (1 + 0.1 * k) for k in range(12)])  # (12, T)


def _grid_axes(fig: Figure):
    return fig.axes[0]


def test_physical_scale_and_layout(tmp_path):
    fig = plot_ecg_paper(_ecg(), FS, LEADS, title="test")
    ax = _grid_axes(fig)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert (x0, x1) == (0.0, 260.0)  # 10 mm calibration + 10 s * 25 mm/s
    assert y1 % 5 == 0 and y0 == 0.0
    # the grid axes' size on the figure equals its data range in mm: 1 data unit = 1 mm
    bbox = ax.get_position()
    w_mm, h_mm = (s * MM_PER_INCH for s in fig.get_size_inches())
    assert bbox.width * w_mm == pytest.approx(x1 - x0)
    assert bbox.height * h_mm == pytest.approx(y1 - y0)
    labels = {t.get_text() for t in ax.texts}
    assert {"I", "aVR", "V1", "V4", "II", "aVL", "V6"} <= labels  # printout spelling
    assert sum(t.get_text() == "II" for t in ax.texts) == 2  # row 2 and the rhythm strip
    fig.savefig(tmp_path / "paper.png", dpi=80)
    assert (tmp_path / "paper.png").stat().st_size > 10_000


def test_trace_positions_follow_speed_and_gain():
    sig = np.zeros((12, 1000))
    sig[1, 300] = 1.0  # lead II, 1 mV at t = 3 s
    fig = plot_ecg_paper(sig, FS, LEADS, paper_speed=50, gain=20)
    ax = _grid_axes(fig)
    assert ax.get_xlim() == (0.0, 510.0)
    peaks = []
    for line in ax.lines:
        x, y = line.get_data()
        if len(x) > 10 and np.ptp(y) > 0:
            i = int(np.argmax(y))
            peaks.append((round(float(x[i]), 6), round(float(np.ptp(y)), 6)))
    assert peaks and all(p == (10.0 + 3.0 * 50, 20.0) for p in peaks)
    assert len(peaks) == 1  # row 2 shows lead II for 0-2.5 s only: the peak is on the rhythm strip


def test_relevance_overlay_line_and_background():
    rel = np.linspace(0, 1, 1000)
    fig = plot_ecg_paper(_ecg(), FS, LEADS, relevance=rel)
    coloured = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    assert any(c.get_array() is not None for c in coloured)
    assert len(fig.axes) == 2  # colour bar
    per_lead = np.random.default_rng(0).random((12, 500))  # other length: resampled
    fig = plot_ecg_paper(_ecg(), FS, LEADS, relevance=per_lead, overlay="background")
    assert len(fig.axes[0].images) == 13  # 12 segments + rhythm strip


def test_time_major_input_and_missing_rhythm_strip():
    a = plot_ecg_paper(_ecg().T, FS, LEADS)
    b = plot_ecg_paper(_ecg(), FS, LEADS, rhythm_lead=None)
    assert b.get_size_inches()[1] < a.get_size_inches()[1]
    with pytest.raises(EcgLensError, match="rhythm lead"):
        plot_ecg_paper(_ecg()[:6], FS, LEADS[:6], rhythm_lead="V5")
    with pytest.raises(EcgLensError, match="lead names"):
        plot_ecg_paper(_ecg(), FS, LEADS[:11])
