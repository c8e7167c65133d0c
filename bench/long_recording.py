"""Wall time and peak memory of classifying a 24-hour two-lead recording at 250 Hz, as a user
runs it: the long-record path (windows of 30 min, streamed JSON) beside the in-memory path
(``read_record`` + ``classify_record`` + ``json.dumps(to_dict())``, the baseline, timed in
the same run), from .npy and from .csv, with ``kachuee-mitdb-inter`` and the default
model ``ecglens-mitdb-inter``.

The record: MIT-BIH record 100 (from ``$ECGLENS_DATA/mitdb``) resampled to 250 Hz and tiled
48 times, each copy with its own gain (+-3%) and 5 uV of noise, rounded to 1 uV; without
the database, a synthetic beat train (72 bpm with RR jitter, a PVC every 40 beats). Each
case runs in a process of its own (Python start-up, imports and model loading included);
peak RSS is that process's ``ru_maxrss`` (``os.wait4``).

    python bench/long_recording.py [--workdir DIR] [--threads 1] [--skip-baseline]
                                   [--model NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FS = 250.0
HOURS = 24.0
TILE_RECORD = "100"
GAIN_JITTER = 0.03  # relative sd of each copy's gain
NOISE_MV = 0.005  # sd of the added noise, mV
DECIMALS = 3  # values rounded to 1 uV, as a CSV export writes them
CSV_ROWS_PER_WRITE = 1_000_000
MODELS = ("kachuee-mitdb-inter", "ecglens-mitdb-inter")
LEADS = ("MLII", "V5")


def source_signal(seed: int = 0) -> tuple[np.ndarray, str]:
    """(n, 2) mV at 250 Hz, about 30 min, and where it comes from."""
    from ecglens.signal.resample import resample_signal

    root = os.environ.get("ECGLENS_DATA")
    base = Path(root, "mitdb", TILE_RECORD) if root else None
    if base is not None and base.with_suffix(".hea").exists():
        from ecglens.io import read_record

        record = read_record(base)
        return resample_signal(record.signals[:, :2], record.fs, FS), f"MIT-BIH {TILE_RECORD}"
    return synthetic_beats(1800.0, seed), "synthetic beat train"


def synthetic_beats(duration_s: float, seed: int) -> np.ndarray:
    """(n, 2) mV: P, QRS and T waves at 72 bpm with 3% RR jitter, every 40th beat a wide
    premature ventricular beat, baseline wander and noise."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS)
    t = np.arange(n) / FS
    x = np.zeros(n)
    beat, k = 0.5, 0
    while beat < duration_s - 1:
        k += 1
        pvc = k % 40 == 0
        if pvc:
            beat -= 0.25
            waves = ((0.0, 0.05, -1.2), (0.12, 0.08, 0.6))
        else:
            waves = ((-0.16, 0.025, 0.15), (0.0, 0.012, 1.1), (0.03, 0.01, -0.25),
                     (0.28, 0.05, 0.3))  # fmt: skip
        lo, hi = int((beat - 0.4) * FS), int((beat + 0.6) * FS)
        tt = t[max(lo, 0) : hi]
        for at, width, height in waves:
            x[max(lo, 0) : hi] += height * np.exp(-0.5 * ((tt - beat - at) / width) ** 2)
        beat += (0.83 * (1.3 if pvc else 1.0)) * (1 + 0.03 * rng.standard_normal())
    wander = 0.1 * np.sin(2 * np.pi * 0.2 * t)
    lead2 = 0.6 * x + 0.05 * np.sin(2 * np.pi * 0.13 * t)
    return np.column_stack([x + wander, lead2]) + rng.normal(0, 0.01, (n, 2))


def write_record(folder: Path, seed: int = 0) -> tuple[Path, Path, str]:
    """The 24-hour record as ``holter.npy`` (float64, (n, 2)) and ``holter.csv`` (header row
    MLII,V5); reused when both are there."""
    npy, csv = folder / "holter.npy", folder / "holter.csv"
    if npy.exists() and csv.exists():
        return npy, csv, "reused"
    base, origin = source_signal(seed)
    copies = int(np.ceil(HOURS * 3600 * FS / len(base)))
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(
        folder / "holter.tmp.npy", mode="w+", dtype=np.float64, shape=(copies * len(base), 2)
    )
    for i in range(copies):
        gain = 1 + GAIN_JITTER * rng.standard_normal(2)
        copy = base * gain + rng.normal(0, NOISE_MV, base.shape)
        out[i * len(base) : (i + 1) * len(base)] = np.round(copy, DECIMALS)
    out.flush()
    del out
    (folder / "holter.tmp.npy").rename(npy)
    values = np.load(npy, mmap_mode="r")
    with csv.open("w") as f:
        f.write(",".join(LEADS) + "\n")
        for start in range(0, len(values), CSV_ROWS_PER_WRITE):
            block = values[start : start + CSV_ROWS_PER_WRITE]
            f.write("\n".join(f"{a:.{DECIMALS}f},{b:.{DECIMALS}f}" for a, b in block) + "\n")
    return npy, csv, f"{copies} copies of {origin}"


def child(mode: str, path: str, model: str, out: str, threads: int) -> None:
    """One case, in this process: write the JSON to ``out``, print seconds per step."""
    import torch

    torch.set_num_threads(threads)
    from ecglens.models import load_model

    loaded = load_model(model)
    fs = FS if Path(path).suffix in (".npy", ".csv") else None
    t0 = time.perf_counter()
    if mode == "long":
        from ecglens.predict.long import long_record_dict_stream

        with open(out, "w") as f:
            for piece in long_record_dict_stream(path, loaded, fs=fs):
                f.write(piece)
            f.write("\n")
        print(json.dumps({"classify_s": time.perf_counter() - t0}))
        return
    from ecglens.io import read_record
    from ecglens.predict import classify_record

    record = read_record(path, fs=fs)
    t1 = time.perf_counter()
    result = classify_record(record, loaded)
    t2 = time.perf_counter()
    Path(out).write_text(json.dumps(result.to_dict()) + "\n")
    t3 = time.perf_counter()
    print(json.dumps({"read_s": t1 - t0, "classify_s": t2 - t1, "json_s": t3 - t2}))


def run_case(mode: str, path: Path, model: str, out: Path, threads: int) -> dict:
    """Wall seconds and peak RSS (MB) of one case in a process of its own."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, __file__, "--child", mode, str(path), model, str(out)]
    command += ["--threads", str(threads)]
    log_out, log_err = out.with_suffix(".stdout"), out.with_suffix(".stderr")
    with log_out.open("w") as stdout, log_err.open("w") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} {path.name} {model} failed:\n{log_err.read_text()[-2000:]}")
    steps = json.loads(log_out.read_text().strip().splitlines()[-1])
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall_s": wall, "cpu_s": cpu, "rss_mb": usage.ru_maxrss / 1024, **steps}


def compare(long_json: Path, base_json: Path) -> tuple[float, float]:
    """Share of the baseline's beats the long path finds (same sample), and the share of
    those with the same label, in %."""
    a, b = json.loads(long_json.read_text()), json.loads(base_json.read_text())
    la = {x["sample"]: x["label"] for x in a["beats"]}
    lb = {x["sample"]: x["label"] for x in b["beats"]}
    common = la.keys() & lb.keys()
    same = sum(la[s] == lb[s] for s in common)
    return 100 * len(common) / max(len(lb), 1), 100 * same / max(len(common), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, help="folder for the record (default: temp)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in every case")
    parser.add_argument(
        "--skip-baseline",
        action="store_true",
        help="leave out the in-memory path (it needs about 4.5 GB from CSV)",
    )
    parser.add_argument("--model", action="append", help="models (default: both shipped)")
    parser.add_argument(
        "--format", action="append", choices=("npy", "csv"), help="formats (default: both)"
    )
    parser.add_argument(
        "--child", nargs=4, metavar=("MODE", "PATH", "MODEL", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        child(*args.child, threads=args.threads)
        return
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="ecglens-long-"))
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    npy, csv, origin = write_record(folder)
    n = len(np.load(npy, mmap_mode="r"))
    print(
        f"record: {n} samples x 2 leads at {FS:g} Hz = {n / FS / 3600:.2f} h ({origin}, "
        f"{time.perf_counter() - t:.0f} s); npy {npy.stat().st_size / 1e6:.0f} MB, "
        f"csv {csv.stat().st_size / 1e6:.0f} MB; load average {os.getloadavg()[0]:.1f}; "
        f"{args.threads} torch thread(s)",
        flush=True,
    )
    rows = []
    for model in args.model or MODELS:
        for fmt in args.format or ("npy", "csv"):
            path = npy if fmt == "npy" else csv
            long_out = folder / f"long-{model}-{fmt}.jsonl"
            long = run_case("long", path, model, long_out, args.threads)
            print(f"long {model} {fmt}: {long}", flush=True)
            base = None
            if not args.skip_baseline:
                base_out = folder / f"base-{model}-{fmt}.json"
                base = run_case("baseline", path, model, base_out, args.threads)
                print(f"baseline {model} {fmt}: {base}", flush=True)
                long["agree"] = compare(long_out, base_out)
            long["n_beats"] = json.loads(long_out.read_text())["n_beats"]
            rows.append((model, fmt, long, base))
    print()
    print(table(rows))


def table(rows: list[tuple[str, str, dict, dict | None]]) -> str:
    """Markdown: per model and file, the long path beside the in-memory path, and ratios."""
    lines = [
        "| model | file | long: wall s | CPU s | peak RSS MB | in-memory: wall s | CPU s "
        "| peak RSS MB | time x | memory x | beats | same beats % / same labels % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model, fmt, long, base in rows:
        cells = ["-"] * 6
        if base is not None:
            cells = [
                f"{base['wall_s']:.1f}",
                f"{base['cpu_s']:.1f}",
                f"{base['rss_mb']:,.0f}",
                f"{base['wall_s'] / long['wall_s']:.1f}",
                f"{base['rss_mb'] / long['rss_mb']:.1f}",
                "{:.2f} / {:.2f}".format(*long["agree"]),
            ]
        lines.append(
            f"| `{model}` | .{fmt} | {long['wall_s']:.1f} | {long['cpu_s']:.1f} | "
            f"{long['rss_mb']:,.0f} | {' | '.join(cells[:5])} | {long['n_beats']:,} | "
            f"{cells[5]} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
