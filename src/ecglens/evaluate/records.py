"""Score a beat model on any folder of annotated WFDB records, EC57-style.

Each record goes through the one inference path (:func:`ecglens.predict.run`: the model's own
R-peak detector, lead choice, network and rhythm rule, as a user gets them). Detected beats
are matched one-to-one to the reference beat annotations within 150 ms
(:func:`~ecglens.evaluate.detection.match_pairs`); a reference beat left unmatched counts as
missed for its class, a detection left unmatched as false for the class it was given
(ANSI/AAMI EC57). Ventricular flutter episodes (``[`` ... ``]``) are left out of both.

Reported: Se, +P and F1 per AAMI class, per record and pooled over the records (gross), with
95% intervals from resampling whole records; accuracy over the matched beats; beat detection
Se/+P; and the share of detected beats inside atrial fibrillation or flutter episodes
(rhythm annotations ``(AFIB``, ``(AFL``) that are called S (a premature beat cannot be told
inside fibrillation).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecglens.data.labels import AAMI_CLASSES, SYMBOL_TO_AAMI
from ecglens.data.mitdb import DS1, DS2
from ecglens.errors import EcgLensError
from ecglens.evaluate.bootstrap import bootstrap_statistic
from ecglens.evaluate.detection import (
    drop_in_intervals,
    flutter_intervals,
    match_pairs,
)
from ecglens.models.registry import LoadedModel
from ecglens.progress import track

TOLERANCE_S = 0.15  # EC57 matching window
AF_RHYTHMS = ("(AFIB", "(AFL")  # rhythm annotations of atrial fibrillation and flutter
SCORED = ("N", "S", "V", "F")  # classes scored (Q is counted, not scored)
UNMATCHED = -1  # the class of "no beat" on either side of a match


@dataclass(frozen=True)
class RecordOutcome:
    """One record's detections against its reference, as AAMI class indices
    (:data:`~ecglens.data.labels.AAMI_CLASSES`).

    reference: (r,) class of each reference beat; called: (r,) class of the detection matched
    to it, ``UNMATCHED`` where none; false_calls: (f,) classes of the detections matched to no
    reference beat; in_af_calls: (a,) classes of the detections inside AF/AFL episodes.
    """

    record: str
    fs: float
    lead: str
    reference: np.ndarray
    called: np.ndarray
    false_calls: np.ndarray
    in_af_calls: np.ndarray

    def counts(self, n_classes: int = len(AAMI_CLASSES)) -> np.ndarray:
        """(COUNT_COLUMNS,) the additive counts every score is computed from
        (:func:`scores_from_counts`): per class tp, fp, fn; matched beats, matched beats
        called right; detection tp, fp, fn; beats in AF, of them called S."""
        out = []
        for k in range(n_classes):
            tp = int(np.sum((self.reference == k) & (self.called == k)))
            fn = int(np.sum(self.reference == k)) - tp
            fp = int(np.sum((self.called == k) & (self.reference != k)))
            fp += int(np.sum(self.false_calls == k))
            out += [tp, fp, fn]
        matched = self.called != UNMATCHED
        s = AAMI_CLASSES.index("S")
        out += [
            int(matched.sum()),
            int(np.sum(matched & (self.called == self.reference))),
            int(matched.sum()),
            len(self.false_calls),
            int(np.sum(~matched)),
            len(self.in_af_calls),
            int(np.sum(self.in_af_calls == s)),
        ]
        return np.asarray(out, dtype=np.int64)


def outcome(
    record: str,
    fs: float,
    lead: str,
    detected: np.ndarray,
    detected_class: np.ndarray,
    ann_sample: np.ndarray,
    ann_symbol: np.ndarray,
    af_intervals: np.ndarray,
    n_samples: int,
    tolerance_s: float = TOLERANCE_S,
) -> RecordOutcome:
    """Match ``detected`` (sample indices, with AAMI class indices ``detected_class``) to the
    beat annotations (``ann_sample``, ``ann_symbol``, at rate ``fs``); ``af_intervals``:
    (k, 2) sample ranges of AF/AFL episodes."""
    detected = np.asarray(detected, dtype=np.int64)
    detected_class = np.asarray(detected_class, dtype=np.int64)
    ann_sample = np.asarray(ann_sample, dtype=np.int64)
    symbols = np.asarray(ann_symbol, dtype=object).astype(str)
    index = {c: i for i, c in enumerate(AAMI_CLASSES)}
    is_beat = np.isin(symbols, list(SYMBOL_TO_AAMI))
    ref_sample = ann_sample[is_beat]
    ref_class = np.array([index[SYMBOL_TO_AAMI[s]] for s in symbols[is_beat]], dtype=np.int64)
    flutter = flutter_intervals(ann_sample, symbols, n_samples)
    keep_ref = _outside(ref_sample, flutter)
    keep_det = _outside(detected, flutter)
    ref_sample, ref_class = ref_sample[keep_ref], ref_class[keep_ref]
    detected, detected_class = detected[keep_det], detected_class[keep_det]
    det_i, ref_i = match_pairs(detected, ref_sample, int(round(tolerance_s * fs)))
    called = np.full(len(ref_sample), UNMATCHED, dtype=np.int64)
    called[ref_i] = detected_class[det_i]
    unmatched = np.ones(len(detected), dtype=bool)
    unmatched[det_i] = False
    in_af = ~_outside(detected, af_intervals)
    return RecordOutcome(
        record=record,
        fs=float(fs),
        lead=lead,
        reference=ref_class,
        called=called,
        false_calls=detected_class[unmatched],
        in_af_calls=detected_class[in_af],
    )


def _outside(positions: np.ndarray, intervals: np.ndarray) -> np.ndarray:
    """(n,) bool: positions outside every ``[start, stop)`` of ``intervals``."""
    positions = np.asarray(positions, dtype=np.int64)
    kept = drop_in_intervals(positions, intervals)
    return np.isin(positions, kept)


def rhythm_intervals(
    sample: np.ndarray, aux_note: Iterable[str], n_samples: int, rhythms: tuple[str, ...]
) -> np.ndarray:
    """(k, 2) sample ranges ``[start, stop)`` where the rhythm annotation (a ``+`` note such
    as ``(AFIB``) is one of ``rhythms``; each runs to the next rhythm note or ``n_samples``."""
    notes = [(int(s), str(a).strip().rstrip("\x00")) for s, a in zip(sample, aux_note, strict=True)]
    changes = [(s, a) for s, a in notes if a.startswith("(")]
    out = []
    for i, (start, rhythm) in enumerate(changes):
        stop = changes[i + 1][0] if i + 1 < len(changes) else int(n_samples)
        if rhythm in rhythms and stop > start:
            out.append((start, stop))
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


N_CLASS_COLUMNS = 3 * len(AAMI_CLASSES)


def scores_from_counts(counts: np.ndarray) -> dict[str, Any]:
    """EC57 scores from summed :meth:`RecordOutcome.counts` (fractions; NaN when undefined)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim == 2:
        counts = counts.sum(0)

    def ratio(a: float, b: float) -> float:
        return float(a / b) if b > 0 else float("nan")

    per_class = {}
    for k, c in enumerate(AAMI_CLASSES):
        tp, fp, fn = counts[3 * k : 3 * k + 3]
        per_class[c] = {
            "Se": ratio(tp, tp + fn),
            "+P": ratio(tp, tp + fp),
            "F1": ratio(2 * tp, 2 * tp + fp + fn),
            "support": int(tp + fn),
            "called": int(tp + fp),
        }
    matched, right, dtp, dfp, dfn, af, af_s = counts[N_CLASS_COLUMNS:]
    scored_f1 = [per_class[c]["F1"] for c in SCORED if per_class[c]["support"] > 0]
    return {
        "accuracy_matched": ratio(right, matched),
        "macro_f1_nsvf": float(np.nanmean(scored_f1)) if scored_f1 else float("nan"),
        "per_class": per_class,
        "detection": {
            "Se": ratio(dtp, dtp + dfn),
            "+P": ratio(dtp, dtp + dfp),
            "tp": int(dtp),
            "fp": int(dfp),
            "fn": int(dfn),
        },  # fmt: skip
        "af": {"beats": int(af), "called_S": int(af_s), "S_share": ratio(af_s, af)},
    }


def score_outcomes(
    outcomes: list[RecordOutcome], n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Pooled (gross) scores, per-record scores and, with ``n_boot > 0``, 95% intervals from
    resampling records with replacement (``seed``)."""
    if not outcomes:
        raise EcgLensError("no records to score")
    counts = np.stack([o.counts() for o in outcomes])
    pooled = scores_from_counts(counts)
    out: dict[str, Any] = {
        "n_records": len(outcomes),
        "pooled": pooled,
        "per_record": {
            o.record: {"fs": o.fs, "lead": o.lead, **_record_row(c)}
            for o, c in zip(outcomes, counts, strict=True)
        },
    }
    if n_boot:

        def summary(rows: np.ndarray) -> dict[str, Any]:
            s = scores_from_counts(rows)
            return {
                "accuracy_matched": s["accuracy_matched"],
                "macro_f1_nsvf": s["macro_f1_nsvf"],
                "per_class": {
                    c: {k: s["per_class"][c][k] for k in ("Se", "+P", "F1")} for c in SCORED
                },
                "af_S_share": s["af"]["S_share"],
            }

        out["bootstrap"] = {
            "unit": "record",
            "n_boot": n_boot,
            "seed": seed,
            "level": 0.95,
            "metrics": bootstrap_statistic(summary, counts, n_boot=n_boot, seed=seed),
        }
    return out


def _record_row(counts: np.ndarray) -> dict[str, Any]:
    s = scores_from_counts(counts)
    return {
        "n_reference": int(sum(v["support"] for v in s["per_class"].values())),
        "accuracy_matched": s["accuracy_matched"],
        "detection": {k: s["detection"][k] for k in ("Se", "+P")},
        **{c: s["per_class"][c] for c in ("S", "V")},
        "af": s["af"],
    }


RECORD_SETS = {"DS1": DS1, "DS2": DS2}  # named sets of records: MIT-BIH's inter-patient halves


def chosen_records(only: str | None) -> tuple[str, ...] | None:
    """Record names of ``only``: a named set (``DS1``, ``DS2``) or names separated by commas;
    None for all."""
    if only is None or not only.strip():
        return None
    if only.upper() in RECORD_SETS:
        return tuple(RECORD_SETS[only.upper()])
    return tuple(n.strip() for n in only.split(",") if n.strip())


def annotated_records(folder: str | Path, only: tuple[str, ...] | None = None) -> list[Path]:
    """Record paths (no suffix) of the WFDB records in ``folder`` that have a ``.atr``
    (those named in ``only`` when given; a name not found is an error)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EcgLensError("not a folder of WFDB records", folder)
    found = sorted(
        p.with_suffix("") for p in folder.glob("*.hea") if p.with_suffix(".atr").exists()
    )
    if only is not None:
        missing = sorted(set(only) - {p.name for p in found})
        if missing:
            raise EcgLensError(f"no annotated record {', '.join(missing)} in this folder", folder)
        found = [p for p in found if p.name in set(only)]
    if not found:
        raise EcgLensError("no annotated WFDB records (.hea with .atr) in this folder", folder)
    return found


def read_reference(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(sample, symbol, aux_note)`` of ``<path>.atr``."""
    import wfdb

    try:
        ann = wfdb.rdann(str(path), "atr")
    except Exception as exc:
        raise EcgLensError(f"malformed annotation file ({type(exc).__name__})",
                           path.with_suffix(".atr")) from exc  # fmt: skip
    aux = ann.aux_note if ann.aux_note is not None else [""] * len(ann.sample)
    return np.asarray(ann.sample, dtype=np.int64), np.asarray(ann.symbol, dtype=object), list(aux)


def predicted_outcome(path: Path, prediction: Any, n_samples: int) -> RecordOutcome:
    """:class:`RecordOutcome` of a beat prediction (``BeatPredictions``) of the record
    at ``path``."""
    sample, symbol, aux = read_reference(path)
    af = rhythm_intervals(sample, aux, n_samples, AF_RHYTHMS)
    index = {c: i for i, c in enumerate(AAMI_CLASSES)}
    model_classes = [index[c] for c in prediction.classes]
    called = np.asarray(model_classes, dtype=np.int64)[prediction.probabilities.argmax(1)]
    return outcome(
        path.name, prediction.fs, prediction.lead, prediction.sample, called,
        sample, symbol, af, n_samples,
    )  # fmt: skip


def evaluate_records(
    loaded: LoadedModel,
    folder: str | Path,
    lead: str | int | None = None,
    device: Any = "cpu",
    n_boot: int = 1000,
    seed: int = 0,
    progress: bool = True,
    only: str | None = None,
) -> dict[str, Any]:
    """Run ``loaded`` on every annotated record of ``folder`` (those of ``only``:
    :func:`chosen_records`) through :func:`ecglens.predict.run` and score it
    (:func:`score_outcomes`)."""
    from ecglens.io import read_record
    from ecglens.predict import run
    from ecglens.predict.tasks import task_of

    if task_of(loaded).name != "beats":
        raise EcgLensError(f"model {loaded.name} does not classify beats of a record")
    paths = annotated_records(folder, chosen_records(only))
    outcomes = []
    for path in track(paths, f"scoring {Path(folder).name}", enabled=progress):
        record = read_record(path)
        prediction = run(record, loaded, device=device, lead=lead)
        outcomes.append(predicted_outcome(path, prediction.result, record.n_samples))
    return without_nan(
        {
            "model": loaded.name,
            "folder": str(folder),
            "records": [p.name for p in paths],
            "lead": "default" if lead is None else str(lead),
            "tolerance_s": TOLERANCE_S,
            "rhythm_rule": None
            if loaded.config.rhythm_rule is None
            else loaded.config.rhythm_rule.get("description"),
            **score_outcomes(outcomes, n_boot=n_boot, seed=seed),
        }
    )


def without_nan(tree: Any) -> Any:
    """``tree`` with NaN (a score undefined: no such beats, none called) as None, for JSON."""
    if isinstance(tree, dict):
        return {k: without_nan(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [without_nan(v) for v in tree]
    if isinstance(tree, float) and tree != tree:
        return None
    return tree
