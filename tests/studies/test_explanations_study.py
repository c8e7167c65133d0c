"""``ecglens benchmark explanations``: rows, the recommendation rule and the table (the card
line it sets: tests/train/test_cards.py)."""

import json

import pytest

from ecglens.errors import EcgLensError
from ecglens.studies import explanations as eb


def _row(explainer, passes=True, beaten=("zero", "road"), margin=0.2, seconds=0.01):
    return {
        "model": "m",
        "explainer": explainer,
        "passes_sanity": passes,
        "baselines_beaten": list(beaten),
        "margin_vs_random": -1.0,  # zero baseline: not what ranks
        "margin_vs_random_road": margin,
        "seconds_per_example": seconds,
        "randomisation_spearman": 0.1,
        "randomisation_spearman_signed": 0.2,
        "deletion_auc": 0.3,
        "deletion_auc_random": 0.5,
        "deletion_auc_road": 0.3,
        "deletion_auc_random_road": 0.5,
        "insertion_auc_road": 0.6,
        "insertion_auc_random_road": 0.5,
    }


def test_recommendation_rule():
    rows = [
        _row("saliency", passes=False, margin=0.9),  # fails sanity: never recommended
        _row("occlusion", beaten=("zero", "blur"), margin=0.8),  # not on ROAD
        _row("smoothgrad", beaten=("road",), margin=0.85),  # on one baseline only
        _row("shapley", margin=0.95, seconds=0.05),  # 50x Grad-CAM: too slow for beats
        _row("integrated-gradients", margin=0.300, seconds=0.002),
        _row("grad-cam", beaten=("blur", "road"), margin=0.295, seconds=0.001),  # a tie
    ]
    allowed = ("grad-cam", "saliency", "occlusion", "integrated-gradients", "shapley",
               "smoothgrad")
    assert eb.recommend(rows, allowed) == "grad-cam"
    assert [r["recommended"] for r in rows] == [False] * 5 + [True]
    assert [eb.qualifies(r) for r in rows] == [False, False, False, True, True, True]
    assert [r["fast_enough"] for r in rows] == [False, False, False, False, True, True]
    text = eb.why(rows)
    assert "randomisation check" in text and "tie" in text and "shapley also qualifies" in text
    assert "ROAD: deletion AUC 0.300 vs 0.500" in text
    for r in rows:
        r["unit"] = "record"  # 12-lead: an absolute budget per record instead
    assert eb.recommend(rows, allowed) == "shapley"
    assert eb.recommend(rows, ("saliency", "occlusion")) is None  # none that applies qualifies
    assert "no explainer" in eb.why(rows) and "sanity passed: occlusion" in eb.why(rows)


def test_beating_a_reference_needs_both_intervals_to_exclude_zero():
    def entry(d_hi, i_lo):
        return {"deletion_difference": {"ci": [d_hi - 0.1, d_hi]},
                "insertion_difference": {"ci": [i_lo, i_lo + 0.1]}}

    assert eb.beats_reference(entry(-0.01, 0.01))
    assert not eb.beats_reference(entry(0.01, 0.01))  # deletion interval holds zero
    assert not eb.beats_reference(entry(-0.01, -0.01))  # insertion interval holds zero


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
        assert set(r["baselines"]) == {"zero", "blur", "road"}
        for b in ("zero", "blur", "road"):
            for key in ("deletion_auc", "deletion_auc_random", "deletion_auc_edge",
                        "insertion_auc", "insertion_auc_random", "insertion_auc_edge",
                        "margin_vs_random", "beats_random", "beats_edge"):
                assert f"{key}_{b}" in r, (key, b)
        assert r["passes_sanity"] == (r["passes_sanity_abs"] and r["passes_sanity_signed"])
        assert -1 <= r["randomisation_spearman_signed"] <= 1
        assert r["baselines_beaten"] == [b for b in ("zero", "blur", "road")
                                         if r[f"beats_random_{b}"]]
    table = json.loads((tmp_path / "out" / "explainers.json").read_text())
    entry = table["ecglens-ptbxl-binary"]
    assert entry["measured"] == ["cam", "saliency"]
    assert set(entry["qualified"]) <= {"cam", "saliency"}
    assert "ROAD" in entry["rule"]
    curves = entry["curves"]
    assert {"cam", "saliency", "random", "edge"} <= set(curves)
    assert len(curves["cam"]["deletion"]) == len(curves["cam"]["fraction"]) == 21
    text = (tmp_path / "out" / "benchmark.md").read_text()
    assert "| ecglens-ptbxl-binary | cam |" in text
    assert "| ecglens-ptbxl-binary | cam | road |" in text


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
    assert all(r["removal_segment_samples"] == 1 for r in rows)  # single samples by default
    assert "seed_spearman" not in rows[0]


def test_seed_agreement_is_one_for_the_same_weights_and_lower_for_other_ones(mitdb_dir):
    import torch

    from ecglens.models.registry import load_model

    loaded = load_model("kachuee-mitdb-inter")
    ex = eb.load_examples(loaded, mitdb_dir.parent, 6, 0)
    cfg = eb.ExplanationsBenchmarkConfig(n_boot=20)
    same = eb.seed_agreement(ex, [load_model("kachuee-mitdb-inter").module.eval()], "saliency", cfg)
    assert same["trainings"] == 2 and same["value"] == pytest.approx(1.0)
    other = load_model("kachuee-mitdb-inter").module.eval()
    torch.manual_seed(1)
    for p in other.parameters():
        p.data.add_(torch.randn_like(p) * p.std().nan_to_num(0.1))
    changed = eb.seed_agreement(ex, [other], "saliency", cfg)
    assert changed["value"] < 0.95 and changed["ci"][0] <= changed["value"] <= changed["ci"][1]


@pytest.mark.slow
def test_a_tiny_run_on_an_image_model(tmp_path, ecg_images_dir):
    cfg = eb.ExplanationsBenchmarkConfig(
        models=("ecglens-images-cnn",), methods=("grad-cam", "saliency"), image_examples=4,
        n_boot=20, sensitivity_examples=2, sensitivity_perturbations=1,
    )
    result = eb.run_explanations_benchmark(ecg_images_dir.parent, tmp_path, cfg)
    rows = result["rows"]
    assert [r["explainer"] for r in rows] == ["grad-cam", "saliency"]
    assert all(r["unit"] == "image" and r["n_examples"] == 4 for r in rows)
    assert all(set(r["baselines"]) == {"zero", "blur", "road"} for r in rows)
    assert rows[0]["plausibility"] == {}
    entry = result["explainers"]["ecglens-images-cnn"]
    assert entry["measured"] == ["grad-cam", "saliency"]
    assert len(entry["curves"]["grad-cam"]["deletion"]) == 21
