"""The forward pass of inference: device choice, batched logits, calibrated logits.

Training (:mod:`ecglens.train.trainer`) and evaluation use these too, so a model is run the
same way everywhere.
"""

from __future__ import annotations

import numpy as np
import torch

from ecglens.errors import EcgLensError


def resolve_device(device: str = "auto") -> torch.device:
    """ "auto" -> cuda when available, else cpu; otherwise the named device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise EcgLensError(f"unknown device {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EcgLensError("--device cuda asked for, but no CUDA GPU is available")
    return dev


def logits_of(output: torch.Tensor | tuple) -> torch.Tensor:
    return output[0] if isinstance(output, tuple | list) else output


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module,
    inputs: tuple[np.ndarray, ...] | np.ndarray,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Logits of ``model`` over in-memory inputs, in batches: (n, n_outputs) float32."""
    if isinstance(inputs, np.ndarray):
        inputs = (inputs,)
    model.eval()
    device = torch.device(device)
    n = len(inputs[0])
    outs = []
    for start in range(0, n, batch_size):
        batch = [torch.as_tensor(a[start : start + batch_size]).to(device) for a in inputs]
        outs.append(logits_of(model(*batch)).float().cpu().numpy())
    if not outs:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(outs)


class TemperatureScaled(torch.nn.Module):
    """Divide a model's logits by a fitted temperature (calibration)."""

    def __init__(self, model: torch.nn.Module, temperature: float = 1.0) -> None:
        super().__init__()
        self.model = model
        self.temperature = float(temperature)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return logits_of(self.model(*inputs)) / self.temperature
