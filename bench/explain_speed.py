"""Speed of explaining every beat of a 30-minute record, per explainer, on one core.

    python bench/explain_speed.py [RECORD] [--model NAME]... [--method M]... [--json FILE]

For each model: classifies the record once (beat detection, inputs, probabilities), then
explains every beat with each explainer (``explain_beats(..., raw=True)``: the maps, no
figure), and prints seconds per record, milliseconds per beat and the ratio to Grad-CAM
measured in the same run. The whole-job target: classifying and explaining every beat with
the model's default (recommended) explainer within 3 s on one core.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ecglens.explain.beats import explain_beats
from ecglens.explain.explainers import explainers_for
from ecglens.explain.recommended import recommended_method
from ecglens.io import read_record
from ecglens.models.registry import load_model
from ecglens.predict import classify, task_of

TARGET_S = 3.0
DEFAULT_MODELS = ("ecglens-mitdb-inter", "ecglens-mitdb-intra", "kachuee-mitdb-inter")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", nargs="?", default="data/mitdb-demo/213")
    parser.add_argument("--model", action="append")
    parser.add_argument("--method", action="append")
    parser.add_argument("--repeat", type=int, default=1, help="Best of this many runs.")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    record = read_record(args.record)
    rows = []
    for name in args.model or DEFAULT_MODELS:
        loaded = load_model(name)
        task = task_of(loaded)
        t0 = time.perf_counter()
        pred = classify(record, loaded)
        classify_s = time.perf_counter() - t0
        beats = np.arange(len(pred.sample))
        default = recommended_method(loaded)
        methods = args.method or list(explainers_for(task.family))
        times = {}
        for method in ["grad-cam", *[m for m in methods if m != "grad-cam"]]:
            best = np.inf
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                explain_beats(pred, loaded, beats, method=method, raw=True)
                best = min(best, time.perf_counter() - t0)
            times[method] = best
        for method, seconds in times.items():
            row = {
                "model": name,
                "record": record.name,
                "duration_min": round(record.n_samples / record.fs / 60, 1),
                "beats": len(beats),
                "method": method,
                "default": method == default,
                "explain_s": round(seconds, 3),
                "ms_per_beat": round(1000 * seconds / len(beats), 3),
                "ratio_to_grad_cam": round(seconds / times["grad-cam"], 2),
                "classify_s": round(classify_s, 3),
                "whole_job_s": round(classify_s + seconds, 3),
            }
            row["within_target"] = row["whole_job_s"] < TARGET_S
            rows.append(row)
            print(
                f"{name:22s} {method:21s}{'*' if row['default'] else ' '} "
                f"{row['explain_s']:7.3f} s ({row['ms_per_beat']:.3f} ms/beat, "
                f"x{row['ratio_to_grad_cam']:.2f} Grad-CAM); classify + explain "
                f"{row['whole_job_s']:.2f} s {'<' if row['within_target'] else '>='} "
                f"{TARGET_S:g} s"
            )
    print(f"record {record.name}: {rows[0]['beats']} beats, {rows[0]['duration_min']} min; "
          "* = the model's default explainer; one torch thread")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
