"""PTB-XL scoring: AUC, thresholds, bootstrap metrics, and evaluate_ptbxl reproducing the
metrics saved at training time (a synthetic folder; slow: the shipped models on real data)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from ecglens.data.ptbxl import SUPERCLASSES
from ecglens.errors import EcgLensError
from ecglens.evaluate.ptbxl import (
    binary_scores,
    choose_threshold,
    evaluate_ptbxl,
    roc_auc,
    score_binary,
    score_superclass,
)
from ecglens.models.registry import LoadedModel, list_pretrained, load_model


def test_rank_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(y * 0.8, 1.0), 1)  # rounded: many ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert math.isnan(roc_auc(np.ones(5), np.arange(5)))


def test_thresholds_on_validation_scores():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.35, 0.6, 0.7, 0.8, 0.9])
    for rule in ("youden", "f1", "accuracy"):
        t = choose_threshold(y, p, rule)
        assert 0.35 < t < 0.6  # separates the classes, midway between scores
        assert t == pytest.approx(0.475)
    assert choose_threshold(y, p, "fixed") == 0.5
    assert choose_threshold(np.ones(4), p[:4]) == 0.5
    with pytest.raises(EcgLensError):
        choose_threshold(y, p, "best")
    # F1 prefers catching positives: with one high-scoring negative it keeps the low threshold
    y2 = np.array([0, 0, 1, 0, 1, 1])
    p2 = np.array([0.1, 0.2, 0.3, 0.4, 0.8, 0.9])
    assert choose_threshold(y2, p2, "f1") < 0.3


def test_score_binary_is_json_ready_with_intervals():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    p = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1)
    m = score_binary(y, p, 0.5, n_boot=200, seed=0)
    json.dumps(m)
    for k in ("accuracy", "precision", "recall", "specificity", "f1", "roc_auc"):
        assert m[k]["ci"][0] <= m[k]["value"] <= m[k]["ci"][1], k
    assert m["n_records"] == 200 and m["n_normal"] + m["n_abnormal"] == 200
    (tn, fp), (fn, tp) = m["confusion_matrix"]
    assert tn + fp == m["n_normal"] and fn + tp == m["n_abnormal"]
    assert m["accuracy"]["value"] == pytest.approx((tn + tp) / 200)
    assert m["roc_auc"]["value"] == pytest.approx(roc_auc_score(y, p))
    assert m["roc_curve"]["fpr"][0] == 0.0 and m["roc_curve"]["tpr"][-1] == 1.0
    assert score_binary(y, p, 0.5, n_boot=200, seed=0) == m  # deterministic
    s = binary_scores(y, p, 0.5)
    assert s["f1"] == pytest.approx(m["f1"]["value"])


def test_score_superclass_macro_auc_and_counts():
    rng = np.random.default_rng(2)
    y = (rng.random((150, 5)) < [0.4, 0.2, 0.25, 0.2, 0.1]).astype(int)
    p = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1)
    m = score_superclass(y, p, [0.5] * 5, SUPERCLASSES, n_boot=100)
    json.dumps(m)
    aucs = [roc_auc_score(y[:, k], p[:, k]) for k in range(5)]
    assert m["macro_auc"]["value"] == pytest.approx(np.mean(aucs))
    assert m["n_positive"]["MI"] == int(y[:, 1].sum())
    assert m["per_class"]["HYP"]["n_positive"] == int(y[:, 4].sum())
    assert set(m["roc_curves"]) == set(SUPERCLASSES)
    with pytest.raises(EcgLensError):
        score_superclass(y, p[:, :4], [0.5] * 4, SUPERCLASSES[:4])


# -- evaluate_ptbxl on a synthetic PTB-XL folder ---------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory, fake_ptbxl):
    from ecglens.train.ptbxl import PtbxlRunConfig, train_ptbxl

    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("evalptbxl")
    root = fake_ptbxl(base / "data")
    run = PtbxlRunConfig.from_options(epochs=1, batch_size=16, device="cpu")
    config = train_ptbxl(root, base / "run", run, progress=False, cache_dir=None)
    return root, base / "run", config


METRIC_TOLERANCE = 1e-6  # absolute; scikit-learn releases differ in the float width of
# ROC thresholds (float32 vs float64 scores), so reproduced curves agree to ~1e-9, not bit for bit


def _same_metrics(saved, got, key: str = "metrics") -> None:
    """``got`` equals ``saved`` key by key, numbers within :data:`METRIC_TOLERANCE`."""
    if isinstance(saved, dict):
        assert isinstance(got, dict) and set(saved) <= set(got), key
        for k, v in saved.items():
            _same_metrics(v, got[k], f"{key}.{k}")
    elif isinstance(saved, list | tuple):
        assert len(got) == len(saved), key
        for i, (a, b) in enumerate(zip(saved, got, strict=True)):
            _same_metrics(a, b, f"{key}[{i}]")
    elif isinstance(saved, float | int) and not isinstance(saved, bool):
        assert got == pytest.approx(saved, abs=METRIC_TOLERANCE), key
    else:
        assert got == saved, key


def test_evaluate_reproduces_the_training_time_metrics(trained):
    root, run_dir, config = trained
    loaded = load_model(run_dir / "model.safetensors")
    got = evaluate_ptbxl(loaded, root, progress=False, cache_dir=None)
    json.dumps(got)
    assert got["task"] == "ptbxl-binary" and got["folds"] == [10]
    assert len(got["ecg_ids"]) == got["n_records"] == 4
    _same_metrics(config["metrics"], got)
    # the data root may also be the ptb-xl folder itself
    again = evaluate_ptbxl(loaded, root / "ptb-xl", task="binary", progress=False, cache_dir=None)
    _same_metrics(config["metrics"], again)


def test_evaluate_rejects_other_tasks(trained):
    root, run_dir, _ = trained
    loaded = load_model(run_dir / "model.safetensors")
    with pytest.raises(EcgLensError, match="binary"):
        evaluate_ptbxl(loaded, root, task="superclass", progress=False, cache_dir=None)
    config = {"architecture": "kachuee", "task": "beats", "classes": ["N"]}
    beat_model = LoadedModel("beats", torch.nn.Identity(), config)
    with pytest.raises(EcgLensError, match="not a PTB-XL model"):
        evaluate_ptbxl(beat_model, root, progress=False, cache_dir=None)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ecglens-ptbxl-binary", "ecglens-ptbxl-superclass"])
def test_shipped_model_reproduces_its_metrics(name, ptbxl_dir):
    if name not in list_pretrained():
        pytest.skip(f"{name} is not shipped")
    torch.set_num_threads(1)
    loaded = load_model(name)
    got = evaluate_ptbxl(loaded, ptbxl_dir.parent, progress=False, cache_dir=None)
    _same_metrics(loaded.config["metrics"], got)
