import numpy as np
import torch

from ecglens.io import read_record
from ecglens.models import create_model
from ecglens.predict.beats import beat_probabilities, detect_beats


def test_detect_beats_on_demo_record(demo_record):
    record = read_record(demo_record)
    signal, lead, peaks = detect_beats(record)
    assert lead == "MLII" and len(peaks) > 3000
    assert np.all(np.diff(peaks) > 0)


def test_probabilities_are_calibrated_by_the_temperature():
    torch.manual_seed(0)
    model = create_model("kachuee").eval()
    x = np.random.default_rng(0).random((16, 187)).astype(np.float32)
    p1, u1 = beat_probabilities(model, (x,), temperature=1.0)
    p2, u2 = beat_probabilities(model, (x,), temperature=3.0)
    np.testing.assert_allclose(p1.sum(1), 1, atol=1e-5)
    assert np.all(p1.argmax(1) == p2.argmax(1))
    assert np.all(u2 >= u1 - 1e-6)  # a higher temperature flattens: more uncertain


def test_mc_dropout_uncertainty_on_head_only_models():
    torch.manual_seed(0)
    model = create_model(
        "cnn-lstm", n_beats=3, n_rr_features=4, channels=[8, 8, 8], lstm_hidden=8, context_hidden=8
    ).eval()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3, 126)).astype(np.float32)
    rr = rng.random((12, 4)).astype(np.float32)
    probs, uncertainty = beat_probabilities(model, (x, rr), mc_samples=8)
    deterministic, _ = beat_probabilities(model, (x, rr), mc_samples=0)
    np.testing.assert_allclose(probs, deterministic, atol=1e-6)  # labels do not depend on MC
    assert uncertainty.shape == (12,) and np.all((uncertainty >= 0) & (uncertainty <= 1))


def test_explain_context_model_gives_one_map_per_beat(demo_record, tiny_beat_model):
    from dataclasses import asdict

    from ecglens.explain import explain_beats
    from ecglens.inputs.beats import BeatConfig
    from ecglens.models import load_model
    from ecglens.predict import classify_record

    beats = BeatConfig(representation="window", window_fs=180, normalize="record", context=3)
    kwargs = {
        "n_classes": 5,
        "n_beats": 3,
        "n_rr_features": 4,
        "channels": [8, 8, 8],
        "lstm_hidden": 8,
        "context_hidden": 8,
    }
    loaded = load_model(
        tiny_beat_model(
            "cnn-lstm",
            kwargs,
            inputs=["x", "rr_ratios"],
            beats=asdict(beats),
            mc_samples=4,
        )
    )
    pred = classify_record(read_record(demo_record), loaded)
    assert pred.x.shape[1:] == (3, beats.input_length) and pred.uncertainty is not None
    maps = explain_beats(pred, loaded, [0, 5, 9])
    assert maps.shape == (3, beats.input_length)


def test_beats_in_unusable_signal_are_flagged_and_not_counted(nstdb_dir):
    from ecglens.models import load_model
    from ecglens.predict import classify_record

    record = read_record(nstdb_dir / "118e06")
    pred = classify_record(record, load_model("kachuee-mitdb-inter"), with_reference=False)
    d = pred.to_dict()
    quality = d["signal_quality"]
    assert 0.5 < quality["usable_fraction"] < 0.9 and quality["unusable_intervals_s"]
    assert d["n_artifact"] == sum(b["artifact"] for b in d["beats"]) > 100
    assert sum(d["class_counts"].values()) == d["n_beats"] - d["n_artifact"]
    first = quality["unusable_intervals_s"][0][0]
    assert first >= 300  # the noise starts at minute 5
    assert not any(b["artifact"] for b in d["beats"] if b["time_s"] < 290)


def test_context_model_classifies_and_explains_a_record(demo_record, tiny_beat_model):
    """A model on the ``context`` RR option (record features cut at inference)."""
    from dataclasses import asdict

    from ecglens.explain import explain_beats
    from ecglens.inputs.beats import RR_OPTIONS, RR_WIDTHS, BeatConfig
    from ecglens.models import load_model
    from ecglens.predict import classify_record

    beats = BeatConfig(
        representation="window", window_fs=180, normalize="median-beat", record_features=True
    )
    kwargs = {"n_classes": 5, "input_length": 126, "channels": 4, "n_blocks": 2}
    kwargs["n_rr_features"] = RR_WIDTHS["context"]
    loaded = load_model(
        tiny_beat_model(
            "kachuee", kwargs, inputs=["x", *RR_OPTIONS["context"]], beats=asdict(beats)
        )
    )
    pred = classify_record(read_record(demo_record), loaded)
    assert pred.rr.shape == (len(pred.sample), 13 + RR_WIDTHS["context"] - 6)
    np.testing.assert_allclose(pred.probabilities.sum(1), 1, atol=1e-5)
    maps = explain_beats(pred, loaded, [0, 5])
    assert maps.shape == (2, beats.input_length)
