import json

import numpy as np
import pytest
import torch

from ecglens.errors import EcgLensError
from ecglens.explain import attribute, grad_cam
from ecglens.models import create_model, load_model, save_pretrained

MEMBER = {"architecture": "kachuee", "kwargs": {"input_length": 126, "n_rr_features": 6}}


def _ensemble(n=3):
    torch.manual_seed(0)
    return create_model("ensemble", members=[MEMBER] * n, n_classes=5).eval()


def test_ensemble_returns_the_log_of_the_members_mean_probability():
    model = _ensemble()
    x, rr = torch.randn(4, 126), torch.randn(4, 6)
    mean = torch.stack([torch.softmax(m(x, rr), 1) for m in model.members]).mean(0)
    torch.testing.assert_close(torch.softmax(model(x, rr), 1), mean)
    torch.testing.assert_close(model(x, rr).exp().sum(1), torch.ones(4))


def test_disagreeing_members_raise_the_entropy():
    model = _ensemble(2)
    x, rr = torch.randn(8, 126), torch.randn(8, 6)

    def entropy(log_p):
        return -(log_p.exp() * log_p).sum(1)

    with torch.no_grad():
        for p in model.members[1].parameters():
            p.add_(torch.randn_like(p))
        members = [entropy(torch.log_softmax(m(x, rr), 1)) for m in model.members]
        ensemble = entropy(model(x, rr))
    # entropy of the mean >= mean entropy (strictly, where members disagree)
    assert torch.all(ensemble >= (members[0] + members[1]) / 2 - 1e-6)
    assert torch.any(ensemble > (members[0] + members[1]) / 2 + 1e-3)


def test_ensemble_round_trips_through_safetensors(tmp_path):
    model = _ensemble()
    kwargs = {"members": [MEMBER] * 3, "n_classes": 5}
    config = {"architecture": "ensemble", "architecture_kwargs": kwargs, "classes": list("NSVFQ")}
    loaded = load_model(save_pretrained(model, json.loads(json.dumps(config)), tmp_path / "m"))
    x, rr = torch.randn(2, 126), torch.randn(2, 6)
    torch.testing.assert_close(loaded.module(x, rr), model(x, rr))


def test_members_must_agree_on_classes():
    with pytest.raises(EcgLensError, match="classes"):
        create_model("ensemble", members=[{**MEMBER, "kwargs": {"n_classes": 4}}], n_classes=5)
    with pytest.raises(EcgLensError, match="at least one"):
        create_model("ensemble", members=[])


def test_grad_cam_averages_the_members():
    model = _ensemble(2)
    x, rr = torch.randn(3, 126), torch.randn(3, 6)
    raw = attribute(model, (x, rr), target=0, method="grad-cam")
    members = [attribute(m, (x, rr), target=0, method="grad-cam") for m in model.members]
    np.testing.assert_allclose(raw, np.mean(members, axis=0), atol=1e-6)
    maps = grad_cam(model, (x, rr), target=0)  # display form: ReLU, scaled to [0, 1]
    assert maps.shape == (3, 126) and np.all(maps >= 0) and np.all(maps <= 1)
    peak = np.maximum(raw, 0).max(axis=1, keepdims=True)
    expected = np.divide(np.maximum(raw, 0), peak, out=np.zeros_like(raw), where=peak > 0)
    np.testing.assert_allclose(maps, expected, atol=1e-6)
    one = grad_cam(model, (x, rr), target=0, layer="members.0.blocks.4.conv2")
    assert one.shape == (3, 126)
