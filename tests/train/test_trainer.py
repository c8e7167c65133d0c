import json

import numpy as np
import torch

from ecglens.models import create_model
from ecglens.train import ArrayDataset, TrainConfig, fit, predict_logits
from ecglens.train.losses import FocalLoss, inverse_frequency_weights


def toy_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 0.3, (n, 64)).astype(np.float32)
    x[np.arange(n), 10 + 15 * y] += 3.0  # class = position of a spike
    return ArrayDataset((x,), y)


def small_model():
    torch.manual_seed(0)
    return create_model("kachuee", n_classes=3, input_length=64, n_blocks=2)


def test_fit_learns_and_writes_checkpoints(tmp_path):
    train, val = toy_data(400, 0), toy_data(200, 1)
    config = TrainConfig(epochs=4, batch_size=32, lr=3e-3, seed=0, device="cpu")
    result = fit(small_model(), train, val, config, tmp_path, progress=False)
    assert result.history[-1]["val_accuracy"] > 0.8
    assert len(list((tmp_path / "checkpoints").glob("epoch-*.safetensors"))) == len(result.history)
    saved = json.loads((tmp_path / "train_config.json").read_text())
    assert saved["seed"] == 0 and saved["epochs"] == 4
    assert not list(tmp_path.rglob("*.tmp"))


def test_resume_continues_to_the_same_weights(tmp_path):
    train, val = toy_data(300, 0), toy_data(100, 1)
    full = fit(
        small_model(),
        train,
        val,
        TrainConfig(epochs=3, batch_size=50, seed=3, device="cpu", patience=99, lr_schedule="none"),
        tmp_path / "a",
        progress=False,
    )
    fit(
        small_model(),
        train,
        val,
        TrainConfig(epochs=2, batch_size=50, seed=3, device="cpu", patience=99, lr_schedule="none"),
        tmp_path / "b",
        progress=False,
    )
    resumed = fit(
        small_model(),
        train,
        val,
        TrainConfig(epochs=3, batch_size=50, seed=3, device="cpu", patience=99, lr_schedule="none"),
        tmp_path / "b",
        resume=True,
        progress=False,
    )
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    np.testing.assert_allclose(
        resumed.history[-1]["train_loss"], full.history[-1]["train_loss"], rtol=1e-5
    )
    x = val.inputs[0]
    np.testing.assert_allclose(
        predict_logits(resumed.model, x), predict_logits(full.model, x), atol=1e-5
    )


def test_class_weights_and_focal_loss():
    w = inverse_frequency_weights(np.array([0, 0, 0, 1]), 3)
    np.testing.assert_allclose(w, [4 / 6, 2.0, 0.0])
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    target = torch.tensor([0, 0])
    ce = torch.nn.functional.cross_entropy(logits, target)
    focal0 = FocalLoss(gamma=0.0)(logits, target)
    torch.testing.assert_close(focal0, ce)
    assert FocalLoss(gamma=2.0)(logits, target) < ce


def test_weighted_sampler_balances_batches(tmp_path):
    data = toy_data(300, 0)
    y = data.targets.copy()
    y[y == 2] = 0
    y[:10] = 2
    config = TrainConfig(epochs=1, batch_size=300, sampler="weighted", device="cpu")
    result = fit(
        small_model(),
        ArrayDataset(data.inputs, y),
        toy_data(60, 1),
        config,
        tmp_path,
        progress=False,
        n_classes=3,
    )
    assert result.history
