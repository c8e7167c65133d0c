"""Training: a seeded loop with checkpoints, early stopping and resume."""

from ecglens.train.trainer import (
    ArrayDataset,
    TrainConfig,
    TrainResult,
    fit,
    predict_logits,
    resolve_device,
)

__all__ = ["ArrayDataset", "TrainConfig", "TrainResult", "fit", "predict_logits", "resolve_device"]
