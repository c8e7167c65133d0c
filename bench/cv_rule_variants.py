"""Rules after the network, scored by cross-validation over DS1 on a cell's out-of-fold logits.

For a cell of ``ecglens benchmark mitdb --cv-folds 6 --rhythm-rule`` (its ``cv/fold-K.npz``
hold each DS1 beat's logits from the fold model that did not see its record), with the
cell's selected rhythm rule applied first:

- the rhythm rule's pause logic and fibrillation gate (``RhythmRule(pause_above=...,
  fibrillation_above=...)``, :mod:`ecglens.predict.rhythm`), each setting against the
  selected rule (baseline: that rule, in the same run);
- the per-record cluster vote (:mod:`ecglens.predict.clusters`): N calls of a morphology
  cluster whose V share reaches ``v_share`` become V; and its mirror, tried and not shipped,
  V calls of a cluster whose V share is at most ``n_share`` become N (below a confidence
  bound).

Prints out-of-fold macro-F1 (N,S,V,F), S and V F1 per setting and its ratio to the baseline.
DS2 is never read. Needs ``ECGLENS_DATA`` (``mitdb/``).

    python bench/cv_rule_variants.py runs/benchmark-cam/beat-cam_rr-context_focal_median-beat
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from ecglens.data.labels import AAMI_CLASSES
from ecglens.evaluate.metrics import classification_metrics
from ecglens.evaluate.mitdb import SCORED_CLASSES
from ecglens.predict.clusters import ClusterVote, cluster_ids, voted_by_cluster
from ecglens.predict.rhythm import RhythmRule, apply_rhythm_rule
from ecglens.studies.mitdb import out_of_fold


def _scores(y: np.ndarray, called: np.ndarray) -> dict[str, float]:
    m = classification_metrics(y, called, list(AAMI_CLASSES), SCORED_CLASSES)
    pc = m["per_class"]
    return {
        "macro_f1_nsvf": m["macro_f1"],
        "S_f1": pc["S"]["f1"],
        "V_f1": pc["V"]["f1"],
        "V_se": pc["V"]["recall"],
        "V_ppv": pc["V"]["precision"],
    }


def _n_vote(called, prob, clusters, records, n_share: float, bound: float) -> np.ndarray:
    """The mirror vote (not shipped): V calls below ``bound`` in a cluster at most
    ``n_share`` V become N."""
    v, n = AAMI_CLASSES.index("V"), AAMI_CLASSES.index("N")
    out = called.copy()
    for r in np.unique(records):
        for c in np.unique(clusters[records == r]):
            m = (records == r) & (clusters == c)
            if m.sum() >= 5 and np.mean(called[m] == v) <= n_share:
                out[m & (called == v) & (prob[:, v] < bound)] = n
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cell", type=Path, help="a cross-validated benchmark cell folder")
    parser.add_argument("--json", type=Path, help="write every row here")
    args = parser.parse_args()
    data = Path(os.environ["ECGLENS_DATA"]) / "mitdb"
    bench = json.loads((args.cell.parent / "benchmark.json").read_text())
    row = next(r for r in bench["rows"] if r["cell"] == f"{args.cell.name}_rhythm-rule")
    rule = RhythmRule.from_dict(row["rhythm_rule"]["settings"])
    logits, y, rr, records = out_of_fold(data, args.cell)
    classes = list(AAMI_CLASSES)
    ruled = apply_rhythm_rule(logits, rr, classes, rule, records)
    called = ruled.argmax(1)
    prob = np.exp(ruled - ruled.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    clusters = cluster_ids(rr)
    base = _scores(y, called)
    rows = [{"setting": "selected rhythm rule (baseline)", **base}]
    rows.append({"setting": "no rule", **_scores(y, logits.argmax(1))})
    for fib, pause in itertools.product((0.0, 0.06, 0.08, 0.1), (0.0, 1.5, 1.8, 2.2)):
        if fib == pause == 0.0:
            continue
        variant = replace(rule, fibrillation_above=fib, pause_above=pause)
        out = apply_rhythm_rule(logits, rr, classes, variant, records).argmax(1)
        rows.append({"setting": f"rule, gate {fib:g}, pause {pause:g}", **_scores(y, out)})
    for v_share in (0.5, 0.7, 0.9):
        voted = voted_by_cluster(ruled, clusters, classes, ClusterVote(v_share, 5), records)
        out = np.where(voted, AAMI_CLASSES.index("V"), called)
        rows.append({"setting": f"rule + cluster vote V share >= {v_share:g}", **_scores(y, out)})
        for n_share, bound in itertools.product((0.02, 0.05, 0.1), (0.9, 0.99)):
            both = _n_vote(out, prob, clusters, records, n_share, bound)
            rows.append(
                {
                    "setting": f"... + N vote V share <= {n_share:g}, P(V) < {bound:g}",
                    **_scores(y, both),
                }
            )
    print(f"{'setting':<52} {'macro-F1':>9} {'ratio':>6} {'S F1':>6} {'V F1':>6} {'V Se/+P':>12}")
    for r in rows:
        ratio = r["macro_f1_nsvf"] / base["macro_f1_nsvf"]
        print(
            f"{r['setting']:<52} {r['macro_f1_nsvf']:>9.4f} {ratio:>6.3f} {r['S_f1']:>6.3f} "
            f"{r['V_f1']:>6.3f} {100 * r['V_se']:>5.1f}/{100 * r['V_ppv']:>5.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"cell": str(args.cell), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
