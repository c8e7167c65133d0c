"""The recording summary's intervals and speed (the rhythm episodes: ``ecglens evaluate rhythm``).

(a) Intervals on simulated ECGs with known waves: beats built from a P half-sine (onset 200 ms
    before the R peak), a Q-R-S of straight lines (40 ms each side of R) and a T half-sine
    ending 400 ms after R (PR 160, QRS 80, QT 440 ms), at 100, 250, 360 and 500 Hz, with a
    little noise; the error of PR, QRS and QT. Then NeuroKit2's ``ecg_simulate`` (ECGSYN,
    whose waves are Gaussians without sharp boundaries: no known interval): agreement of ours
    with NeuroKit2's own ``ecg_delineate`` (``dwt``) on the same signals.
(b) PTB-XL (``--ptbxl N``: the first N records of the local subset, 100 Hz, lead II; axis from
    I and aVF): the share of records inside physiological ranges, the median and IQR, and the
    agreement of QRS and QTc with NeuroKit2's ``ecg_delineate`` (``dwt``, median over beats).
(c) Speed: ``ecglens.predict.run`` on MIT-BIH 30-minute records with the summary, and the
    summary's own steps (AF rule and :func:`beat_summary`) timed apart in the same run: the
    ratio summary / prediction without it.

    python bench/rhythm_summary.py [--data DIR] [--ptbxl 300] [--speed-records 201 208]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

from ecglens.predict.summary import beat_summary, twelve_lead_summary
from ecglens.signal.delineate import intervals_of
from ecglens.signal.filters import ecg_clean
from ecglens.signal.peaks import ecg_peaks

RANGES = {"pr_ms": (80, 400), "qrs_ms": (50, 200), "qt_ms": (250, 600),
          "qtc_bazett_ms": (300, 600)}  # fmt: skip
KNOWN = {"pr_ms": 160.0, "qrs_ms": 80.0, "qt_ms": 440.0}


def known_wave_ecg(fs: float, rr_s: float, seconds: float, rng) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros_like(t)
    rs = np.arange(0.5, seconds - 0.6, rr_s)
    for r in rs:
        d = (t - r) * 1000
        p = (d >= -200) & (d <= -100)
        x[p] += 0.15 * np.sin(np.pi * (d[p] + 200) / 100)
        q = (d >= -40) & (d < -20)
        x[q] -= 0.2 * (d[q] + 40) / 20
        up = (d >= -20) & (d < 0)
        x[up] += -0.2 + 1.2 * (d[up] + 20) / 20
        down = (d >= 0) & (d < 20)
        x[down] += 1.0 - 1.3 * d[down] / 20
        s = (d >= 20) & (d <= 40)
        x[s] += -0.3 + 0.3 * (d[s] - 20) / 20
        tw = (d >= 150) & (d <= 400)
        x[tw] += 0.3 * np.sin(np.pi * (d[tw] - 150) / 250)
    return x + rng.normal(0, 0.01, len(x)), np.round(rs * fs).astype(int)


def nk_intervals(clean: np.ndarray, fs: float, peaks: np.ndarray) -> dict[str, float]:
    """NeuroKit2 ``ecg_delineate`` (dwt): median PR, QRS, QT (ms) over beats."""
    import neurokit2 as nk

    signals, _ = nk.ecg_delineate(clean, peaks, sampling_rate=fs, method="dwt")

    def points(name: str) -> np.ndarray:
        return np.flatnonzero(signals[name].to_numpy())

    def median_gap(a: str, b: str, longest_s: float) -> float:
        start, end = points(a), points(b)
        gaps = []
        for s in start:
            after = end[(end > s) & (end < s + longest_s * fs)]
            if len(after):
                gaps.append((after[0] - s) / fs * 1000)
        return float(np.median(gaps)) if gaps else float("nan")

    return {
        "pr_ms": median_gap("ECG_P_Onsets", "ECG_R_Onsets", 0.4),
        "qrs_ms": median_gap("ECG_R_Onsets", "ECG_R_Offsets", 0.25),
        "qt_ms": median_gap("ECG_R_Onsets", "ECG_T_Offsets", 0.7),
    }


def simulated() -> None:
    rng = np.random.default_rng(0)
    print("(a) known waves (PR 160, QRS 80, QT 440 ms): error of ours, ms")
    print("fs    RR (s)    PR err   QRS err    QT err")
    worst = dict.fromkeys(KNOWN, 0.0)
    missed = dict.fromkeys(KNOWN, 0)
    for fs in (100.0, 250.0, 360.0, 500.0):
        for rr in (0.6, 0.8, 1.0, 1.2):
            x, peaks = known_wave_ecg(fs, rr, 30.0, rng)
            iv = intervals_of(ecg_clean(x, fs), fs, peaks).to_dict()
            err = {k: None if iv[k] is None else iv[k] - v for k, v in KNOWN.items()}
            for k in KNOWN:
                if err[k] is None:
                    missed[k] += 1
                else:
                    worst[k] = max(worst[k], abs(err[k]))
            cells = ["  not found" if e is None else f"{e:+9.1f}" for e in err.values()]
            print(f"{fs:5.0f}  {rr:4.1f}  " + " ".join(cells))
    print("worst |error| ms: " + ", ".join(f"{k} {v:.1f}" for k, v in worst.items())
          + "; not found: " + ", ".join(f"{k} {v}" for k, v in missed.items()))
    import neurokit2 as nk

    print("\n(a') neurokit2.ecg_simulate (ECGSYN): ours against NeuroKit2's dwt delineation, ms")
    print("HR   fs    ours PR/QRS/QT        NeuroKit2 PR/QRS/QT")
    for hr in (60, 75, 90):
        for fs in (250, 500):
            x = nk.ecg_simulate(duration=30, sampling_rate=fs, heart_rate=hr, noise=0.0,
                                method="ecgsyn", random_state=1)  # fmt: skip
            clean = ecg_clean(x, fs)
            peaks = ecg_peaks(clean, fs)
            ours = intervals_of(clean, fs, peaks).to_dict()
            theirs = nk_intervals(nk.ecg_clean(x, sampling_rate=fs), fs, peaks)
            mine = " ".join(f"{ours[k] or float('nan'):5.0f}" for k in KNOWN)
            nk_ = " ".join(f"{theirs[k]:5.0f}" for k in KNOWN)
            print(f"{hr:3d}  {fs:4d}  {mine}     {nk_}")


def ptbxl(data: Path, n: int) -> None:
    from ecglens.io import read_record

    names = sorted((data / "ptb-xl" / "records100").glob("*/*_lr.hea"))[:n]
    ours: dict[str, list[float]] = {k: [] for k in (*RANGES, "axis_deg")}
    agree: dict[str, list[float]] = {"qrs_ms": [], "qtc_bazett_ms": []}
    for hea in names:
        record = read_record(hea.with_suffix(""))
        leads = [name.upper() for name in record.lead_names]
        signals = np.asarray(record.signals, dtype=np.float64).T
        s = twelve_lead_summary(signals, record.fs, record.lead_names, record.duration_s)
        iv = s["intervals"] or {}
        for k in ours:
            if iv.get(k) is not None:
                ours[k].append(iv[k])
        lead_ii = ecg_clean(signals[leads.index("II")], record.fs)
        peaks = ecg_peaks(lead_ii, record.fs)
        if len(peaks) < 3 or not iv:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                import neurokit2 as nk

                theirs = nk_intervals(nk.ecg_clean(signals[leads.index("II")],
                                                   sampling_rate=record.fs), record.fs, peaks)
            except Exception:  # NeuroKit2 fails on some records: left out of the agreement
                continue
        rr_s = iv["rr_ms"] / 1000
        if iv.get("qrs_ms") is not None and np.isfinite(theirs["qrs_ms"]):
            agree["qrs_ms"].append(iv["qrs_ms"] - theirs["qrs_ms"])
        if iv.get("qtc_bazett_ms") is not None and np.isfinite(theirs["qt_ms"]):
            agree["qtc_bazett_ms"].append(iv["qtc_bazett_ms"] - theirs["qt_ms"] / np.sqrt(rr_s))
    print(f"\n(b) PTB-XL, first {len(names)} records of the subset (100 Hz)")
    print("interval        found   in range        share   median  IQR")
    for k, (lo, hi) in RANGES.items():
        v = np.asarray(ours[k])
        inside = np.mean((v >= lo) & (v <= hi)) if len(v) else float("nan")
        q1, med, q3 = np.percentile(v, [25, 50, 75]) if len(v) else (np.nan,) * 3
        print(f"{k:14s}  {len(v):5d}  {lo:3d}-{hi:3d} ms   {100 * inside:5.1f}%  {med:6.0f}  "
              f"{q1:.0f}-{q3:.0f}")  # fmt: skip
    axis = np.asarray(ours["axis_deg"])
    normal_axis = 100 * np.mean((axis >= -30) & (axis <= 90))
    print(f"axis_deg        {len(axis):5d}  -30..90 deg   {normal_axis:5.1f}%  "
          f"{np.median(axis):6.0f}")  # fmt: skip
    for k, d in agree.items():
        d = np.asarray(d)
        print(f"ours - NeuroKit2 {k}: median {np.median(d):+.0f} ms, median |diff| "
              f"{np.median(np.abs(d)):.0f} ms, within 20 ms {100 * np.mean(np.abs(d) <= 20):.0f}%"
              f" ({len(d)} records)")  # fmt: skip


def speed(data: Path, records: list[str], repeats: int) -> None:
    from ecglens.models import load_model
    from ecglens.predict import run
    from ecglens.predict.rhythm import p_corr_previous, with_af_rule

    loaded = load_model("ecglens-mitdb-inter")
    print("\n(c) speed: ecglens.predict.run on 30-minute MIT-BIH records (best of "
          f"{repeats}), the summary's steps timed apart")
    print("record  predict (s)  summary (s)  summary / (predict - summary)")
    for name in records:
        best_run = best_summary = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            pred = run(data / "mitdb" / name, loaded).result
            best_run = min(best_run, time.perf_counter() - start)
            start = time.perf_counter()
            times = pred.sample / pred.fs
            with_af_rule(pred.probabilities, times, pred.classes, usable=~pred.artifact,
                         p_corr=p_corr_previous(pred.rr))  # fmt: skip
            beat_summary(times, pred.labels, pred.classes, len(pred.signal) / pred.fs,
                         artifact=pred.artifact, in_af=pred.in_af, noise=pred.quality.intervals,
                         clean=ecg_clean(pred.signal, pred.fs), fs=pred.fs, peaks=pred.sample)
            best_summary = min(best_summary, time.perf_counter() - start)
        print(f"{name:6s}  {best_run:10.2f}  {best_summary:10.3f}  "
              f"{100 * best_summary / (best_run - best_summary):6.1f}%")  # fmt: skip
    print("(the summary time includes a second band-pass of the lead, which predict reuses)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("ECGLENS_DATA", "data")))
    parser.add_argument("--ptbxl", type=int, default=300, help="PTB-XL records (0: none)")
    parser.add_argument("--speed-records", nargs="*", default=["201", "208"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    simulated()
    if args.ptbxl:
        ptbxl(args.data, args.ptbxl)
    if args.speed_records:
        speed(args.data, args.speed_records, args.repeats)


if __name__ == "__main__":
    main()
