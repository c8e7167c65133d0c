"""MI from single-lead beats on a synthetic PTB-XL folder: training (from scratch and by
transfer), evaluation reproducing the saved metrics, inference and the report
(the learning-curve study: tests/studies/test_mi_study.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ecglens.errors import EcgLensError
from ecglens.evaluate.mi import evaluate_mi
from ecglens.explain import grad_cam
from ecglens.io import read_record
from ecglens.models import create_model, load_model, save_pretrained
from ecglens.predict import classify, task_of
from ecglens.train.mi import MiRunConfig, record_subset, train_mi


@pytest.fixture(scope="module")
def trained(tmp_path_factory, fake_ptbxl, mitbih_like):
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("mi")
    root = fake_ptbxl(base / "data", per_fold=8)  # every fold holds MI and normal records
    run = MiRunConfig.from_options(
        init=str(mitbih_like), freeze=True, epochs=2, batch_size=32, device="cpu"
    )
    config = train_mi(
        root, base / "run", run, progress=False, cache_dir=None, explain_fn=grad_cam
    )
    return root, base / "run", config


def test_training_writes_a_complete_transferred_model(trained, mitbih_like):
    root, run_dir, config = trained
    assert config["task"] == "ptbxl-mi" and config["classes"] == ["normal", "MI"]
    assert config["transfer"]["mode"] == "transfer-frozen"
    counts = config["data"]["counts"]
    assert counts["test"]["records"] > 0 and counts["train"]["mi_records"] > 0
    for key in ("roc_auc", "accuracy", "sensitivity", "specificity", "f1"):
        value, (lo, hi) = config["metrics"][key]["value"], config["metrics"][key]["ci"]
        assert lo <= value <= hi or np.isnan(value)
        assert key in config["metrics"]["beat"]
    assert "--init" in config["command"] and "--freeze" in config["command"]
    loaded = load_model(run_dir / "model.safetensors")
    source = load_model(mitbih_like)
    # a frozen encoder is the source's, weight for weight
    for name, p in source.module.named_parameters():
        if not name.startswith("head."):
            assert torch.equal(p, dict(loaded.module.named_parameters())[name]), name
    assert "Recommended explainer" in loaded.card and "fold 10" in loaded.card


def test_evaluate_reproduces_the_saved_metrics(trained):
    root, run_dir, config = trained
    got = evaluate_mi(load_model(run_dir / "model.safetensors"), root, False, cache_dir=None)
    json.dumps(got)
    for key in ("roc_auc", "accuracy", "sensitivity", "specificity", "f1"):
        assert got[key] == config["metrics"][key]
        assert got["beat"][key] == config["metrics"]["beat"][key]


def test_classify_a_record(trained):
    root, run_dir, config = trained
    loaded = load_model(run_dir / "model.safetensors")
    assert task_of(loaded).name == "ptbxl-mi"
    record = read_record(root / "ptb-xl" / "records100" / "00000" / "00001_lr")
    pred = classify(record, loaded)
    d = pred.to_dict()
    assert d["label"] in ("normal", "MI") and 0 <= d["probability"] <= 1
    assert d["lead"] == "II" and d["n_beats"] == len(d["beats"]) > 5
    assert d["probability"] == pytest.approx(
        np.mean([b["probability"] for b in d["beats"]]), abs=1e-4
    )
    with pytest.raises(EcgLensError, match="no lead 'V9'"):
        classify(record, loaded, lead="V9")


def test_report(trained, tmp_path):
    from ecglens.models.registry import load_model
    from ecglens.tasks import report

    root, run_dir, _ = trained
    record = root / "ptb-xl" / "records100" / "00000" / "00002_lr"
    out = report(
        [record], load_model(run_dir / "model.safetensors"), tmp_path / "r.html", progress=False
    )
    html = out.read_text()
    assert "P(MI)" in html and "Mean Grad-CAM relevance" in html and html.count("<img") >= 3


def test_run_config_checks():
    with pytest.raises(EcgLensError, match="--freeze needs --init"):
        MiRunConfig.from_options(freeze=True)
    with pytest.raises(EcgLensError, match="train_fraction"):
        MiRunConfig.from_options(train_fraction=0)


def test_record_subset_is_stratified_and_nested():
    records = np.arange(100)
    labels = (records % 4 == 0).astype(int)
    small = record_subset(records, labels, 0.1, seed=3)
    large = record_subset(records, labels, 0.5, seed=3)
    assert set(small) <= set(large) and len(small) == 10
    assert labels[small].sum() == 2 and labels[large].sum() == round(0.5 * 25)


def test_init_must_be_a_kachuee_beat_model(tmp_path):
    bad = tmp_path / "cam.safetensors"
    save_pretrained(
        create_model("cam-cnn", n_leads=12, n_classes=1),
        {
            "architecture": "cam-cnn",
            "architecture_kwargs": {"n_leads": 12, "n_classes": 1},
            "task": "ptbxl-binary",
            "classes": ["abnormal"],
        },
        bad,
    )
    from ecglens.train.mi import build_model

    with pytest.raises(EcgLensError, match="kachuee model"):
        build_model(MiRunConfig.from_options(init=str(bad)))


# -- beats cut as a fixed window (no zero padding), transferred from a 187-sample encoder ----

WINDOW_FS = "267.142857"  # 187 / 0.7 Hz: 0.25 s + 0.45 s = 67 + 120 = 187 samples


@pytest.fixture(scope="module")
def window_trained(tmp_path_factory, fake_ptbxl, mitbih_like):
    """A toy transferred run through ``ecglens train ptbxl --task mi --representation window``."""
    from typer.testing import CliRunner

    from ecglens.cli.main import app

    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("mi-window")
    root = fake_ptbxl(base / "data", per_fold=8)
    args = [
        "train", "ptbxl", "--task", "mi", "--representation", "window", "--window-fs", WINDOW_FS,
        "--normalize", "record", "--init", str(mitbih_like), "--freeze", "--epochs", "1",
        "--batch-size", "32", "--device", "cpu", "--no-progress", "--data", str(root),
        "--out", str(base / "run"),
    ]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)  # the beat cache (runs/cache) goes under base
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return root, base / "run"


def test_window_run_saves_its_beat_config(window_trained):
    _, run_dir = window_trained
    config = json.loads((run_dir / "model.json").read_text())
    beats = config["beats"]
    assert beats["representation"] == "window" and beats["normalize"] == "record"
    assert beats["window_fs"] == float(WINDOW_FS)
    assert config["run"]["beats"] == beats
    assert config["architecture_kwargs"]["input_length"] == 187
    assert f"--representation window --window-fs {WINDOW_FS} --normalize record" in (
        config["command"]
    )
    loaded = load_model(run_dir / "model.safetensors")
    assert loaded.config.beats.input_length == 187 and loaded.config.beats.r_index == 67
    assert "fixed window" in loaded.card and "R peak at\n  sample 67" not in loaded.card
    assert "the R peak at sample 67" in " ".join(loaded.card.split())


def test_window_model_predicts_from_its_own_beat_config(window_trained, tmp_path):
    from typer.testing import CliRunner

    from ecglens.cli.main import app

    root, run_dir = window_trained
    record_path = root / "ptb-xl" / "records100" / "00000" / "00001_lr"
    out = tmp_path / "pred.json"
    result = CliRunner().invoke(
        app,
        ["predict", str(record_path), "--model", str(run_dir / "model.safetensors"),
         "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    d = json.loads(out.read_text())
    d = d[0] if isinstance(d, list) else d
    assert d["task"] == "ptbxl-mi" and d["n_beats"] > 5 and 0 <= d["probability"] <= 1
    png = tmp_path / "explained.png"
    result = CliRunner().invoke(
        app,
        ["explain", str(record_path), "--model", str(run_dir / "model.safetensors"),
         "--out", str(png)],
    )  # fmt: skip
    assert result.exit_code == 0 and png.stat().st_size > 0, result.output
    pred = classify(read_record(record_path), load_model(run_dir / "model.safetensors"))
    x = pred.beats.x
    assert x.shape == (d["n_beats"], 187)
    # a window, not zero padding, at the end (but the last beat, past the record's end)
    assert np.all(np.abs(x[:-1, -20:]).max(1) > 0)
    # the R peak sits at sample 67 (0.25 s at 267.14 Hz), not at sample 0 as in Kachuee beats
    assert abs(int(np.median(np.abs(x).argmax(1))) - 67) <= 2


def test_window_model_evaluation_reproduces_its_saved_metrics(window_trained):
    root, run_dir = window_trained
    config = json.loads((run_dir / "model.json").read_text())
    got = evaluate_mi(load_model(run_dir / "model.safetensors"), root, False, cache_dir=None)
    for key in ("roc_auc", "accuracy", "sensitivity", "specificity", "f1"):
        assert got[key] == config["metrics"][key]


def test_report_draws_relevance_profiles_at_the_models_r_peak(window_trained, monkeypatch):
    import ecglens.report.mi as report_mi

    _, run_dir = window_trained
    seen = {}

    def capture(*args, **kwargs):
        seen["fs"], seen["r_index"] = args[3], kwargs["r_index"]
        return real(*args, **kwargs)

    real = report_mi.plot_beat_grid
    monkeypatch.setattr(report_mi, "plot_beat_grid", capture)
    report_mi.model_section(load_model(run_dir / "model.safetensors"))
    assert seen == {"fs": pytest.approx(187 / 0.7, rel=1e-6), "r_index": 67}


def _kachuee_source(path, input_length: int | None):
    kwargs = {"n_classes": 5} | ({} if input_length is None else {"input_length": input_length})
    save_pretrained(
        create_model("kachuee", **kwargs),
        {
            "architecture": "kachuee",
            "architecture_kwargs": kwargs,
            "task": "beats",
            "classes": ["N", "S", "V", "F", "Q"],
            "inputs": ["x"],
            "beats": {"representation": "kachuee"},
        },
        path,
    )
    return path


def test_transfer_takes_any_beats_of_the_source_input_length(tmp_path):
    from ecglens.train.mi import TRANSFER_WINDOW_FS, build_model

    source = _kachuee_source(tmp_path / "src.safetensors", 187)
    run = MiRunConfig.from_options(
        init=str(source), representation="window", window_fs=TRANSFER_WINDOW_FS
    )
    module, kwargs, origin = build_model(run)
    assert kwargs["input_length"] == 187 and origin["init"] is not None
    assert module(torch.zeros(3, 187)).shape == (3, 2)


def test_transfer_refuses_beats_of_another_length(tmp_path, mitbih_like):
    from ecglens.train.mi import build_model

    window_360 = MiRunConfig.from_options(init=str(mitbih_like), representation="window")
    with pytest.raises(EcgLensError, match="252 samples long but the model takes 187") as info:
        build_model(window_360)
    assert "\n" not in str(info.value) and "--window-fs 267.142857" in str(info.value)
    with pytest.raises(EcgLensError, match="252 samples long"):  # before reading any record
        train_mi(tmp_path / "no-data", tmp_path / "run", window_360, explain_fn=grad_cam)
    long_source = _kachuee_source(tmp_path / "long.safetensors", 252)
    with pytest.raises(EcgLensError, match="187 samples long but the model takes 252"):
        build_model(MiRunConfig.from_options(init=str(long_source)))


def test_scratch_window_model_takes_the_window_length():
    from ecglens.train.mi import build_model

    module, kwargs, _ = build_model(MiRunConfig.from_options(representation="window"))
    assert kwargs["input_length"] == 252  # 0.7 s at 360 Hz
    assert module(torch.zeros(2, 252)).shape == (2, 2)
    _, kwargs, _ = build_model(MiRunConfig.from_options())
    assert "input_length" not in kwargs  # the Kachuee default, as before


@pytest.mark.parametrize(
    ("name", "beats"),
    [
        ("ecglens-ptbxl-mi-v1", {}),  # the default options: Kachuee beats
        (
            "ecglens-ptbxl-mi",  # the shipped recipe on a fixed window
            {"representation": "window", "window_fs": 267.142857, "normalize": "record"},
        ),
    ],
)
def test_runs_reproduce_the_shipped_commands(name, beats):
    from ecglens.models.registry import list_pretrained
    from ecglens.train.mi import reproduce_command

    if name not in list_pretrained():
        pytest.skip(f"{name} is not shipped")
    config = load_model(name).config
    t = config["run"]["train"]
    run = MiRunConfig.from_options(
        init=config["run"]["init"], encoder_lr_scale=t["encoder_lr_scale"], epochs=t["epochs"],
        batch_size=t["batch_size"], lr=t["lr"], patience=t["patience"], seed=t["seed"], **beats,
    )  # fmt: skip
    assert reproduce_command(run, "runs/ecglens-ptbxl-mi", "ecglens-ptbxl-mi") == (
        config["command"]
    )
    assert config.beats == run.beats
