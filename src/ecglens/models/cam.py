"""Lightweight 1-D CNNs for 12-lead records with a built-in class activation map (CAM).

Both architectures end in conv feature maps -> global average pooling -> one dense layer, so
the CAM of Zhou et al. (2016) comes for free: ``cam_k(t) = sum_c w_kc f_c(t)`` with ``w`` the
dense weights and ``f`` the last feature maps (the ones that are pooled), linearly upsampled to
the input length. Because pooling and the dense layer are linear, ``mean_t cam_k + b_k`` equals
logit ``k`` at the feature-map resolution. The CAM is computed in ``forward`` from detached
dense weights: it adds no parameters and is not trained. Use :func:`normalize_cam` to map it to
[0, 1] per record and class for display.

Input: (B, leads, T) standardized signals (T = 1000 for 10 s at 100 Hz). ``forward`` returns
``(logits, cam)`` with logits (B, n_classes) and cam (B, n_classes, T), or logits only when
built with ``with_cam=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ecglens.models.registry import register_model

SUPERCLASS_CHANNELS: tuple[int, ...] = (32, 48, 64, 64)  # cam-cnn preset for 5 superclasses


class ClassActivationMap(nn.Module):
    """Non-trainable CAM head: dense weights (K, C) x feature maps (B, C, T') -> (B, K, T).

    Upsampling is linear interpolation (``align_corners=False``) to ``size`` samples.
    """

    def forward(self, features: torch.Tensor, weight: torch.Tensor, size: int) -> torch.Tensor:
        cam = torch.einsum("kc,bct->bkt", weight.detach(), features)
        return F.interpolate(cam, size=size, mode="linear", align_corners=False)


def normalize_cam(cam: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Min-max scale each (record, class) map of ``cam`` (B, K, T) to [0, 1]."""
    lo = cam.amin(dim=-1, keepdim=True)
    hi = cam.amax(dim=-1, keepdim=True)
    return (cam - lo) / (hi - lo).clamp_min(eps)


class _CamNet(nn.Module):
    """Shared head: ``features`` -> GAP -> dropout -> dense, plus the CAM branch."""

    features: nn.Module
    classifier: nn.Linear

    def __init__(self, n_classes: int, n_features: int, dropout: float, with_cam: bool) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.with_cam = with_cam
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(n_features, n_classes)
        self.cam_head = ClassActivationMap()

    def feature_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(pooled maps, maps weighted for the CAM), each (B, C, T'); the same by default."""
        maps = self.features(x)
        return maps, maps

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        maps, cam_maps = self.feature_maps(x)
        logits = self.classifier(self.dropout(maps.mean(dim=-1)))
        if not self.with_cam:
            return logits
        return logits, self.cam_head(cam_maps, self.classifier.weight, x.shape[-1])


def _padding(kernel_size: int, dilation: int) -> int:
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
    return dilation * (kernel_size - 1) // 2


class CamCNN(_CamNet):
    """Conv blocks (Conv1d + BatchNorm + ReLU, max-pool 2 between blocks) -> GAP -> dense.

    ``channels`` sets the width of each block, ``dilations`` their dilation (default 1, 1, 2, 2);
    blocks but the last halve the time axis. Default: 19,633 parameters for one class, receptive
    field 170 samples (1.7 s at 100 Hz), feature maps at T/8 (80 ms at 100 Hz).
    """

    def __init__(
        self,
        n_leads: int = 12,
        n_classes: int = 1,
        channels: Sequence[int] = (16, 32, 32, 32),
        kernel_size: int = 7,
        dilations: Sequence[int] | None = None,
        dropout: float = 0.2,
        with_cam: bool = True,
    ) -> None:
        channels = tuple(int(c) for c in channels)
        if dilations is None:
            dilations = tuple(1 if i < len(channels) // 2 else 2 for i in range(len(channels)))
        if len(dilations) != len(channels):
            raise ValueError("dilations and channels must have the same length")
        super().__init__(n_classes, channels[-1], dropout, with_cam)
        layers: list[nn.Module] = []
        c_in = n_leads
        for i, (c_out, d) in enumerate(zip(channels, dilations, strict=True)):
            layers += [
                nn.Conv1d(c_in, c_out, kernel_size, padding=_padding(kernel_size, d), dilation=d),
                nn.BatchNorm1d(c_out),
                nn.ReLU(),
            ]
            if i < len(channels) - 1:
                layers.append(nn.MaxPool1d(2))
            c_in = c_out
        self.features = nn.Sequential(*layers)


class Augustauskas2025(_CamNet):
    """Re-implementation of Augustauskas et al., EMBC 2025 (22,273 parameters for one class).

    Taken from the authors' reference notebook (github.com/rytisss/XAI_SignalCAM, class
    ``SignalCNN`` with ``conv_filters=16``, ``downscale_cnn_blocks=2``): Conv1d(12->16, k=11) +
    BN + LeakyReLU(0.1) + MaxPool(2); two blocks Conv1d(k=7) 16->16 and 16->32, each + BN +
    LeakyReLU(0.1) + MaxPool(2); last Conv1d(32->64, k=7) + BN + LeakyReLU(0.1); GAP; dense
    64 -> 1 (sigmoid, binary NORM vs abnormal). All convs 'same' padded with bias; feature maps
    at T/8. Differences here: the sigmoid is left to the loss (logits out); the CAM by default
    weights the pooled maps (after BN and LeakyReLU, the classic CAM); the reference code
    weights the last conv output before BN (``cam_source="conv"`` reproduces that) and min-max
    scales over the whole batch, where :func:`normalize_cam` scales each record.
    """

    def __init__(
        self,
        n_leads: int = 12,
        n_classes: int = 1,
        conv_filters: int = 16,
        initial_kernel_size: int = 11,
        kernel_size: int = 7,
        n_downscale_blocks: int = 2,
        dropout: float = 0.0,
        with_cam: bool = True,
        cam_source: str = "pooled",
    ) -> None:
        if cam_source not in ("pooled", "conv"):
            raise ValueError(f"cam_source must be 'pooled' or 'conv', got {cam_source!r}")
        last = 2**n_downscale_blocks * conv_filters
        super().__init__(n_classes, last, dropout, with_cam)
        self.cam_source = cam_source

        def block(c_in: int, c_out: int, k: int, pool: bool) -> list[nn.Module]:
            layers = [
                nn.Conv1d(c_in, c_out, k, padding=_padding(k, 1)),
                nn.BatchNorm1d(c_out),
                nn.LeakyReLU(0.1),
            ]
            return [*layers, nn.MaxPool1d(2)] if pool else layers

        layers = block(n_leads, conv_filters, initial_kernel_size, True)
        for i in range(n_downscale_blocks):
            c_in = conv_filters if i == 0 else 2 ** (i - 1) * conv_filters
            layers += block(c_in, 2**i * conv_filters, kernel_size, True)
        layers += block(2 ** (n_downscale_blocks - 1) * conv_filters, last, kernel_size, False)
        self.features = nn.Sequential(*layers)

    def feature_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        conv_out = self.features[:-2](x)  # last conv output, before its BatchNorm and LeakyReLU
        maps = self.features[-2:](conv_out)
        return maps, (maps if self.cam_source == "pooled" else conv_out)


@register_model("cam-cnn")
def cam_cnn(**kwargs) -> CamCNN:
    """Our lightweight 12-lead CNN with CAM output (see :class:`CamCNN`)."""
    return CamCNN(**kwargs)


@register_model("augustauskas2025")
def augustauskas2025(**kwargs) -> Augustauskas2025:
    """The 22,273-parameter network of Augustauskas et al. 2025 (see :class:`Augustauskas2025`)."""
    return Augustauskas2025(**kwargs)


def outputs_cam(module: nn.Module) -> bool:
    """Whether ``module`` returns ``(logits, cam)``: a CAM network built ``with_cam``."""
    return bool(getattr(module, "with_cam", False))


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@dataclass(frozen=True)
class FlopCount:
    """Multiply-accumulates (MACs) for one record, by layer type.

    cam: the CAM branch (weighting, C*T' per class, plus 2 per upsampled sample per class).
    """

    conv: int
    linear: int
    cam: int

    @property
    def total(self) -> int:
        return self.conv + self.linear + self.cam

    @property
    def without_cam(self) -> int:
        return self.conv + self.linear


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> FlopCount:
    """MACs of the Conv1d, Linear and CAM layers of one forward pass, per record.

    ``input_shape``: (leads, T) or (B, leads, T); counted with forward hooks on a zero input
    in eval mode, then divided by B. Batch norm, activations and pooling are not counted.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    counts = {"conv": 0, "linear": 0, "cam": 0}

    def conv_hook(module: nn.Conv1d, inputs, output) -> None:
        per_output = (module.in_channels // module.groups) * module.kernel_size[0]
        counts["conv"] += output.numel() * per_output

    def linear_hook(module: nn.Linear, inputs, output) -> None:
        counts["linear"] += output.numel() * module.in_features

    def cam_hook(module: nn.Module, inputs, output) -> None:
        features, weight = inputs[0], inputs[1]
        b, c, t_low = features.shape
        counts["cam"] += b * weight.shape[0] * c * t_low + 2 * output.numel()

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv1d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
        elif isinstance(m, ClassActivationMap):
            handles.append(m.register_forward_hook(cam_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    b = shape[0]
    return FlopCount(conv=counts["conv"] // b, linear=counts["linear"] // b, cam=counts["cam"] // b)
