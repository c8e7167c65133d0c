import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from ecglens.errors import EcgLensError
from ecglens.models.registry import load_model
from ecglens.plot.images import (
    LEAD_GRID,
    PANEL_COLUMN_EDGES_PX,
    PANEL_ROW_EDGES_PX,
    RHYTHM_STRIP,
    image_relevance,
    most_relevant_panel,
    panel_relevance,
    panels,
    plot_image_explanation,
)
from ecglens.plot.style import close_figure
from ecglens.predict.images import classify_image

CNN = {"architecture": "image-cnn", "kwargs": {"channels": [4, 8]}}
VGG = {"architecture": "vgg16", "kwargs": {"width_mult": 0.05}}


@pytest.fixture
def printout(tmp_path, printout_image):
    return printout_image(tmp_path / "MI(3).png")


def test_panels_tile_the_trace_area():
    found = panels()
    assert [p.name for p in found] == [n for row in LEAD_GRID for n in row] + [RHYTHM_STRIP]
    for p in found:
        assert 0.0 <= p.top < p.bottom <= 1.0 and 0.0 < p.left < p.right < 1.0
    assert found[0].top == 0.0 and found[-1].bottom == 1.0
    assert len(PANEL_ROW_EDGES_PX) == 5 and len(PANEL_COLUMN_EDGES_PX) == 5
    widths = np.diff(PANEL_COLUMN_EDGES_PX)
    np.testing.assert_allclose(widths, 164.0)  # 2.5 s at 25 mm/s


@pytest.mark.parametrize(("row", "col", "name"), [(0, 0, "I"), (1, 2, "V2"), (2, 3, "V6")])
def test_most_relevant_panel_finds_a_hot_spot(row, col, name):
    h, w = 412, 738  # the trace area of a 738 x 524 page
    relevance = np.zeros((h, w))
    y = (PANEL_ROW_EDGES_PX[row] + PANEL_ROW_EDGES_PX[row + 1]) / 2 - 94
    x = (PANEL_COLUMN_EDGES_PX[col] + PANEL_COLUMN_EDGES_PX[col + 1]) / 2
    relevance[int(y) - 10 : int(y) + 10, int(x) - 20 : int(x) + 20] = 1.0
    assert most_relevant_panel(relevance) == name
    scores = panel_relevance(relevance)
    assert scores[name]["share"] == pytest.approx(1.0)
    small = np.asarray(Image.fromarray(relevance.astype(np.float32)).resize((288, 160)))
    assert most_relevant_panel(small) == name


def test_rhythm_strip_and_uncropped_maps():
    page = np.zeros((524, 738))
    page[440:470, 100:700] = 1.0
    assert most_relevant_panel(page, cropped=False) == RHYTHM_STRIP
    with pytest.raises(EcgLensError, match="relevance map"):
        panel_relevance(np.zeros((2, 3, 4)))


def test_relevance_of_fusions(printout, tiny_image_model):
    features = {"members": [CNN, VGG], "num_classes": 4, "mode": "features"}
    fused = [{"architecture": "image-fusion", "kwargs": features}] * 2
    loaded = load_model(tiny_image_model("fused", members=fused))
    pred = classify_image(printout, loaded)
    x = torch.as_tensor(pred.x[None])
    maps = image_relevance(loaded.module, x, pred.index)
    assert maps.shape == (32, 64) and np.isfinite(maps).all()
    layer = image_relevance(loaded.module, x, pred.index, "members.0.members.0.blocks.1.0")
    assert layer.shape == (32, 64)


def test_plot_image_explanation(printout, tiny_image_model):
    loaded = load_model(tiny_image_model("tiny", members=[CNN]))
    pred = classify_image(printout, loaded)
    fig = plot_image_explanation(pred, loaded)
    assert isinstance(fig, Figure)
    title = fig.axes[0].get_title()
    assert "MI(3).png" in title and pred.label in title and "most relevant panel" in title
    close_figure(fig)
    with pytest.raises(EcgLensError, match="--beat applies to beat models"):
        plot_image_explanation(pred, loaded, beats=[3])
    with pytest.raises(EcgLensError, match="grad-cam"):
        plot_image_explanation(pred, loaded, method="cam")
    close_figure(plot_image_explanation(pred, loaded, method="grad-cam", beats=[]))


@pytest.mark.slow
def test_panel_geometry_on_the_printouts(ecg_images_dir):
    """The separators and calibration baselines the panel layout is built on, re-measured
    on every file of the dataset (see ecglens.plot.images)."""
    from ecglens.data.images import list_images
    from ecglens.inputs.images import read_printout

    separators_found, baselines_found, n = 0, 0, 0
    for path, _ in list_images(ecg_images_dir):
        gray = read_printout(path)[0]
        if gray.shape != (524, 738):
            continue
        n += 1
        dark = gray[94:506] < 0.6
        run = best = np.zeros(dark.shape[1], dtype=np.int64)
        for row in dark:
            run = (run + 1) * row
            best = np.maximum(best, run)
        columns = set(np.flatnonzero(best > 150).tolist())
        separators_found += all({int(x), int(x) + 1} & columns for x in (214, 378, 542))
        rows = set(np.flatnonzero((gray[:, 20:55] < 0.6).sum(1) >= 8).tolist())
        baselines_found += {154, 254, 355, 455} <= rows
    assert n > 900
    assert separators_found >= 0.99 * n and baselines_found >= 0.99 * n
