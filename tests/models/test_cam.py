"""CAM networks: shapes, the CAM against a manual computation, sizes, FLOPs and ONNX export."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ecglens.models import create_model, list_models
from ecglens.models.cam import (
    SUPERCLASS_CHANNELS,
    count_flops,
    count_parameters,
    normalize_cam,
)

torch.set_num_threads(1)
T = 1000


def _randomized(model: torch.nn.Module) -> torch.nn.Module:
    """Eval-mode model with non-trivial batch-norm statistics."""
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return model.eval()


def _x(batch: int = 3) -> torch.Tensor:
    return torch.randn(batch, 12, T, generator=torch.Generator().manual_seed(1))


def test_registered():
    assert {"cam-cnn", "augustauskas2025"} <= set(list_models())


@pytest.mark.parametrize("name", ["cam-cnn", "augustauskas2025"])
@pytest.mark.parametrize("n_classes", [1, 5])
def test_output_shapes(name, n_classes):
    model = create_model(name, n_classes=n_classes).eval()
    logits, cam = model(_x())
    assert logits.shape == (3, n_classes) and cam.shape == (3, n_classes, T)
    plain = create_model(name, n_classes=n_classes, with_cam=False).eval()
    out = plain(_x())
    assert isinstance(out, torch.Tensor) and out.shape == (3, n_classes)


@pytest.mark.parametrize("name", ["cam-cnn", "augustauskas2025"])
def test_cam_equals_manual_computation(name):
    model = _randomized(create_model(name, n_classes=5))
    x = _x()
    with torch.no_grad():
        logits, cam = model(x)
        maps = model.features(x)  # (B, C, T')
        weight, bias = model.classifier.weight, model.classifier.bias
        low = torch.einsum("kc,bct->bkt", weight, maps)
        manual = F.interpolate(low, size=T, mode="linear", align_corners=False)
    assert maps.shape[-1] == T // 8
    assert torch.allclose(cam, manual, atol=1e-5)
    # classic CAM identity: time-average of the map + bias is the logit (GAP and dense are linear)
    assert torch.allclose(low.mean(dim=-1) + bias, logits, atol=1e-4)


def test_paper_cam_source_uses_last_conv_before_batch_norm():
    model = _randomized(create_model("augustauskas2025", cam_source="conv"))
    x = _x(2)
    with torch.no_grad():
        _, cam = model(x)
        conv_out = model.features[:-2](x)
        low = torch.einsum("kc,bct->bkt", model.classifier.weight, conv_out)
    assert isinstance(model.features[-3], torch.nn.Conv1d)
    assert torch.allclose(cam, F.interpolate(low, size=T, mode="linear"), atol=1e-5)


def test_cam_is_not_trained():
    model = create_model("cam-cnn").train()
    _, cam = model(_x(2))
    cam.sum().backward()
    assert model.classifier.weight.grad is None


def test_normalize_cam():
    cam = torch.randn(2, 5, T) * 3 + 1
    n = normalize_cam(cam)
    assert torch.allclose(n.amin(-1), torch.zeros(2, 5)) and torch.allclose(
        n.amax(-1), torch.ones(2, 5)
    )
    assert torch.equal(normalize_cam(torch.ones(1, 1, 10)), torch.zeros(1, 1, 10))


def test_parameter_counts():
    assert count_parameters(create_model("augustauskas2025")) == 22_273
    binary = count_parameters(create_model("cam-cnn"))
    assert binary <= 25_000 and binary == count_parameters(create_model("cam-cnn", with_cam=False))
    superclass = create_model("cam-cnn", n_classes=5, channels=SUPERCLASS_CHANNELS)
    assert 25_000 < count_parameters(superclass) <= 100_000


def test_flops_per_record_with_and_without_cam():
    paper = count_flops(create_model("augustauskas2025"), (12, T))
    # convs at T, T/2, T/4, T/8: 12*16*11*1000 + 16*16*7*500 + 16*32*7*250 + 32*64*7*125
    assert paper.conv == 5_696_000 and paper.linear == 64
    assert paper.cam == 64 * 125 + 2 * T
    assert (
        paper.without_cam
        == count_flops(create_model("augustauskas2025", with_cam=False), (12, T)).total
    )
    batched = count_flops(create_model("cam-cnn", n_classes=5), (4, 12, T))
    single = count_flops(create_model("cam-cnn", n_classes=5), (12, T))
    assert batched == single and single.cam > 0


onnx_models = pytest.mark.parametrize(
    "name,kwargs",
    [("cam-cnn", {}), ("augustauskas2025", {}), ("cam-cnn", {"n_classes": 5, "with_cam": False})],
)


@onnx_models
def test_onnx_export_matches_pytorch(tmp_path, name, kwargs):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import onnx

    from ecglens.models.onnx_export import check_onnx, export_onnx

    model = _randomized(create_model(name, **kwargs))
    path = export_onnx(model, tmp_path / f"{name}.onnx", (1, 12, T))
    names = [o.name for o in onnx.load(str(path)).graph.output]
    assert names == (["logits", "cam"] if kwargs.get("with_cam", True) else ["logits"])
    assert check_onnx(model, path, _x(4)) < 1e-4  # batch 4 through a batch-1 export: dynamic axis
    assert not list(tmp_path.glob(".*.tmp"))
