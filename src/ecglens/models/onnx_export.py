"""Export CAM models to ONNX (outputs "logits" and "cam", dynamic batch) and check the export.

Uses the TorchScript-based exporter (``dynamo=False``): torch's default dynamo exporter needs
the ``onnxscript`` package, which ecglens does not depend on.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ecglens._atomic import atomic_write
from ecglens.errors import EcgLensError

INPUT_NAME = "ecg"
OPSET = 17


def _output_names(model: torch.nn.Module, example: torch.Tensor) -> list[str]:
    with torch.no_grad():
        out = model(example)
    if isinstance(out, tuple | list):
        return ["logits", "cam"][: len(out)] + [f"output{i}" for i in range(2, len(out))]
    return ["logits"]


def export_onnx(
    model: torch.nn.Module, path: str | Path, input_shape: Sequence[int], opset: int = OPSET
) -> Path:
    """Write ``model`` to ``path`` as ONNX, atomically.

    input_shape: (leads, T) or (B, leads, T); the batch axis is dynamic, T is fixed. Input
    "ecg" (B, leads, T) float32; outputs "logits" (B, K) and, for CAM models, "cam" (B, K, T).
    The model is exported in eval mode and its training flag restored.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    example = torch.zeros(shape, dtype=torch.float32)
    was_training = model.training
    model.eval()
    try:
        names = _output_names(model, example)
        axes = {INPUT_NAME: {0: "batch"}, **{n: {0: "batch"} for n in names}}

        def write(tmp: Path) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deprecation notice of the TorchScript exporter
                torch.onnx.export(
                    model,
                    (example,),
                    str(tmp),
                    input_names=[INPUT_NAME],
                    output_names=names,
                    dynamic_axes=axes,
                    opset_version=opset,
                    dynamo=False,
                )

        return atomic_write(Path(path), write)
    finally:
        model.train(was_training)


def check_onnx(model: torch.nn.Module, path: str | Path, x: np.ndarray | torch.Tensor) -> float:
    """Largest absolute difference between onnxruntime and PyTorch outputs on input ``x``.

    x: (B, leads, T). Compares every output (logits and cam) in eval mode.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise EcgLensError("checking an ONNX export needs onnxruntime") from exc
    x_np = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x_np})
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ref = model(torch.from_numpy(x_np))
    finally:
        model.train(was_training)
    ref = list(ref) if isinstance(ref, tuple | list) else [ref]
    if len(ref) != len(got):
        raise EcgLensError(f"ONNX model has {len(got)} outputs, PyTorch {len(ref)}", path)
    return max(float(np.max(np.abs(r.numpy() - g))) for r, g in zip(ref, got, strict=True))
