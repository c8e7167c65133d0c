"""Wall-clock time of ``ecglens`` as a user runs it: the whole process (start-up, imports,
model loading, reading, classification, JSON), median of several runs, beside NeuroKit2's
``ecg_process`` on the same lead run in a process of its own (the baseline, timed in the
same run).

Cases: ``ecglens predict`` on a 30-minute two-lead MIT-BIH record (208, or the shipped demo
record 213 without ECGLENS_DATA), ``ecglens predict`` on a 10-s 12-lead PTB-XL record with
``ecglens-ptbxl-binary``, and ``ecglens predict`` on a missing file (how fast it fails).

    python bench/cli_wall.py [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ECGLENS = [sys.executable, "-m", "ecglens"]
NEUROKIT = (
    "import sys, neurokit2 as nk; from ecglens.io import read_record, select_lead; "
    "r = read_record(sys.argv[1]); s, _ = select_lead(r); nk.ecg_process(s, sampling_rate=r.fs)"
)


def data_path(*parts: str) -> Path | None:
    root = os.environ.get("ECGLENS_DATA")
    path = Path(root, *parts) if root else None
    return path if path is not None and path.with_suffix(".hea").exists() else None


def wall(command: list[str], repeats: int, env: dict[str, str]) -> tuple[float, list[float]]:
    """Median and all wall-clock seconds of ``command`` run ``repeats`` times."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per case (median shown)")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS for every run")
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MPLBACKEND": "Agg"}
    beat_record = data_path("mitdb", "208") or REPO / "data" / "mitdb-demo" / "213"
    record12 = data_path("ptb-xl", "records100", "00000", "00009_lr")
    out = Path(tempfile.mkdtemp()) / "p.json"
    cases = [
        (f"ecglens predict {beat_record.name} (30 min, 2 leads)",
         [*ECGLENS, "predict", str(beat_record), "--json", str(out), "--no-table"]),
        (f"NeuroKit2 ecg_process on {beat_record.name} (own process)",
         [sys.executable, "-c", NEUROKIT, str(beat_record)]),
        ("ecglens predict missing.csv (error)", [*ECGLENS, "predict", "missing.csv"]),
    ]  # fmt: skip
    if record12 is not None:
        cases.insert(1, (
            f"ecglens predict {record12.name} (10 s, 12 leads)",
            [*ECGLENS, "predict", str(record12), "--model", "ecglens-ptbxl-binary", "--json",
             str(out), "--no-table"],
        ))  # fmt: skip
    rows = [(name, *wall(command, args.repeats, env)) for name, command in cases]
    baseline = next(median for name, median, _ in rows if name.startswith("NeuroKit2"))
    print(f"median of {args.repeats} runs, OMP_NUM_THREADS={args.threads}, {os.cpu_count()} cores")
    print("| command | wall s (median) | runs | x NeuroKit2 ecg_process |")
    print("|---|---|---|---|")
    for name, median, times in rows:
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"| {name} | {median:.2f} | {runs} | {median / baseline:.2f} |")


if __name__ == "__main__":
    main()
