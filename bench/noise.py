"""Noise robustness: R-peak detection and beat classification on MIT-BIH 118 with noise.

Scores the clean MIT-BIH record 118 and its MIT-BIH Noise Stress Test versions
118e24 and 118e06 (electrode-motion noise at 24 and 6 dB SNR, in 2-minute
segments alternating with clean ones from minute 5 on) with the same code:
detector Se/+P, and per model the accuracy at the reference beats, the
end-to-end accuracy from detected beats (correct / (matched + FP + FN)) and
macro-F1. Record 118 is in the inter-patient training set DS1: this measures
noise, not new patients.

    python bench/noise.py [--data DIR] [--models NAME ...] [--json FILE] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from ecglens.evaluate.noise import PARTS, default_records, noise_robustness
from ecglens.models import list_pretrained

REPO = Path(__file__).resolve().parents[1]
SHIPPED = (
    "kachuee-mitdb-inter",
    "kachuee-mitdb-intra",
    "ecglens-mitdb-inter",
    "ecglens-mitdb-intra",
)
PART_NAMES = {"all": "all", "after_onset": "t≥{onset:g} s", "noise_on": "noisy segments"}


def default_data() -> Path:
    root = os.environ.get("ECGLENS_DATA")
    return Path(root) if root else (REPO / ".." / "shared" / "data").resolve()


def default_models() -> list[str]:
    shipped = set(list_pretrained())
    return [m for m in SHIPPED if m in shipped]


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def table(result: dict) -> str:
    """Markdown table: one row per record and part, three columns per model (in %)."""
    models = list(result["models"])
    short = {m: result["models"][m]["name"] for m in models}
    header = ["Record", "SNR", "Part", "Beats", "Det Se", "Det +P"]
    for m in models:
        header += [f"{short[m]} acc@ref", f"{short[m]} e2e acc", f"{short[m]} F1@ref"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, rec in result["records"].items():
        snr = "clean" if rec["snr_db"] is None else f"{rec['snr_db']:g} dB"
        for part in PARTS:
            det = rec["detector"][part]
            row = [
                label,
                snr,
                PART_NAMES[part].format(onset=result["noisy_from_s"]),
                str(rec["n_reference_beats"][part]),
                pct(det["se"]),
                pct(det["ppv"]),
            ]
            for m in models:
                s = rec["models"][m]["parts"][part]
                row += [
                    pct(s["reference_beats"]["accuracy"]),
                    pct(s["end_to_end"]["accuracy"]),
                    pct(s["reference_beats"]["macro_f1"]),
                ]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def notes(result: dict, seconds: float) -> str:
    return "\n".join(
        [
            f"All numbers in %. Detector matched to the reference beats within "
            f"{1000 * result['tolerance_s']:g} ms. acc@ref / F1@ref: accuracy / macro-F1 at the "
            "annotated beat positions; e2e acc: end-to-end accuracy from the detected beats, "
            "correctly classified matched beats / (matched + FP + FN). "
            f"Noise starts at {result['noisy_from_s']:g} s and alternates with clean "
            f"{result['segment_s']:g}-s segments; 'noisy segments' keeps only the noisy ones "
            "(on the clean record: the same time spans, without noise).",
            "",
            f"**Note:** {result['note']}",
            "",
            f"Runtime: {seconds:.1f} s.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=default_data(),
        help="folder with mitdb/ and nstdb/ (default: $ECGLENS_DATA or ../shared/data)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=None,
        help=f"model names or weight paths (default: those of {', '.join(SHIPPED)}"
        " that are shipped)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the full results here")
    parser.add_argument("--markdown", type=Path, default=None, help="write the table here")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    models = args.models or default_models()
    if not models:
        sys.exit(f"no shipped beat models ({', '.join(SHIPPED)}); pass --models")
    records = default_records(args.data)
    missing = [str(p) for p in records.values() if not p.with_suffix(".hea").exists()]
    if missing:
        sys.exit(f"records not found: {', '.join(missing)} (set --data or ECGLENS_DATA)")

    start = time.perf_counter()
    result = noise_robustness(records, models)
    seconds = time.perf_counter() - start
    result["runtime_s"] = round(seconds, 2)

    text = f"{table(result)}\n\n{notes(result, seconds)}\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(
            "# Noise robustness (MIT-BIH 118, Noise Stress Test)\n\n" + text, encoding="utf-8"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")


if __name__ == "__main__":
    main()
