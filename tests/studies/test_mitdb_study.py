import pytest

from ecglens.errors import EcgLensError
from ecglens.models import create_model
from ecglens.studies.mitdb import (
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


def _table_row(**changes) -> dict:
    """A benchmark.json row for the markdown tests."""
    return {
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
        **changes,
    }


def test_markdown_marks_the_selected_cell():
    row = _table_row()
    text = markdown_table({"rows": [row], "best": "a", "config": BenchmarkConfig().__dict__})
    assert "**(selected)**" in text and "90.0 [85.0, 95.0]" in text


def test_proxy_correlation_ranks_validation_against_test():
    from ecglens.studies.mitdb import proxy_correlation

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

    from ecglens.studies.mitdb import _finished_cell

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


def test_cross_validated_cells_train_fixed_epochs_and_context_cells_cut_record_features():
    cfg = BenchmarkConfig(rr=("rhythm", "context"), cv_folds=6, epochs=8)
    context = cell_run_config("kachuee", "context", "focal", cfg, "median-beat")
    assert context.cv_folds == 6 and context.val_records == 0
    assert context.beats.record_features and context.inputs == ("x", "rr_context")
    assert context.train.patience > context.train.epochs  # no early stopping
    assert context.train.lr_schedule != "plateau"  # the schedule reads no validation score
    rhythm = cell_run_config("kachuee", "rhythm", "focal", cfg, "median-beat")
    assert not rhythm.beats.record_features
    model = create_model("kachuee", **model_kwargs(context, 5))
    assert model.n_rr_features == 32
    per = {c: {"f1": 0.5, "support": 100} for c in "NSVF"}
    assert selection_score({"per_class": per})["val_S_f1"] == 0.5


def test_cross_validation_scores_every_ds1_beat_out_of_fold_and_resumes(tmp_path):
    from dataclasses import replace

    import numpy as np

    from ecglens.data.mitdb import DS1, DS2, BeatSet
    from ecglens.train.mitdb import cross_validate_mitdb

    rng = np.random.default_rng(0)
    records = np.repeat(np.array(DS1 + DS2, dtype=object), 12)
    n = len(records)
    y = rng.integers(0, 3, n)
    beats = BeatSet(
        rng.normal(size=(n, 126)).astype(np.float32),
        rng.normal(size=(n, 13)).astype(np.float32),
        y,
        records,
        np.arange(n),
    )
    cfg = BenchmarkConfig(rr=("rhythm",), cv_folds=3, epochs=1)
    run = cell_run_config("kachuee", "rhythm", "focal", cfg, "median-beat")
    run = replace(run, train=replace(run.train, max_batches_per_epoch=1, batch_size=16))
    cv = cross_validate_mitdb(beats, run, tmp_path, progress=False)
    assert cv["n_folds"] == 3 and sorted(r for f in cv["folds"] for r in f) == sorted(DS1)
    assert len(cv["y"]) == 22 * 12 and set(cv["record"]) == set(DS1)  # DS2 never scored
    assert np.isfinite(cv["logits"]).all() and 0 <= cv["macro_f1_nsvf"] <= 1
    again = cross_validate_mitdb(beats, run, tmp_path, progress=False)  # from fold-K.npz
    np.testing.assert_array_equal(again["logits"], cv["logits"])


def test_class_bias_moves_thresholds_and_folds_into_the_output_layer():
    import numpy as np
    import torch

    from ecglens.train.mitdb import add_output_bias, fit_class_bias, nested_bias_score

    rng = np.random.default_rng(0)
    classes = list("NSVFQ")
    y = rng.choice(4, 2000, p=[0.85, 0.05, 0.08, 0.02])
    log_probs = np.log(np.full((2000, 5), 0.01))
    log_probs[np.arange(2000), 0] = np.log(0.6)  # the model leans to N...
    rare = y > 0
    log_probs[np.flatnonzero(rare), y[rare]] = np.log(0.3)  # ...over weaker evidence for the truth
    bias = fit_class_bias(log_probs, y, classes)
    assert bias[0] == 0 and bias[1] > 0  # S needs a lower threshold
    before = (log_probs.argmax(1) == 1).sum()
    assert ((log_probs + bias).argmax(1) == 1).sum() > before
    nested = nested_bias_score(log_probs, y, np.arange(2000) % 4, classes)
    assert nested["S_f1"] > 0.5 and len(nested["bias"]) == 5
    model = torch.nn.Sequential(torch.nn.Linear(3, 5))
    x = torch.randn(7, 3)
    t = 0.5
    expected = torch.log_softmax(model(x) / t, 1) + torch.as_tensor(bias, dtype=torch.float32)
    add_output_bias(model, bias, t)
    got = torch.log_softmax(model(x) / t, 1)
    torch.testing.assert_close(got.argmax(1), expected.argmax(1))
    torch.testing.assert_close(got, torch.log_softmax(expected, 1), atol=1e-5, rtol=1e-5)


def test_train_options_for_the_context_option_and_cross_validation():
    from ecglens.train.mitdb import MitdbRunConfig, reproduce_command

    run = MitdbRunConfig.from_options(
        representation="window", window_fs=180, rr="context", cv_folds=6, epochs=8
    )
    assert run.beats.record_features and run.inputs == ("x", "rr_context")
    assert run.architecture_kwargs["n_rr_features"] == 32 and run.cv_folds == 6
    command = reproduce_command(run, "runs/x")
    assert "--rr context" in command and "--cv-folds 6" in command
    plain = MitdbRunConfig.from_options(rr="rhythm")
    assert not plain.beats.record_features and plain.cv_folds == 0


def test_rhythm_rule_scores_every_setting_on_out_of_fold_logits():
    import numpy as np

    from ecglens.inputs.beats import N_CONTEXT_FEATURES, N_RR_COLUMNS
    from ecglens.inputs.rhythm import CONTEXT_FEATURE_NAMES
    from ecglens.studies.mitdb import RHYTHM_RULE_GRID, score_rhythm_rules

    rng = np.random.default_rng(0)
    n = 400
    y = rng.choice([0, 1, 2, 3], n, p=[0.7, 0.1, 0.15, 0.05])
    logits = np.eye(5)[np.where(y == 1, 0, y)] * 3  # the classifier calls every S beat N
    rr = np.ones((n, N_RR_COLUMNS + N_CONTEXT_FEATURES), dtype=np.float32)
    column = N_RR_COLUMNS + CONTEXT_FEATURE_NAMES.index("pre_over_local_p90")
    rr[:, column] = np.where(y == 1, 0.5, 0.95)  # S beats come 50% early
    rr[:, N_RR_COLUMNS + CONTEXT_FEATURE_NAMES.index("segment_irregularity")] = 0.05
    rows = score_rhythm_rules(logits, y, rr, ["N", "S", "V", "F", "Q"])
    assert len(rows) == 1 + len(RHYTHM_RULE_GRID) and rows[0]["settings"] is None
    assert rows[0]["S_f1"] == 0.0
    assert max(r["S_f1"] for r in rows[1:]) == 1.0
    assert all(r["macro_f1_nsvf"] >= rows[0]["macro_f1_nsvf"] for r in rows[1:])


def test_markdown_lists_the_rhythm_rule_settings():
    from ecglens.predict.rhythm import RhythmRule

    rule = RhythmRule(0.7, 0.1, 0.7)
    grid = [
        {"settings": None, "macro_f1_nsvf": 0.5, "S_f1": 0.3, "S_recall": 0.2, "S_precision": 0.6},
        {"settings": rule.to_dict(), "macro_f1_nsvf": 0.6, "S_f1": 0.5, "S_recall": 0.4,
         "S_precision": 0.7},
    ]
    rhythm_rule = {"settings": rule.to_dict(), "description": rule.describe(), "grid": grid}
    row = _table_row(
        cell="a_rhythm-rule",
        rr="context",
        val_macro_f1=0.6,
        val_S_f1=0.5,
        ece_before=None,
        ece_after=None,
        rhythm_rule=rhythm_rule,
    )
    config = BenchmarkConfig(cv_folds=6).__dict__
    text = markdown_table({"rows": [row], "best": "a_rhythm-rule", "config": config})
    assert "context + rhythm rule" in text
    assert "| 16 | no | 0.7 | 0.1 | 0.7 **(selected)** | 60.0" in text
    assert "| no rule | | | |  | 50.0" in text


def test_markdown_shows_the_cross_database_columns_when_scored():
    config = BenchmarkConfig().__dict__
    plain = markdown_table({"rows": [_table_row()], "best": "a", "config": config})
    assert "| - | - |" in plain and "svdb-dev columns" not in plain
    row = _table_row(svdb_S_f1=0.38, svdb_S_f1_ci=[0.25, 0.57], svdb_V_f1=0.85,
                     svdb_V_f1_ci=[0.70, 0.94])  # fmt: skip
    text = markdown_table({"rows": [row], "best": "a", "config": config})
    assert "38.0 [25.0, 57.0] | 85.0 [70.0, 94.0] |" in text
    assert "svdb-dev columns" in text and "not used to select" in text


def test_cross_database_scores_are_empty_without_the_folder(tmp_path):
    from ecglens.studies.mitdb import cross_database_scores

    (tmp_path / "mitdb").mkdir()
    assert cross_database_scores(None, {}, tmp_path / "mitdb", BenchmarkConfig()) == {}
