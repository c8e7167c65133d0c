"""False ectopy on another device: beats called S or V in PTB-XL records without ectopy.

PTB-XL records (12-lead, 10 s, another device and population than MIT-BIH) whose
statements include sinus rhythm (SR) and no other rhythm statement (no AFIB, AFLT, SARRH,
SVARR, PACE, ...) and no ectopic statement (PVC, PAC, PRC(S), BIGU, TRIGU; the
"ectopic rhythm" category of scp_statements.csv): whatever the beat models call S or V
there is very likely false. Leads I and II, resampled from 100 Hz to 360 Hz (MIT-BIH's
rate), R peaks from the ecglens detector, every shipped beat model named with --model.

    python bench/false_ectopy.py [--model ecglens-mitdb-inter --model ...]
                                 [--max-records 300] [--seed 0] [--json FILE]

Target (issue 20): <= 1% of beats called S or V.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from ecglens.data.ptbxl import load_ptbxl_metadata, load_scp_statements, ptbxl_dir
from ecglens.io import Record, read_record
from ecglens.models import load_model
from ecglens.predict.beats import classify_record
from ecglens.signal.resample import resample_signal

ECTOPIC_CODES = {"PVC", "PAC", "PRC(S)", "BIGU", "TRIGU", "SVARR", "SVTAC", "PSVT"}
SINUS_RHYTHMS = {"SR"}
TARGET_FS = 360.0


def clean_sinus_records(root: Path) -> list[Path]:
    """Paths (100 Hz) of records with SR and no other rhythm or ectopic statement."""
    statements = load_scp_statements(root)
    rhythm = set(statements.index[statements["rhythm"] == 1.0])
    ectopic = set(
        statements.index[
            statements["Statement Category"].astype(str).str.contains("ectopic", case=False)
        ]
    )
    bad = (rhythm - SINUS_RHYTHMS) | ectopic | ECTOPIC_CODES
    meta = load_ptbxl_metadata(root)
    keep = meta[
        meta["has_lr"] & meta["scp_codes"].apply(lambda c: "SR" in c and not (set(c) & bad))
    ]
    folder = ptbxl_dir(root)
    return [folder / f for f in keep["filename_lr"]]


def false_ectopy(model_name: str, paths: list[Path], leads=("I", "II")) -> dict:
    """Beats, and the share called S or V, per lead, for one model."""
    loaded = load_model(model_name)
    classes = loaded.classes
    out = {}
    for lead in leads:
        counts = dict.fromkeys(classes, 0)
        failed = 0
        for path in paths:
            record = read_record(path)
            index = record.lead_names.index(lead)
            signal = resample_signal(record.signals[:, index], record.fs, TARGET_FS)
            one = Record(signal[:, None], TARGET_FS, [lead], record.name)
            try:
                result = classify_record(one, loaded, with_reference=False)
            except Exception:  # noqa: BLE001 - a record without detectable beats is skipped
                failed += 1
                continue
            for c, k in result.class_counts().items():
                counts[c] += k
        n = sum(counts.values())
        out[lead] = {
            "records": len(paths) - failed,
            "beats": n,
            "counts": counts,
            "S_or_V_share": (counts.get("S", 0) + counts.get("V", 0)) / max(n, 1),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=None)
    parser.add_argument("--max-records", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(os.environ.get("ECGLENS_DATA", "data"))
    paths = clean_sinus_records(root)
    rng = np.random.default_rng(args.seed)
    if len(paths) > args.max_records:
        paths = [paths[i] for i in sorted(rng.choice(len(paths), args.max_records, False))]
    models = args.model or ["ecglens-mitdb-inter-v1", "ecglens-mitdb-inter"]
    print(
        f"PTB-XL records with sinus rhythm and no ectopic/arrhythmia statement: {len(paths)} "
        f"(seed {args.seed}, at most {args.max_records}); leads I and II at {TARGET_FS:g} Hz"
    )
    results = {}
    for name in models:
        results[name] = false_ectopy(name, paths)
        for lead, r in results[name].items():
            print(
                f"{name:<28} lead {lead:<3} {r['records']} records, {r['beats']} beats: "
                f"S {r['counts'].get('S', 0)}, V {r['counts'].get('V', 0)} -> "
                f"{100 * r['S_or_V_share']:.2f}% called S or V (target <= 1%)"
            )
    if args.json:
        args.json.write_text(json.dumps({"n_records": len(paths), "models": results}, indent=2))


if __name__ == "__main__":
    main()
