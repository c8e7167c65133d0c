"""Rhythm episodes, heart rate and AF burden against MIT-BIH's rhythm annotations.

The reference: the rhythm-change annotations (``+`` with an aux note such as ``(AFIB``,
``(AFL``, ``(SVTA``, ``(VT``) of each record's ``.atr`` file; a rhythm lasts to the next
change or to the end of the record. Measures, as EC57 scores atrial fibrillation:

- duration Se / +P: overlap of the detected and reference episodes over the reference's
  (Se) or the detection's (+P) total duration, pooled over records (gross);
- episode Se / +P: share of reference episodes overlapped by a detected one (Se), share of
  detected episodes overlapping a reference one (+P);
- AF burden error per record: |detected - reference| share of the record's time, in points;
- heart rate: 60 x (beats - 1) / (last - first beat time), detected beats against the
  reference's beat annotations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ecglens.errors import EcgLensError

AF_RHYTHMS = ("(AFIB", "(AFL")
SVT_RHYTHMS = ("(SVTA",)
VT_RHYTHMS = ("(VT",)
REFERENCE_BEATS = "NLRejAaJSVEF/fQ"  # beat symbols (not rhythm, noise or comment annotations)
MITDB_AF_RECORDS = ("201", "202", "203", "210", "219", "221", "222")

Episode = tuple[float, float]


def reference_rhythms(path: str | Path) -> tuple[dict[str, list[Episode]], np.ndarray, float]:
    """Rhythm episodes of a WFDB record's ``.atr`` file: ``({aux note: [(start_s, end_s)]},
    beat times (m,) in s, duration_s)``."""
    import wfdb

    base = str(Path(path).with_suffix("")) if Path(path).suffix in (".hea", ".dat") else str(path)
    try:
        ann = wfdb.rdann(base, "atr")
        header = wfdb.rdheader(base)
    except Exception as exc:
        raise EcgLensError(f"cannot read the reference annotations ({exc})", path) from exc
    fs = float(header.fs)
    duration = header.sig_len / fs
    samples = np.asarray(ann.sample)
    symbols = np.asarray(ann.symbol)
    notes = [str(a).rstrip("\x00") for a in (ann.aux_note or [""] * len(samples))]
    episodes: dict[str, list[Episode]] = {}
    changes = [(samples[i] / fs, notes[i]) for i in range(len(samples)) if symbols[i] == "+"]
    for k, (start, rhythm) in enumerate(changes):
        end = changes[k + 1][0] if k + 1 < len(changes) else duration
        if end > start:
            episodes.setdefault(rhythm, []).append((float(start), float(end)))
    beats = samples[np.isin(symbols, list(REFERENCE_BEATS))] / fs
    return episodes, beats, duration


def of_rhythms(episodes: dict[str, list[Episode]], rhythms: Iterable[str]) -> list[Episode]:
    """The episodes of any of ``rhythms``, sorted, touching ones merged."""
    spans = sorted(e for r in rhythms for e in episodes.get(r, []))
    out: list[Episode] = []
    for a, b in spans:
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def total(episodes: list[Episode]) -> float:
    return float(sum(b - a for a, b in episodes))


def overlap(a: list[Episode], b: list[Episode]) -> float:
    """Seconds covered by both lists of (non-overlapping) episodes."""
    return float(sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b))


def _overlaps(e: Episode, others: list[Episode]) -> bool:
    return any(min(e[1], o[1]) > max(e[0], o[0]) for o in others)


@dataclass
class EpisodeScore:
    """Counts behind duration and episode Se / +P, summed over records."""

    reference_s: float = 0.0
    detected_s: float = 0.0
    both_s: float = 0.0
    reference_episodes: int = 0
    reference_found: int = 0
    detected_episodes: int = 0
    detected_true: int = 0

    def add(self, reference: list[Episode], detected: list[Episode]) -> None:
        self.reference_s += total(reference)
        self.detected_s += total(detected)
        self.both_s += overlap(reference, detected)
        self.reference_episodes += len(reference)
        self.reference_found += sum(_overlaps(e, detected) for e in reference)
        self.detected_episodes += len(detected)
        self.detected_true += sum(_overlaps(e, reference) for e in detected)

    def to_dict(self) -> dict[str, Any]:
        def ratio(a: float, b: float) -> float | None:
            return None if b == 0 else round(100 * a / b, 2)

        return {
            "duration_se": ratio(self.both_s, self.reference_s),
            "duration_ppv": ratio(self.both_s, self.detected_s),
            "episode_se": ratio(self.reference_found, self.reference_episodes),
            "episode_ppv": ratio(self.detected_true, self.detected_episodes),
            "reference_s": round(self.reference_s, 1),
            "detected_s": round(self.detected_s, 1),
            "reference_episodes": self.reference_episodes,
            "detected_episodes": self.detected_episodes,
        }


@dataclass
class RecordRhythm:
    """One record's detected and reference rhythm facts."""

    record: str
    duration_s: float
    af_reference: list[Episode]
    af_detected: list[Episode]
    svt_reference: list[Episode]
    svt_detected: list[Episode]
    vt_reference: list[Episode]
    vt_detected: list[Episode]
    hr_reference: float
    hr_detected: float
    s_calls: int = 0
    s_calls_in_reference_af: int = 0

    @property
    def burden_error(self) -> float:
        """|detected - reference| AF burden, in points of the record's time."""
        return 100 * abs(total(self.af_detected) - total(self.af_reference)) / self.duration_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "af_burden_reference": round(100 * total(self.af_reference) / self.duration_s, 2),
            "af_burden_detected": round(100 * total(self.af_detected) / self.duration_s, 2),
            "af_burden_error": round(self.burden_error, 2),
            "hr_reference": round(self.hr_reference, 2),
            "hr_detected": round(self.hr_detected, 2),
            "hr_error": round(abs(self.hr_detected - self.hr_reference), 2),
        }


@dataclass
class RhythmScores:
    records: list[RecordRhythm] = field(default_factory=list)

    def score(self, kind: str, records: Iterable[str] | None = None) -> EpisodeScore:
        out = EpisodeScore()
        keep = None if records is None else set(records)
        for r in self.records:
            if keep is None or r.record in keep:
                out.add(getattr(r, f"{kind}_reference"), getattr(r, f"{kind}_detected"))
        return out

    def to_dict(self, af_records: Iterable[str] = MITDB_AF_RECORDS) -> dict[str, Any]:
        af = [r for r in self.records if r.record in set(af_records)]
        s_calls = sum(r.s_calls for r in self.records)
        s_in_af = sum(r.s_calls_in_reference_af for r in self.records)
        return {
            "records": [r.record for r in self.records],
            "af": self.score("af").to_dict(),
            "af_records": self.score("af", af_records).to_dict(),
            "af_burden_error_max": round(max((r.burden_error for r in af), default=0.0), 2),
            "svt": self.score("svt").to_dict(),
            "vt": self.score("vt").to_dict(),
            "hr_error_max": round(
                max((abs(r.hr_detected - r.hr_reference) for r in self.records), default=0.0), 2
            ),
            "s_calls": s_calls,
            "s_calls_in_reference_af": s_in_af,
            "s_calls_in_af_share": None if not s_calls else round(100 * s_in_af / s_calls, 2),
            "per_record": [r.to_dict() for r in self.records],
        }


def mean_rate(times: np.ndarray) -> float:
    """Beats per minute: 60 x (beats - 1) / (last - first), NaN under two beats."""
    times = np.asarray(times, dtype=np.float64)
    if len(times) < 2 or times[-1] <= times[0]:
        return float("nan")
    return 60.0 * (len(times) - 1) / float(times[-1] - times[0])


def record_rhythm(
    path: str | Path, summary: dict[str, Any], labels: list[str], times: np.ndarray
) -> RecordRhythm:
    """Compare one record's ``summary`` (:func:`ecglens.predict.summary.beat_summary`) and
    beat ``labels`` / ``times`` (s) with its reference annotations."""
    episodes, ref_beats, duration = reference_rhythms(path)
    af_ref = of_rhythms(episodes, AF_RHYTHMS)

    def detected(kind: str) -> list[Episode]:
        return [(e["start_s"], e["end_s"]) for e in summary["episodes"] if e["type"] == kind]

    labels_arr = np.asarray(labels)
    s_times = np.asarray(times)[labels_arr == "S"]
    in_af = sum(any(a <= t <= b for a, b in af_ref) for t in s_times)
    return RecordRhythm(
        record=Path(path).name,
        duration_s=duration,
        af_reference=af_ref,
        af_detected=detected("AF"),
        svt_reference=of_rhythms(episodes, SVT_RHYTHMS),
        svt_detected=detected("SVT"),
        vt_reference=of_rhythms(episodes, VT_RHYTHMS),
        vt_detected=detected("VT"),
        hr_reference=mean_rate(ref_beats),
        hr_detected=float(summary["heart_rate"]["mean_bpm"]),
        s_calls=int(len(s_times)),
        s_calls_in_reference_af=int(in_af),
    )


def evaluate_rhythm(
    paths: list[Path],
    classify: Callable[[Path], tuple[dict[str, Any], list[str], np.ndarray]],
    progress: Callable[[int, int], None] | None = None,
) -> RhythmScores:
    """Score the records at ``paths``; ``classify(path)`` returns ``(summary, labels,
    times)`` of one record (the CLI passes the prediction path)."""
    scores = RhythmScores()
    for i, path in enumerate(paths):
        summary, labels, times = classify(path)
        scores.records.append(record_rhythm(path, summary, labels, times))
        if progress is not None:
            progress(i + 1, len(paths))
    return scores
