from pathlib import Path

import numpy as np
import pytest

from ecglens.evaluate.rhythm import (
    AF_RHYTHMS,
    EpisodeScore,
    mean_rate,
    of_rhythms,
    overlap,
    record_rhythm,
    reference_rhythms,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "mitdb-demo"


def test_overlap_and_episode_scores():
    reference = [(0.0, 100.0), (200.0, 300.0)]
    detected = [(50.0, 150.0), (400.0, 410.0)]
    assert overlap(reference, detected) == 50.0
    score = EpisodeScore()
    score.add(reference, detected)
    d = score.to_dict()
    assert d["duration_se"] == 25.0  # 50 of 200 s
    assert d["duration_ppv"] == pytest.approx(100 * 50 / 110, abs=0.01)
    assert (d["episode_se"], d["episode_ppv"]) == (50.0, 50.0)
    assert EpisodeScore().to_dict()["duration_se"] is None


def test_of_rhythms_merges_touching_episodes():
    episodes = {"(AFIB": [(0.0, 10.0), (30.0, 40.0)], "(AFL": [(10.0, 20.0)], "(N": [(20.0, 30.0)]}
    assert of_rhythms(episodes, AF_RHYTHMS) == [(0.0, 20.0), (30.0, 40.0)]


def test_mean_rate():
    assert mean_rate(np.arange(0, 61, 1.0)) == pytest.approx(60.0)
    assert np.isnan(mean_rate(np.array([1.0])))


@pytest.mark.skipif(not (DATA / "213.atr").exists(), reason="demo record 213 missing")
def test_reference_rhythms_of_a_demo_record_and_a_record_score():
    episodes, beats, duration = reference_rhythms(DATA / "213")
    assert duration == pytest.approx(1805.56, abs=0.01)
    assert len(beats) > 3000 and "(N" in episodes
    assert all(a < b for spans in episodes.values() for a, b in spans)
    summary = {"episodes": [{"type": "VT", "start_s": a, "end_s": b}
                            for a, b in episodes.get("(VT", [])],
               "heart_rate": {"mean_bpm": mean_rate(beats)}}  # fmt: skip
    scored = record_rhythm(DATA / "213", summary, ["N"] * len(beats), beats)
    assert scored.hr_reference == pytest.approx(scored.hr_detected)
    assert scored.vt_detected == scored.vt_reference and scored.burden_error == 0.0
