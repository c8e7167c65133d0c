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
