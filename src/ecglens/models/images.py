"""2-D CNNs for ECG printout images, timm-style, in plain PyTorch.

Input (B, C, H, W) in [0, 1] with C = ``in_channels`` (1 grayscale or 3 RGB). Every model
has ``forward_features(x) -> (B, embedding_dim, h, w)`` feature maps, ``forward_head(f)``
(global average pooling, dropout, linear) ``-> logits (B, num_classes)``, ``forward(x)`` =
both, and ``reset_head(num_classes)`` (timm's ``reset_classifier``; 0 gives the pooled
embedding (B, embedding_dim)).

* ``image-cnn``: four conv3x3-BN-ReLU-maxpool blocks.
* ``mobilenet-v2``: Sandler et al., "MobileNetV2: Inverted Residuals and Linear
  Bottlenecks" (CVPR 2018), the ImageNet block table, ``width_mult``.
* ``vgg16``: Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale
  Image Recognition" (ICLR 2015), configuration D (13 conv layers), channels times
  ``width_mult``, optional BatchNorm; a global-average-pooling head replaces the three
  fully connected layers.
* ``image-fusion``: members' pooled embeddings concatenated into a trained linear head
  (``mode="features"``), or their softmax averaged (``mode="probabilities"``).

Parameters (4 classes, 1 input channel; the counts do not depend on the input size) and
feature maps (C x h x w) at input 1x256x256, measured:

=========================================  ==========  ==============
model                                      parameters  feature maps
=========================================  ==========  ==============
image-cnn (default: 32-64-128-256)            389,348  256 x 16 x 16
mobilenet-v2 (default: width_mult=1.0)      2,228,420  1280 x 8 x 8
mobilenet-v2, width_mult=0.5                  692,516  1280 x 8 x 8
mobilenet-v2, width_mult=0.25                 243,092  1280 x 8 x 8
vgg16 (default: width_mult=1.0, BN)        14,719,812  512 x 8 x 8
vgg16, width_mult=0.25, BN                    922,068  128 x 8 x 8
vgg16, width_mult=0.125, BN                   231,212  64 x 8 x 8
vgg16, width_mult=0.125, no BN                230,684  64 x 8 x 8
=========================================  ==========  ==============

mobilenet-v2 at width 1.0 is torchvision's 3,504,872 less its 1000-class head and RGB
stem; vgg16 with BN is torchvision's vgg16_bn features (14,723,136) less the RGB stem and
the 4,224 conv biases before BatchNorm, plus the 4-class head.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ecglens.errors import EcgLensError
from ecglens.models.registry import create_model, register_model

N_IMAGE_CLASSES = 4  # normal, MI, post-MI, abnormal heartbeat

# MobileNetV2 (Sandler et al. 2018, table 2): expansion t, output channels c, repeats n,
# stride s of the first repeat.
MOBILENET_V2_BLOCKS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
# VGG configuration D: output channels of the 13 conv3x3 layers, "M" = 2x2 max-pool.
VGG16_LAYERS: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip


def _make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of ``divisor``, never below 90 % of ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _check_args(num_classes: int, in_channels: int) -> None:
    if num_classes < 0:
        raise EcgLensError(f"num_classes must be >= 0, not {num_classes}")
    if in_channels not in (1, 3):
        raise EcgLensError(f"in_channels must be 1 (grayscale) or 3 (RGB), not {in_channels}")


class ImageClassifier(nn.Module):
    """Shared head: global average pooling -> dropout -> linear ``fc``.

    Subclasses set ``embedding_dim`` and implement :meth:`forward_features`.
    """

    embedding_dim: int
    in_channels: int

    def _init_head(self, num_classes: int, dropout: float) -> None:
        self.num_classes = num_classes
        self.dropout = nn.Dropout(dropout)
        self.fc: nn.Module = nn.Identity()
        self.reset_head(num_classes)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected images (B, {self.in_channels}, H, W), got {tuple(x.shape)}")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> feature maps (B, embedding_dim, h, w)."""
        raise NotImplementedError

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Feature maps (B, embedding_dim, h, w) -> logits (B, num_classes), or the pooled
        embedding (B, embedding_dim) with ``pre_logits``."""
        pooled = features.mean(dim=(2, 3))
        return pooled if pre_logits else self.fc(self.dropout(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_head(self, num_classes: int) -> None:
        """A new, untrained linear head for ``num_classes`` (0: no head, logits = embedding)."""
        if num_classes < 0:
            raise EcgLensError(f"num_classes must be >= 0, not {num_classes}")
        self.num_classes = num_classes
        if num_classes:
            self.fc = nn.Linear(self.embedding_dim, num_classes)
            nn.init.normal_(self.fc.weight, 0.0, 0.01)
            nn.init.zeros_(self.fc.bias)
        else:
            self.fc = nn.Identity()


def _conv_bn_relu(c_in: int, c_out: int, batch_norm: bool = True) -> list[nn.Module]:
    """conv3x3 (padding 1) [-> BN] -> ReLU; the conv has a bias only without BN."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return layers


def _init_conv_bn(module: nn.Module) -> None:
    """He (fan-out) conv weights, BN weight 1 and bias 0, as torchvision does."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ImageCNN(ImageClassifier):
    """Blocks conv3x3-BN-ReLU-maxpool(2) of ``channels``; features at H/2^k x W/2^k.

    Conv layers for Grad-CAM: ``blocks.0.0`` ... ``blocks.{k-1}.0``.
    """

    def __init__(
        self,
        num_classes: int = N_IMAGE_CLASSES,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 64, 128, 256),
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        _check_args(num_classes, in_channels)
        if not channels:
            raise EcgLensError("image-cnn needs at least one block (channels)")
        self.in_channels = in_channels
        widths = [in_channels, *channels]
        self.blocks = nn.Sequential(
            *[
                nn.Sequential(*_conv_bn_relu(c_in, c_out), nn.MaxPool2d(2))
                for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
            ]
        )
        self.embedding_dim = int(channels[-1])
        _init_conv_bn(self)
        self._init_head(num_classes, dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        return self.blocks(x)


class InvertedResidual(nn.Module):
    """1x1 expand (t x) -> BN-ReLU6 -> depthwise 3x3 (stride) -> BN-ReLU6 -> 1x1 linear
    projection -> BN, plus the input when stride is 1 and channels match."""

    def __init__(self, c_in: int, c_out: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = c_in * expansion
        self.use_skip = stride == 1 and c_in == c_out
        layers: list[nn.Module] = []
        if expansion != 1:
            layers += [nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden)]
            layers.append(nn.ReLU6(inplace=True))
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_skip else self.conv(x)


class MobileNetV2(ImageClassifier):
    """Stem conv3x3 stride 2 (32 x width) -> 17 inverted residual blocks -> conv1x1 to
    1280 channels (times ``width_mult`` when above 1); features at H/32 x W/32.

    Channels are ``width_mult`` times the paper's, rounded to multiples of 8. The last
    conv for Grad-CAM: ``features.18.0``.
    """

    def __init__(
        self,
        num_classes: int = N_IMAGE_CLASSES,
        in_channels: int = 1,
        width_mult: float = 1.0,
        dropout: float = 0.2,
        last_channels: int = 1280,
    ) -> None:
        super().__init__()
        _check_args(num_classes, in_channels)
        if width_mult <= 0:
            raise EcgLensError(f"width_mult must be > 0, not {width_mult}")
        self.in_channels = in_channels
        c_in = _make_divisible(32 * width_mult)
        self.embedding_dim = _make_divisible(last_channels * max(1.0, width_mult))
        layers: list[nn.Module] = [
            nn.Sequential(
                nn.Conv2d(in_channels, c_in, 3, 2, padding=1, bias=False),
                nn.BatchNorm2d(c_in),
                nn.ReLU6(inplace=True),
            )
        ]
        for t, c, n, s in MOBILENET_V2_BLOCKS:
            c_out = _make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(c_in, c_out, s if i == 0 else 1, t))
                c_in = c_out
        layers.append(
            nn.Sequential(
                nn.Conv2d(c_in, self.embedding_dim, 1, bias=False),
                nn.BatchNorm2d(self.embedding_dim),
                nn.ReLU6(inplace=True),
            )
        )
        self.features = nn.Sequential(*layers)
        _init_conv_bn(self)
        self._init_head(num_classes, dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        return self.features(x)


class VGG16(ImageClassifier):
    """Configuration D: 13 conv3x3 (+ BN) + ReLU in five stages, each ending in a 2x2
    max-pool; features at H/32 x W/32 with 512 x ``width_mult`` channels.

    Channels are ``max(1, round(c * width_mult))`` (0.125: 8-16-32-64-64).
    """

    def __init__(
        self,
        num_classes: int = N_IMAGE_CLASSES,
        in_channels: int = 1,
        width_mult: float = 1.0,
        batch_norm: bool = True,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        _check_args(num_classes, in_channels)
        if width_mult <= 0:
            raise EcgLensError(f"width_mult must be > 0, not {width_mult}")
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        c_in = in_channels
        for item in VGG16_LAYERS:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                c_out = max(1, round(int(item) * width_mult))
                layers += _conv_bn_relu(c_in, c_out, batch_norm)
                c_in = c_out
        self.features = nn.Sequential(*layers)
        self.embedding_dim = c_in
        _init_conv_bn(self)
        self._init_head(num_classes, dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        return self.features(x)


FUSION_MODES = ("features", "probabilities")


class ImageFusion(nn.Module):
    """Fusion of image classifiers that take the same input (B, C, H, W).

    * ``"features"``: the members' pooled embeddings, concatenated (B, embedding_dim = sum
      of theirs), -> dropout -> a linear head ``fc`` -> logits (B, num_classes). With
      ``freeze_members`` the members get no gradient and stay in eval mode (BatchNorm
      statistics fixed), so only ``fc`` trains.
    * ``"probabilities"``: the log of the members' mean softmax (B, num_classes); its
      softmax is the fusion's probability, and argmax works on it as on logits.
    """

    def __init__(
        self,
        members: Sequence[nn.Module],
        num_classes: int = N_IMAGE_CLASSES,
        mode: str = "features",
        freeze_members: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if mode not in FUSION_MODES:
            raise EcgLensError(f"unknown fusion mode {mode!r}; choose {' or '.join(FUSION_MODES)}")
        if not members:
            raise EcgLensError("a fusion needs at least one member")
        channels = {getattr(m, "in_channels", None) for m in members}
        if len(channels) > 1:
            raise EcgLensError(f"fusion members take different input channels: {channels}")
        if mode == "probabilities":
            got = [getattr(m, "num_classes", num_classes) for m in members]
            if any(g != num_classes for g in got):
                raise EcgLensError(f"fusion members have {got} classes, not {num_classes}")
        self.mode = mode
        self.num_classes = num_classes
        self.in_channels = channels.pop()
        self.freeze_members = freeze_members
        plain = [type(m).__name__ for m in members if not hasattr(m, "embedding_dim")]
        if mode == "features" and plain:
            raise EcgLensError(
                f"feature fusion needs image classifiers (embedding_dim, forward_features, "
                f"forward_head); not {', '.join(plain)}"
            )
        self.members = nn.ModuleList(members)
        self.embedding_dim = 0 if plain else sum(int(m.embedding_dim) for m in members)
        self.dropout = nn.Dropout(dropout)
        self.fc: nn.Module | None = None
        if mode == "features":
            self.fc = nn.Linear(self.embedding_dim, num_classes)
        if freeze_members:
            for p in self.members.parameters():
                p.requires_grad_(False)
            self.members.eval()

    @property
    def explain_by_members(self) -> bool:
        """Probability averaging is explained by the mean of the members' own maps; feature
        fusion is not (the members' own heads are not used)."""
        return self.mode == "probabilities"

    def train(self, mode: bool = True) -> ImageFusion:
        super().train(mode)
        if self.freeze_members:
            self.members.eval()
        return self

    def forward_embedding(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> the members' pooled embeddings, concatenated (B, embedding_dim)."""
        return torch.cat(
            [m.forward_head(m.forward_features(x), pre_logits=True) for m in self.members], 1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "features":
            return self.fc(self.dropout(self.forward_embedding(x)))
        log_probs = torch.stack([F.log_softmax(m(x), dim=-1) for m in self.members])
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))

    def reset_head(self, num_classes: int) -> None:
        """A new, untrained head (features mode) or new member heads (probabilities mode)."""
        if num_classes < 1:
            raise EcgLensError(f"num_classes must be >= 1, not {num_classes}")
        self.num_classes = num_classes
        if self.mode == "features":
            self.fc = nn.Linear(self.embedding_dim, num_classes)
        else:
            for m in self.members:
                m.reset_head(num_classes)


@register_model("image-cnn")
def image_cnn(**kwargs: Any) -> ImageCNN:
    return ImageCNN(**kwargs)


@register_model("mobilenet-v2")
def mobilenet_v2(**kwargs: Any) -> MobileNetV2:
    return MobileNetV2(**kwargs)


@register_model("vgg16")
def vgg16(**kwargs: Any) -> VGG16:
    return VGG16(**kwargs)


@register_model("image-fusion")
def image_fusion(
    members: list[dict[str, Any]],
    num_classes: int = N_IMAGE_CLASSES,
    mode: str = "features",
    freeze_members: bool = False,
    dropout: float = 0.0,
) -> ImageFusion:
    """``members``: ``[{"architecture": name, "kwargs": {...}}, ...]``, each built with
    :func:`create_model`. In ``"probabilities"`` mode a member's ``num_classes`` defaults
    to the fusion's and must equal it."""
    modules = []
    for spec in members:
        kwargs = dict(spec.get("kwargs", {}))
        if mode == "probabilities":
            kwargs.setdefault("num_classes", num_classes)
        modules.append(create_model(spec["architecture"], **kwargs))
    return ImageFusion(modules, num_classes, mode, freeze_members, dropout)
