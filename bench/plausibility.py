"""The numbers behind the rate and polarity checks of ``ecglens.signal.plausibility``.

On validation records at their true rates (the 29 records of svdb-dev and the first lead of
the 22 MIT-BIH DS1 records; no DS2 record is read), the first 120 s of the first lead:
median RR and median QRS width (as ``measure_lead`` measures them), and the records the
checks flag (warnings or errors). Then each record labelled at 1/2, 2 and 3 times its rate:
how many are flagged, to show what a wrong rate looks like to the checks.

    ECGLENS_DATA=/work/shared/data python bench/plausibility.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ecglens.io import read_record  # noqa: E402
from ecglens.signal.peaks import ecg_peaks  # noqa: E402
from ecglens.signal.plausibility import lead_findings, measure_lead  # noqa: E402

DS1 = (
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
    "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230",
)  # fmt: skip
SECONDS = 120


def main() -> None:
    root = Path(os.environ.get("ECGLENS_DATA", "../shared/data"))
    records = sorted(p.with_suffix("") for p in (root / "svdb-dev").glob("*.hea"))
    records += [root / "mitdb" / r for r in DS1]
    leads = []
    for path in records:
        record = read_record(path)
        first = record.signals[: int(record.fs * SECONDS), 0]
        leads.append((path.name, record.lead_names[0], first, record.fs))
    for factor in (1.0, 0.5, 2.0, 3.0):  # the rate given: this times the true one
        qrs, rr, flagged, stopped = [], [], [], 0
        for name, lead, x, fs in leads:
            rate = fs * factor
            if rate < 50:
                continue
            check = measure_lead(x, rate, ecg_peaks(x, rate))
            warnings, error = lead_findings(check, rate, lead)
            qrs.append(check.median_qrs_s)
            rr.append(check.median_rr_s)
            stopped += error is not None
            if warnings or error:
                flagged.append(f"{name} ({lead}): {error or '; '.join(warnings)}")
        print(f"rate x{factor:g}: {len(qrs)} records; median QRS {min(qrs):.3f}-{max(qrs):.3f} s "
              f"(median {np.median(qrs):.3f}); median RR {min(rr):.2f}-{max(rr):.2f} s; "
              f"{len(flagged)} flagged, {stopped} stopped")  # fmt: skip
        if factor == 1.0:
            for line in flagged:
                print("  ", line)


if __name__ == "__main__":
    main()
