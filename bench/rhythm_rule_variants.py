"""Rhythm-rule settings compared on validation records, through the inference path.

Each record is run once through :func:`ecglens.predict.run` (the model's beat detector and
network); the network's own calls are recovered (the shipped rule's N/S swaps undone) and
each setting of the rhythm rule (:mod:`ecglens.predict.rhythm`) is applied to them. Beats
are matched EC57-style to the reference (:mod:`ecglens.evaluate.records`). Printed per
setting and folder: S and V F1 (pooled), S Se/+P, the share of beats inside AF/AFL
episodes called S, and the S F1 as a ratio of the shipped setting's in the same run.

Validation folders only: svdb-dev (another recorder) and MIT-BIH DS1 (the model's training
records: its network calls there are in-sample, so DS1 only checks that a setting does not
lose; DS1's AF records 201 and 203 test the fibrillation gate). DS2 is never scored here.

    python bench/rhythm_rule_variants.py [--model ecglens-mitdb-inter] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from ecglens.data.labels import AAMI_CLASSES
from ecglens.evaluate.records import (
    AF_RHYTHMS,
    annotated_records,
    outcome,
    read_reference,
    rhythm_intervals,
    score_outcomes,
)
from ecglens.io import read_record
from ecglens.models import load_model
from ecglens.predict import run
from ecglens.predict.rhythm import RhythmRule, model_rhythm_rule, relabelled_by_rhythm
from ecglens.progress import track


def settings(shipped: RhythmRule) -> dict[str, RhythmRule | None]:
    """The compared settings: none, the shipped rule, its fibrillation gate, its pause
    logic, both."""
    out: dict[str, RhythmRule | None] = {"(a) no rule": None, "(b) shipped": shipped}
    for above in (0.06, 0.08, 0.10, 0.15):
        out[f"(c) gate irr>={above:g} +-16"] = replace(shipped, fibrillation_above=above)
    out["(c) gate irr>=0.08 +-32"] = replace(
        shipped, fibrillation_above=0.08, fibrillation_beats=32
    )
    for pause in (1.5, 1.8, 2.2):
        out[f"(d) pause>{pause:g}"] = replace(shipped, pause_above=pause)
    for above in (0.08, 0.10):
        out[f"(c+d) gate {above:g}, pause>1.8"] = replace(
            shipped, fibrillation_above=above, pause_above=1.8
        )
    return out


def network_calls(path: Path, loaded) -> dict:
    """One record's detections, the network's scores without the rule, and its reference."""
    record = read_record(path)
    result = run(record, loaded).result
    scores = np.array(result.probabilities, copy=True)
    if result.by_rhythm is not None:  # undo the shipped rule's swaps: the network's calls
        n, s = result.classes.index("N"), result.classes.index("S")
        rows = result.by_rhythm
        scores[rows, n], scores[rows, s] = scores[rows, s], scores[rows, n].copy()
    sample, symbol, aux = read_reference(path)
    return {
        "name": path.name,
        "fs": result.fs,
        "lead": result.lead,
        "peaks": result.sample,
        "scores": scores,
        "rr": result.rr,
        "classes": result.classes,
        "ann": (sample, symbol),
        "af": rhythm_intervals(sample, aux, record.n_samples, AF_RHYTHMS),
        "n_samples": record.n_samples,
    }


def score(records: list[dict], rule: RhythmRule | None) -> dict:
    outcomes = []
    for r in records:
        scores = r["scores"]
        if rule is not None:
            swap = relabelled_by_rhythm(scores, r["rr"], r["classes"], rule)
            scores = np.array(scores, copy=True)
            n, s = r["classes"].index("N"), r["classes"].index("S")
            scores[swap, n], scores[swap, s] = scores[swap, s], scores[swap, n].copy()
        to_aami = np.array([AAMI_CLASSES.index(c) for c in r["classes"]])
        called = to_aami[scores.argmax(1)]
        outcomes.append(
            outcome(
                r["name"],
                r["fs"],
                r["lead"],
                r["peaks"],
                called,
                *r["ann"],
                r["af"],
                r["n_samples"],
            )  # fmt: skip
        )
    return score_outcomes(outcomes, n_boot=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ecglens-mitdb-inter")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    root = Path(os.environ.get("ECGLENS_DATA", "../shared/data"))
    loaded = load_model(args.model)
    shipped = model_rhythm_rule(loaded.config)
    if shipped is None:
        raise SystemExit(f"{args.model} has no rhythm rule")
    from ecglens.data.mitdb import DS1

    folders = {
        "svdb-dev": annotated_records(root / "svdb-dev"),
        "DS1 (in-sample)": annotated_records(root / "mitdb", tuple(DS1)),
    }
    cached = {
        name: [network_calls(p, loaded) for p in track(paths, name)]
        for name, paths in folders.items()
    }
    table = {}
    for label, rule in settings(shipped).items():
        table[label] = {}
        for name, records in cached.items():
            pooled = score(records, rule)["pooled"]
            pc = pooled["per_class"]
            table[label][name] = {
                "S_f1": pc["S"]["F1"], "S_se": pc["S"]["Se"], "S_ppv": pc["S"]["+P"],
                "V_f1": pc["V"]["F1"], "af_S_share": pooled["af"]["S_share"],
                "macro_f1_nsvf": pooled["macro_f1_nsvf"],
                "settings": None if rule is None else rule.to_dict(),
            }  # fmt: skip
    base = table["(b) shipped"]
    print(f"model {args.model}; S F1 ratio against the shipped rule in this run")
    for name in cached:
        print(f"\n{name}: setting | S F1 (x shipped) | S Se / +P | V F1 | AF beats called S")
        for label, row in table.items():
            r = row[name]
            ratio = r["S_f1"] / base[name]["S_f1"]
            af = "-" if np.isnan(r["af_S_share"]) else f"{100 * r['af_S_share']:.1f}%"
            print(
                f"  {label:28s} {100 * r['S_f1']:5.1f} (x{ratio:.2f}) | "
                f"{100 * r['S_se']:5.1f} / {100 * r['S_ppv']:5.1f} | "
                f"{100 * r['V_f1']:5.1f} | {af}"
            )
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "table": table}, indent=1))


if __name__ == "__main__":
    main()
