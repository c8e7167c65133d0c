"""The beat network with an exact class activation map: its CAM's mean plus the rhythm term
is the logit, it is found by name and by the explainer table, and it explains through the
one beat path."""

import numpy as np
import pytest
import torch

from ecglens.explain import attribute
from ecglens.models.beat_cam import BeatCamNet
from ecglens.models.cam import outputs_cam
from ecglens.models.kachuee import KachueeNet
from ecglens.models.registry import create_model


def _net(**kwargs) -> BeatCamNet:
    torch.manual_seed(0)
    return BeatCamNet(n_classes=5, n_rr_features=8, **kwargs).eval()


def test_cam_mean_plus_rhythm_term_is_the_logit():
    net = _net(n_pooled=0)  # no pooling: the CAM is at the input's resolution, no upsampling
    x, rr = torch.randn(3, 126), torch.randn(3, 8)
    with torch.no_grad():
        logits, cam = net(x, rr)
        rebuilt = cam.mean(-1) + net.rhythm_logits(rr) + net.classifier.bias
    assert cam.shape == (3, 5, 126)
    torch.testing.assert_close(rebuilt, logits, rtol=1e-5, atol=1e-5)


def test_pooled_cam_is_upsampled_to_the_beat_and_keeps_the_logit_close():
    net = _net()  # two poolings: 126 -> 31 steps, linearly upsampled
    x, rr = torch.randn(4, 126), torch.randn(4, 8)
    with torch.no_grad():
        logits, cam = net(x, rr)
        rebuilt = cam.mean(-1) + net.rhythm_logits(rr) + net.classifier.bias
    assert cam.shape == (4, 5, 126)
    assert torch.allclose(rebuilt, logits, atol=0.05 * logits.abs().max().item())


def test_needs_its_rr_features_and_takes_one_or_two_dimensional_beats():
    net = _net()
    with pytest.raises(ValueError, match="needs RR features"):
        net(torch.randn(2, 126))
    with torch.no_grad():
        a, _ = net(torch.randn(2, 126), torch.zeros(2, 8))
        b, _ = net(torch.randn(2, 1, 126), torch.zeros(2, 8))
    assert a.shape == b.shape == (2, 5)
    with pytest.raises(ValueError, match="n_pooled"):
        BeatCamNet(n_blocks=2, n_pooled=3)


def test_registered_and_known_to_output_a_cam():
    net = create_model("beat-cam", n_classes=5, n_rr_features=32)
    assert isinstance(net, BeatCamNet) and outputs_cam(net)
    assert not outputs_cam(KachueeNet())
    assert not outputs_cam(create_model("beat-cam", n_classes=5, with_cam=False))


def test_cam_explainer_returns_the_network_s_own_map_of_the_target_class():
    net = _net()
    x, rr = torch.randn(3, 126), torch.randn(3, 8)
    target = np.array([0, 2, 1])
    maps = attribute(net, (x, rr), target, "cam")
    with torch.no_grad():
        _, cam = net(x, rr)
    np.testing.assert_allclose(maps, cam[np.arange(3), target].numpy(), rtol=1e-5, atol=1e-6)
    assert maps.shape == (3, 126)


def test_gated_maps_keep_the_identity():
    net = _net(n_pooled=0, rr_gate=True)
    x, rr = torch.randn(3, 126), torch.randn(3, 8)
    with torch.no_grad():
        logits, cam = net(x, rr)
        rebuilt = cam.mean(-1) + net.rhythm_logits(rr) + net.classifier.bias
        other, _ = net(x, rr + 1.0)
    torch.testing.assert_close(rebuilt, logits, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(other - net.rhythm_logits(rr + 1.0), logits - net.rhythm_logits(rr))
