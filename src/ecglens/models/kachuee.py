"""Residual CNN of Kachuee, Fazeli and Sarrafzadeh, "ECG Heartbeat Classification:
A Deep Transferable Representation" (IEEE ICHI 2018)."""

from __future__ import annotations

import torch
from torch import nn

from ecglens.models.registry import register_model


class ResidualBlock(nn.Module):
    """conv(k=5) -> ReLU -> conv(k=5) -> + skip -> ReLU -> max-pool(5, stride 2)."""

    def __init__(self, channels: int = 32, kernel_size: int = 5) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=pad)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, padding=pad)
        self.pool = nn.MaxPool1d(kernel_size=5, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(torch.relu(self.conv1(x)))
        return self.pool(torch.relu(x + y))


class KachueeNet(nn.Module):
    """Input (B, L) or (B, 1, L) beats (L = 187); output logits (B, n_classes).

    A first Conv1d(1 -> 32, k=5), five residual blocks of two Conv1d(32, k=5)
    with a skip connection and max-pooling, then dense 32-32-n_classes.
    Named conv layers for Grad-CAM: ``blocks.0.conv2`` ... ``blocks.4.conv2``.
    With ``n_rr_features > 0``, ``forward(x, rr)`` concatenates RR features (B, F)
    to the flattened conv features before the dense layers (an ecglens extension).
    """

    def __init__(
        self,
        n_classes: int = 5,
        input_length: int = 187,
        channels: int = 32,
        n_blocks: int = 5,
        n_rr_features: int = 0,
    ) -> None:
        super().__init__()
        self.n_rr_features = n_rr_features
        self.stem = nn.Conv1d(1, channels, kernel_size=5, padding=2)
        self.blocks = nn.Sequential(*[ResidualBlock(channels) for _ in range(n_blocks)])
        with torch.no_grad():
            flat = self.blocks(self.stem(torch.zeros(1, 1, input_length))).numel()
        self.num_features = flat
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat + n_rr_features, 32),
            nn.ReLU(),
            nn.Linear(32, 32),
            nn.ReLU(),
            nn.Linear(32, n_classes),
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L) or (B, 1, L) -> flattened conv features (B, num_features)."""
        if x.dim() == 2:
            x = x.unsqueeze(1)
        return self.blocks(self.stem(x)).flatten(1)

    def forward_head(self, features: torch.Tensor, rr: torch.Tensor | None = None) -> torch.Tensor:
        """Flattened conv features (B, num_features) [+ RR features (B, F)] -> logits."""
        if self.n_rr_features:
            if rr is None:
                raise ValueError("this model needs RR features: forward(x, rr)")
            features = torch.cat([features, rr], dim=1)
        return self.head(features)

    def forward(self, x: torch.Tensor, rr: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_head(self.forward_features(x), rr)

    def reset_head(self, n_classes: int) -> None:
        """A new, untrained output layer for ``n_classes`` (transfer learning, as timm's
        ``reset_classifier``); the convolutional encoder and hidden dense layers are kept."""
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, not {n_classes}")
        last = self.head[-1]
        self.head[-1] = nn.Linear(last.in_features, n_classes)


@register_model("kachuee")
def kachuee(**kwargs) -> KachueeNet:
    return KachueeNet(**kwargs)
