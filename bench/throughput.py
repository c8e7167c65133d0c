"""Throughput of the whole beat job on one 30-minute two-lead MIT-BIH record.

Stages: read, filter + R-peak detection, beat extraction, classification and
Grad-CAM for every beat. Baseline: NeuroKit2's ``ecg_process`` (clean, peaks,
delineation, rate, quality) on the same lead, timed in the same run.

    python bench/throughput.py [--record PATH] [--model NAME] [--repeats 3] [--threads N]
                               [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from ecglens.explain import grad_cam
from ecglens.inputs.beats import beat_inputs, model_input_arrays
from ecglens.io import read_record, select_lead
from ecglens.models import load_model
from ecglens.predict.forward import predict_logits
from ecglens.predict.rhythm import with_model_rhythm_rule
from ecglens.signal.peaks import ecg_peaks

REPO = Path(__file__).resolve().parents[1]


def default_record() -> Path:
    root = os.environ.get("ECGLENS_DATA")
    if root and (Path(root) / "mitdb" / "208.hea").exists():
        return Path(root) / "mitdb" / "208"
    return REPO / "data" / "mitdb-demo" / "213"


def whole_job(path: Path, loaded) -> dict[str, float]:
    """Seconds per stage for one record; also returns the beat count."""
    times = {}
    t = time.perf_counter()
    record = read_record(path)
    signal, _ = select_lead(record)
    times["read"] = time.perf_counter() - t

    t = time.perf_counter()
    peaks = ecg_peaks(signal, record.fs)
    times["filter+detect"] = time.perf_counter() - t

    t = time.perf_counter()
    x, rr = beat_inputs(signal, record.fs, peaks, loaded.config.beats)
    inputs = model_input_arrays(x, rr, loaded.config.inputs)
    times["segment"] = time.perf_counter() - t

    t = time.perf_counter()
    logits = classify(loaded, inputs, rr)
    times["classify"] = time.perf_counter() - t

    t = time.perf_counter()
    grad_cam(loaded.module, tuple(torch.as_tensor(a) for a in inputs), logits.argmax(1))
    times["grad-cam"] = time.perf_counter() - t
    times["total"] = sum(times.values())
    times["beats"] = len(peaks)
    return times, (inputs, rr)


def classify(loaded, inputs: tuple, rr):
    """Logits of every beat, after the model's rhythm rule when it has one."""
    logits = predict_logits(loaded.module, inputs)
    return with_model_rhythm_rule(logits, rr, loaded.classes, loaded.config)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, default=default_record())
    parser.add_argument("--model", default="kachuee-mitdb-inter")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's own choice)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import neurokit2 as nk

    loaded = load_model(args.model)
    whole_job(args.record, loaded)  # warm-up: imports, allocator, oneDNN kernels
    runs = [whole_job(args.record, loaded)[0] for _ in range(args.repeats)]
    best = {k: min(r[k] for r in runs) for k in runs[0]}
    _, (inputs, rr) = whole_job(args.record, loaded)

    seconds = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        classify(loaded, inputs, rr)
        seconds.append(time.perf_counter() - t)
    beats_per_s = best["beats"] / min(seconds)

    record = read_record(args.record)
    signal, _ = select_lead(record)
    nk_times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        nk.ecg_process(signal, sampling_rate=int(record.fs))
        nk_times.append(time.perf_counter() - t)
    nk_best = min(nk_times)

    print(
        f"record {args.record} ({record.duration_s / 60:.1f} min, {int(best['beats'])} beats), "
        f"model {args.model}, torch threads {torch.get_num_threads()}, "
        f"best of {args.repeats}"
    )
    print(f"{'stage':<28}{'seconds':>10}{'x NeuroKit2':>14}")
    for stage in ("read", "filter+detect", "segment", "classify", "grad-cam", "total"):
        print(f"{'ecglens ' + stage:<28}{best[stage]:>10.3f}{best[stage] / nk_best:>14.3f}")
    print(f"{'NeuroKit2 ecg_process':<28}{nk_best:>10.3f}{1.0:>14.3f}")
    print(f"classification alone: {beats_per_s:,.0f} beats/s (target >= 5,000)")
    print(
        f"whole job: {best['total']:.2f} s (target < 3 s), "
        f"{nk_best / best['total']:.2f}x faster than NeuroKit2's ecg_process alone"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "stages_s": best,
                    "neurokit2_ecg_process_s": nk_best,
                    "classify_beats_per_s": beats_per_s,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
