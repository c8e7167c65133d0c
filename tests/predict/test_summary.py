import numpy as np
import pytest

from ecglens.predict.summary import (
    EPISODE_TYPES,
    beat_summary,
    heart_rate,
    hrv,
    twelve_lead_summary,
)

KEYS = {
    "duration_s",
    "analysed_s",
    "heart_rate",
    "hrv",
    "counts",
    "per_hour",
    "episodes",
    "af_burden",
    "intervals",
}


def test_summary_of_a_regular_record_with_runs_and_a_pause():
    times = np.arange(0, 600, 1.0)  # 60 beats/min, 10 minutes
    times = np.concatenate([times[:300], times[300:] + 2.5])  # a 3.5-s pause at 299 s
    labels = np.full(len(times), "N")
    labels[100:103] = "V"  # VT: 3 V beats
    labels[200:204] = "S"  # SVT
    labels[[400, 402, 404, 406]] = "V"  # bigeminy: 4 cycles
    s = beat_summary(times, labels, ["N", "S", "V", "F", "Q"], 603.0, noise=[(500.0, 506.0)])
    assert set(s) >= KEYS
    assert s["analysed_s"] == pytest.approx(597.0)
    assert s["counts"] == {"N": 589, "S": 4, "V": 7, "F": 0, "Q": 0}
    assert s["per_hour"]["V"] == pytest.approx(7 / (597 / 3600), abs=0.1)
    types = [e["type"] for e in s["episodes"]]
    assert set(types) <= set(EPISODE_TYPES)
    assert {"VT", "SVT", "pause", "bigeminy", "noise"} <= set(types)
    pause = next(e for e in s["episodes"] if e["type"] == "pause")
    assert (pause["start_s"], pause["end_s"]) == (299.0, 302.5)
    assert s["af_burden"] == 0.0
    assert len(s["heart_rate"]["per_minute_bpm"]) == 11
    assert s["heart_rate"]["max_bpm"] == pytest.approx(60.0)


def test_heart_rate_leaves_unusable_intervals_out():
    times = np.arange(0, 60, 0.5)  # 120 beats/min
    usable = np.ones(len(times), bool)
    usable[10:20] = False
    hr = heart_rate(times, usable, 60.0)
    assert hr["mean_bpm"] == pytest.approx(120.0)
    assert "per_minute_bpm" not in hr


def test_hrv_of_alternating_intervals():
    rr = np.tile([0.8, 0.9], 50)
    times = np.concatenate([[0], np.cumsum(rr)])
    labels = np.full(len(times), "N")
    ones = np.ones(len(times), bool)
    out = hrv(times, labels, ones, ~ones)
    assert out["rmssd_ms"] == pytest.approx(100.0)
    assert out["sdnn_ms"] == pytest.approx(50.25, abs=0.1)
    assert hrv(times, labels, ones, ones)["n_nn"] == 0  # AF intervals are not NN


def _synthetic_ecg(fs: float, rr_s: float = 1.0, seconds: float = 20.0) -> np.ndarray:
    """Beats with known waves (ms from R): P -200..-100, QRS -40..40, T end 400."""
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros_like(t)
    for r in np.arange(0.5, seconds - 0.6, rr_s):
        d = (t - r) * 1000
        p = (d >= -200) & (d <= -100)
        x[p] += 0.15 * np.sin(np.pi * (d[p] + 200) / 100)
        q = (d >= -40) & (d < -20)
        x[q] -= 0.2 * (d[q] + 40) / 20
        up = (d >= -20) & (d < 0)
        x[up] += -0.2 + 1.2 * (d[up] + 20) / 20
        down = (d >= 0) & (d < 20)
        x[down] += 1.0 - 1.3 * d[down] / 20
        s = (d >= 20) & (d <= 40)
        x[s] += -0.3 + 0.3 * (d[s] - 20) / 20
        tw = (d >= 150) & (d <= 400)
        x[tw] += 0.3 * np.sin(np.pi * (d[tw] - 150) / 250)
    return x


@pytest.mark.parametrize("fs", [100.0, 360.0, 500.0])
def test_intervals_of_known_waves(fs):
    x = _synthetic_ecg(fs)
    times = np.arange(0.5, 19.4, 1.0)
    peaks = np.round(times * fs).astype(int)
    labels = np.full(len(peaks), "N")
    s = beat_summary(times, labels, ["N"], 20.0, clean=x, fs=fs, peaks=peaks)
    iv = s["intervals"]
    assert iv["qrs_ms"] == pytest.approx(80, abs=12)
    assert iv["pr_ms"] == pytest.approx(160, abs=15)
    assert iv["qt_ms"] == pytest.approx(440, abs=15)
    assert iv["qtc_bazett_ms"] == pytest.approx(iv["qt_ms"], abs=1)  # RR = 1 s


def test_twelve_lead_summary_has_the_axis():
    fs = 100.0
    lead = _synthetic_ecg(fs, seconds=10.0)
    names = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    signals = np.stack([lead * (0.5 if n == "I" else 1.0) for n in names])
    s = twelve_lead_summary(signals, fs, names, 10.0)
    assert set(s) >= KEYS
    assert s["heart_rate"]["mean_bpm"] == pytest.approx(60.0, abs=1)
    assert s["intervals"]["axis_deg"] == pytest.approx(np.degrees(np.arctan2(1, 0.5)), abs=3)


def test_a_flat_12_lead_record_has_an_empty_summary():
    names = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    s = twelve_lead_summary(np.zeros((12, 1000)), 100.0, names, 10.0)
    assert s["heart_rate"]["mean_bpm"] is None and s["intervals"] is None
    assert s["counts"] == {"N": 0} and s["episodes"] == []
