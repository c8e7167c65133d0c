"""ecglens.plot: each figure builds headless with the expected axes and artists."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure

from ecglens.plot import (
    CLASS_COLORS,
    class_color,
    figure_to_base64_png,
    normalize_attribution,
    plot_beat_attribution,
    plot_beat_grid,
    plot_class_counts,
    plot_confusion_matrix,
    plot_record_strip,
    plot_training_curves,
    save_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FS = 360.0


def _beat(n: int = 180, r: int = 64) -> np.ndarray:
    x = np.arange(n)
    return 1.2 * np.exp(-(((x - r) / 4.0) ** 2)) + 0.25 * np.exp(-(((x - r - 90) / 15.0) ** 2))


def _render(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=30)
    return buffer.getvalue()


def test_class_colors_cover_aami_and_fall_back_stably():
    assert set("NSVFQ") <= set(CLASS_COLORS)
    assert len({CLASS_COLORS[c] for c in "NSVFQ"}) == 5
    assert class_color("V") == CLASS_COLORS["V"]
    other = class_color("AFIB")
    assert other == class_color("AFIB")
    assert other.startswith("#") and len(other) == 7


def test_normalize_attribution():
    unsigned = normalize_attribution(np.array([0.0, 2.0, 4.0, np.nan]))
    np.testing.assert_allclose(unsigned, [0.0, 0.5, 1.0, 0.0])
    signed = normalize_attribution(np.array([-2.0, 1.0]))
    np.testing.assert_allclose(signed, [-1.0, 0.5])
    np.testing.assert_array_equal(normalize_attribution(np.zeros(4)), np.zeros(4))


def test_beat_attribution_has_relevance_strip_colourbar_and_probabilities():
    beat = _beat()
    attribution = np.exp(-(((np.arange(beat.size) - 70) / 10.0) ** 2))
    fig = plot_beat_attribution(
        beat, attribution, FS, label="V", probabilities={"N": 0.1, "V": 0.9}, r_index=64
    )
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    ax, cbar_ax = fig.axes
    meshes = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 1
    assert meshes[0].get_array().size == beat.size
    assert meshes[0].norm.vmin == 0.0
    assert "relevance" in cbar_ax.get_ylabel()
    times = ax.lines[0].get_xdata()
    assert times[64] == pytest.approx(0.0)
    assert times[1] - times[0] == pytest.approx(1000.0 / FS)
    assert "ms" in ax.get_xlabel() and "mV" in ax.get_ylabel()
    box = "\n".join(t.get_text() for t in ax.texts)
    assert "V" in box and "90.0%" in box
    assert _render(fig).startswith(PNG_MAGIC)


def test_beat_attribution_signed_uses_symmetric_scale():
    beat = _beat()
    fig = plot_beat_attribution(beat, np.linspace(-1, 2, beat.size), FS)
    mesh = next(c for c in fig.axes[0].collections if isinstance(c, QuadMesh))
    assert mesh.norm.vmin == -1.0 and mesh.norm.vmax == 1.0


def test_beat_attribution_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="does not match"):
        plot_beat_attribution(_beat(), np.ones(10), FS)


def test_beat_grid_one_panel_per_beat_plus_shared_colourbar():
    beats = np.stack([_beat() for _ in range(5)])
    attributions = np.abs(np.random.default_rng(0).standard_normal(beats.shape))
    fig = plot_beat_grid(beats, attributions, list("NSVFQ"), FS, ncols=3, r_index=64)
    assert len(fig.axes) == 6
    titles = [ax.get_title(loc="left") for ax in fig.axes[:5]]
    assert titles == [f"Predicted class {c}" for c in "NSVFQ"]
    v_title = next(
        t
        for t in fig.axes[2].get_children()
        if getattr(t, "get_text", None) and t.get_text() == "Predicted class V"
    )
    assert v_title.get_color() == CLASS_COLORS["V"]


def _recording(seconds: float = 60.0):
    n = int(seconds * FS)
    signal = 0.01 * np.sin(np.arange(n) / 50.0)
    peaks = np.arange(200, n - 200, int(0.8 * FS))
    labels = ["V" if i % 5 == 2 else "N" for i in range(peaks.size)]
    return signal, peaks, labels


def test_record_strip_draws_only_the_window_and_marks_mismatches():
    signal, peaks, labels = _recording()
    reference = list(labels)
    in_window = np.flatnonzero((peaks >= 5 * FS) & (peaks < 15 * FS))
    reference[in_window[0]] = "S" if labels[in_window[0]] != "S" else "N"
    fig = plot_record_strip(signal, FS, peaks, labels, 5.0, 10.0, reference_labels=reference)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    trace = ax.lines[0]
    assert trace.get_xdata().size == int(10 * FS)
    assert trace.get_xdata()[0] == pytest.approx(5.0)
    letters = [t.get_text() for t in ax.texts]
    assert len(letters) == in_window.size + 1
    assert reference[in_window[0]] in letters
    crosses = [line for line in ax.lines if line.get_marker() == "x"]
    assert len(crosses) == 1
    assert "1 disagree" in ax.get_title(loc="left")
    assert ax.get_xlabel() == "Time (s)" and "mV" in ax.get_ylabel()


def test_record_strip_validates_inputs():
    signal, peaks, labels = _recording(20.0)
    with pytest.raises(ValueError, match="labels"):
        plot_record_strip(signal, FS, peaks, labels[:-1])
    with pytest.raises(ValueError, match="outside"):
        plot_record_strip(signal, FS, peaks, labels, start_s=100.0)


def test_confusion_matrix_annotates_every_cell():
    cm = np.array([[50, 2, 0], [3, 10, 1], [0, 0, 0]])
    fig = plot_confusion_matrix(cm, ["N", "S", "V"])
    assert len(fig.axes) == 2
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 9
    assert texts[0] == "96.2%\n(50)"
    assert texts[-1] == "-"
    counts = plot_confusion_matrix(cm, ["N", "S", "V"], normalize=False, title="Counts")
    assert [t.get_text() for t in counts.axes[0].texts][0] == "50"
    assert counts.axes[0].get_title(loc="left") == "Counts"
    with pytest.raises(ValueError):
        plot_confusion_matrix(cm, ["N", "S"])


def test_training_curves_panels():
    history = [
        {
            "epoch": e,
            "train_loss": 1 / e,
            "val_loss": 1.1 / e,
            "val_macro_f1": 0.5 + 0.05 * e,
            "val_accuracy": 0.9,
            "lr": 1e-3 / e,
        }
        for e in range(1, 6)
    ]
    fig = plot_training_curves(history)
    assert len(fig.axes) == 3
    loss_ax, metric_ax, lr_ax = fig.axes
    assert {line.get_label() for line in loss_ax.lines} >= {"train loss", "val loss"}
    assert {line.get_label() for line in metric_ax.lines} >= {"val macro f1", "val accuracy"}
    assert lr_ax.get_ylabel() == "lr"

    only_losses = [{"train_loss": 1.0}, {"train_loss": 0.5, "val_loss": None}]
    assert len(plot_training_curves(only_losses).axes) == 1
    with pytest.raises(ValueError):
        plot_training_curves([])


def test_class_counts_one_bar_per_class_in_class_colours():
    fig = plot_class_counts({"N": 900, "S": 30, "V": 70}, log=True)
    assert len(fig.axes) == 1
    bars = fig.axes[0].patches
    assert len(bars) == 3
    assert bars[2].get_facecolor()[:3] == pytest.approx(
        tuple(int(CLASS_COLORS["V"][i : i + 2], 16) / 255 for i in (1, 3, 5))
    )
    assert fig.axes[0].get_yscale() == "log"


def test_save_figure_writes_png_atomically(tmp_path):
    fig = plot_class_counts({"N": 5, "V": 1})
    out = save_figure(fig, tmp_path / "sub" / "counts.png", dpi=40)
    assert out == tmp_path / "sub" / "counts.png"
    assert out.read_bytes().startswith(PNG_MAGIC)
    svg = save_figure(fig, tmp_path / "sub" / "counts.svg")
    assert b"<svg" in svg.read_bytes()[:500]
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["counts.png", "counts.svg"]
    with pytest.raises(ValueError, match="format"):
        save_figure(fig, tmp_path / "counts.jpg2")
    assert not (tmp_path / "counts.jpg2").exists()


def test_figure_to_base64_png():
    encoded = figure_to_base64_png(plot_class_counts({"N": 1}), dpi=30)
    assert base64.b64decode(encoded).startswith(PNG_MAGIC)
