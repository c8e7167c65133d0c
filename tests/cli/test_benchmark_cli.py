"""``ecglens benchmark mitdb|mi|images|explanations``: one sub-command per study, each with its
own options (explained in --help), the study's defaults, ``--out`` and ``--json``."""

import dataclasses
import json

import pytest
import typer
from typer.testing import CliRunner

from ecglens.cli.main import app
from ecglens.studies import explanations, images, mi, mitdb

STUDIES = ("mitdb", "mi", "images", "explanations")
# options that belong to one study only
OWN = {
    "mitdb": ("--arch", "--rr", "--imbalance", "--cv-folds", "--rhythm-rule"),
    "mi": ("--fraction", "--mode", "--init"),
    "images": (),
    "explanations": ("--model", "--method", "--beats", "--update-models"),
}
# the study config and its field behind each default of the sub-command
CONFIG = {
    "mitdb": (mitdb.BenchmarkConfig, {"epochs": "epochs", "patience": "patience",
                                      "seed": "seed", "n_boot": "n_boot",
                                      "val_records": "val_records", "cv_folds": "cv_folds"}),
    "mi": (mi.MiBenchmarkConfig, {"epochs": "epochs", "patience": "patience", "init": "init"}),
    "images": (images.ImagesBenchmarkConfig, {"epochs": "epochs", "seed": "seed",
                                              "n_boot": "n_boot"}),
    "explanations": (explanations.ExplanationsBenchmarkConfig, {"beats": "beats",
                                                                "seed": "seed",
                                                                "n_boot": "n_boot"}),
}


def _command(study: str):
    group = typer.main.get_command(app).commands["benchmark"]
    return group.commands[study]


def test_benchmark_lists_the_four_studies():
    result = CliRunner().invoke(app, ["benchmark", "--help"])
    assert result.exit_code == 0
    assert all(study in result.output for study in STUDIES)


@pytest.mark.parametrize("study", STUDIES)
def test_each_study_has_its_own_options_each_explained(study):
    params = {p.name: p for p in _command(study).params}
    assert {"out", "json_file"} <= set(params)
    for p in params.values():
        assert p.param_type_name == "option" and p.help, f"{study} --{p.name} has no help"
    names = {opt for p in params.values() for opt in p.opts}
    for other, options in OWN.items():
        for option in options:
            assert (option in names) == (other == study), (study, option)


@pytest.mark.parametrize("study", STUDIES)
def test_defaults_are_the_study_configs(study):
    config, fields = CONFIG[study]
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    params = {p.name: p for p in _command(study).params}
    for option, field in fields.items():
        assert params[option].default == defaults[field], (study, option)


def test_json_copies_the_study_rows_and_out_is_used(monkeypatch, tmp_path):
    def fake_run(data, out, cfg, progress=True, command=""):
        out.mkdir(parents=True)
        (out / "benchmark.md").write_text("| cell |\n")
        (out / "benchmark.json").write_text(json.dumps({"rows": [{"cell": "a"}]}))
        assert cfg.architectures == ("kachuee",) and cfg.epochs == 8
        return {"best": "a"}

    monkeypatch.setattr(mitdb, "run_benchmark", fake_run)
    out, rows = tmp_path / "grid", tmp_path / "rows" / "grid.json"
    result = CliRunner().invoke(
        app, ["benchmark", "mitdb", "--arch", "kachuee", "--out", str(out), "--json", str(rows)]
    )
    assert result.exit_code == 0, result.output
    assert rows.read_bytes() == (out / "benchmark.json").read_bytes()
    assert "| cell |" in result.output


def test_json_naming_a_folder_is_refused_before_any_work(tmp_path):
    result = CliRunner().invoke(app, ["benchmark", "mi", "--json", str(tmp_path)])
    assert result.exit_code != 0
    assert "--json names a folder" in str(result.exception)


def test_an_option_of_another_study_is_refused():
    result = CliRunner().invoke(app, ["benchmark", "mi", "--arch", "kachuee"])
    assert result.exit_code == 2 and "--arch" in result.output
