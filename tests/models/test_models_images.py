import json

import pytest
import torch

import ecglens.models.images  # noqa: F401  (registers the image architectures)
from ecglens.errors import EcgLensError
from ecglens.models import create_model, list_models, load_model, save_pretrained
from ecglens.models.images import ImageFusion, InvertedResidual

torch.set_num_threads(1)

SMALL = {
    "image-cnn": {"channels": (8, 16, 32)},
    "mobilenet-v2": {"width_mult": 0.25},
    "vgg16": {"width_mult": 0.125},
}
REDUCTION = {"image-cnn": 8, "mobilenet-v2": 32, "vgg16": 32}  # input / feature-map size


def _model(name, **kwargs):
    torch.manual_seed(0)
    return create_model(name, **{**SMALL[name], **kwargs}).eval()


def test_architectures_are_registered():
    assert {"image-cnn", "mobilenet-v2", "vgg16", "image-fusion"} <= set(list_models())


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("in_channels", [1, 3])
def test_forward_shapes(name, in_channels):
    model = _model(name, num_classes=4, in_channels=in_channels)
    x = torch.rand(2, in_channels, 64, 96)
    with torch.no_grad():
        features = model.forward_features(x)
        side = REDUCTION[name]
        assert features.shape == (2, model.embedding_dim, 64 // side, 96 // side)
        logits = model(x)
        assert logits.shape == (2, 4)
        torch.testing.assert_close(model.forward_head(features), logits)
        assert model.forward_head(features, pre_logits=True).shape == (2, model.embedding_dim)
        model.reset_head(7)
        assert model(x).shape == (2, 7) and model.num_classes == 7
        model.reset_head(0)
        assert model(x).shape == (2, model.embedding_dim)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_wrong_input_is_a_clear_error(name):
    model = _model(name)
    with pytest.raises(ValueError, match=r"expected images \(B, 1, H, W\)"):
        model(torch.rand(2, 3, 64, 64))
    with pytest.raises(EcgLensError, match="in_channels"):
        create_model(name, in_channels=2)


def test_parameter_counts_of_the_documented_table():
    counts = {
        ("image-cnn", ()): 389_348,
        ("mobilenet-v2", ()): 2_228_420,
        ("mobilenet-v2", (("width_mult", 0.5),)): 692_516,
        ("vgg16", (("width_mult", 0.125),)): 231_212,
        ("vgg16", (("width_mult", 0.125), ("batch_norm", False))): 230_684,
    }
    for (name, kwargs), expected in counts.items():
        model = create_model(name, **dict(kwargs))
        assert sum(p.numel() for p in model.parameters()) == expected, (name, kwargs)


def test_architecture_structure():
    mobilenet = create_model("mobilenet-v2")
    blocks = [m for m in mobilenet.modules() if isinstance(m, InvertedResidual)]
    assert len(blocks) == 17 and sum(b.use_skip for b in blocks) == 10
    widths = [16] + [24] * 2 + [32] * 3 + [64] * 4 + [96] * 3 + [160] * 3 + [320]
    assert [b.conv[-2].out_channels for b in blocks] == widths
    assert mobilenet.embedding_dim == 1280
    vgg = create_model("vgg16", width_mult=0.125)
    convs = [m for m in vgg.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13 and [c.out_channels for c in convs[::3]] == [8, 16, 32, 64, 64]
    plain = create_model("vgg16", width_mult=0.125, batch_norm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())


MEMBERS = [
    {"architecture": "image-cnn", "kwargs": SMALL["image-cnn"]},
    {"architecture": "vgg16", "kwargs": SMALL["vgg16"]},
]


def _fusion(**kwargs):
    torch.manual_seed(0)
    return create_model("image-fusion", members=MEMBERS, num_classes=4, **kwargs)


def test_feature_fusion_concatenates_embeddings_into_a_linear_head():
    model = _fusion(mode="features").eval()
    x = torch.rand(3, 1, 64, 64)
    assert model.embedding_dim == 32 + 64
    with torch.no_grad():
        embedding = model.forward_embedding(x)
        assert embedding.shape == (3, 96)
        torch.testing.assert_close(model(x), model.fc(embedding))
    model.reset_head(2)
    assert model(x).shape == (3, 2)


def test_feature_fusion_freezes_members_only_when_asked():
    x = torch.rand(2, 1, 64, 64)
    for freeze in (False, True):
        model = _fusion(mode="features", freeze_members=freeze).train()
        model(x).sum().backward()
        member_grads = [p.grad is not None for p in model.members[0].blocks.parameters()]
        assert all(member_grads) != freeze
        assert all(p.grad is not None for p in model.fc.parameters())
        assert all(not m.training for m in model.members.modules()) == freeze
        assert model.training


def test_probability_fusion_averages_member_softmax():
    model = _fusion(mode="probabilities").eval()
    x = torch.rand(3, 1, 64, 64)
    with torch.no_grad():
        out = model(x)
        mean = torch.stack([torch.softmax(m(x), 1) for m in model.members]).mean(0)
    torch.testing.assert_close(torch.softmax(out, 1), mean)
    torch.testing.assert_close(out.exp().sum(1), torch.ones(3))
    assert model.fc is None


def test_fusion_errors():
    with pytest.raises(EcgLensError, match="mode"):
        _fusion(mode="votes")
    with pytest.raises(EcgLensError, match="at least one"):
        create_model("image-fusion", members=[])
    with pytest.raises(EcgLensError, match="classes"):
        create_model(
            "image-fusion",
            members=[{"architecture": "image-cnn", "kwargs": {"num_classes": 3}}],
            mode="probabilities",
        )
    plain = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(4))
    with pytest.raises(EcgLensError, match="feature fusion needs image classifiers"):
        ImageFusion([plain], mode="features")
    mixed = [MEMBERS[0], {"architecture": "vgg16", "kwargs": {**SMALL["vgg16"], "in_channels": 3}}]
    with pytest.raises(EcgLensError, match="input channels"):
        create_model("image-fusion", members=mixed)


def test_fusion_round_trips_through_safetensors(tmp_path):
    model = _fusion(mode="features").eval()
    kwargs = {"members": MEMBERS, "num_classes": 4, "mode": "features"}
    classes = ["normal", "mi", "post_mi", "abnormal"]
    config = {"architecture": "image-fusion", "architecture_kwargs": kwargs, "classes": classes}
    path = save_pretrained(model, json.loads(json.dumps(config)), tmp_path / "fusion")
    loaded = load_model(path)
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x), model(x))
