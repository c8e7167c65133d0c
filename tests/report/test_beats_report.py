"""ecglens.report.beats: the record strips show different places, each saying why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ecglens.predict.beats import BeatPredictions
from ecglens.report.beats import STRIP_S, choose_strips

DEMO_DIR = Path(__file__).resolve().parents[2] / "data" / "mitdb-demo"


def _synthetic(labels: list[str], uncertainty: list[float], fs: float = 100.0) -> BeatPredictions:
    classes = ["N", "S", "V", "F", "Q"]
    n = len(labels)
    probs = np.full((n, 5), 0.01)
    for i, c in enumerate(labels):
        probs[i, classes.index(c)] = 0.96
    return BeatPredictions(
        record="syn",
        path=None,
        fs=fs,
        lead="II",
        classes=classes,
        sample=(np.arange(n) * fs).astype(np.int64) + 50,  # one beat a second
        probabilities=probs,
        x=np.zeros((n, 10), dtype=np.float32),
        rr=np.zeros((n, 13), dtype=np.float32),
        signal=np.zeros(int(n * fs) + 100),
        model="m",
        uncertainty=np.asarray(uncertainty, dtype=np.float32),
    )


def test_strips_first_non_n_then_most_uncertain_outside_it():
    labels = ["N"] * 60
    labels[20] = "V"
    uncertainty = [0.01] * 60
    uncertainty[22] = 0.9  # inside the first strip: not shown twice
    uncertainty[45] = 0.5
    first, second = choose_strips(_synthetic(labels, uncertainty))
    assert first.beat == 20 and first.reason.startswith("First non-N beat: beat 20, predicted V")
    assert first.start_s <= 20.5 < first.start_s + STRIP_S
    assert second.beat == 45 and "outside the strip above" in second.reason
    assert "uncertainty 0.500" in second.reason
    assert abs(second.start_s - first.start_s) >= STRIP_S  # different places


def test_strips_without_non_n_beats_start_at_the_beginning():
    uncertainty = [0.01] * 40
    uncertainty[30] = 0.7
    first, second = choose_strips(_synthetic(["N"] * 40, uncertainty))
    assert first.beat is None and first.start_s == 0.0
    assert "every beat was classed N" in first.reason
    assert second.beat == 30 and second.reason.startswith("Most uncertain beat: beat 30")


@pytest.mark.parametrize("record", ["213", "232"])
def test_demo_record_strips_differ(record):
    from ecglens.io import read_record
    from ecglens.models.registry import load_model
    from ecglens.predict import classify_record
    from ecglens.report.beats import record_section

    torch.set_num_threads(1)
    loaded = load_model("ecglens-mitdb-inter")
    pred = classify_record(read_record(DEMO_DIR / record), loaded)
    first, second = choose_strips(pred)
    labels = np.array(pred.labels)
    assert first.beat == int(np.flatnonzero(labels != "N")[0])
    assert second.beat is not None and abs(second.start_s - first.start_s) >= STRIP_S
    section = record_section(pred, loaded)
    strips = [(c, f) for c, f in section.figures if "beat" in c and "coloured by predicted" in c]
    assert [c.split(";")[0] for c, _ in strips] == [first.reason, second.reason]
    limits = [f.axes[0].get_xlim() for _, f in strips]
    assert limits[0] != limits[1]
    assert strips[1][1].axes[0].get_title(loc="left").startswith("Most uncertain beat")
