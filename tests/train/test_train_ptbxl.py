"""PTB-XL training: preprocessing, run config and command, augmentation, a tiny training run on
a synthetic PTB-XL folder, and (slow, ECGLENS_DATA) a short run on the real subset."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from ecglens.data.ptbxl import LEADS_12
from ecglens.errors import EcgLensError
from ecglens.models.registry import load_model
from ecglens.signal.baseline import AugmentConfig, LeadScaler
from ecglens.train.ptbxl import (
    PtbxlRunConfig,
    default_train_config,
    make_augment,
    model_inputs,
    preprocess,
    reproduce_command,
    train_ptbxl,
    train_subset,
)
from ecglens.train.trainer import TrainConfig


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, fake_ptbxl):
    """A 2-epoch binary run on the synthetic folder: (data root, run dir, config)."""
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("ptbxl")
    root = fake_ptbxl(base / "data")
    run = PtbxlRunConfig.from_options(epochs=2, batch_size=16, device="cpu", seed=0)
    out = base / "run"
    config = train_ptbxl(root, out, run, name="tiny", progress=False, cache_dir=None)
    return root, out, config


def test_preprocess_removes_baseline_wander_both_ways():
    t = np.arange(1000) / 100.0
    ecg = np.zeros(1000)
    ecg[::80] = 1.0
    wander = 0.8 * np.sin(2 * np.pi * 0.1 * t) + 0.5
    x = np.tile(ecg + wander, (2, 12, 1))
    for baseline in ("polynomial", "highpass"):
        out = preprocess(x, 100.0, baseline)
        assert out.shape == x.shape and out.dtype == np.float32
        # the slow component is mostly gone: the residual mean and low-frequency swing shrink
        smooth = np.convolve(out[0, 0], np.ones(200) / 200, mode="valid")
        assert np.ptp(smooth) < 0.3 * np.ptp(np.convolve(wander, np.ones(200) / 200, "valid"))
    with pytest.raises(EcgLensError, match="baseline"):
        preprocess(x, 100.0, "median")


def test_run_config_defaults_validation_and_seed():
    run = PtbxlRunConfig()
    assert run.train.loss == "bce" and run.train.monitor == "val_auc"
    # a plain TrainConfig (loss "ce", monitor "val_macro_f1") is switched to this task's loss
    run = PtbxlRunConfig(train=TrainConfig(epochs=3), seed=7)
    assert run.train.loss == "bce" and run.train.monitor == "val_auc" and run.train.seed == 7
    assert run.effective_threshold_rule == "youden"
    assert PtbxlRunConfig(task="superclass").effective_threshold_rule == "f1"
    with pytest.raises(EcgLensError):
        PtbxlRunConfig(task="rhythm")
    with pytest.raises(EcgLensError):
        PtbxlRunConfig(baseline="median")
    with pytest.raises(EcgLensError):
        PtbxlRunConfig(train_fraction=0.0)
    with pytest.raises(EcgLensError):
        PtbxlRunConfig(train=TrainConfig(loss="focal"))


def test_reproduce_command_from_options():
    run = PtbxlRunConfig.from_options(
        task="superclass", baseline="highpass", epochs=12, seed=3, lr=3e-3, batch_size=32,
        patience=4, arch_kwargs='{"dropout": 0.3}', train_fraction=0.5, augment=False,
    )  # fmt: skip
    cmd = reproduce_command(run, "runs/x", "my-model")
    assert cmd.startswith("ecglens train ptbxl --task superclass --arch cam-cnn")
    for part in ("--baseline highpass", "--epochs 12", "--seed 3", "--lr 0.003",
                 "--batch-size 32", "--patience 4", "--train-fraction 0.5", "--no-augment",
                 "--out runs/x", "--name my-model", "'{\"dropout\": 0.3}'"):  # fmt: skip
        assert part in cmd, part
    assert "#" not in cmd
    default = reproduce_command(PtbxlRunConfig.from_options(), "r")
    assert "--no-augment" not in default and "--train-fraction" not in default
    # a setting the command line cannot express is named, so the command never lies
    odd = replace(PtbxlRunConfig(), train=replace(default_train_config(), lr_schedule="plateau"))
    assert "train.lr_schedule='plateau'" in reproduce_command(odd, "r")
    with pytest.raises(EcgLensError, match="JSON"):
        PtbxlRunConfig.from_options(arch_kwargs="{bad")


def test_train_subset_is_nested_and_seeded():
    a, b = train_subset(100, 0.25, 1), train_subset(100, 0.5, 1)
    assert len(a) == 25 and len(b) == 50 and set(a) <= set(b)
    assert np.array_equal(a, train_subset(100, 0.25, 1))
    assert not np.array_equal(a, train_subset(100, 0.25, 2))
    assert np.array_equal(train_subset(7, 1.0, 0), np.arange(7))


def test_augment_works_in_mv_and_is_reproducible():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (4, 12, 1000)).astype(np.float32)
    scaler = LeadScaler(mean=np.full(12, 0.1), std=np.full(12, 0.2))
    augment = make_augment(AugmentConfig(p_noise=1.0, p_scale=0, p_shift=0, p_wander=0), scaler)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    (a,) = augment((torch.from_numpy(x),), g1)
    (b,) = augment((torch.from_numpy(x),), g2)
    assert a.dtype == torch.float32 and a.shape == x.shape
    assert torch.equal(a, b)
    # 0.03 mV noise is 0.15 in units of a 0.2 mV standard deviation
    assert float((a - torch.from_numpy(x)).std()) == pytest.approx(0.15, rel=0.05)


def test_tiny_training_run_writes_a_complete_model(tiny_run):
    root, out, config = tiny_run
    for f in ("model.safetensors", "model.json", "model.md", "metrics.json"):
        assert (out / f).is_file(), f
    assert config["task"] == "ptbxl-binary"
    assert config["classes"] == ["normal", "abnormal"]
    assert config["fs"] == 100 and config["n_leads"] == 12 and config["length"] == 1000
    assert config["lead_names"] == list(LEADS_12)
    prep = config["preprocessing"]
    assert prep["baseline"] == "polynomial" and len(prep["scaler"]["mean"]) == 12
    assert 0.0 < config["threshold"] < 1.0
    assert config["data"]["n_train"] == 32 and config["data"]["n_val"] == 4
    assert config["data"]["counts"]["test"] == {"n": 4, "normal": 2, "abnormal": 2}
    assert config["metrics"]["n_records"] == 4 and config["val_metrics"]["n_records"] == 4
    assert set(config["metrics"]["roc_auc"]) == {"value", "ci"}
    assert config["complexity"]["parameters"] == 19633
    assert config["command"].startswith("ecglens train ptbxl --task binary --arch cam-cnn")
    assert f"--out {out}" in config["command"] and "--epochs 2" in config["command"]
    assert len(config["history"]) == 2
    card = (out / "model.md").read_text()
    assert "## Reproduce" in card and config["command"] in card and "fold 10" in card
    saved = json.loads((out / "model.json").read_text())
    assert saved["threshold"] == config["threshold"]
    # the scaler was fitted on the training folds only
    loaded = load_model(out / "model.safetensors")
    assert loaded.config["preprocessing"]["scaler"] == prep["scaler"]


def test_model_inputs_match_training_scaling(tiny_run):
    _, _, config = tiny_run
    x = np.random.default_rng(0).normal(0, 0.2, (2, 12, 1000))
    out = model_inputs(x, 100.0, config["preprocessing"])
    scaler = LeadScaler.from_dict(config["preprocessing"]["scaler"])
    assert np.allclose(out, scaler.transform(preprocess(x, 100.0, "polynomial")), atol=1e-6)


@pytest.mark.slow
def test_two_epochs_on_the_real_subset(ptbxl_dir, tmp_path):
    torch.set_num_threads(1)
    run = PtbxlRunConfig.from_options(task="superclass", epochs=2, device="cpu")
    config = train_ptbxl(ptbxl_dir.parent, tmp_path / "run", run, progress=False)
    assert config["task"] == "ptbxl-superclass"
    assert set(config["threshold"]) == {"NORM", "MI", "STTC", "CD", "HYP"}
    assert config["complexity"]["parameters"] <= 100_000
    assert config["split"]["train_folds"] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert config["metrics"]["macro_auc"]["value"] > 0.7


def test_the_12lead_mi_task_trains_and_predicts(tmp_path, fake_ptbxl):
    """MI vs NORM-only records from all 12 leads (the comparison row of the MI results)."""
    from ecglens.predict import classify

    torch.set_num_threads(1)
    root = fake_ptbxl(tmp_path / "data", per_fold=8)
    run = PtbxlRunConfig.from_options(task="mi", epochs=1, batch_size=16, device="cpu")
    config = train_ptbxl(root, tmp_path / "run", run, progress=False, cache_dir=None)
    assert config["task"] == "ptbxl-mi-12lead" and config["outputs"] == ["MI"]
    assert config["classes"] == ["normal", "MI"]
    loaded = load_model(tmp_path / "run" / "model.safetensors")
    from ecglens.io import read_record

    record = read_record(root / "ptb-xl" / "records100" / "00000" / "00001_lr")
    pred = classify(record, loaded).to_dict()
    assert pred["label"] in ("normal", "MI") and pred["positive"] == "MI"
