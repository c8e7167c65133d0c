"""Benchmark R-peak detectors on the MIT-BIH Arrhythmia Database (ANSI/AAMI EC57 scoring).

Runs ecglens ``ecg_peaks``, NeuroKit2's default detector and wfdb's XQRS on the
same lead (signal 0) of every record, matches each against the reference beat
annotations (symbols of ``SYMBOL_TO_AAMI``) one-to-one within a tolerance
(150 ms), and prints pooled TP/FP/FN, sensitivity (Se), positive predictivity
(+P) and detection time. As in EC57, detections inside ventricular flutter
episodes (``[`` ... ``]``) are left out; the "+P all" column keeps them.

    python bench/rpeaks.py [--data DIR] [--records 100 101] [--json out.json] [--skip-xqrs]

XQRS is slow (minutes for the 48 records); ``--skip-xqrs`` leaves it out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ecglens.errors import EcgLensError
from ecglens.evaluate.detection import (
    detection_scores,
    drop_in_intervals,
    flutter_intervals,
    match_peaks,
    reference_beats,
)
from ecglens.io import read_annotations, read_record
from ecglens.signal import ecg_peaks

REPO = Path(__file__).resolve().parents[1]
# Pan & Tompkins (1985), IEEE TBME 32(3): 116,137 beats, 507 FP, 277 FN on MIT-BIH.
PUBLISHED = {"name": "Pan-Tompkins (published)", "tp": 115860, "fp": 507, "fn": 277}

Detector = Callable[[np.ndarray, float], np.ndarray]


def _ecglens(sig: np.ndarray, fs: float) -> np.ndarray:
    return ecg_peaks(sig, fs)


def _neurokit(sig: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    _, info = nk.ecg_peaks(nk.ecg_clean(sig, sampling_rate=fs), sampling_rate=fs)
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


def _xqrs(sig: np.ndarray, fs: float) -> np.ndarray:
    from wfdb import processing

    return np.asarray(processing.xqrs_detect(sig, fs, verbose=False), dtype=np.int64)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    default_data = os.environ.get("ECGLENS_DATA") or str(REPO / ".." / "shared" / "data")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(default_data),
        help="data root holding mitdb/ (default: $ECGLENS_DATA or ../shared/data)",
    )
    parser.add_argument(
        "--records",
        nargs="+",
        default=None,
        help="record names (space or comma separated; default: all in mitdb/RECORDS)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--tolerance-ms", type=float, default=150.0, help="match window (ms)")
    parser.add_argument("--skip-xqrs", action="store_true", help="leave out wfdb XQRS (slow)")
    parser.add_argument("--skip-neurokit", action="store_true", help="leave out NeuroKit2")
    parser.add_argument("--worst", type=int, default=10, help="per-record rows to show")
    parser.add_argument("--plain", action="store_true", help="plain-text tables, no rich")
    return parser.parse_args(argv)


def record_names(db: Path, records: list[str] | None) -> list[str]:
    if records:
        return [r for item in records for r in item.split(",") if r]
    listing = db / "RECORDS"
    if not listing.exists():
        raise EcgLensError("no RECORDS file: is this the MIT-BIH Arrhythmia Database?", listing)
    return listing.read_text().split()


def detectors(args: argparse.Namespace) -> dict[str, Detector]:
    chosen: dict[str, Detector] = {"ecglens": _ecglens}
    if not args.skip_neurokit:
        try:
            import neurokit2  # noqa: F401

            chosen["neurokit2"] = _neurokit
        except ImportError:
            print("neurokit2 not installed: skipped", file=sys.stderr)
    if not args.skip_xqrs:
        chosen["wfdb XQRS"] = _xqrs
    return chosen


def run(args: argparse.Namespace) -> dict:
    db = args.data / "mitdb"
    names = record_names(db, args.records)
    chosen = detectors(args)
    per_record: list[dict] = []
    seconds = dict.fromkeys(chosen, 0.0)
    wall = time.perf_counter()
    for name in names:
        record = read_record(db / name)
        ann = read_annotations(db / name)
        sig, fs = record.signals[:, 0], record.fs
        tol = int(round(args.tolerance_ms * fs / 1000.0))
        ref = reference_beats(ann.sample, ann.symbol)
        flutter = flutter_intervals(ann.sample, ann.symbol, record.n_samples)
        row = {"record": name, "lead": record.lead_names[0], "beats": int(ref.size)}
        for det_name, detect in chosen.items():
            start = time.perf_counter()
            peaks = detect(sig, fs)
            seconds[det_name] += time.perf_counter() - start
            tp, fp, fn = match_peaks(drop_in_intervals(peaks, flutter), ref, tol)
            _, fp_all, _ = match_peaks(peaks, ref, tol)
            row[det_name] = {"tp": tp, "fp": fp, "fn": fn, "fp_all": fp_all}
        per_record.append(row)
        print(
            f"{name}: " + "  ".join(f"{d} fp={row[d]['fp']} fn={row[d]['fn']}" for d in chosen),
            file=sys.stderr,
            flush=True,
        )
    totals = {}
    for det_name in chosen:
        tp, fp, fn, fp_all = (
            sum(r[det_name][k] for r in per_record) for k in ("tp", "fp", "fn", "fp_all")
        )
        scores = detection_scores(tp, fp, fn)
        scores["ppv_all"] = detection_scores(tp, fp_all, fn)["ppv"]
        scores["fp_all"] = fp_all
        scores["seconds"] = seconds[det_name]
        scores["time_ratio"] = seconds[det_name] / max(seconds["ecglens"], 1e-12)
        totals[det_name] = scores
    return {
        "data": str(db),
        "records": names,
        "lead": "signal 0",
        "tolerance_ms": args.tolerance_ms,
        "scoring": "EC57: one-to-one matching, detections in flutter episodes excluded",
        "totals": totals,
        "published": {
            **PUBLISHED,
            **detection_scores(PUBLISHED["tp"], PUBLISHED["fp"], PUBLISHED["fn"]),
        },
        "per_record": per_record,
        "wall_seconds": time.perf_counter() - wall,
    }


def _pct(value: float) -> str:
    return "-" if value != value else f"{100 * value:.2f}"


def summary_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    header = ["detector", "TP", "FP", "FN", "Se %", "+P %", "+P all %", "time s", "x ecglens"]
    rows = []
    for name, s in result["totals"].items():
        rows.append(
            [
                name,
                str(s["tp"]),
                str(s["fp"]),
                str(s["fn"]),
                _pct(s["se"]),
                _pct(s["ppv"]),
                _pct(s["ppv_all"]),
                f"{s['seconds']:.2f}",
                f"{s['time_ratio']:.1f}",
            ]
        )
    p = result["published"]
    rows.append(
        [
            p["name"],
            str(p["tp"]),
            str(p["fp"]),
            str(p["fn"]),
            _pct(p["se"]),
            _pct(p["ppv"]),
            "-",
            "-",
            "-",
        ]
    )
    return header, rows


def worst_rows(result: dict, n: int) -> tuple[list[str], list[list[str]]]:
    names = list(result["totals"])
    header = ["record", "lead", "beats"]
    for name in names:
        header += [f"{name} FP", f"{name} FN"]
    header += ["ecglens Se %", "ecglens +P %"]
    ranked = sorted(result["per_record"], key=lambda r: -(r["ecglens"]["fp"] + r["ecglens"]["fn"]))
    rows = []
    for r in ranked[:n]:
        row = [r["record"], r["lead"], str(r["beats"])]
        for name in names:
            row += [str(r[name]["fp"]), str(r[name]["fn"])]
        s = detection_scores(r["ecglens"]["tp"], r["ecglens"]["fp"], r["ecglens"]["fn"])
        rows.append(row + [_pct(s["se"]), _pct(s["ppv"])])
    return header, rows


def print_table(title: str, header: list[str], rows: list[list[str]], plain: bool) -> None:
    if not plain:
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            plain = True
    if plain:
        widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]
        print(f"\n{title}")
        for line in [header, *rows]:
            print(
                "  ".join(
                    c.rjust(w) if i else c.ljust(w)
                    for i, (c, w) in enumerate(zip(line, widths, strict=True))
                )
            )
        return
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(header):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except EcgLensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    n = len(result["records"])
    print_table(
        f"R-peak detection, MIT-BIH {n} records, {result['lead']}, "
        f"{args.tolerance_ms:g} ms, flutter excluded",
        *summary_rows(result),
        args.plain,
    )
    print_table(
        f"ecglens worst {min(args.worst, n)} records", *worst_rows(result, args.worst), args.plain
    )
    print(f"\nwall time {result['wall_seconds']:.1f} s (reading + all detectors)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
