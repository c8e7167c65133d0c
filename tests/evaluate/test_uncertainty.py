import math

import numpy as np
import pytest
import torch
from torch import nn

from ecglens.evaluate.uncertainty import (
    mc_dropout_mode,
    mc_dropout_predict,
    review_flags,
    review_summary,
    threshold_for_fraction,
)
from ecglens.models.cnn_lstm import CNNLSTM

torch.set_num_threads(1)


def _model(**kwargs):
    torch.manual_seed(0)
    model = CNNLSTM(channels=[8, 16], lstm_hidden=8, head_hidden=16, dropout=0.5, **kwargs)
    with torch.no_grad():  # non-trivial running statistics
        model.train()
        rr = (torch.randn(64, kwargs["n_rr_features"]),) if "n_rr_features" in kwargs else ()
        model(torch.randn(64, 187) * 3 + 1, *rr)
    return model.eval()


def test_mode_switches_dropout_only_and_restores():
    model = _model()
    model.train()
    with mc_dropout_mode(model):
        kinds = {type(m).__name__: m.training for m in model.modules()}
        assert kinds["Dropout"] is True
        assert kinds["BatchNorm1d"] is False
    assert all(m.training for m in model.modules())
    with pytest.raises(ValueError), mc_dropout_mode(nn.Linear(2, 2)):
        pass


def test_mc_dropout_predict_shapes_ranges_and_seed():
    model = _model(n_rr_features=2)
    x = torch.randn(10, 187)
    rr = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    before = torch.random.get_rng_state()
    probs, u = mc_dropout_predict(model, (x, rr), n_samples=8, batch_size=4, seed=3)
    assert torch.equal(before, torch.random.get_rng_state())
    assert probs.shape == (10, 5) and u.shape == (10,)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert ((u >= 0) & (u <= 1)).all()
    again, u2, mi = mc_dropout_predict(
        model, (x, rr), n_samples=8, batch_size=4, seed=3, return_mutual_information=True
    )
    assert np.array_equal(probs, again) and np.array_equal(u, u2)
    assert ((mi >= 0) & (mi <= u + 1e-9)).all() and mi.max() > 0
    other, _ = mc_dropout_predict(model, (x, rr), n_samples=8, seed=4)
    assert not np.allclose(probs, other)
    assert not model.training


def test_single_sample_without_dropout_effect_matches_eval():
    model = _model()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    x = torch.randn(6, 187)
    probs, u, mi = mc_dropout_predict(model, x, n_samples=3, return_mutual_information=True)
    with torch.no_grad():
        expected = torch.softmax(model(x), dim=1).double().numpy()
    assert np.allclose(probs, expected, atol=1e-6)
    assert np.allclose(mi, 0.0, atol=1e-9)
    entropy = -(expected * np.log(expected)).sum(1) / math.log(5)
    assert np.allclose(u, entropy, atol=1e-6)


def test_review_summary():
    u = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.3, 0.05, 0.0, 0.01, 0.02])
    correct = np.array([0, 0, 1, 1, 1, 1, 1, 0, 1, 1], dtype=bool)
    rows = review_summary(u, correct, fractions=(0.2, 0.5))
    first = rows[0]
    assert first["n_flagged"] == 2 and first["threshold"] == 0.8
    assert first["error_rate_flagged"] == 1.0
    assert first["error_rate_rest"] == pytest.approx(1 / 8)
    assert first["errors_caught"] == pytest.approx(2 / 3)
    assert first["error_rate_all"] == pytest.approx(0.3)
    assert rows[1]["n_flagged"] == 5 and rows[1]["errors_caught"] == pytest.approx(2 / 3)
    flags = review_flags(u, threshold_for_fraction(u, 0.2))
    assert flags.sum() == 2 and flags[:2].all()
    assert review_summary(u, correct, fractions=(0.0,))[0]["n_flagged"] == 0
