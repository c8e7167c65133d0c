"""Choose the atrial-fibrillation detector's settings on DS1 (MIT-BIH inter-patient training
records) only, and print how each setting scores there.

For every DS1 record: the beats and labels of ``ecglens predict`` (model
``ecglens-mitdb-inter``; the AF detector reads the V/F calls, the beat times and each beat's
P-window correlation with the previous beat's, a context feature of the model's input), cached
as ``.npz`` under ``--cache``. Then a grid over ``AfSettings`` (half window, irregularity
threshold, shortest episode, longest closed gap): pooled duration Se / +P of AF+AFL against the
``(AFIB`` / ``(AFL`` rhythm annotations, and the worst per-record AF burden error. The chosen
setting maximises min(Se, +P) over DS1; ties go to the smaller burden error. DS2 is never read.

    python bench/af_tune.py [--data DIR] [--cache DIR]
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

import numpy as np

from ecglens.data.mitdb import DS1
from ecglens.evaluate.rhythm import AF_RHYTHMS, EpisodeScore, of_rhythms, reference_rhythms, total
from ecglens.signal.rhythm_episodes import (
    AfSettings,
    af_evidence,
    af_from_evidence,
    beat_span_episodes,
    runs,
)


def cached_beats(record: str, data: Path, cache: Path) -> dict[str, np.ndarray]:
    out = cache / f"{record}.npz"
    if not out.exists():
        from ecglens.io import read_record
        from ecglens.models import load_model
        from ecglens.predict.beats import classify_record

        cache.mkdir(parents=True, exist_ok=True)
        from ecglens.predict.rhythm import p_corr_previous

        rec = read_record(data / record)
        p = classify_record(rec, load_model("ecglens-mitdb-inter"))
        pc = p_corr_previous(p.rr)  # as the AF rule reads it at inference
        np.savez(
            out, sample=p.sample, fs=p.fs, labels=np.array(p.labels), artifact=p.artifact, p_corr=pc
        )
    return dict(np.load(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("ECGLENS_DATA", "data")))
    parser.add_argument("--cache", type=Path, default=Path("runs/cache/af-tune"))
    args = parser.parse_args()
    records = [str(r) for r in DS1]
    beats, refs = {}, {}
    for r in records:
        beats[r] = cached_beats(r, args.data / "mitdb", args.cache)
        episodes, _, duration = reference_rhythms(args.data / "mitdb" / r)
        refs[r] = (of_rhythms(episodes, AF_RHYTHMS), duration)
    grid = itertools.product(
        (8, 16, 32),
        (0.04, 0.06, 0.08, 0.1, 0.12, 0.15),
        (30.0, 60.0),
        (5.0, 10.0, 30.0),
        (0.3, 0.4, 0.5, 0.6, 1.0),
    )
    evidence = {}  # (record, half window) -> per-beat irregularity and P-wave consistency
    for r in records:
        b = beats[r]
        for half in (8, 16, 32):
            times = b["sample"] / float(b["fs"])
            evidence[r, half] = af_evidence(times, b["labels"], half, ~b["artifact"], b["p_corr"])
    rows = []
    for half, thr, min_s, gap, p_below in grid:
        settings = AfSettings(half, thr, min_s, gap, p_below)
        score, worst = EpisodeScore(), 0.0
        for r in records:
            b = beats[r]
            times = b["sample"] / float(b["fs"])
            flags = af_from_evidence(times, *evidence[r, half], settings, ~b["artifact"])
            detected = beat_span_episodes(times, runs(flags))
            reference, duration = refs[r]
            score.add(reference, detected)
            worst = max(worst, 100 * abs(total(detected) - total(reference)) / duration)
        d = score.to_dict()
        rows.append((min(d["duration_se"] or 0, d["duration_ppv"] or 0), -worst, settings, d))
    rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
    print("DS1 (records " + " ".join(records) + "), best 10 of", len(rows))
    print("half  thr   min_s  gap   p<    Se%    +P%    epSe%  ep+P%  worst burden err (points)")
    for _, neg_worst, s, d in rows[:10]:
        print(
            f"{s.half_window:4d}  {s.irregularity_above:4.2f}  {s.min_episode_s:5.0f}  "
            f"{s.max_gap_s:4.0f}  {s.p_corr_below:4.2f}  "
            f"{d['duration_se']:5.1f}  {d['duration_ppv']:5.1f}  "
            f"{d['episode_se']:5.1f}  {d['episode_ppv'] or 0:5.1f}  {-neg_worst:5.2f}"
        )
    print("chosen:", rows[0][2])
    rr_only = [row for row in rows if row[2].p_corr_below >= 1.0]
    _, neg_worst, s, d = rr_only[0]
    print(
        f"chosen without the P wave (models without the context features): {s}; Se "
        f"{d['duration_se']:.1f}, +P {d['duration_ppv']:.1f}, "
        f"worst burden error {-neg_worst:.2f}"
    )


if __name__ == "__main__":
    main()
