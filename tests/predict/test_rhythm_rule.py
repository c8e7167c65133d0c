import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.inputs.beats import N_CONTEXT_FEATURES, N_RR_COLUMNS
from ecglens.inputs.rhythm import CONTEXT_FEATURE_NAMES
from ecglens.models.config import ModelConfig
from ecglens.predict.rhythm import (
    RhythmRule,
    apply_rhythm_rule,
    model_rhythm_rule,
    premature_by_rhythm,
)

CLASSES = ["N", "S", "V", "F", "Q"]


def _rr(premature: list[float], irregularity: list[float], p_corr: list[float]) -> np.ndarray:
    rr = np.ones((len(premature), N_RR_COLUMNS + N_CONTEXT_FEATURES), dtype=np.float32)
    for name, values in (
        ("pre_over_local_p90", premature),
        ("segment_irregularity", irregularity),
        ("p_corr_sinus", p_corr),
    ):
        rr[:, N_RR_COLUMNS + CONTEXT_FEATURE_NAMES.index(name)] = values
    return rr


def test_premature_needs_an_early_beat_in_a_regular_segment():
    # early+regular, on time, early but irregular (atrial fibrillation), early with a sinus P
    rr = _rr([0.4, 1.0, 0.4, 0.4], [0.05, 0.05, 0.3, 0.05], [0.2, 0.2, 0.2, 0.95])
    assert premature_by_rhythm(rr, RhythmRule(0.7, 0.1, 1.0)).tolist() == [1, 0, 0, 1]
    assert premature_by_rhythm(rr, RhythmRule(0.7, 0.1, 0.7)).tolist() == [1, 0, 0, 0]


def test_rule_turns_n_into_s_only_and_keeps_the_confidence():
    rr = _rr([0.4, 0.4, 1.0], [0.05] * 3, [0.2] * 3)
    probabilities = np.array(
        [[0.8, 0.1, 0.05, 0.03, 0.02], [0.1, 0.1, 0.7, 0.05, 0.05], [0.9, 0.05, 0.03, 0.01, 0.01]]
    )
    out = apply_rhythm_rule(probabilities, rr, CLASSES, RhythmRule())
    assert [CLASSES[i] for i in out.argmax(1)] == ["S", "V", "N"]
    np.testing.assert_allclose(out[0], [0.1, 0.8, 0.05, 0.03, 0.02])
    np.testing.assert_array_equal(out[1:], probabilities[1:])  # V and on-time beats untouched
    assert probabilities[0, 0] == 0.8  # a copy


def test_rule_refuses_rr_without_record_features_and_bad_settings():
    with pytest.raises(EcgLensError, match="record context features"):
        premature_by_rhythm(np.ones((3, N_RR_COLUMNS)), RhythmRule())
    with pytest.raises(EcgLensError, match="premature_below"):
        RhythmRule(premature_below=1.5)
    with pytest.raises(EcgLensError, match="irregularity_below"):
        RhythmRule(irregularity_below=0.0)


def test_model_config_carries_the_rule():
    config = ModelConfig(architecture="kachuee", classes=list("NSVFQ"))
    assert model_rhythm_rule(config) is None
    rule = RhythmRule(0.6, 0.2, 0.5)
    assert model_rhythm_rule(config.replace(rhythm_rule={"settings": rule.to_dict()})) == rule
    assert "0.6" in rule.describe() and "P-wave" in rule.describe()
    assert "P-wave" not in RhythmRule(p_corr_below=1.0).describe()


def test_shipped_model_reads_record_232_against_its_sinus_cycle():
    """Record 232 (demo copy): sinus bradycardia with pauses and runs of atrial premature
    beats; the network alone calls almost none of its S beats, the rule most of them."""
    from dataclasses import replace
    from pathlib import Path

    from ecglens.io import read_record
    from ecglens.models import load_model
    from ecglens.predict.beats import classify_record

    demo = Path(__file__).resolve().parents[2] / "data" / "mitdb-demo" / "232"
    loaded = load_model("ecglens-mitdb-inter")
    assert model_rhythm_rule(loaded.config) is not None
    without = replace(loaded, config={k: v for k, v in loaded.config.items() if k != "rhythm_rule"})
    record = read_record(demo)
    s = CLASSES.index("S")
    for model, low, high in ((loaded, 0.6, 1.0), (without, 0.0, 0.1)):
        pred = classify_record(record, model)
        matched = pred.reference == s
        sensitivity = float((pred.probabilities[matched].argmax(1) == s).mean())
        assert low <= sensitivity <= high, (model.config.get("rhythm_rule"), sensitivity)


def test_predictions_say_which_beats_the_rule_made_s(demo_record):
    from ecglens.io import read_record
    from ecglens.models import load_model
    from ecglens.plot.explain_beats import beat_title
    from ecglens.predict.beats import classify_record

    pred = classify_record(read_record(demo_record), load_model("ecglens-mitdb-inter"))
    out = pred.to_dict()
    flagged = [b for b in out["beats"] if b["by_rhythm_rule"]]
    assert out["n_by_rhythm_rule"] == len(flagged)
    assert flagged and all(b["label"] == "S" for b in flagged)  # 2 in record 213
    assert "by the rhythm rule" in beat_title(pred, out["beats"].index(flagged[0]))


def test_compensatory_pauses_are_not_the_sinus_cycle():
    from ecglens.predict.rhythm import sinus_cycle_ratio

    # trigeminy: N N V, the V 0.6 s early and followed by a 1.6-s compensatory pause
    pre = np.tile([1.6, 1.0, 0.6], 20)
    ventricular = np.tile([False, False, True], 20)
    ratio = sinus_cycle_ratio(pre, ventricular)
    sinus = ~ventricular & (pre == 1.0)
    sinus[:18] = False  # the first beat's 1.6 s has no V before it in the array
    np.testing.assert_allclose(ratio[sinus], 1.0)
    rr = _rr([1.0] * 60, [0.05] * 60, [0.2] * 60)
    rr[:, 0] = pre
    rr[:, N_RR_COLUMNS + CONTEXT_FEATURE_NAMES.index("pre_over_local_p90")] = pre / 1.6
    plain = premature_by_rhythm(rr, RhythmRule(0.7, 0.1))
    clean = premature_by_rhythm(rr, RhythmRule(0.7, 0.1, without_ventricular=True), ventricular)
    assert plain[31] and not clean[31]  # a sinus beat after the pause's beat
    # two records side by side are read apart: the second one's pauses do not reach the first
    groups = np.repeat([0, 1], 30)
    both = sinus_cycle_ratio(np.concatenate([np.full(30, 1.0), np.full(30, 2.0)]),
                             np.zeros(60, bool), groups)
    np.testing.assert_allclose(both, 1.0)
    with pytest.raises(EcgLensError, match="V and F"):
        premature_by_rhythm(rr, RhythmRule(without_ventricular=True))
