import pytest

from ecglens.errors import EcgLensError
from ecglens.models import create_model
from ecglens.train.benchmark import (
    BenchmarkConfig,
    cell_name,
    cell_run_config,
    markdown_table,
    selection_score,
)
from ecglens.train.mitdb import model_kwargs


def test_grid_is_the_full_factorial():
    cells = BenchmarkConfig().cells()
    assert len(cells) == 2 * 2 * 3
    assert ("cnn-lstm", "ratios", "focal", "record") in cells
    wide = BenchmarkConfig(rr=("none", "ratios", "rhythm"), normalize=("record", "median-beat"))
    assert len(wide.cells()) == 2 * 3 * 3 * 2
    assert len({cell_name(*c) for c in wide.cells()}) == len(wide.cells())
    assert cell_name("kachuee", "none", "focal") == "kachuee_rr-none_focal"


def test_cell_configs_build_models_of_the_right_inputs():
    cfg = BenchmarkConfig(rr=("none", "ratios", "rhythm"), normalize=("record", "median-beat"))
    assert cfg.val_records == 5  # whole held-out DS1 records by default
    for arch, rr, imbalance, normalize in cfg.cells():
        run = cell_run_config(arch, rr, imbalance, cfg, normalize)
        assert run.split == "inter-patient" and run.beats.normalize == normalize
        assert ("rr_ratios" in run.inputs) == (rr == "ratios")
        assert ("rr_rhythm" in run.inputs) == (rr == "rhythm")
        create_model(arch, **model_kwargs(run, 5))
    focal = cell_run_config("kachuee", "none", "focal", cfg)
    assert focal.train.loss == "focal" and not focal.train.class_weighted
    over = cell_run_config("kachuee", "none", "oversample", cfg)
    assert over.train.sampler == "weighted"
    assert cell_run_config("cnn-lstm", "none", "focal", cfg).beats.context == 3


def test_unknown_strategy_is_rejected():
    with pytest.raises(EcgLensError, match="unknown imbalance"):
        BenchmarkConfig(imbalance=("smote-ish",)).cells()
    with pytest.raises(EcgLensError, match="unknown normalisation"):
        BenchmarkConfig(normalize=("z-score",)).cells()


def test_selection_ignores_classes_with_few_validation_beats():
    per = {
        "N": {"f1": 0.9, "support": 10_000},
        "S": {"f1": 0.5, "support": 100},
        "V": {"f1": 0.7, "support": 700},
        "F": {"f1": 0.0, "support": 2},
    }
    score = selection_score({"per_class": per})
    assert score["val_scored_classes"] == ["N", "S", "V"]
    assert score["val_macro_f1"] == pytest.approx(0.7)


def test_markdown_marks_the_selected_cell():
    row = {
        "cell": "a",
        "architecture": "kachuee",
        "rr": "none",
        "imbalance": "focal",
        "val_macro_f1": 0.8,
        "accuracy": 0.9,
        "accuracy_ci": [0.85, 0.95],
        "macro_f1_nsvf": 0.7,
        "macro_f1_nsvf_ci": [0.6, 0.8],
        "S_f1_ci": [0.1, 0.3],
        "V_f1_ci": [0.8, 0.9],
        "ece_before": 0.05,
        "ece_after": 0.02,
        **{f"{c}_{k}": 0.5 for c in "NSVF" for k in ("recall", "precision", "f1")},
    }
    text = markdown_table({"rows": [row], "best": "a", "config": BenchmarkConfig().__dict__})
    assert "**(selected)**" in text and "90.0 [85.0, 95.0]" in text


def test_proxy_correlation_ranks_validation_against_test():
    from ecglens.train.benchmark import proxy_correlation

    rows = [
        {"val_macro_f1": v, "macro_f1_nsvf": t} for v, t in [(0.1, 0.3), (0.2, 0.5), (0.3, 0.4)]
    ]
    assert proxy_correlation(rows) == pytest.approx(0.5)
    assert proxy_correlation(rows[:2]) is None
    reversed_rows = [
        {"val_macro_f1": r["val_macro_f1"], "macro_f1_nsvf": -r["val_macro_f1"]} for r in rows
    ]
    assert proxy_correlation(reversed_rows) == pytest.approx(-1.0)


def test_a_finished_cell_is_reused_on_any_device_but_not_with_other_settings(tmp_path):
    import json
    from dataclasses import asdict, replace

    from ecglens.train.benchmark import _finished_cell

    cfg = BenchmarkConfig()
    run = cell_run_config("kachuee", "rhythm", "focal", cfg, "median-beat")
    config = {
        "architecture": run.architecture,
        "architecture_kwargs": model_kwargs(run, 5),
        "beats": asdict(run.beats),
        "inputs": list(run.inputs),
        "train": {**asdict(run.train), "device": "cuda"},
        "calibration": {},
        "val_records": run.val_records,
        "classes": list("NSVFQ"),
    }
    (tmp_path / "model.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert _finished_cell(tmp_path, run) is not None
    assert _finished_cell(tmp_path, replace(run, val_records=0)) is None
    assert _finished_cell(tmp_path, replace(run, train=replace(run.train, seed=1))) is None
    other = cell_run_config("kachuee", "rhythm", "focal", cfg, "record")
    assert _finished_cell(tmp_path, other) is None
