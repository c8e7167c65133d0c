"""A beat classifier whose class activation map is exact: ``beat-cam``.

The Kachuee network (:mod:`ecglens.models.kachuee`) pools its 126-sample window down to one
feature vector and mixes it with the RR features in hidden dense layers, so no map over the
beat is part of its computation (its Grad-CAM layer has 1 time step). This network keeps the
same residual convolutions but pools only twice (126 -> 31 steps, 22 ms each at 180 Hz), then
averages the feature maps over time and applies one dense layer (Zhou et al. 2016). The RR
features enter as a separate additive term, so for class ``k``::

    logit_k = mean_t cam_k(t) + rhythm_k(rr) + b_k,   cam_k(t) = sum_c W_kc f_c(t)

The waveform's share of each logit is the mean of its CAM, exactly (at the feature-map
resolution; the map drawn is linearly upsampled to the input length), and the rhythm's share
is reported beside it (:meth:`BeatCamNet.rhythm_logits`). ``forward`` returns
``(logits, cam)`` with cam (B, n_classes, L), as the 12-lead CAM networks do.

With ``rr_gate``, the RR features also scale each feature map (``f_c(t) * g_c(rr)``, ``g`` in
(0, 2)), so that the same waveform can weigh differently when the beat is premature (an S
beat is a normal-looking beat that comes early); the identity above still holds, with the
gated maps in the CAM.
"""

from __future__ import annotations

import torch
from torch import nn

from ecglens.models.cam import ClassActivationMap
from ecglens.models.registry import register_model


class _Block(nn.Module):
    """conv(k) -> BN -> ReLU -> conv(k, dilation d) -> BN -> + skip -> ReLU [-> max-pool 2]."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, pool: bool) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=pad)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(
            channels, channels, kernel_size, padding=pad * dilation, dilation=dilation
        )
        self.bn2 = nn.BatchNorm1d(channels)
        self.pool = nn.MaxPool1d(2) if pool else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return self.pool(torch.relu(x + y))


class BeatCamNet(nn.Module):
    """Input beats (B, L) or (B, 1, L) [+ RR features (B, F)]; output ``(logits, cam)``.

    ``n_pooled`` of the ``n_blocks`` residual blocks halve the time axis (the first ones);
    the others are dilated (2) to widen the receptive field without pooling. The rhythm term
    is a small MLP (F -> ``rr_hidden`` -> n_classes) of the RR features alone.
    Named conv layers for Grad-CAM: ``blocks.0.conv2`` ... (the last is the default).
    """

    def __init__(
        self,
        n_classes: int = 5,
        channels: int = 32,
        n_blocks: int = 5,
        n_pooled: int = 2,
        kernel_size: int = 5,
        n_rr_features: int = 0,
        rr_hidden: int = 32,
        rr_gate: bool = False,
        dropout: float = 0.1,
        with_cam: bool = True,
    ) -> None:
        super().__init__()
        if not 0 <= n_pooled <= n_blocks:
            raise ValueError(f"n_pooled must be within 0..n_blocks ({n_blocks}), not {n_pooled}")
        self.n_classes = n_classes
        self.n_rr_features = n_rr_features
        self.with_cam = with_cam
        self.stem = nn.Sequential(
            nn.Conv1d(1, channels, kernel_size, padding=kernel_size // 2),
            nn.BatchNorm1d(channels),
            nn.ReLU(),
        )
        self.blocks = nn.Sequential(
            *[
                _Block(channels, kernel_size, 1 if i < n_pooled else 2, pool=i < n_pooled)
                for i in range(n_blocks)
            ]
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, n_classes)
        self.rhythm = (
            nn.Sequential(
                nn.Linear(n_rr_features, rr_hidden), nn.ReLU(), nn.Linear(rr_hidden, n_classes)
            )
            if n_rr_features
            else None
        )
        self.gate = (
            nn.Sequential(
                nn.Linear(n_rr_features, rr_hidden), nn.ReLU(), nn.Linear(rr_hidden, channels)
            )
            if rr_gate and n_rr_features
            else None
        )
        self.cam_head = ClassActivationMap()

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L) or (B, 1, L) -> the maps that are pooled, (B, channels, L / 2**n_pooled)."""
        if x.dim() == 2:
            x = x.unsqueeze(1)
        return self.blocks(self.stem(x))

    def rhythm_logits(self, rr: torch.Tensor | None) -> torch.Tensor | None:
        """The RR features' additive share of the logits (B, n_classes); None without them."""
        if self.rhythm is None:
            return None
        if rr is None:
            raise ValueError("this model needs RR features: forward(x, rr)")
        return self.rhythm(rr)

    def forward(
        self, x: torch.Tensor, rr: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        maps = self.feature_maps(x)
        if self.gate is not None:
            if rr is None:
                raise ValueError("this model needs RR features: forward(x, rr)")
            maps = maps * (2.0 * torch.sigmoid(self.gate(rr)))[:, :, None]
        logits = self.classifier(self.dropout(maps.mean(dim=-1)))
        rhythm = self.rhythm_logits(rr)
        if rhythm is not None:
            logits = logits + rhythm
        if not self.with_cam:
            return logits
        return logits, self.cam_head(maps, self.classifier.weight, x.shape[-1])


@register_model("beat-cam")
def beat_cam(**kwargs) -> BeatCamNet:
    """Residual beat CNN with an exact class activation map (see :class:`BeatCamNet`)."""
    return BeatCamNet(**kwargs)
