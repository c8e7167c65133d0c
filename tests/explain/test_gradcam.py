import numpy as np
import pytest
import torch

from ecglens.errors import EcgLensError
from ecglens.explain import conv_layer_names, grad_cam
from ecglens.models import create_model


def test_grad_cam_shape_and_range():
    torch.manual_seed(0)
    model = create_model("kachuee").eval()
    x = torch.randn(4, 187)
    maps = grad_cam(model, x, torch.tensor([0, 1, 2, 3]))
    assert maps.shape == (4, 187)
    assert maps.min() >= 0 and maps.max() <= 1


def test_grad_cam_any_named_layer():
    model = create_model("kachuee").eval()
    names = conv_layer_names(model)
    assert names[0] == "stem" and "blocks.4.conv2" in names
    maps = grad_cam(model, torch.randn(2, 187), 1, layer="blocks.0.conv1")
    assert maps.shape == (2, 187)
    with pytest.raises(EcgLensError, match="no layer 'bogus'"):
        grad_cam(model, torch.randn(1, 187), 0, layer="bogus")


def test_grad_cam_points_at_the_evidence():
    """Grad-CAM must be aligned with the input: a bump at samples 85-95 seen by a model
    that reads samples 80-100 gives a map peaking there and zero elsewhere."""

    class Window(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(1, 1, 1, bias=False)
            torch.nn.init.ones_(self.conv.weight)

        def forward(self, x):
            h = self.conv(x.unsqueeze(1))[:, 0]
            mask = torch.zeros(h.shape[1])
            mask[80:100] = 1
            return torch.stack([(h * mask).sum(1), -(h * mask).sum(1)], 1)

    x = torch.zeros(1, 187)
    x[0, 85:95] = 1.0
    maps = grad_cam(Window(), x, 0, layer="conv")
    assert np.argmax(maps[0]) in range(84, 96)
    assert maps[0, :70].max() == 0
