"""Size, cost, ONNX fidelity and speed of the 12-lead CAM networks.

For cam-cnn (binary default and the superclass preset) and the re-implemented
augustauskas2025 network: parameters, multiply-accumulates (MACs) per 10-s record (12 x 1000 at
100 Hz) with and without the CAM branch, ONNX export (outputs "logits" and "cam") with the
largest absolute difference between onnxruntime and PyTorch on 64 real PTB-XL records (random
data when ECGLENS_DATA is unset), and inference time per record in PyTorch and onnxruntime
(batch 1 and batch 64, one CPU thread) with their ratio. Shipped weights are used when present
(``ecglens-ptbxl-binary`` / ``-superclass``), else seeded random initialisation.

    python bench/ptbxl_models.py [--json FILE] [--repeats 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ecglens.models.cam import SUPERCLASS_CHANNELS, count_flops, count_parameters
from ecglens.models.onnx_export import check_onnx, export_onnx
from ecglens.models.registry import create_model, list_pretrained, load_model

INPUT = (12, 1000)


def models() -> list[tuple[str, torch.nn.Module, str]]:
    """(label, module, weights) for each network measured."""
    shipped = set(list_pretrained())
    out = []
    specs = [
        ("cam-cnn binary", "cam-cnn", {"n_classes": 1}, "ecglens-ptbxl-binary"),
        (
            "cam-cnn superclass",
            "cam-cnn",
            {"n_classes": 5, "channels": list(SUPERCLASS_CHANNELS)},
            "ecglens-ptbxl-superclass",
        ),
        ("augustauskas2025 binary", "augustauskas2025", {"n_classes": 1}, None),
    ]
    for label, arch, kwargs, weights in specs:
        if weights in shipped:
            loaded = load_model(weights)
            out.append((label, loaded.module, weights))
        else:
            torch.manual_seed(0)
            out.append((label, create_model(arch, **kwargs).eval(), "random init"))
    return out


def inputs(n: int = 64) -> tuple[np.ndarray, str]:
    """Model-ready inputs: real fold-10 PTB-XL records when available, else random."""
    root = os.environ.get("ECGLENS_DATA")
    if root and (Path(root) / "ptb-xl" / "ptbxl_database.csv").exists():
        from ecglens.data.ptbxl import PtbxlConfig, load_ptbxl, split_by_fold
        from ecglens.inputs.twelve_lead import preprocess
        from ecglens.signal.baseline import LeadScaler

        cfg = PtbxlConfig(root=root)
        train, _, test = split_by_fold(load_ptbxl(cfg, progress=False), cfg)
        scaler = LeadScaler().fit(preprocess(train.x[:400], 100, "polynomial"))
        x = scaler.transform(preprocess(test.x[:n], 100, "polynomial")).astype(np.float32)
        return x, f"{len(x)} PTB-XL fold-10 records"
    return np.random.default_rng(0).normal(size=(n, *INPUT)).astype(np.float32), "random"


def time_per_record(fn, batch: np.ndarray, repeats: int) -> float:
    fn(batch)  # warm-up
    best = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(batch)
        best.append(time.perf_counter() - t)
    return float(np.median(best)) / len(batch)


def measure(label: str, module: torch.nn.Module, weights: str, x: np.ndarray, repeats: int):
    import onnxruntime as ort

    module = module.eval()
    flops = count_flops(module, INPUT)
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(module, Path(tmp) / "model.onnx", INPUT)
        diff = check_onnx(module, path, x)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        outputs = [o.name for o in session.get_outputs()]

        def run_torch(b):
            with torch.inference_mode():
                module(torch.from_numpy(b))

        def run_ort(b):
            session.run(None, {name: b})

        timing = {}
        for bs in (1, 64):
            b = np.ascontiguousarray(x[:bs])
            t_pt = time_per_record(run_torch, b, repeats)
            t_ort = time_per_record(run_ort, b, repeats)
            timing[f"batch{bs}"] = {
                "pytorch_ms": round(1e3 * t_pt, 4),
                "onnxruntime_ms": round(1e3 * t_ort, 4),
                "pytorch_over_onnxruntime": round(t_pt / t_ort, 3),
            }
    return {
        "model": label,
        "weights": weights,
        "parameters": count_parameters(module),
        "macs_with_cam": flops.total,
        "macs_without_cam": flops.without_cam,
        "macs_cam_branch": flops.cam,
        "onnx_outputs": outputs,
        "onnx_max_abs_diff": diff,
        "time_per_record": timing,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    x, source = inputs()
    rows = [measure(*m, x, args.repeats) for m in models()]
    print(
        f"12 leads x 1000 samples (10 s at 100 Hz); ONNX checked on {source}; "
        f"{args.threads} thread(s); times: median of {args.repeats}, per record\n"
    )
    head = (
        f"{'model':<24} {'weights':<26} {'params':>7} {'MACs+CAM':>10} {'MACs-CAM':>10} "
        f"{'ONNX diff':>9} {'pt ms b1':>8} {'ort ms b1':>9} {'pt/ort':>6} "
        f"{'pt ms b64':>9} {'ort ms b64':>10} {'pt/ort':>6}"
    )
    print(head)
    for r in rows:
        b1, b64 = r["time_per_record"]["batch1"], r["time_per_record"]["batch64"]
        print(
            f"{r['model']:<24} {r['weights']:<26} {r['parameters']:>7,} {r['macs_with_cam']:>10,} "
            f"{r['macs_without_cam']:>10,} {r['onnx_max_abs_diff']:>9.1e} "
            f"{b1['pytorch_ms']:>8.3f} {b1['onnxruntime_ms']:>9.3f} "
            f"{b1['pytorch_over_onnxruntime']:>6.2f} {b64['pytorch_ms']:>9.3f} "
            f"{b64['onnxruntime_ms']:>10.3f} {b64['pytorch_over_onnxruntime']:>6.2f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"input": source, "threads": args.threads, "models": rows}, indent=2)
        )
    return rows


if __name__ == "__main__":
    main()
