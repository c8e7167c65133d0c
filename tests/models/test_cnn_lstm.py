import json

import pytest
import torch

from ecglens.models import create_model, list_models
from ecglens.models.cnn_lstm import CNNLSTM, WithRRFeatures

torch.set_num_threads(1)

SMALL = {"channels": [8, 16], "lstm_hidden": 8, "context_hidden": 8, "head_hidden": 8}


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({}, (4, 187)),
        ({}, (4, 1, 187)),
        ({}, (4, 1, 256)),
        ({"n_beats": 3}, (4, 3, 187)),
        ({"n_beats": 5, "bidirectional": False}, (4, 5, 187)),
        ({"in_channels": 2}, (4, 2, 187)),
        ({"in_channels": 2, "n_beats": 3}, (4, 3, 2, 187)),
    ],
)
def test_output_shape(kwargs, shape):
    model = CNNLSTM(**SMALL, **kwargs).eval()
    assert model(torch.randn(*shape)).shape == (4, 5)


def test_rr_features_and_gradients():
    model = CNNLSTM(**SMALL, n_beats=3, n_rr_features=6, n_classes=4)
    x = torch.randn(4, 3, 187)
    rr = torch.randn(4, 6)
    logits = model(x, rr)
    assert logits.shape == (4, 4)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.encoder.conv[0][0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        model(x)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        CNNLSTM(**SMALL, n_beats=3)(torch.randn(2, 5, 187))
    with pytest.raises(ValueError):
        CNNLSTM(**SMALL)(torch.randn(2, 187), torch.randn(2, 3))
    with pytest.raises(ValueError):
        CNNLSTM(n_beats=2)


def test_context_uses_neighbouring_beats():
    model = CNNLSTM(**SMALL, n_beats=3).eval()
    x = torch.randn(2, 3, 187)
    y = x.clone()
    y[:, 0] += 1.0
    assert not torch.allclose(model(x), model(y))


def test_registry_and_json_kwargs():
    assert "cnn-lstm" in list_models()
    kwargs = json.loads(json.dumps({**SMALL, "n_beats": 3, "n_rr_features": 4, "dropout": 0.2}))
    model = create_model("cnn-lstm", **kwargs)
    assert isinstance(model, CNNLSTM)
    twin = create_model("cnn-lstm", **kwargs)
    twin.load_state_dict(model.state_dict())
    n_params = sum(p.numel() for p in create_model("cnn-lstm").parameters())
    assert 50_000 < n_params < 300_000


def test_with_rr_wrapper():
    kwargs = json.loads(
        json.dumps({"base": "cnn-lstm", "base_kwargs": SMALL, "n_rr_features": 3, "n_classes": 5})
    )
    model = create_model("with-rr", **kwargs)
    assert isinstance(model, WithRRFeatures)
    assert model(torch.randn(2, 187), torch.randn(2, 3)).shape == (2, 5)
    with pytest.raises(TypeError):
        WithRRFeatures(torch.nn.Linear(3, 3), n_rr_features=2)


def test_eval_is_deterministic():
    model = CNNLSTM(**SMALL).eval()
    x = torch.randn(3, 187)
    assert torch.equal(model(x), model(x))
