import pytest

from ecglens.errors import EcgLensError
from ecglens.models import create_model
from ecglens.train.benchmark import BenchmarkConfig, cell_run_config, markdown_table
from ecglens.train.mitdb import model_kwargs


def test_grid_is_the_full_factorial():
    cells = BenchmarkConfig().cells()
    assert len(cells) == 2 * 2 * 3
    assert ("cnn-lstm", "ratios", "focal") in cells


def test_cell_configs_build_models_of_the_right_inputs():
    cfg = BenchmarkConfig()
    for arch, rr, imbalance in cfg.cells():
        run = cell_run_config(arch, rr, imbalance, cfg)
        assert run.split == "inter-patient"
        assert ("rr_ratios" in run.inputs) == (rr == "ratios")
        create_model(arch, **model_kwargs(run, 5))
    focal = cell_run_config("kachuee", "none", "focal", cfg)
    assert focal.train.loss == "focal" and not focal.train.class_weighted
    over = cell_run_config("kachuee", "none", "oversample", cfg)
    assert over.train.sampler == "weighted"
    assert cell_run_config("cnn-lstm", "none", "focal", cfg).beats.context == 3


def test_unknown_strategy_is_rejected():
    with pytest.raises(EcgLensError, match="unknown imbalance"):
        BenchmarkConfig(imbalance=("smote-ish",)).cells()


def test_markdown_marks_the_selected_cell():
    row = {
        "cell": "a",
        "architecture": "kachuee",
        "rr": "none",
        "imbalance": "focal",
        "val_macro_f1_nsvf": 0.8,
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
