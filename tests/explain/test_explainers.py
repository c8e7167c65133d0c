"""The explainer table: every record's function runs on a tiny model of each family it applies
to, names are checked with a suggestion, and the CLI help is made from the records."""

import importlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from ecglens.errors import EcgLensError
from ecglens.explain import attribute
from ecglens.explain.explainers import (
    BOTH,
    CAM_FAMILIES,
    EXPLAINERS,
    FAMILIES,
    explainers_for,
    figure_methods,
    get_explainer,
    label_of,
    methods_help,
)


class TinyBeat(torch.nn.Module):
    """A 1-D CNN over (B, L) one-lead beats with five classes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 4, 5, padding=2)
        self.head = torch.nn.Linear(4, 5)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x[:, None])).mean(dim=2))


class TinyCam(torch.nn.Module):
    """A 12-lead CAM network: logits (B, 2) and its class activation map (B, 2, L)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(12, 4, 5, padding=2)
        self.classes = torch.nn.Conv1d(4, 2, 1)

    def forward(self, x):
        cam = self.classes(torch.relu(self.conv(x)))
        return cam.mean(dim=2), cam


class TinyImage(torch.nn.Module):
    """A 2-D CNN over (B, 3, H, W) printouts with three classes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.head = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def _tiny(family: str) -> tuple[torch.nn.Module, torch.Tensor]:
    """A small model of ``family`` and inputs for it."""
    torch.manual_seed(0)
    if family == "beats":
        return TinyBeat().eval(), torch.randn(2, 64)
    if family == "beats-cam":  # a beat network with its own class activation map
        from ecglens.models.beat_cam import BeatCamNet

        return BeatCamNet(channels=4, n_blocks=2, n_pooled=1).eval(), torch.randn(2, 64)
    if family == "12-lead":
        return TinyCam().eval(), torch.randn(1, 12, 100)  # one record: Shapley's 120 segments
    return TinyImage().eval(), torch.rand(2, 3, 24, 32)


def _expected_shape(family: str, x: torch.Tensor, per_input: bool) -> tuple[int, ...]:
    if family == "image":
        return (x.shape[0], *x.shape[-2:])  # summed over colour channels
    return tuple(x.shape) if per_input else (x.shape[0], x.shape[-1])


CASES = [(family, name) for family in FAMILIES for name in explainers_for(family)] + [
    ("beats-cam", name) for name in explainers_for("beats", cam_output=True)
]


@pytest.mark.parametrize(("family", "name"), CASES)
def test_every_explainer_runs_on_each_family_it_applies_to(family, name):
    explainer = get_explainer(name)
    model, x = _tiny(family)
    target = torch.tensor([1, 0])[: len(x)]
    options = {"seed": 0} if explainer.seeded else {}
    maps = np.asarray(explainer.attribute(model, (x,), target, None, **options))
    assert maps.shape == _expected_shape(family, x, explainer.per_input)
    via_attribute = attribute(model, x, target.numpy(), name)
    assert via_attribute.dtype == np.float32
    np.testing.assert_allclose(via_attribute, maps, rtol=1e-5, atol=1e-6)


def test_family_lists_keep_their_order_and_default():
    per_input = ("saliency", "smoothgrad", "integrated-gradients", "occlusion", "shapley")
    assert explainers_for("beats") == ("grad-cam", *per_input)
    # a beat network that outputs its own CAM: CAM first (its default), as on 12-lead models
    assert explainers_for("beats", cam_output=True) == ("cam", "grad-cam", *per_input)
    assert explainers_for("12-lead", cam_output=False) == ("grad-cam", *per_input)
    assert CAM_FAMILIES == ("12-lead",)
    assert explainers_for("12-lead") == ("cam", "grad-cam", *per_input)
    assert explainers_for("image") == ("grad-cam", *per_input)
    assert figure_methods("12-lead") == (*explainers_for("12-lead"), BOTH)
    assert BOTH not in figure_methods("beats")
    with pytest.raises(EcgLensError, match="unknown model family"):
        explainers_for("audio")


def test_facts_of_the_records():
    assert {e.name for e in EXPLAINERS.values() if e.seeded} == {"smoothgrad", "shapley"}
    assert {e.name for e in EXPLAINERS.values() if e.slow} == {
        "smoothgrad",
        "integrated-gradients",
        "occlusion",
        "shapley",
    }
    assert [e.name for e in EXPLAINERS.values() if e.takes_layer] == ["grad-cam"]
    assert [e.name for e in EXPLAINERS.values() if e.needs_cam_output] == ["cam"]
    for name, record in EXPLAINERS.items():
        assert record.name == name and record.label and record.help
        assert set(record.families) <= set(FAMILIES)
        assert record.display in ("minmax", "magnitude", "evidence")
    assert label_of("grad-cam") == "Grad-CAM" and label_of("both") == "both"


def test_unknown_name_lists_the_known_ones_and_suggests_the_closest():
    with pytest.raises(EcgLensError, match="did you mean 'grad-cam'") as info:
        get_explainer("gradcam")
    assert all(name in str(info.value) for name in EXPLAINERS)
    with pytest.raises(EcgLensError, match="unknown method 'lime'; known explainers"):
        get_explainer("lime")


def test_methods_help_names_every_explainer():
    text = methods_help()
    for record in EXPLAINERS.values():
        assert f"{record.name} ({record.help}" in text
    assert f"{BOTH} (CAM above Grad-CAM" in text
    assert "\n" not in text


def test_reading_the_table_imports_no_torch():
    code = (
        "import sys; from ecglens.explain.explainers import methods_help; methods_help(); "
        "print('torch' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_attribute_stays_the_function_after_its_module_is_imported():
    import ecglens.explain  # noqa: F401 (the package itself)

    importlib.import_module("ecglens.explain.attribute")

    assert callable(ecglens.explain.attribute)
    assert ecglens.explain.attribute is sys.modules["ecglens.explain.attribute"].attribute
