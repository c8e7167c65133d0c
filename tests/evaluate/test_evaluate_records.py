"""EC57-style scoring of a beat model on a folder of annotated WFDB records."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import DEMO_DIR, shared_folder

from ecglens.data.labels import AAMI_CLASSES
from ecglens.errors import EcgLensError
from ecglens.evaluate.records import (
    UNMATCHED,
    annotated_records,
    chosen_records,
    evaluate_records,
    outcome,
    rhythm_intervals,
    score_outcomes,
    scores_from_counts,
)
from ecglens.io import read_annotations
from ecglens.models.registry import load_model

N, S, V = (AAMI_CLASSES.index(c) for c in "NSV")


def synthetic():
    """Five reference beats (N N S V N) at 100 Hz and four detections: one on the first N
    (called N), one 10 samples off the S (called N), one on the V (called V), one where no
    beat is (called V); the second and last N are missed."""
    ann_sample = np.array([100, 200, 300, 400, 500])
    ann_symbol = np.array(["N", "N", "A", "V", "N"], dtype=object)
    detected = np.array([101, 310, 399, 700])
    called = np.array([N, N, V, V])
    return outcome("syn", 100.0, "II", detected, called, ann_sample, ann_symbol,
                   np.array([[250, 450]]), 1000)  # fmt: skip


def test_outcome_counts_missed_and_false_beats_ec57_style():
    o = synthetic()
    assert o.reference.tolist() == [N, N, S, V, N]
    assert o.called.tolist() == [N, UNMATCHED, N, V, UNMATCHED]
    assert o.false_calls.tolist() == [V]
    assert o.in_af_calls.tolist() == [N, V]  # detections at 310 and 399
    s = scores_from_counts(o.counts())
    # N: tp 1 (beat 100), fp 1 (the S at 300 called N), fn 2 (200 and 500 missed)
    assert s["per_class"]["N"]["Se"] == pytest.approx(1 / 3)
    assert s["per_class"]["N"]["+P"] == pytest.approx(1 / 2)
    assert s["per_class"]["S"]["Se"] == 0.0 and np.isnan(s["per_class"]["S"]["+P"])
    # V: tp 1, fp 1 (the false detection), fn 0
    assert s["per_class"]["V"]["Se"] == 1.0
    assert s["per_class"]["V"]["+P"] == pytest.approx(0.5)
    assert s["per_class"]["V"]["F1"] == pytest.approx(2 / 3)
    assert s["accuracy_matched"] == pytest.approx(2 / 3)
    assert s["detection"] == {"Se": 3 / 5, "+P": 3 / 4, "tp": 3, "fp": 1, "fn": 2}
    assert s["af"] == {"beats": 2, "called_S": 0, "S_share": 0.0}


def test_outcome_leaves_ventricular_flutter_out():
    ann_sample = np.array([100, 150, 200, 300, 400])
    ann_symbol = np.array(["N", "[", "V", "]", "N"], dtype=object)
    o = outcome("vf", 100.0, "II", np.array([100, 200, 250, 400]), np.array([N, V, V, N]),
                ann_sample, ann_symbol, np.zeros((0, 2)), 1000)  # fmt: skip
    assert o.reference.tolist() == [N, N]  # the V inside [ ... ] is not scored
    assert o.called.tolist() == [N, N] and o.false_calls.size == 0


def test_rhythm_intervals_runs_to_the_next_rhythm_note():
    sample = np.array([0, 500, 900, 1200])
    notes = ["(N", "(AFIB", "", "(AFL\x00"]
    got = rhythm_intervals(sample, notes, 2000, ("(AFIB", "(AFL"))
    assert got.tolist() == [[500, 1200], [1200, 2000]]


def test_pooled_scores_are_the_sum_of_records_and_bootstrap_brackets_them():
    a = synthetic()
    b = outcome("b", 100.0, "II", np.array([100, 300]), np.array([N, S]),
                np.array([100, 300]), np.array(["N", "A"], dtype=object),
                np.zeros((0, 2)), 1000)  # fmt: skip
    scored = score_outcomes([a, b], n_boot=200, seed=1)
    assert set(scored["per_record"]) == {"syn", "b"}
    assert scored["pooled"]["per_class"]["S"]["support"] == 2
    assert scored["pooled"]["per_class"]["S"]["Se"] == pytest.approx(0.5)
    assert scored["per_record"]["b"]["S"]["Se"] == 1.0
    boot = scored["bootstrap"]["metrics"]["per_class"]["S"]["Se"]
    assert boot["value"] == pytest.approx(0.5)
    assert boot["ci"][0] <= 0.5 <= boot["ci"][1] and boot["ci"][0] < boot["ci"][1]
    again = score_outcomes([a, b], n_boot=200, seed=1)
    assert json.dumps(again["bootstrap"]) == json.dumps(scored["bootstrap"])  # seeded


def test_record_choice_and_folder_errors(tmp_path):
    assert chosen_records(None) is None
    assert "232" in chosen_records("ds2") and "101" not in chosen_records("DS2")
    assert chosen_records("213, 232") == ("213", "232")
    assert [p.name for p in annotated_records(DEMO_DIR, ("232",))] == ["232"]
    with pytest.raises(EcgLensError, match="no annotated record 999"):
        annotated_records(DEMO_DIR, ("232", "999"))
    with pytest.raises(EcgLensError, match="no annotated WFDB records"):
        annotated_records(tmp_path)
    with pytest.raises(EcgLensError, match="not a folder"):
        annotated_records(tmp_path / "missing")


@pytest.fixture(scope="module")
def demo_scores():
    return evaluate_records(load_model("ecglens-mitdb-inter"), DEMO_DIR, n_boot=100,
                            progress=False)  # fmt: skip


def test_demo_records_through_the_detector(demo_scores):
    assert demo_scores["records"] == ["213", "232"]
    for name in ("213", "232"):
        ann = read_annotations(DEMO_DIR / name)
        row = demo_scores["per_record"][name]
        assert row["lead"] == "MLII"
        assert row["S"]["support"] == int(
            np.isin(ann.symbol.astype(str), ["A", "a", "J", "S"]).sum()
        )
        assert row["detection"]["Se"] > 0.99 and row["detection"]["+P"] > 0.99
    pooled = demo_scores["pooled"]
    # 232 is mostly atrial premature beats, which the model (with its rhythm rule) finds
    assert demo_scores["per_record"]["232"]["S"]["F1"] > 0.7
    assert pooled["per_class"]["S"]["support"] == sum(
        demo_scores["per_record"][r]["S"]["support"] for r in ("213", "232")
    )
    assert 0.5 < pooled["accuracy_matched"] <= 1.0
    ci = demo_scores["bootstrap"]["metrics"]["per_class"]["V"]["F1"]["ci"]
    assert ci[0] <= pooled["per_class"]["V"]["F1"] <= ci[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecglens", *args], capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_cli_records_writes_json_and_prints_tables(tmp_path):
    folder = tmp_path / "recs"
    folder.mkdir()
    for suffix in (".hea", ".dat", ".atr"):
        shutil.copy(DEMO_DIR / f"232{suffix}", folder)
    out = tmp_path / "m.json"
    result = run_cli("evaluate", "records", str(folder), "--json", str(out), "--n-boot", "20",
                     "--no-progress")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "pooled over 1 records" in result.stdout and "232" in result.stdout
    metrics = json.loads(out.read_text())
    assert metrics["records"] == ["232"] and "per_record" in metrics
    assert metrics["command"].startswith("ecglens evaluate records")
    bad = run_cli("evaluate", "records", str(tmp_path / "none"), "--no-progress")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "not a folder" in bad.stderr


@pytest.mark.slow
def test_svdb_dev_cross_database():
    folder = shared_folder("svdb-dev", "800.hea", "svdb-dev records")
    scores = evaluate_records(load_model("ecglens-mitdb-inter"), folder, n_boot=50,
                              progress=False)  # fmt: skip
    assert len(scores["records"]) == 29
    assert {r["lead"] for r in scores["per_record"].values()} == {"ECG1"}
    pooled = scores["pooled"]
    assert pooled["per_class"]["S"]["support"] == pytest.approx(590, abs=5)
    assert pooled["per_class"]["V"]["support"] == pytest.approx(1512, abs=5)
    assert pooled["detection"]["Se"] > 0.97
    assert pooled["per_class"]["V"]["F1"] > 0.5


def test_lead_option_scores_the_named_lead():
    scores = evaluate_records(load_model("ecglens-mitdb-inter"), DEMO_DIR, lead="V1",
                              n_boot=0, progress=False, only="232")  # fmt: skip
    assert scores["lead"] == "V1" and scores["per_record"]["232"]["lead"] == "V1"
    assert "bootstrap" not in scores
    assert scores["pooled"]["detection"]["Se"] > 0.9
