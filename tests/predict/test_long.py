"""Long records classified in windows: every sample in one window's core, no beat lost or
doubled at the seams, the streamed JSON equal to the windows, memory bounded."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
import torch

from ecglens.errors import EcgLensError
from ecglens.io import read_record
from ecglens.models import create_model, load_model
from ecglens.models.registry import LoadedModel
from ecglens.predict import classify_record
from ecglens.predict import long as long_path
from ecglens.predict.long import (
    OVERLAP_S,
    classify_long,
    long_record_dict_stream,
    window_spans,
)
from ecglens.signal.peaks import ecg_peaks
from ecglens.signal.process import process_lead

FS = 100.0
CLASSES = ["N", "S", "V", "F", "Q"]


def synthetic_ecg(duration_s: float, fs: float = FS, seed: int = 0) -> np.ndarray:
    """(n, 2) mV rounded to 1 uV: P-QRS-T beats at about 75 bpm (4% RR jitter), every 25th
    beat a wide premature one followed by a pause, baseline wander and noise."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    n_beats = int(duration_s / 0.8) + 2
    rr = 0.8 * (1 + 0.04 * rng.standard_normal(n_beats))
    pvc = np.arange(n_beats) % 25 == 24
    rr[pvc] *= 0.65  # the interval before the premature beat
    rr[np.roll(pvc, 1)] *= 1.35  # the pause after it
    times = 0.5 + np.cumsum(rr)
    times = times[times < duration_s - 1]
    pvc = pvc[: len(times)]
    offsets = np.arange(-round(0.4 * fs), round(0.6 * fs))
    at = np.round(times * fs).astype(np.int64)[:, None] + offsets
    dt = at / fs - times[:, None]
    normal = ((-0.16, 0.025, 0.15), (0.0, 0.012, 1.1), (0.03, 0.01, -0.25), (0.28, 0.05, 0.3))
    wide = ((0.0, 0.04, -1.0), (0.12, 0.06, 0.5))
    wave = np.zeros(dt.shape)
    for is_pvc, shape in ((False, normal), (True, wide)):
        rows = pvc == is_pvc
        for centre, width, height in shape:
            wave[rows] += height * np.exp(-0.5 * ((dt[rows] - centre) / width) ** 2)
    x = np.zeros(n)
    inside = (at >= 0) & (at < n)
    np.add.at(x, at[inside], wave[inside])
    t = np.arange(n) / fs
    x += 0.15 * np.sin(2 * np.pi * 0.17 * t)
    both = np.column_stack([x, -0.5 * x]) + rng.normal(0, 0.01, (n, 2))
    return np.round(both, 3)


def tiny_model(normalize: str = "median-beat") -> LoadedModel:
    """An untrained 2-block Kachuee net on 0.7-s beats at 180 Hz with rhythm RR ratios: the
    inputs of ``ecglens-mitdb-inter`` at a fraction of its cost."""
    torch.manual_seed(0)
    module = create_model(
        "kachuee", n_classes=5, input_length=126, channels=4, n_blocks=2, n_rr_features=6
    ).eval()
    beats = {"representation": "window", "window_fs": 180.0, "before_s": 0.25,
             "after_s": 0.45, "context": 1, "normalize": normalize}  # fmt: skip
    config = {"architecture": "kachuee", "task": "beats", "classes": CLASSES,
              "inputs": ["x", "rr_rhythm"], "beats": beats}  # fmt: skip
    return LoadedModel(name="tiny", module=module, config=config)


@pytest.fixture(scope="module")
def two_hours(tmp_path_factory):
    """A 2-hour two-lead record at 100 Hz as NPY, its lead 0 and its path."""
    values = synthetic_ecg(7200.0)
    path = tmp_path_factory.mktemp("long") / "holter.npy"
    np.save(path, values)
    return path, values


def samples_of(windows) -> np.ndarray:
    return np.concatenate([w.predictions.sample for w in windows])


@pytest.mark.parametrize(
    ("n", "fs", "window_s"),
    [(720_000, 100.0, 600.0), (720_000, 100.0, 1800.0), (10_000, 100.0, 1800.0),
     (21_700_000, 250.0, 1800.0), (123_457, 257.3, 120.0), (90_000 * 4 + 29_999, 100.0, 900.0)],
)  # fmt: skip
def test_window_cores_cover_every_sample_once(n, fs, window_s):
    spans = window_spans(n, fs, window_s)
    starts, stops = np.array(spans).T
    assert starts[0] == 0 and stops[-1] == n
    np.testing.assert_array_equal(starts[1:], stops[:-1])  # contiguous: each sample once
    step = stops[0] - starts[0]
    assert np.all(stops - starts <= 1.5 * step)  # the last window takes a short rest
    grid = round(30.0 * fs)
    assert np.all(starts % grid == 0)  # on the record's 6-s and 10-s grids


def test_seams_lose_and_double_no_beat(two_hours):
    """Twelve 10-minute windows give the beats the detector finds on the whole 2-hour lead:
    none lost or counted twice at the 11 seams."""
    path, values = two_hours
    windows = list(classify_long(path, tiny_model(), fs=FS, window_s=600.0))
    assert len(windows) == 12
    got, whole = samples_of(windows), ecg_peaks(values[:, 0], FS)
    assert np.all(np.diff(got) > 0)
    np.testing.assert_array_equal(got, whole)
    for w in windows:  # each window keeps its own core's beats (and labels them)
        s = w.predictions.sample
        assert np.all((s >= w.start) & (s < w.stop))
        assert w.predictions.probabilities.shape == (len(s), 5)


@pytest.mark.parametrize(("before", "after"), [(-1, 1), (1, -1), (0, -1), (-3, -3), (2, 2)])
def test_seam_rule_keeps_a_beat_two_windows_place_apart_once(tmp_path, monkeypatch, before, after):
    """The two windows of a seam place one beat ``before`` / ``after`` samples from it (on
    either side, or both outside their own core): it is kept once."""
    seam = 60_000  # the seam of two 10-minute windows at 100 Hz
    beats = np.arange(500, 120_000, 80)
    beats = beats[np.abs(beats - seam) > 100]
    path = tmp_path / "ramp.npy"
    np.save(path, np.arange(120_000, dtype=np.float64))  # sample i holds i: windows know where

    def process(signal, fs):
        offset = int(signal[0])
        found = np.sort(np.append(beats, seam + (before if offset == 0 else after)))
        inside = found[(found >= offset) & (found < offset + len(signal))]
        return process_lead(signal, fs, inside - offset)

    monkeypatch.setattr(long_path, "_process", process)
    got = samples_of(classify_long(path, tiny_model(), fs=FS, window_s=600.0))
    assert len(got[np.abs(got - seam) <= 5]) == 1
    np.testing.assert_array_equal(got[np.abs(got - seam) > 5], beats)


def test_one_window_equals_classify_record(tmp_path):
    """A record of one window (20 minutes) gives exactly what the in-memory path gives."""
    path = tmp_path / "short.npy"
    np.save(path, synthetic_ecg(1200.0, seed=1))
    record = read_record(path, fs=FS)
    for name in ("kachuee-mitdb-inter", "ecglens-mitdb-inter"):
        loaded = load_model(name)
        (window,) = classify_long(path, loaded, fs=FS)
        got, want = window.predictions.to_dict(), classify_record(record, loaded).to_dict()
        assert got.pop("summary") is None  # a long record's summary comes with its totals
        assert want.pop("summary")["counts"] == got["class_counts"]
        assert got == {**want, "path": str(path)}


def test_formats_give_the_same_beats(tmp_path, two_hours):
    """NPY, CSV (header row, time column) and WFDB (16 bits, 1 uV steps) of one hour."""
    import wfdb

    values = two_hours[1][:360_000]
    np.save(tmp_path / "h.npy", values)
    with (tmp_path / "h.csv").open("w") as f:
        f.write("time,ECG1,ECG2\n")
        f.writelines(f"{i / FS:.2f},{a:.3f},{b:.3f}\n" for i, (a, b) in enumerate(values))
    wfdb.wrsamp(
        "h", fs=FS, units=["mV", "mV"], sig_name=["ECG1", "ECG2"], p_signal=values,
        fmt=["16", "16"], adc_gain=[1000.0, 1000.0], baseline=[0, 0], write_dir=str(tmp_path),
    )  # fmt: skip
    model = tiny_model()
    results = {}
    for name, fs in (("h.npy", FS), ("h.csv", FS), ("h", None)):
        text = "".join(long_record_dict_stream(tmp_path / name, model, fs=fs, window_s=900.0))
        results[name] = json.loads(text)
    assert results["h.csv"]["warnings"] == [
        "column 'time' rises at a constant step (a clock at 100 Hz), not an ECG lead: left out"
    ]
    assert results["h"]["lead"] == "ECG1" and results["h.npy"]["lead"] == "lead0"
    first = results["h.npy"]
    for other in results.values():
        assert other["beats"] == first["beats"]
        assert other["signal_quality"] == first["signal_quality"]


def test_streamed_json_parses_and_equals_the_windows(two_hours):
    path, _ = two_hours
    model = tiny_model()
    options = {"fs": FS, "window_s": 900.0, "review_threshold": 0.5}
    windows = list(classify_long(path, model, **options))
    pieces = list(long_record_dict_stream(path, model, extra={"source": "test"}, **options))
    assert len(pieces) == len(windows) + 2  # head, one piece per window, totals
    out = json.loads("".join(pieces))
    assert next(iter(out)) == "record"
    reference = windows[0].predictions.to_dict()
    assert set(reference) - {"path"} <= set(out)
    assert out["beats"] == [b for w in windows for b in w.predictions.to_dict()["beats"]]
    assert out["n_beats"] == len(out["beats"]) == sum(len(w.predictions.sample) for w in windows)
    counts = {c: sum(w.predictions.class_counts()[c] for w in windows) for c in CLASSES}
    assert out["class_counts"] == counts
    assert out["n_review"] == sum(b["review"] for b in out["beats"])
    assert out["n_artifact"] == sum(b["artifact"] for b in out["beats"])
    assert out["windows"] == {"window_s": 900.0, "overlap_s": OVERLAP_S, "n_windows": 8}
    assert out["source"] == "test" and out["warnings"] == []
    quality = out["signal_quality"]
    assert quality["usable_fraction"] == 1.0 and quality["unusable_intervals_s"] == []


def test_a_flat_stretch_is_unusable_not_an_error(tmp_path):
    """A lead off for the last 40 minutes: two windows and their overlap wholly flat (under
    0.02 mV, which the filters would refuse or turn into noise the detector takes for beats)."""
    values = synthetic_ecg(3600.0, seed=2)
    values[1200 * 100 :, 0] = 0.25 + np.tile([0.0, 0.01], 120_000)
    path = tmp_path / "off.npy"
    np.save(path, values)
    out = json.loads("".join(long_record_dict_stream(path, tiny_model(), fs=FS, window_s=600.0)))
    assert out["n_beats"] > 1400 and all(b["time_s"] < 1201 for b in out["beats"])
    assert [b["artifact"] for b in out["beats"] if b["time_s"] > 1200] == [True]  # the edge
    assert out["signal_quality"]["unusable_intervals_s"][-1] == [1200.0, 3600.0]
    assert out["signal_quality"]["usable_fraction"] == pytest.approx(1 / 3, abs=0.01)


def test_checks_fail_before_the_first_window(tmp_path, two_hours):
    path, _ = two_hours
    with pytest.raises(EcgLensError, match="missing.npy: file not found"):
        classify_long(tmp_path / "missing.npy", tiny_model(), fs=FS)
    with pytest.raises(EcgLensError, match="holter.npy: no lead 'V1'"):
        long_record_dict_stream(path, tiny_model(), fs=FS, lead="V1")
    with pytest.raises(EcgLensError, match="holter.npy: --fs 40 Hz is outside 50"):
        classify_long(path, tiny_model(), fs=40.0)
    with pytest.raises(EcgLensError, match="window must be at least 60 s"):
        classify_long(path, tiny_model(), fs=FS, window_s=10.0)
    with pytest.raises(EcgLensError, match="review-threshold"):
        classify_long(path, tiny_model(), fs=FS, review_threshold=2.0)
    config = {"architecture": "cam-cnn", "task": "ptbxl-binary", "classes": ["normal", "abnormal"]}
    twelve = LoadedModel(name="x12", module=torch.nn.Identity(), config=config)
    with pytest.raises(EcgLensError, match="x12.*not run on long records"):
        classify_long(path, twelve, fs=FS)


def test_an_error_in_the_samples_comes_with_its_window(tmp_path, two_hours):
    values = two_hours[1].copy()
    values[5000 * 100, 0] = np.nan  # in the third 30-minute window
    path = tmp_path / "gap.npy"
    np.save(path, values)
    windows = classify_long(path, tiny_model(), fs=FS)
    assert [next(windows).index, next(windows).index] == [0, 1]
    with pytest.raises(EcgLensError, match=r"gap.npy: 1 samples are NaN .* at 5000.000 s"):
        next(windows)


def test_progress_is_reported_per_window(two_hours):
    calls = []
    windows = classify_long(
        two_hours[0], tiny_model(), fs=FS, window_s=1800.0, progress=lambda *a: calls.append(a)
    )
    assert [w.index for w in windows] == [0, 1, 2, 3]
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


@pytest.mark.slow
def test_a_day_in_bounded_memory(tmp_path):
    """24 hours at 100 Hz, two leads (138 MB in float64): the memory traced while it is
    classified and streamed stays at the size of a few windows."""
    day = np.tile(synthetic_ecg(1800.0, seed=3), (48, 1))
    path = tmp_path / "day.npy"
    np.save(path, day)
    lead_bytes = day.shape[0] * 8
    del day
    tracemalloc.start()
    n_chars = sum(len(p) for p in long_record_dict_stream(path, tiny_model(), fs=FS))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n_chars > 10_000_000  # about 108,000 beats
    assert peak < lead_bytes / 3  # 19 MB measured (numpy; torch allocates untraced)


def test_a_long_record_has_the_summary_of_all_its_windows():
    """A record classified in windows: the summary over its windows agrees with its counts."""
    from pathlib import Path

    from ecglens.predict import run

    demo = Path(__file__).resolve().parents[2] / "data" / "mitdb-demo" / "213"
    prediction = run(demo, load_model("ecglens-mitdb-inter"), long_record_s=60)
    assert prediction.streamed
    d = prediction.to_dict()
    summary = d["summary"]
    assert summary["counts"] == d["class_counts"]
    assert 100 < summary["heart_rate"]["mean_bpm"] < 115  # record 213: about 108 beats/min
    assert len(summary["heart_rate"]["per_minute_bpm"]) == 31
    assert summary["intervals"]["qrs_ms"] is not None
    assert all(b["in_af"] is False for b in d["beats"][:10])
