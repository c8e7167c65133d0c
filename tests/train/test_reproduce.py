"""The command recorded in a model card must rebuild exactly the same run configuration."""

import shlex

from typer.testing import CliRunner

import ecglens.train.mitdb as mitdb
from ecglens.cli.main import app
from ecglens.studies.mitdb import BenchmarkConfig, cell_run_config
from ecglens.train.mitdb import reproduce_command, run_config_dict


def test_reproduce_command_round_trips(monkeypatch, tmp_path):
    seen = {}

    def fake_train(data_dir, out_dir, run, **kwargs):
        seen["run"] = run
        return {
            "optimistic": False,
            "metrics": {"per_class": {}, "accuracy": 0, "macro_f1": 0, "n": 0},
        }

    monkeypatch.setattr(mitdb, "train_mitdb", fake_train)
    for cell, val_records in [
        (("cnn-lstm", "ratios", "focal"), 0),
        (("kachuee", "none", "oversample"), 5),
        (("cnn-lstm", "rhythm", "weighted-ce", "median-beat"), 5),
    ]:
        run = cell_run_config(*cell[:3], BenchmarkConfig(val_records=val_records), *cell[3:])
        command = reproduce_command(run, tmp_path / "out", "m")
        args = shlex.split(command)[1:]
        result = CliRunner().invoke(app, [*args, "--data", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert run_config_dict(seen["run"]) == run_config_dict(run)


def test_ptbxl_reproduce_command_round_trips(monkeypatch, tmp_path):
    from dataclasses import asdict

    import ecglens.train.ptbxl as ptbxl

    seen = {}

    def fake_train(data_root, out_dir, run, **kwargs):
        seen["run"] = run
        return {"metrics": None}

    monkeypatch.setattr(ptbxl, "train_ptbxl", fake_train)
    run = ptbxl.PtbxlRunConfig.from_options(
        task="superclass", baseline="highpass", epochs=7, seed=3, arch_kwargs={"dropout": 0.3}
    )
    args = shlex.split(ptbxl.reproduce_command(run, tmp_path / "out", "m"))[1:]
    result = CliRunner().invoke(app, [*args, "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert asdict(seen["run"]) == asdict(run)


def test_run_config_round_trips_through_json():
    import json

    from ecglens.train.mitdb import run_config_from_dict

    run = cell_run_config("cnn-lstm", "ratios", "focal", BenchmarkConfig(val_records=3))
    saved = json.loads(json.dumps(run_config_dict(run)))
    assert run_config_from_dict(saved) == run
