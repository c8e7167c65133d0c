"""CNN-LSTM beat classifier, optionally with rhythm context and RR-interval features.

Input conventions (``in_channels`` = leads per beat, 1 for MIT-BIH MLII):

* single beat: ``x`` of shape (B, L), or (B, C, L) with C = ``in_channels``;
* K consecutive beats centred on the beat to classify: (B, K, L) when ``in_channels == 1``,
  or (B, K, C, L); K = ``n_beats`` (odd), the middle beat is the target;
* RR features: ``rr`` of shape (B, ``n_rr_features``), float32, already normalised.

Each beat goes through a shared :class:`BeatEncoder` (Conv1d blocks, then an LSTM over the
down-sampled time axis). With ``n_beats > 1`` a context LSTM runs across the K beat embeddings
and the middle beat's output is classified, so rhythm (prematurity, compensatory pause,
morphology changes between neighbours) can be learned. ``forward`` returns logits (B, n_classes).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ecglens.models.registry import create_model, register_model


class ConvBlock(nn.Sequential):
    """Conv1d ("same" padding, no bias) + BatchNorm1d + ReLU + MaxPool1d: (B, Cin, L) -> (B, Cout,
    L // pool)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, pool: int) -> None:
        super().__init__(
            nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm1d(out_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool1d(pool),
        )


class BeatEncoder(nn.Module):
    """One beat (B, C, L) -> embedding (B, ``out_features``).

    Conv blocks turn the beat into a sequence of ``channels[-1]``-dimensional feature vectors
    (L / pool**len(channels) steps); an LSTM reads that sequence and its final hidden state
    (both directions if bidirectional) is the embedding.
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 64, 64),
        kernel_size: int = 5,
        pool: int = 2,
        lstm_hidden: int = 64,
        lstm_layers: int = 1,
        bidirectional: bool = True,
    ) -> None:
        super().__init__()
        widths = [in_channels, *channels]
        self.conv = nn.Sequential(
            *(
                ConvBlock(a, b, kernel_size, pool)
                for a, b in zip(widths[:-1], widths[1:], strict=True)
            )
        )
        self.lstm = nn.LSTM(
            widths[-1],
            lstm_hidden,
            num_layers=lstm_layers,
            batch_first=True,
            bidirectional=bidirectional,
        )
        self.out_features = lstm_hidden * (2 if bidirectional else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x).transpose(1, 2)  # (B, T, channels[-1])
        _, (h_n, _) = self.lstm(h)
        directions = 2 if self.lstm.bidirectional else 1
        return h_n[-directions:].transpose(0, 1).reshape(x.shape[0], -1)


class ClassifierHead(nn.Module):
    """Concatenate optional RR features to an embedding, then Dropout-Linear(-ReLU-Dropout-Linear).

    (B, in_features) [+ (B, n_rr_features)] -> logits (B, n_classes). ``hidden=0`` gives a single
    linear layer after dropout. Dropout stays in the head so MC dropout can sample it.
    """

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        n_rr_features: int = 0,
        hidden: int = 64,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.n_rr_features = n_rr_features
        width = in_features + n_rr_features
        if hidden > 0:
            layers = [
                nn.Dropout(dropout),
                nn.Linear(width, hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
                nn.Linear(hidden, n_classes),
            ]
        else:
            layers = [nn.Dropout(dropout), nn.Linear(width, n_classes)]
        self.mlp = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor, rr: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_rr_features:
            if rr is None or rr.shape[-1] != self.n_rr_features:
                got = None if rr is None else tuple(rr.shape)
                raise ValueError(f"expected rr of shape (B, {self.n_rr_features}), got {got}")
            features = torch.cat([features, rr.to(features.dtype)], dim=1)
        elif rr is not None:
            raise ValueError("model built with n_rr_features=0 was given rr features")
        return self.mlp(features)


class CNNLSTM(nn.Module):
    """CNN-LSTM heartbeat classifier; see the module docstring for input shapes.

    All constructor arguments are JSON-serialisable (they are stored in the model config).
    ``n_beats`` is the number of consecutive beats per example (1 = single beat, no context LSTM).
    """

    def __init__(
        self,
        n_classes: int = 5,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 64, 64),
        kernel_size: int = 5,
        pool: int = 2,
        lstm_hidden: int = 64,
        lstm_layers: int = 1,
        bidirectional: bool = True,
        n_beats: int = 1,
        context_hidden: int = 64,
        context_bidirectional: bool = True,
        n_rr_features: int = 0,
        head_hidden: int = 64,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        if n_beats < 1 or n_beats % 2 == 0:
            raise ValueError(f"n_beats must be a positive odd number, got {n_beats}")
        self.in_channels = in_channels
        self.n_beats = n_beats
        self.encoder = BeatEncoder(
            in_channels, channels, kernel_size, pool, lstm_hidden, lstm_layers, bidirectional
        )
        width = self.encoder.out_features
        self.context: nn.LSTM | None = None
        if n_beats > 1:
            self.context = nn.LSTM(
                width, context_hidden, batch_first=True, bidirectional=context_bidirectional
            )
            width = context_hidden * (2 if context_bidirectional else 1)
        self.num_features = width
        self.head = ClassifierHead(width, n_classes, n_rr_features, head_hidden, dropout)

    def _as_beats(self, x: torch.Tensor) -> torch.Tensor:
        """Any accepted input -> (B, K, C, L)."""
        c, k = self.in_channels, self.n_beats
        if x.dim() == 2 and c == 1 and k == 1:
            return x[:, None, None, :]
        if x.dim() == 3 and k == 1 and x.shape[1] == c:
            return x[:, None]
        if x.dim() == 3 and c == 1 and x.shape[1] == k:
            return x[:, :, None]
        if x.dim() == 4 and x.shape[1] == k and x.shape[2] == c:
            return x
        raise ValueError(
            f"input of shape {tuple(x.shape)} does not match n_beats={k}, in_channels={c}"
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding of the target beat (B, ``num_features``), before RR features and head."""
        beats = self._as_beats(x)
        b, k, c, length = beats.shape
        emb = self.encoder(beats.reshape(b * k, c, length)).reshape(b, k, -1)
        if self.context is None:
            return emb[:, 0]
        out, _ = self.context(emb)
        return out[:, k // 2]

    def forward(self, x: torch.Tensor, rr: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.forward_features(x), rr)


class WithRRFeatures(nn.Module):
    """Add RR-interval features to any beat model exposing ``forward_features``/``num_features``.

    ``forward(x, rr)``: concatenates ``base.forward_features(x)`` (B, num_features) with ``rr``
    (B, n_rr_features) and applies a fresh :class:`ClassifierHead`. The base model's own head is
    kept (so its weights still load) but unused.
    """

    def __init__(
        self,
        base: nn.Module,
        n_rr_features: int,
        n_classes: int = 5,
        head_hidden: int = 64,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        if not (hasattr(base, "forward_features") and hasattr(base, "num_features")):
            raise TypeError(
                f"{type(base).__name__} lacks forward_features/num_features; cannot add RR"
            )
        if n_rr_features < 1:
            raise ValueError("n_rr_features must be >= 1")
        self.base = base
        self.num_features = base.num_features
        self.head = ClassifierHead(
            base.num_features, n_classes, n_rr_features, head_hidden, dropout
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.forward_features(x)

    def forward(self, x: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        return self.head(self.base.forward_features(x), rr)


@register_model("cnn-lstm")
def cnn_lstm(**kwargs) -> CNNLSTM:
    """CNN-LSTM beat classifier (see :class:`CNNLSTM` for the keyword arguments)."""
    return CNNLSTM(**kwargs)


@register_model("with-rr")
def with_rr(
    base: str,
    base_kwargs: dict | None = None,
    n_rr_features: int = 4,
    n_classes: int = 5,
    head_hidden: int = 64,
    dropout: float = 0.3,
) -> WithRRFeatures:
    """Registered architecture ``base`` (built with ``base_kwargs``) plus RR features."""
    return WithRRFeatures(
        create_model(base, **(base_kwargs or {})), n_rr_features, n_classes, head_hidden, dropout
    )
