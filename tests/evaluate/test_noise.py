"""Noise robustness benchmark on MIT-BIH 118 and its noise stress versions (nstdb)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import numpy as np
import pytest
import torch

from ecglens.data.labels import AAMI_CLASSES
from ecglens.evaluate.noise import (
    DS1_NOTE,
    PARTS,
    default_records,
    noise_robustness,
    part_masks,
)
from ecglens.inputs.beats import BeatConfig
from ecglens.models import create_model, save_pretrained


def test_part_masks() -> None:
    fs = 10.0
    t = np.array([0, 299.9, 300, 419.9, 420, 539.9, 540, 800])
    masks = part_masks((t * fs).astype(np.int64), fs, 300.0, 120.0)
    assert masks["all"].all()
    assert masks["after_onset"].tolist() == [False, False, True, True, True, True, True, True]
    assert masks["noise_on"].tolist() == [False, False, True, True, False, False, True, True]


def _fraction_ok(value) -> bool:
    return value is None or (isinstance(value, float) and 0.0 <= value <= 1.0)


@pytest.mark.slow
def test_noise_robustness_nstdb_118(nstdb_dir, mitdb_dir, tmp_path) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    beats = BeatConfig()
    config = {
        "architecture": "kachuee",
        "architecture_kwargs": {"n_classes": 5, "input_length": beats.input_length},
        "task": "beats",
        "classes": list(AAMI_CLASSES),
        "inputs": ["x"],
        "beats": asdict(beats),
        "split": "inter-patient",
    }
    model = save_pretrained(
        create_model("kachuee", **config["architecture_kwargs"]), config, tmp_path / "m"
    )
    records = default_records(nstdb_dir.parent)
    result = noise_robustness(records, [model])
    json.dumps(result, allow_nan=False)  # JSON-ready: plain types, no NaN

    assert "DS1" in result["note"] and result["note"] == DS1_NOTE
    assert list(result["records"]) == ["118 (clean)", "118e24 (24 dB)", "118e06 (6 dB)"]
    clean, e24, e06 = result["records"].values()
    assert clean["snr_db"] is None and e24["snr_db"] == 24.0 and e06["snr_db"] == 6.0
    assert clean["n_reference_beats"] == e06["n_reference_beats"]
    assert clean["n_reference_beats"]["all"] > 2000

    # the detector misses more beats in the 6 dB noise than in the same span of the clean record
    for part in ("after_onset", "noise_on"):
        assert e06["detector"][part]["se"] < clean["detector"][part]["se"]
    assert clean["detector"]["all"]["se"] > 0.95

    key = str(model)
    for rec in result["records"].values():
        assert set(rec["detector"]) == set(PARTS)
        det = rec["detector"]["all"]
        assert det["tp"] + det["fn"] == rec["n_reference_beats"]["all"]
        scores = rec["models"][key]["parts"]
        assert set(scores) == set(PARTS)
        for part, s in scores.items():
            assert s["reference_beats"]["n"] == rec["n_reference_beats"][part]
            e2e = s["end_to_end"]
            assert e2e["n_matched"] + e2e["fn"] == rec["n_reference_beats"][part]
            assert e2e["n_matched"] == rec["detector"][part]["tp"]
            assert e2e["fp"] == rec["detector"][part]["fp"]
            total = e2e["n_matched"] + e2e["fp"] + e2e["fn"]
            assert math.isclose(e2e["accuracy"], e2e["correct"] / total)
            assert e2e["accuracy"] <= e2e["matched_accuracy"]
        for part, d in rec["detector"].items():
            for k in ("se", "ppv", "f1"):
                assert _fraction_ok(d[k]), (part, k, d[k])
            for s in scores[part].values():
                for k in ("accuracy", "macro_f1", "matched_accuracy", "matched_macro_f1"):
                    if k in s:
                        assert _fraction_ok(s[k]), (part, k, s[k])
