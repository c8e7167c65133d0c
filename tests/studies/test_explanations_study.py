"""``ecglens benchmark explanations``: rows, the recommendation rule and the table (the card
line it sets: tests/train/test_cards.py)."""

import json

import pytest

from ecglens.errors import EcgLensError
from ecglens.studies import explanations as eb


def _row(explainer, passes=True, deletion_hi=-0.01, margin=0.2, seconds=0.01):
    return {
        "model": "m",
        "explainer": explainer,
        "passes_sanity": passes,
        "deletion_vs_random_ci": [deletion_hi - 0.1, deletion_hi],
        "margin_vs_random": margin,
        "seconds_per_example": seconds,
        "randomisation_spearman": 0.1,
        "deletion_auc": 0.3,
        "deletion_auc_random": 0.5,
    }


def test_recommendation_rule():
    rows = [
        _row("saliency", passes=False, margin=0.9),  # fails sanity: never recommended
        _row("occlusion", deletion_hi=0.02, margin=0.8),  # deletion interval holds zero
        _row("shapley", margin=0.95, seconds=0.05),  # 50x Grad-CAM: too slow for beats
        _row("integrated-gradients", margin=0.300, seconds=0.002),
        _row("grad-cam", margin=0.295, seconds=0.001),  # a tie within 0.01: the faster
    ]
    allowed = ("grad-cam", "saliency", "occlusion", "integrated-gradients", "shapley")
    assert eb.recommend(rows, allowed) == "grad-cam"
    assert [r["recommended"] for r in rows] == [False, False, False, False, True]
    assert [r["fast_enough"] for r in rows] == [False, False, False, True, True]
    text = eb.why(rows)
    assert "randomisation check" in text and "tie" in text and "shapley also qualifies" in text
    for r in rows:
        r["unit"] = "record"  # 12-lead: an absolute budget per record instead
    assert eb.recommend(rows, allowed) == "shapley"
    assert eb.recommend(rows, ("saliency",)) is None  # only a failing explainer applies
    assert "no explainer" in eb.why(rows)


def test_unknown_method_and_too_few_beats_are_refused():
    with pytest.raises(EcgLensError, match="--method"):
        eb.ExplanationsBenchmarkConfig(methods=("lime",))
    with pytest.raises(EcgLensError, match="--beats"):
        eb.ExplanationsBenchmarkConfig(beats=2)


def test_a_tiny_run_on_fake_ptbxl(tmp_path, fake_ptbxl):
    root = fake_ptbxl(tmp_path / "data", per_fold=4)
    cfg = eb.ExplanationsBenchmarkConfig(
        models=("ecglens-ptbxl-binary",), methods=("cam", "saliency"), beats=4, n_boot=20
    )
    result = eb.run_explanations_benchmark(root, tmp_path / "out", cfg)
    rows = json.loads((tmp_path / "out" / "benchmark.json").read_text())["rows"]
    assert [r["explainer"] for r in rows] == ["cam", "saliency"] == [
        r["explainer"] for r in result["rows"]
    ]
    for r in rows:
        for key in ("recommended", "passes_sanity", "randomisation_spearman", "deletion_auc",
                    "deletion_auc_random", "insertion_auc", "insertion_auc_random"):
            assert key in r
        assert 0 <= r["deletion_auc"] <= 1 and r["n_examples"] == 4
        assert set(r["baselines"]) == {"zero", "blur"}
    table = json.loads((tmp_path / "out" / "explainers.json").read_text())
    curves = table["ecglens-ptbxl-binary"]["curves"]
    assert {"cam", "saliency", "random", "edge"} <= set(curves)
    assert len(curves["cam"]["deletion"]) == len(curves["cam"]["fraction"]) == 21
    assert "| ecglens-ptbxl-binary | cam |" in (tmp_path / "out" / "benchmark.md").read_text()


@pytest.mark.slow
def test_a_tiny_run_on_mitdb_beats(tmp_path, mitdb_dir):
    cfg = eb.ExplanationsBenchmarkConfig(
        models=("kachuee-mitdb-inter",), methods=("grad-cam", "saliency"), beats=6, n_boot=20,
        label_beats=300, label_epochs=1,
    )
    result = eb.run_explanations_benchmark(mitdb_dir.parent, tmp_path, cfg)
    rows = result["rows"]
    assert len(rows) == 2 and all("label_randomisation_spearman" in r for r in rows)
    assert {"N", "S", "V", "chance"} <= set(rows[0]["plausibility"])
