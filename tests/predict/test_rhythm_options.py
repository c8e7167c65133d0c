"""The rhythm rule's pause logic and fibrillation gate (ecglens.predict.rhythm)."""

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.inputs.beats import N_CONTEXT_FEATURES, N_RR_COLUMNS
from ecglens.inputs.rhythm import CONTEXT_FEATURE_NAMES
from ecglens.predict.rhythm import (
    RhythmRule,
    premature_by_rhythm,
    rr_irregularity,
    sinus_cycle_ratio,
    without_pauses,
)


def _rr_of(pre_rr: np.ndarray) -> np.ndarray:
    """RR + context columns with pre-RR ``pre_rr``, regular segments, no P-wave evidence."""
    rr = np.ones((len(pre_rr), N_RR_COLUMNS + N_CONTEXT_FEATURES), dtype=np.float64)
    rr[:, 0] = pre_rr
    rr[:, N_RR_COLUMNS + CONTEXT_FEATURE_NAMES.index("segment_irregularity")] = 0.0
    return rr


def test_pauses_leave_the_longest_regular_cycle():
    windows = np.array([[0.8, 0.8, 2.0, 0.8, np.nan]])
    np.testing.assert_array_equal(without_pauses(windows, 1.8), [[0.8, 0.8, np.nan, 0.8, np.nan]])
    # sinus at 0.8 s with a 2 s blocked pause every 5 beats: with the pauses the 90th
    # percentile is the pause and every sinus beat looks 60% early
    pre = np.tile([0.8, 0.8, 0.8, 0.8, 2.0], 10)
    kept = sinus_cycle_ratio(pre, np.zeros(len(pre), bool), half=8)
    left_out = sinus_cycle_ratio(pre, np.zeros(len(pre), bool), half=8, pause_above=1.8)
    sinus = (pre == 0.8) & (np.arange(len(pre)) >= 10) & (np.arange(len(pre)) < 40)
    assert np.all(kept[sinus] < 0.7)
    np.testing.assert_allclose(left_out[sinus], 1.0)
    rule = RhythmRule(cycle_beats=8)
    assert premature_by_rhythm(_rr_of(pre), rule)[sinus].all()
    assert not premature_by_rhythm(_rr_of(pre), RhythmRule(cycle_beats=8, pause_above=1.8))[
        sinus
    ].any()


def test_fibrillation_gate_keeps_premature_beats_of_sinus_rhythm_only():
    rng = np.random.default_rng(0)
    sinus = np.full(60, 0.8)
    sinus[[10, 30, 50]] = 0.45  # isolated premature beats ...
    sinus[[11, 31, 51]] = 1.15  # ... and their compensatory pauses
    af = rng.uniform(0.35, 1.0, size=60)  # fibrillation: irregularly irregular
    pre = np.concatenate([sinus, af])
    irregular = rr_irregularity(pre, half=16)
    assert np.nanmax(irregular[:40]) < 0.05 and np.nanmin(irregular[80:]) > 0.2
    # cycle from the pre-RR column (not the record's context column)
    gated = RhythmRule(cycle_beats=12, fibrillation_above=0.1, fibrillation_beats=16)
    no_gate = premature_by_rhythm(_rr_of(pre), RhythmRule(cycle_beats=12))
    with_gate = premature_by_rhythm(_rr_of(pre), gated)
    assert with_gate[[10, 30]].all()  # the sinus record's premature beats stay
    assert no_gate[80:].any() and not with_gate[80:].any()  # none inside fibrillation
    # two records given together are measured apart
    groups = np.repeat([0, 1], 60)
    np.testing.assert_allclose(rr_irregularity(pre, groups)[:40], irregular[:40])


def test_new_settings_round_trip_describe_and_refuse_nonsense():
    rule = RhythmRule(pause_above=1.8, fibrillation_above=0.1, fibrillation_beats=32)
    assert RhythmRule.from_dict(rule.to_dict()) == rule
    text = rule.describe()
    assert "pauses > 1.8" in text and "+-32 beats < 0.1" in text
    assert "pauses" not in RhythmRule().describe()
    assert RhythmRule.from_dict({"premature_below": 0.7}).fibrillation_above == 0.0
    with pytest.raises(EcgLensError, match="pause_above"):
        RhythmRule(pause_above=0.9)
    with pytest.raises(EcgLensError, match="fibrillation"):
        RhythmRule(fibrillation_above=-1)
