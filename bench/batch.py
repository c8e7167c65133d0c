"""Throughput of batch inference on Dask (``ecglens.batch.run_batch``) over the 48 MIT-BIH
records with 1 and 2 worker processes, beside a plain loop running ``python -m ecglens predict
RECORD --json ... --no-table`` once per record (a new process each, as a shell loop would),
measured in the same run; then an estimate, from the measured per-record costs, of what a
100,000-record archive costs on 1,000 cores.

    python bench/batch.py [--data DIR] [--workers 1 2] [--limit N] [--model NAME] [--json FILE]

Every run uses the model's defaults (as ``ecglens predict``), one torch thread per process,
and the CPU. Rates count the whole wall time: cluster start and model loads included.
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

from ecglens.batch import BatchConfig, find_records, run_batch
from ecglens.batch.run import open_client

ARCHIVE_RECORDS = 100_000
ARCHIVE_CORES = 1_000
NOOP_TASKS = 2_000


def data_dir(given: Path | None) -> Path:
    if given is not None:
        return given
    root = os.environ.get("ECGLENS_DATA", "../shared/data")
    return Path(root) / "mitdb"


def loop_over_predict(records: list[Path], model: str, work: Path) -> dict:
    """``python -m ecglens predict`` once per record; seconds, beats and per-record labels."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    labels, beats = {}, 0
    start = time.perf_counter()
    for rec in records:
        out = work / f"{rec.name}.json"
        cmd = [sys.executable, "-m", "ecglens", "predict", str(rec), "--model", model,
               "--json", str(out), "--no-table", "--no-progress", "--device", "cpu"]  # fmt: skip
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        result = json.loads(out.read_text())
        beats += result["n_beats"]
        labels[str(rec.resolve())] = [b["label"] for b in result["beats"]]
    return {"seconds": time.perf_counter() - start, "beats": beats, "labels": labels}


def batch(records: list[Path], model: str, workers: int, out: Path) -> dict:
    import pyarrow.parquet as pq

    config = BatchConfig(model=model, device="cpu", workers=workers, part_records=len(records))
    start = time.perf_counter()
    summary = run_batch(records, out, config, progress=False)
    seconds = time.perf_counter() - start
    rows = pq.read_table(out, columns=["path", "sample", "label"]).to_pandas()
    rows = rows.sort_values(["path", "sample"])
    labels = {p: g["label"].tolist() for p, g in rows.groupby("path")}
    size = sum(p.stat().st_size for p in out.glob("part-*.parquet"))
    return {"seconds": seconds, "summary": summary, "labels": labels, "bytes_out": size}


def scheduler_rate(workers: int) -> float:
    """No-op tasks per second through a local scheduler (submit, run, gather)."""
    with open_client(BatchConfig(workers=workers, device="cpu")) as client:
        client.gather(client.map(_noop, range(50), pure=False))  # warm up
        start = time.perf_counter()
        client.gather(client.map(_noop, range(NOOP_TASKS), pure=False))
        return NOOP_TASKS / (time.perf_counter() - start)


def _noop(i: int) -> int:
    return i


def bytes_read(records: list[Path]) -> float:
    """Mean bytes a record's files hold (header, signal, annotations)."""
    sizes = [sum(f.stat().st_size for f in r.parent.glob(f"{r.name}.*")) for r in records]
    return float(np.mean(sizes))


def agreement(a: dict[str, list[str]], b: dict[str, list[str]]) -> float:
    same = total = 0
    for path, labels in a.items():
        other = b.get(path, [])
        total += max(len(labels), len(other))
        same += sum(x == y for x, y in zip(labels, other, strict=False))
    return same / total if total else float("nan")


def _verdict(share: float) -> str:
    if share >= 1:
        return "past its limit"
    return "close to its limit" if share >= 0.5 else "not the bottleneck"


def estimate(costs: dict) -> str:
    """What ARCHIVE_RECORDS records of the measured kind cost on ARCHIVE_CORES cores."""
    n, cores = ARCHIVE_RECORDS, ARCHIVE_CORES
    per_record = costs["read_s"] + costs["classify_s"]
    compute = n * per_record / cores
    need = cores / per_record  # records/s the cores can take: one task each
    read_bw = need * costs["bytes_in"]
    rows_rate = need * costs["beats"]
    out_mb = need * costs["bytes_out"] / 1e6
    client_rows = costs["client_rows_per_s"]
    sched = costs["scheduler_tasks_per_s"]
    short = costs.get("short_record_s")
    lines = [
        f"On paper: {n:,} records like these on {cores:,} cores (one single-threaded worker "
        "per core, one task per record).",
        "",
        f"- Per record (measured on one of 2 cores shared with training jobs, so an upper "
        f"bound): read {costs['read_s']:.2f} s + classify {costs['classify_s']:.2f} s = "
        f"{per_record:.2f} s; {costs['beats']:.0f} beats; {costs['bytes_in'] / 1e6:.2f} MB "
        f"read; {costs['bytes_out'] / 1e3:.0f} kB of Parquet written. In all "
        f"{n * per_record / 3600:,.0f} core-hours: {compute / 60:.1f} min of wall on "
        f"{cores:,} cores at perfect scaling, against {n * per_record / 86400:.1f} days on one.",
        f"- Once per worker (shared by its records): the model load, "
        f"{costs['load_s']:.1f} s here with the imports; {cores * costs['load_s'] / 3600:.1f} "
        f"core-hours in all but {costs['load_s']:.1f} s of wall, paid in parallel. Once per "
        f"run: the cluster start ({costs['startup_s']:.1f} s for a local one; on SLURM, the "
        "queue). One scheduler and one client (which writes every part) serve all workers.",
        f"- Scheduler: the cores finish {need:,.0f} records/s, so it must run {need:,.0f} "
        f"tasks/s. Measured here end to end (submit, run, gather): {sched:,.0f} no-op "
        f"tasks/s ({need / sched:.0%}: {_verdict(need / sched)}); on a free core Dask's "
        f"overhead is about 1 ms a task, ~1,000 tasks/s ({need / 1000:.0%}: "
        f"{_verdict(need / 1000)}).",
        f"- Storage: {need:,.0f} records/s x {costs['bytes_in'] / 1e6:.2f} MB = "
        f"{read_bw / 1e9:.2f} GB/s of reads ({read_bw / 1e9:.0%} of one ~1 GB/s NFS server: "
        f"{_verdict(read_bw / 1e9)}; a parallel file system, Lustre or GPFS, gives tens of "
        "GB/s), plus 3 file opens a record on the metadata server.",
        f"- Results: {rows_rate:,.0f} rows/s ({out_mb:.0f} MB/s of Parquet) into the one "
        f"client, which wrote {client_rows:,.0f} rows/s here "
        f"({rows_rate / client_rows:.0%}: {_verdict(rows_rate / client_rows)}); the archive "
        f"gives {n * costs['beats'] / 1e6:,.0f} M rows, {n * costs['bytes_out'] / 1e9:.0f} GB.",
    ]
    if short is not None:
        lines.append(
            f"- Short records (10-s 12-lead PTB-XL: {short:.3f} s each here): {cores / short:,.0f}"
            f" tasks/s asked, {cores / short / 1000:.0f}x the scheduler's ~1,000: the "
            "scheduler is the bottleneck unless a task carries a batch of records (k records a "
            "task divide the rate by k)."
        )
    lines.append(
        "- So the bottleneck moves from the CPU (one core: days) to what is shared: the "
        "scheduler's tasks/s, the single client that gathers and writes the rows, and the "
        "storage's read bandwidth. Remedies: several records a task, workers writing their "
        "own parts to the shared file system (the client then only commits the list), data "
        "staged to node-local disks."
    )
    return "\n".join(lines)


def short_record_cost(limit: int = 30) -> float | None:
    """Seconds per 10-s 12-lead PTB-XL record (read + classify, one core), when the data is
    there."""
    root = Path(os.environ.get("ECGLENS_DATA", "../shared/data")) / "ptb-xl" / "records100"
    if not root.is_dir():
        return None
    import torch

    from ecglens.io import read_record
    from ecglens.models import load_model
    from ecglens.predict import classify

    torch.set_num_threads(1)
    paths = sorted(p.with_suffix("") for p in root.rglob("*.hea"))[:limit]
    if not paths:
        return None
    loaded = load_model("ecglens-ptbxl-binary")
    classify(read_record(paths[0]), loaded)
    start = time.perf_counter()
    for p in paths:
        classify(read_record(p), loaded)
    return (time.perf_counter() - start) / len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="MIT-BIH folder")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--limit", type=int, default=None, help="only the first N records")
    parser.add_argument("--model", default="ecglens-mitdb-inter")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    records = find_records(data_dir(args.data))[: args.limit]
    print(f"{len(records)} records from {data_dir(args.data)}", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("loop over `ecglens predict`...", file=sys.stderr)
        loop = loop_over_predict(records, args.model, work)
        runs = {}
        for w in args.workers:
            print(f"batch, {w} worker(s)...", file=sys.stderr)
            runs[w] = batch(records, args.model, w, work / f"batch-{w}.parquet")
        print("scheduler no-op tasks...", file=sys.stderr)
        sched = scheduler_rate(max(args.workers))
    short = short_record_cost()

    n = len(records)
    loop_rate = n / loop["seconds"]
    lines = [
        "| run | workers | wall s | records/s | beats/s | x loop | startup s | same labels |",
        "|---|---|---|---|---|---|---|---|",
        f"| loop: `python -m ecglens predict` per record | 1 | {loop['seconds']:.1f} | "
        f"{loop_rate:.3f} | {loop['beats'] / loop['seconds']:,.0f} | 1.00 | - | - |",
    ]
    for w, r in runs.items():
        s = r["summary"]
        rate = n / r["seconds"]
        lines.append(
            f"| `run_batch`, local Dask cluster | {w} | {r['seconds']:.1f} | {rate:.3f} | "
            f"{s.beats / r['seconds']:,.0f} | {rate / loop_rate:.2f} | {s.startup_s:.1f} | "
            f"{100 * agreement(loop['labels'], r['labels']):.2f}% |"
        )
    print("\n".join(lines))
    one = runs[min(runs)]["summary"]
    loads = sum(one.model_loads.values()) or 1
    costs = {
        "read_s": one.read_s / one.done,
        "classify_s": one.classify_s / one.done,
        "load_s": one.load_s / loads,
        "startup_s": one.startup_s,
        "beats": one.beats / one.done,
        "bytes_in": bytes_read(records),
        "bytes_out": runs[min(runs)]["bytes_out"] / one.done,
        "client_rows_per_s": one.rows / max(one.write_s, 1e-9),
        "scheduler_tasks_per_s": sched,
    }
    if short is not None:
        costs["short_record_s"] = short
    print()
    print(
        f"Model loads per worker: {[r['summary'].model_loads for r in runs.values()]}; "
        f"per record (1 worker): read {costs['read_s']:.3f} s, classify {costs['classify_s']:.3f}"
        f" s; model load {costs['load_s']:.2f} s; client writes {costs['client_rows_per_s']:,.0f}"
        f" rows/s; scheduler {sched:,.0f} no-op tasks/s"
        + (f"; a 10-s 12-lead PTB-XL record {short:.3f} s" if short else "")
        + "."
    )
    print()
    print(estimate(costs))
    if args.json is not None:
        report = {
            "records": n,
            "loop": {k: v for k, v in loop.items() if k != "labels"},
            "batch": {
                str(w): {"seconds": r["seconds"], **r["summary"].to_dict()} for w, r in runs.items()
            },
            "costs": costs,
        }
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
