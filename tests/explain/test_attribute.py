"""One explainer interface: raw signed maps at the input's resolution, display apart."""

import numpy as np
import pytest
import torch

from ecglens.errors import EcgLensError
from ecglens.explain import attribute, for_display, minmax, scale_by_max
from ecglens.models import create_model


def test_grad_cam_raw_maps_are_signed_and_display_is_relu_scaled():
    torch.manual_seed(0)
    model = create_model("kachuee").eval()
    x = torch.randn(6, 187)
    raw = attribute(model, x, target=np.arange(6) % 5, method="grad-cam")
    assert raw.shape == (6, 187) and raw.dtype == np.float32
    assert (raw < 0).any() and (raw > 0).any()  # raw maps keep their sign
    shown = for_display(raw, "grad-cam")
    assert shown.min() >= 0 and np.allclose(shown.max(axis=1)[shown.max(axis=1) > 0], 1)


def test_target_none_explains_the_predicted_class():
    torch.manual_seed(0)
    model = create_model("kachuee").eval()
    x = torch.randn(3, 187)
    predicted = model(x).argmax(1).numpy()
    np.testing.assert_allclose(
        attribute(model, x), attribute(model, x, target=predicted), atol=1e-6
    )


def test_batches_give_the_same_maps():
    torch.manual_seed(0)
    model = create_model("kachuee").eval()
    x = torch.randn(5, 187)
    np.testing.assert_allclose(
        attribute(model, x, 1, batch_size=2), attribute(model, x, 1), atol=1e-5
    )


def test_grad_cam_on_a_2d_cnn_is_at_image_resolution():
    class Tiny2d(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3, stride=2, padding=1)
            self.head = torch.nn.Linear(4, 3)

        def forward(self, x):
            return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))

    torch.manual_seed(0)
    maps = attribute(Tiny2d().eval(), torch.randn(2, 1, 20, 30), target=1)
    assert maps.shape == (2, 20, 30)


def test_cam_method_reads_the_networks_own_map():
    torch.manual_seed(0)
    model = create_model("cam-cnn", n_leads=12, n_classes=2).eval()
    x = torch.randn(2, 12, 1000)
    maps = attribute(model, x, target=1, method="cam")
    np.testing.assert_allclose(maps, model(x)[1][:, 1].detach().numpy(), atol=1e-6)
    with pytest.raises(EcgLensError, match="class activation map"):
        attribute(create_model("kachuee").eval(), torch.randn(1, 187), 0, method="cam")
    with pytest.raises(EcgLensError, match="unknown method 'lime'"):
        attribute(model, x, 0, method="lime")


def test_display_steps():
    maps = np.array([[-2.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(scale_by_max(maps), [[-1, 0, 0.5], [0, 0, 0]])
    np.testing.assert_allclose(minmax(maps)[0], [0, 2 / 3, 1])


# --------------------------------------------------------------- the captum explainers
PER_INPUT = ("saliency", "smoothgrad", "integrated-gradients", "occlusion", "shapley")


class Window(torch.nn.Module):
    """A toy whose class-1 logit is the sum of samples 40..59 of a (B, 100) input: the true
    relevant samples are known."""

    def forward(self, x):
        z = x[:, 40:60].sum(dim=1, keepdim=True)
        return torch.cat([torch.zeros_like(z), z], dim=1)


@pytest.mark.parametrize("method", PER_INPUT)
def test_per_input_methods_keep_the_input_shape(method):
    torch.manual_seed(0)
    beat = create_model("kachuee").eval()
    assert attribute(beat, torch.rand(3, 187), 1, method).shape == (3, 187)
    rr = create_model("kachuee", n_rr_features=6).eval()  # waveform + RR: the waveform
    assert attribute(rr, (torch.rand(2, 187), torch.rand(2, 6)), 0, method).shape == (2, 187)
    record = create_model("cam-cnn", n_leads=12, n_classes=2).eval()
    maps = attribute(record, torch.randn(2, 12, 300), 1, method)
    assert maps.shape == (2, 12, 300) and np.isfinite(maps).all()  # one map per lead


def test_time_only_methods_on_12_lead_records():
    torch.manual_seed(0)
    record = create_model("cam-cnn", n_leads=12, n_classes=2).eval()
    x = torch.randn(2, 12, 300)
    assert attribute(record, x, 1, "grad-cam").shape == (2, 300)
    assert attribute(record, x, 1, "cam").shape == (2, 300)


def test_context_windows_give_one_map_per_beat():
    torch.manual_seed(0)
    model = create_model("cnn-lstm", n_beats=3).eval()
    assert attribute(model, torch.rand(2, 3, 126), 0, "saliency").shape == (2, 3, 126)


def test_image_maps_sum_the_channels():
    class Tiny2d(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.head = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))

    torch.manual_seed(0)
    for method in ("saliency", "occlusion", "shapley"):
        assert attribute(Tiny2d().eval(), torch.rand(2, 3, 32, 32), 1, method).shape == (
            2, 32, 32
        )


@pytest.mark.parametrize("method", ["smoothgrad", "shapley"])
def test_seeded_methods_are_deterministic(method):
    torch.manual_seed(0)
    model = create_model("kachuee").eval()
    x = torch.rand(4, 187)
    a = attribute(model, x, 2, method, seed=3)
    np.testing.assert_array_equal(a, attribute(model, x, 2, method, seed=3))
    assert not np.allclose(a, attribute(model, x, 2, method, seed=4))


@pytest.mark.parametrize("method", PER_INPUT)
def test_relevance_falls_on_the_samples_the_model_reads(method):
    torch.manual_seed(0)
    x = torch.rand(8, 100) + 0.5  # positive: every window sample raises the class-1 logit
    maps = attribute(Window(), x, 1, method)
    inside = np.abs(maps[:, 40:60]).sum(1)
    near = np.s_[33:67]  # segment and occlusion windows (about 7 samples) spill this far
    outside = np.abs(np.delete(maps, near, axis=1)).sum(1)
    assert (inside > 0).all() and np.allclose(outside, 0, atol=1e-6 * inside.max())


def test_layer_applies_to_grad_cam_only():
    model = create_model("kachuee").eval()
    with pytest.raises(EcgLensError, match="grad-cam only"):
        attribute(model, torch.rand(1, 187), 0, "saliency", layer="stem")


def test_display_of_every_method_is_in_0_1():
    maps = np.array([[-2.0, 0.5, 1.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    for method in ("grad-cam", "cam", *PER_INPUT):
        shown = for_display(maps, method)
        assert shown.shape == maps.shape and shown.min() >= 0 and shown.max() <= 1
    np.testing.assert_allclose(for_display(maps, "saliency")[0], [1, 0.25, 0.5])
    np.testing.assert_allclose(for_display(maps, "integrated-gradients")[0], [0, 0.5, 1])
