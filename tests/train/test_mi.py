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
