"""ecglens.plot.explain_beats / explain12: explanation figures a reader of ECGs can check.

Beat figures on the committed demo record 213 (the beat in mV with its neighbours, the model's
input beside it, titles); 12-lead figures with synthetic per-lead (12, T) and time-only (T,)
maps on a synthetic record, and on a PTB-XL record when ECGLENS_DATA is set.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.collections import LineCollection, QuadMesh
from matplotlib.figure import Figure

from ecglens.data.ptbxl import LEADS_12
from ecglens.errors import EcgLensError
from ecglens.inputs.beats import BeatConfig
from ecglens.plot.explain12 import (
    lead_shares,
    most_relevant_leads,
    plot_12lead_relevance,
    segment_relevance,
    trace_colour_limit,
)
from ecglens.plot.explain_beats import (
    CONTEXT_S,
    beat_title,
    format_clock,
    input_axis_label,
    plot_beat_explanation,
    plot_beats_with_relevance,
)
from ecglens.predict.twelve_lead import Prediction12

DEMO_DIR = Path(__file__).resolve().parents[2] / "data" / "mitdb-demo"


def _render(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=30)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def loaded_inter():
    from ecglens.models.registry import load_model

    torch.set_num_threads(1)
    return load_model("ecglens-mitdb-inter")


@pytest.fixture(scope="module")
def pred213(loaded_inter):
    """The shipped inter-patient model's predictions on demo record 213 (with annotations)."""
    from ecglens.io import read_record
    from ecglens.predict import classify_record

    return classify_record(read_record(DEMO_DIR / "213"), loaded_inter)


def _first_non_n(pred) -> int:
    """The first beat not classed N with a whole context window of recording before it."""
    away = pred.sample >= 2 * CONTEXT_S * pred.fs
    return int(np.flatnonzero((np.array(pred.labels) != "N") & away)[0])


def test_format_clock():
    assert format_clock(6.76) == "0:00:06.8"
    assert format_clock(3725.04) == "1:02:05.0"
    assert format_clock(59.96) == "0:01:00.0"  # rounds into the next minute


def test_beat_title_names_record_beat_time_class_reference_and_uncertainty(pred213):
    k = _first_non_n(pred213)
    title = beat_title(pred213, k, "entropy of the probabilities")
    first, second = title.split("\n")
    clock = format_clock(pred213.sample[k] / pred213.fs)
    assert first.startswith(f"Record 213, beat {k} at {clock}")
    assert "(lead MLII" in first
    if pred213.cluster is not None:  # models with record context features name the cluster
        assert f"shape cluster {int(pred213.cluster[k])})" in first
    label = pred213.labels[k]
    p = float(pred213.probabilities[k].max())
    assert f"predicted {label} (p = {p:.3f})" in second
    ref = int(pred213.reference[k])
    assert (f"reference {pred213.classes[ref]}" if ref >= 0 else "no reference beat") in second
    u = float(pred213.uncertainty[k])
    assert f"uncertainty {u:.3f} (entropy of the probabilities" in second


def test_beat_figure_draws_the_recording_in_mv_with_neighbours_and_the_input(pred213):
    k = _first_non_n(pred213)
    config = BeatConfig(representation="window", window_fs=180.0, normalize="median-beat")
    rng = np.random.default_rng(0)
    maps = rng.random((1, config.input_length)).astype(np.float32)
    fig = plot_beats_with_relevance(pred213, [k], maps, config, method="grad-cam")
    recorded, model_input, cbar = fig.axes
    # the recording, as read (mV), +-1.5 s around the R peak
    r, fs = int(pred213.sample[k]), pred213.fs
    half = int(round(CONTEXT_S * fs))
    line = recorded.get_lines()[-1]
    np.testing.assert_allclose(line.get_ydata(), pred213.signal[r - half : r + half + 1])
    np.testing.assert_allclose(recorded.get_xlim(), (-CONTEXT_S, CONTEXT_S), atol=1.5 / fs)
    assert recorded.get_ylabel() == "Lead MLII (mV)" and "(s)" in recorded.get_xlabel()
    # the neighbours carry their predicted class letters; the explained one is boxed
    letters = [t for t in recorded.texts if t.get_text() in pred213.classes]
    in_view = np.sum(np.abs(pred213.sample - r) <= half)
    assert len(letters) == in_view >= 3
    assert sum(t.get_bbox_patch() is not None for t in letters) == 1
    # the relevance band spans the model's window (-0.25 s to +0.45 s)
    band = next(c for c in recorded.collections if isinstance(c, QuadMesh))
    x_edges = band.get_coordinates()[0, :, 0]
    assert x_edges[0] == pytest.approx(-0.25, abs=1 / 180) and x_edges[-1] == pytest.approx(
        0.45, abs=1 / 180
    )
    # beside it the model's input, labelled with its unit, not clipped
    assert model_input.get_ylabel() == input_axis_label(config)
    assert "median beat" in model_input.get_ylabel() and "ms" in model_input.get_xlabel()
    x = pred213.x[k]
    lo, hi = model_input.get_ylim()
    assert lo < x.min() and hi > x.max()
    assert "Grad-CAM" in cbar.get_ylabel()
    assert recorded.get_title(loc="left") == beat_title(pred213, k)
    assert _render(fig)[:4] == b"\x89PNG"


def test_signed_maps_use_a_diverging_scale_and_several_beats_get_rows(pred213):
    config = BeatConfig(representation="window", window_fs=180.0, normalize="median-beat")
    maps = np.sin(np.linspace(0, 6, config.input_length))[None].repeat(2, 0)
    fig = plot_beats_with_relevance(pred213, [3, 10], maps, config, method="integrated-gradients")
    assert len(fig.axes) == 5  # 2 rows x (recording, input) + colourbar
    band = next(c for c in fig.axes[0].collections if isinstance(c, QuadMesh))
    assert band.get_cmap().name == "RdBu_r" and band.get_clim() == (-1.0, 1.0)
    assert "signed" in fig.axes[-1].get_ylabel()
    assert fig.axes[2].get_title(loc="left").startswith("Record 213, beat 10 at")


def test_beat_figure_validates_its_inputs(pred213):
    config = BeatConfig(representation="window", window_fs=180.0, normalize="median-beat")
    with pytest.raises(EcgLensError, match="out of range"):
        plot_beats_with_relevance(pred213, [10**6], np.zeros((1, 126)), config)
    with pytest.raises(EcgLensError, match="maps must be"):
        plot_beats_with_relevance(pred213, [1, 2], np.zeros((1, 126)), config)


def test_explain_command_figure_with_the_shipped_model(pred213, loaded_inter):
    k = _first_non_n(pred213)
    fig = plot_beat_explanation(pred213, loaded_inter, method="grad-cam", beats=[k])
    title = fig.axes[0].get_title(loc="left")
    assert f"beat {k} at" in title and "predicted " in title and "uncertainty" in title
    assert fig.axes[1].get_ylabel() == input_axis_label(BeatConfig(**loaded_inter.config["beats"]))


def _figure_texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.texts]


def test_a_figure_of_a_model_without_a_faithful_explainer_says_so(
    pred213, loaded_inter, monkeypatch
):
    """A model with no explainer that passed the benchmark's rule (as measured for
    ecglens-mitdb-inter by the first rule): its figure carries the caveat next to the map, in
    red."""
    from ecglens.explain.recommended import NOT_SHOWN, model_explainers, trust_of
    from ecglens.models import measured
    from ecglens.plot.trust import CAVEAT_COLOUR

    default = model_explainers(loaded_inter)[0]  # what the figure draws without --method
    curve = {"fraction": [0.0, 1.0], "deletion": [1.0, 0.0], "insertion": [0.0, 1.0]}
    table = {loaded_inter.name: {"recommended": None, "default": default, "why": "w",
                                 "curves": {default: curve, "random": curve}}}
    monkeypatch.setattr(measured, "_table", lambda: table)
    assert not trust_of(loaded_inter.name, default).shown_faithful
    fig = plot_beat_explanation(pred213, loaded_inter, beats=[_first_non_n(pred213)])
    notes = [t for t in fig.texts if NOT_SHOWN in t.get_text().replace("\n", " ")]
    assert len(notes) == 1 and notes[0].get_color() == CAVEAT_COLOUR
    assert _render(fig)[:4] == b"\x89PNG"


def test_a_figure_of_a_faithful_explainer_says_so_and_12lead_figures_too():
    from ecglens.explain.recommended import Trust

    pred = _prediction12()
    good = Trust("m", "cam", True, True, None, "CAM: shown faithful for this model")
    fig = plot_12lead_relevance(pred, np.linspace(0, 1, 1000), "CAM", trust=good)
    assert "CAM: shown faithful for this model" in _figure_texts(fig)
    bad = Trust("m", "cam", False, False, "c", "CAM: faithfulness not measured for this model")
    fig = plot_12lead_relevance(pred, np.ones((12, 1000)), "CAM", trust=bad)
    assert "CAM: faithfulness not measured for this model" in _figure_texts(fig)
    assert "not measured" not in " ".join(_figure_texts(plot_12lead_relevance(pred, np.ones(1000),
                                                                              "CAM")))


def _prediction12(t: int = 1000, fs: float = 100.0) -> Prediction12:
    rng = np.random.default_rng(1)
    signals = 0.05 * rng.normal(size=(12, t))
    signals[:, ::80] += 1.0  # a beat every 0.8 s
    return Prediction12(
        record="synthetic",
        path=None,
        model="m",
        task="ptbxl-binary",
        outputs=["abnormal"],
        probabilities=np.array([0.8]),
        threshold=0.5,
        fs=fs,
        resampled_from=None,
        lead_names=list(LEADS_12),
        signals=signals,
        x=signals.astype(np.float32),
        cams=np.zeros((2, t)),
        cam_classes=["normal", "abnormal"],
        explained=1,
        duration_s=t / fs,
    )


def test_most_relevant_leads_and_shares():
    rel = np.zeros((12, 100))
    rel[LEADS_12.index("V5"), 10:20] = -1.0  # signed: the magnitude counts
    rel[LEADS_12.index("II"), 50:58] = 1.0
    rel[LEADS_12.index("aVL"), 0:2] = 1.0
    names = list(LEADS_12)
    assert most_relevant_leads(rel, names) == ["V5", "II"]  # II holds 80% of V5's share
    assert most_relevant_leads(rel, names, ratio=0.9) == ["V5"]
    assert most_relevant_leads(np.zeros((12, 10)), names) == []
    shares = lead_shares(rel)
    assert shares.sum() == pytest.approx(1.0) and shares[names.index("V5")] == pytest.approx(0.5)
    means, edges = segment_relevance(rel, fs=100.0, segment_s=0.1)
    assert means.shape == (12, 10) and edges[-1] == pytest.approx(1.0)
    assert means[names.index("V5"), 1] == pytest.approx(1.0)
    assert trace_colour_limit(np.zeros((12, 10))) == 1.0


def test_12lead_per_lead_map_colours_each_lead_and_names_the_most_relevant():
    pred = _prediction12()
    rel = np.abs(np.random.default_rng(2).normal(0.0, 0.02, (12, 1000)))
    v4 = LEADS_12.index("V4")
    rel[v4, 300:500] = 1.0
    fig = plot_12lead_relevance(pred, rel, "Integrated Gradients")
    titles = [t.get_text() for t in fig.texts]
    assert any("per lead; most relevant: V4" in t for t in titles)
    paper, _, heatmap, _ = fig.axes
    # each lead drawn as its own coloured trace (12 leads + the rhythm strip, the most relevant)
    traces = [c for c in paper.collections if isinstance(c, LineCollection) and c.get_array()
              is not None]
    assert len(traces) == 13
    assert [t.get_text() for t in paper.texts].count("V4") == 2
    # the lead-by-segment heatmap: 12 rows x 20 half-second segments, V4 hottest, named
    mesh = next(c for c in heatmap.collections if isinstance(c, QuadMesh))
    values = np.asarray(mesh.get_array()).reshape(12, -1)
    assert values.shape == (12, 20) and np.unravel_index(values.argmax(), values.shape)[0] == v4
    bold = [t.get_text() for t in heatmap.get_yticklabels() if t.get_fontweight() == "bold"]
    assert len(bold) == 1 and bold[0].startswith("V4")
    assert heatmap.get_xlim() == (0.0, 10.0)
    assert _render(fig)[:4] == b"\x89PNG"


def test_12lead_time_only_map_is_one_shared_band():
    pred = _prediction12()
    rel = np.linspace(0.0, 1.0, 500)  # another length: resampled to the record
    fig = plot_12lead_relevance(pred, rel, "CAM")
    assert any("over time only (same for all leads)" in t.get_text() for t in fig.texts)
    assert len(fig.axes) == 2  # the paper and its colourbar: no per-lead heatmap
    with pytest.raises(EcgLensError, match="per lead"):
        plot_12lead_relevance(pred, np.zeros((3, 1000)), "CAM")


def test_12lead_explanation_of_a_ptbxl_record(ptbxl_dir):
    from ecglens.io import read_record
    from ecglens.models.registry import load_model
    from ecglens.plot.explain12 import plot_12lead_explanation
    from ecglens.predict.twelve_lead import classify_12lead

    torch.set_num_threads(1)
    loaded = load_model("ecglens-ptbxl-binary")
    pred = classify_12lead(read_record(ptbxl_dir / "records100/00000/00162_lr"), loaded)
    fig = plot_12lead_explanation(pred, loaded, "cam")
    assert any("over time only" in t.get_text() for t in fig.texts)
    fig = plot_12lead_explanation(pred, loaded, "occlusion")
    title = next(t.get_text() for t in fig.texts if "most relevant" in t.get_text())
    named = title.split("most relevant: ")[1].split(", ")
    assert 1 <= len(named) <= 3 and set(named) <= set(LEADS_12)


def test_12lead_signed_per_lead_map_uses_a_symmetric_diverging_trace_scale():
    from ecglens.plot.explain12 import SIGNED_TRACE_CMAP

    pred = _prediction12()
    rel = np.zeros((12, 1000))
    rel[LEADS_12.index("aVR"), 100:300] = -1.0
    rel[LEADS_12.index("V1"), 600:700] = 0.5
    fig = plot_12lead_relevance(pred, rel, "Occlusion")
    assert any("most relevant: aVR" in t.get_text() for t in fig.texts)
    trace = next(c for c in fig.axes[0].collections
                 if isinstance(c, LineCollection) and c.get_array() is not None)
    low, high = trace.get_clim()
    assert trace.get_cmap().name == SIGNED_TRACE_CMAP and high > 0 and low == -high
