"""Signal quality: how much clean ECG ecglens marks unusable, and what excluding noise buys.

With the first signal of each record, the R peaks of ``ecg_peaks`` and the
segments of ``assess_quality`` (``ecglens.signal.quality``):

(a) the share of signal marked unusable on each of the 48 MIT-BIH Arrhythmia
    records (no added noise: it should stay under 1% on each);
(b) on MIT-BIH 118 and its Noise Stress Test versions 118e24 / 118e06
    (electrode-motion noise at 24 / 6 dB from 300 s on, in 2-minute segments
    that alternate with clean ones, starting with noise): detector Se and +P
    (150 ms, one-to-one against the reference beat annotations) over all
    beats, then over the beats outside the unusable intervals (detections and
    reference beats inside them both left out), and the share of the noisy
    and of the clean segments' time marked unusable.

With ``--neurokit``, the same share (a) and marking (b) for NeuroKit2's
``ecg_quality(method="zhao2018")`` run on each 6-s segment ("Unacceptable" =
unusable), for comparison (about 80 s more).

    python bench/quality.py [--data DIR] [--markdown FILE] [--json FILE] [--neurokit]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ecglens.evaluate.detection import detection_scores, match_peaks, reference_beats
from ecglens.io import read_annotations, read_record
from ecglens.signal.peaks import ecg_peaks
from ecglens.signal.quality import SEGMENT_S, assess_quality

REPO = Path(__file__).resolve().parents[1]
TOLERANCE_S = 0.15
NOISY_FROM_S = 300.0
NOISE_SEGMENT_S = 120.0
STRESS = {"118": "mitdb/118", "118e24": "nstdb/118e24", "118e06": "nstdb/118e06"}
PARTS = ("whole record", "noisy segments", "clean segments")


def default_data() -> Path:
    root = os.environ.get("ECGLENS_DATA")
    return Path(root) if root else (REPO / ".." / "shared" / "data").resolve()


def noise_on(t: np.ndarray) -> np.ndarray:
    """Bool per time ``t`` (s): inside an nstdb noisy segment (on the clean record, the same
    spans)."""
    phase = np.floor((t - NOISY_FROM_S) / NOISE_SEGMENT_S).astype(np.int64)
    return (t >= NOISY_FROM_S) & (phase % 2 == 0)


def part_mask(t: np.ndarray, part: str) -> np.ndarray:
    if part == "whole record":
        return np.ones(t.shape, dtype=bool)
    on = noise_on(t)
    return on if part == "noisy segments" else ~on


def load(path: Path) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """First signal (mV), rate (Hz), detected R peaks and reference beats of a record."""
    record = read_record(path)
    x = record.signals[:, 0]
    ann = read_annotations(path)
    return x, record.fs, ecg_peaks(x, record.fs), reference_beats(ann.sample, ann.symbol)


def unusable_mask(intervals: list[tuple[float, float]], n: int, fs: float) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for a, b in intervals:
        mask[int(round(a * fs)) : int(round(b * fs))] = True
    return mask


def clean_records(data: Path, neurokit: bool, timer: dict[str, float]) -> list[dict]:
    names = (data / "mitdb" / "RECORDS").read_text().split()
    rows = []
    for name in names:
        x, fs, peaks, _ = load(data / "mitdb" / name)
        quality = assess_quality(x, fs, peaks)
        row = {
            "record": name,
            "excluded": 1.0 - quality.usable_fraction,
            "intervals_s": quality.to_dict()["unusable_intervals_s"],
        }
        if neurokit:
            row["nk_excluded"] = float(zhao_unusable(x, fs, peaks, timer).mean())
        rows.append(row)
    return rows


def stress_records(data: Path, neurokit: bool, timer: dict[str, float]) -> dict[str, dict]:
    out = {}
    for label, rel in STRESS.items():
        x, fs, peaks, ref = load(data / rel)
        quality = assess_quality(x, fs, peaks)
        tol = int(round(TOLERANCE_S * fs))
        keep_det = ~quality.beat_is_artifact(peaks, fs)
        keep_ref = ~quality.beat_is_artifact(ref, fs)
        t_sample = np.arange(x.size) / fs
        bad = unusable_mask(quality.intervals, x.size, fs)
        nk_bad = None
        if neurokit:
            seg = zhao_unusable(x, fs, peaks, timer)
            nk_bad = np.repeat(seg, round(SEGMENT_S * fs))[: x.size]
            nk_bad = np.pad(nk_bad, (0, x.size - nk_bad.size), mode="edge")
        parts = {}
        for part in PARTS:
            in_det, in_ref = part_mask(peaks / fs, part), part_mask(ref / fs, part)
            in_time = part_mask(t_sample, part)
            all_beats = detection_scores(*match_peaks(peaks[in_det], ref[in_ref], tol))
            kept = detection_scores(
                *match_peaks(peaks[in_det & keep_det], ref[in_ref & keep_ref], tol)
            )
            parts[part] = {
                "n_ref": int(in_ref.sum()),
                "n_ref_kept": int((in_ref & keep_ref).sum()),
                "all": all_beats,
                "kept": kept,
                "marked": float(bad[in_time].mean()),
                "nk_marked": None if nk_bad is None else float(nk_bad[in_time].mean()),
            }
        out[label] = {"intervals_s": quality.to_dict()["unusable_intervals_s"], "parts": parts}
    return out


def zhao_unusable(
    x: np.ndarray, fs: float, peaks: np.ndarray, timer: dict[str, float]
) -> np.ndarray:
    """NeuroKit2 ``zhao2018`` per ``SEGMENT_S`` segment (last one holds the rest): bool
    "Unacceptable". Adds its run time (s) to ``timer["neurokit"]``."""
    import neurokit2 as nk

    start = time.perf_counter()
    clean = nk.ecg_clean(x, sampling_rate=int(fs))
    length = round(SEGMENT_S * fs)
    k = max(x.size // length, 1)
    out = np.zeros(k, dtype=bool)
    for i in range(k):
        a, b = i * length, x.size if i == k - 1 else (i + 1) * length
        p = peaks[(peaks >= a) & (peaks < b)] - a
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            label = nk.ecg_quality(clean[a:b], rpeaks=p, sampling_rate=int(fs), method="zhao2018")
        out[i] = label == "Unacceptable"
    timer["neurokit"] += time.perf_counter() - start
    return out


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or np.isnan(value) else f"{100 * value:.{digits}f}"


def clean_table(rows: list[dict], neurokit: bool, per_line: int = 4) -> str:
    key = "nk_excluded" if neurokit else None
    cell = ["Record", "Excluded %"] + (["NK2 %"] if key else [])
    header = "| " + " | ".join(cell * per_line) + " |"
    lines = [header, "|" + "---|" * (len(cell) * per_line)]
    for start in range(0, len(rows), per_line):
        cells = []
        for row in rows[start : start + per_line]:
            cells += [row["record"], pct(row["excluded"], 2)]
            if key:
                cells.append(pct(row[key], 1))
        cells += [""] * (len(cell) * per_line - len(cells))
        lines.append("| " + " | ".join(cells) + " |")
    excluded = np.array([r["excluded"] for r in rows])
    worst = rows[int(excluded.argmax())]["record"]
    summary = (
        f"ecglens: excluded share max {pct(excluded.max(), 2)}% (record {worst}), "
        f"mean {pct(excluded.mean(), 3)}%, records over 1%: {int((excluded > 0.01).sum())} "
        f"of {len(rows)}."
    )
    if key:
        nk_ex = np.array([r[key] for r in rows])
        summary += (
            f" NeuroKit2 zhao2018: max {pct(nk_ex.max())}%, mean {pct(nk_ex.mean())}%, "
            f"records over 1%: {int((nk_ex > 0.01).sum())}."
        )
    return "\n".join(lines) + "\n\n" + summary


def stress_table(results: dict[str, dict], neurokit: bool) -> str:
    header = [
        "Record",
        "Part",
        "Ref beats",
        "Se",
        "+P",
        "Ref beats kept",
        "Se kept",
        "+P kept",
        "Time marked unusable",
    ] + (["NK2 marked"] if neurokit else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, rec in results.items():
        for part, s in rec["parts"].items():
            row = [
                label,
                part,
                str(s["n_ref"]),
                pct(s["all"]["se"], 2),
                pct(s["all"]["ppv"], 2),
                str(s["n_ref_kept"]),
                pct(s["kept"]["se"], 2),
                pct(s["kept"]["ppv"], 2),
                pct(s["marked"]),
            ] + ([pct(s["nk_marked"])] if neurokit else [])
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def notes(seconds: float, neurokit_s: float | None) -> str:
    return (
        f"All numbers in %. First signal of each record; beats from `ecg_peaks`, quality from "
        f"`assess_quality` ({SEGMENT_S:g}-s segments). Se / +P: detections matched one-to-one "
        f"to the reference beat annotations within {1000 * TOLERANCE_S:g} ms (`match_peaks`). "
        "'kept': detections and reference beats inside unusable intervals are both left out "
        "of the count (by their own times), so 'Ref beats kept' is the number still scored. "
        f"Noisy segments: t >= {NOISY_FROM_S:g} s, the {NOISE_SEGMENT_S:g}-s segments that "
        "carry noise in the nstdb records (on clean 118, the same spans without noise); "
        "clean segments: the rest. 'Time marked unusable': share of that part's duration "
        f"inside unusable intervals. Runtime: {seconds:.1f} s"
        + ("." if neurokit_s is None else f", of which NeuroKit2 {neurokit_s:.1f} s.")
    )


def plain(value: Any) -> Any:
    """``value`` with NaN floats as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def end_to_end(data: Path, model_name: str) -> list[dict]:
    """End-to-end accuracy of ``ecglens predict`` (detector + quality + classifier, lead MLII)
    on 118, 118e24 and 118e06: correctly classified matched beats / (matched + false detections
    + missed beats), over all beats and with beats in unusable stretches left out (detections
    flagged as artifacts, and reference beats inside unusable intervals)."""
    import torch

    from ecglens.data.labels import aami_labels
    from ecglens.evaluate.detection import match_pairs
    from ecglens.models import load_model
    from ecglens.predict import classify_record

    torch.set_num_threads(1)
    loaded = load_model(model_name)
    rows = []
    for label, rel in STRESS.items():
        path = data / rel
        record = read_record(path)
        pred = classify_record(record, loaded, with_reference=False)
        ann = read_annotations(path)
        keep, ref_y = aami_labels(ann.symbol)
        ref = ann.sample[keep]
        fs = record.fs
        tol = int(round(0.15 * fs))
        unusable = unusable_mask(pred.quality.intervals, len(pred.signal), fs)
        ref_bad = unusable[np.clip(ref, 0, len(unusable) - 1)]
        predicted = pred.probabilities.argmax(1)
        for part in ("whole record", "noisy segments"):
            det_in = part_mask(pred.sample / fs, part)
            ref_in = part_mask(ref / fs, part)
            for kept in (False, True):
                d_sel = det_in & (~pred.artifact if kept else True)
                r_sel = ref_in & (~ref_bad if kept else True)
                d_idx, r_idx = np.flatnonzero(d_sel), np.flatnonzero(r_sel)
                md, mr = match_pairs(pred.sample[d_idx], ref[r_idx], tol)
                correct = int(np.sum(predicted[d_idx[md]] == ref_y[r_idx[mr]]))
                total = len(md) + (len(d_idx) - len(md)) + (len(r_idx) - len(mr))
                rows.append({
                    "record": label, "part": part, "artifacts_excluded": kept,
                    "reference_beats": int(len(r_idx)), "detections": int(len(d_idx)),
                    "e2e_accuracy": correct / total if total else float("nan"),
                    "matched_accuracy": correct / len(md) if len(md) else float("nan"),
                })  # fmt: skip
    return rows


def e2e_table(rows: list[dict], model_name: str) -> str:
    lines = [
        f"Model {model_name}. e2e = correctly classified matched beats / (matched + false "
        "detections + missed beats); 'excluded' leaves out detections flagged as artifacts and "
        "reference beats inside unusable intervals.",
        "",
        "| Record | Part | Artifacts | Ref beats | Detections | e2e accuracy | matched accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['record']} | {r['part']} | {'excluded' if r['artifacts_excluded'] else 'kept'}"
            f" | {r['reference_beats']} | {r['detections']} | {pct(r['e2e_accuracy'])} "
            f"| {pct(r['matched_accuracy'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=default_data(),
        help="folder with mitdb/ and nstdb/ (default: $ECGLENS_DATA or ../shared/data)",
    )
    parser.add_argument("--markdown", type=Path, default=None, help="write the tables here")
    parser.add_argument("--json", type=Path, default=None, help="write the full results here")
    parser.add_argument(
        "--neurokit", action="store_true", help="compare NeuroKit2 ecg_quality zhao2018"
    )
    parser.add_argument(
        "--model", default="ecglens-mitdb-inter",
        help="beat model for the end-to-end accuracy (c); 'none' to leave (c) out",
    )
    args = parser.parse_args()
    missing = [
        str(p)
        for p in [args.data / "mitdb" / "RECORDS"]
        + [(args.data / rel).with_suffix(".hea") for rel in STRESS.values()]
        if not p.exists()
    ]
    if missing:
        sys.exit(f"not found: {', '.join(missing)} (set --data or ECGLENS_DATA)")

    start = time.perf_counter()
    timer = {"neurokit": 0.0}
    clean = clean_records(args.data, args.neurokit, timer)
    stress = stress_records(args.data, args.neurokit, timer)
    seconds = time.perf_counter() - start
    neurokit_s = timer["neurokit"] if args.neurokit else None
    e2e = [] if args.model == "none" else end_to_end(args.data, args.model)

    text = "\n\n".join(
        [
            "## (a) Excluded share of signal on the 48 MIT-BIH Arrhythmia records",
            clean_table(clean, args.neurokit),
            "## (b) Detector and quality on MIT-BIH 118 and the noise stress records",
            stress_table(stress, args.neurokit),
            notes(seconds, neurokit_s),
        ]
        + (
            ["## (c) End-to-end classification with and without the artifact stretches",
             e2e_table(e2e, args.model)]
            if e2e else []
        )
    )
    print(text)
    if args.markdown:
        args.markdown.write_text("# Signal quality\n\n" + text + "\n", encoding="utf-8")
    if args.json:
        result = plain(
            {
                "clean": clean,
                "stress": stress,
                "runtime_s": round(seconds, 2),
                "neurokit_s": neurokit_s,
                "end_to_end": e2e,
            }
        )
        args.json.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")


if __name__ == "__main__":
    main()
