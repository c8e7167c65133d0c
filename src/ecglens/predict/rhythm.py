"""Rhythm interpretation after the beat classifier: supraventricular beats that come early.

The AAMI S class is a supraventricular QRS that comes *premature* against the sinus rhythm.
A classifier trained on DS1 learns "premature" as early against the record's usual RR,
which fails where premature beats are the record's usual rhythm (MIT-BIH 232: sinus
bradycardia with long pauses and runs of atrial premature beats, 78% of its beats S).
An analyst reads such a record against its sinus cycle instead, as does Teijeiro et al.'s
abductive interpreter (Teijeiro T, Felix P, Presedo J, Castro D. Heartbeat classification
using abstract features from the abductive interpretation of the ECG. IEEE J Biomed Health
Inform 2018;22(2):409-20).

:class:`RhythmRule` states that reading with three per-beat context features of
:mod:`ecglens.inputs.rhythm` (computed from the unlabelled record): a beat the classifier
calls N (a supraventricular QRS) is S when its RR is short against the longest regular cycle
nearby (``pre_over_local_p90``), the surrounding +-8 beats are regular (not atrial
fibrillation: ``segment_irregularity``), and, optionally, its P wave departs from the
record's sinus P wave (``p_corr_sinus``). The rule only chooses between N and S; V, F and Q
stay the classifier's. Its thresholds are chosen by cross-validation over DS1
(``ecglens benchmark mitdb --rhythm-rule``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from ecglens.errors import EcgLensError
from ecglens.inputs.beats import N_CONTEXT_FEATURES, N_RR_COLUMNS
from ecglens.inputs.rhythm import CONTEXT_FEATURE_NAMES
from ecglens.models.config import ModelConfig
from ecglens.signal.rhythm_episodes import (
    AF_SETTINGS,
    AF_SETTINGS_RR_ONLY,
    AfSettings,
    af_beats,
)

CONTEXT_CYCLE_BEATS = 16  # the neighbourhood of the context feature pre_over_local_p90


def _column(name: str) -> int:
    """Column of a context feature in the rr array of :func:`~ecglens.inputs.beats.beat_inputs`."""
    return N_RR_COLUMNS + CONTEXT_FEATURE_NAMES.index(name)


@dataclass(frozen=True)
class RhythmRule:
    """When a beat called N is S by its rhythm.

    premature_below: pre-RR over the longest regular cycle within +-``cycle_beats`` beats
        (90th percentile of their RR) below which a beat is premature (e.g. 0.7: 30% early).
    irregularity_below: median |dRR| / median RR over +-8 beats below which the segment is
        regular (atrial fibrillation is irregular: its N beats are never relabelled).
    p_corr_below: Pearson correlation of the beat's P window with the record's sinus P
        template below which the P wave is not sinus; 1.0 (or more) leaves the P wave out.
    without_ventricular: measure the longest regular cycle only on RR intervals that
        neither start nor end at a beat the classifier calls V or F: a compensatory pause
        after a ventricular beat is not the sinus cycle (it makes the next sinus beats of a
        trigeminy look premature).
    cycle_beats: half-width of that neighbourhood, in beats: wider reaches past long runs
        of premature beats (supraventricular tachycardia) to the sinus cycle around them.
    pause_above: leave RR intervals longer than this many times the local median RR (the
        median within +-``cycle_beats`` beats) out of the longest regular cycle: a sinus or
        blocked pause is not the sinus cycle; 0 keeps every interval.
    fibrillation_above: no beat is made S where :func:`rr_irregularity` over
        +-``fibrillation_beats`` beats is at or above this (atrial fibrillation or flutter
        with variable conduction: its short intervals are not premature); 0 for no gate.
    fibrillation_beats: half-width of that irregularity window, in beats.
    """

    premature_below: float = 0.7
    irregularity_below: float = 0.1
    p_corr_below: float = 1.0
    without_ventricular: bool = False
    cycle_beats: int = 16
    pause_above: float = 0.0
    fibrillation_above: float = 0.0
    fibrillation_beats: int = 16

    def __post_init__(self) -> None:
        if not 0.0 < self.premature_below <= 1.0:
            raise EcgLensError(f"premature_below must be in (0, 1], got {self.premature_below}")
        if self.irregularity_below <= 0.0:
            raise EcgLensError(f"irregularity_below must be > 0, got {self.irregularity_below}")
        if self.cycle_beats < 2:
            raise EcgLensError(f"cycle_beats must be >= 2, got {self.cycle_beats}")
        if self.pause_above and self.pause_above <= 1.0:
            raise EcgLensError(f"pause_above must be 0 (off) or > 1, got {self.pause_above}")
        if self.fibrillation_above < 0.0 or self.fibrillation_beats < 2:
            raise EcgLensError(
                "fibrillation_above must be >= 0 and fibrillation_beats >= 2, got "
                f"{self.fibrillation_above}, {self.fibrillation_beats}"
            )

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> RhythmRule:
        known = {k: v for k, v in saved.items() if k in cls.__dataclass_fields__}
        kinds = {"without_ventricular": bool, "cycle_beats": int, "fibrillation_beats": int}
        return cls(**{k: kinds.get(k, float)(v) for k, v in known.items()})

    def describe(self) -> str:
        """One line for cards and tables."""
        p_wave = (
            f", P-wave correlation with the sinus P < {self.p_corr_below:g}"
            if self.p_corr_below < 1.0
            else ""
        )
        cycle = (
            " (intervals next to beats called V or F left out)" if self.without_ventricular else ""
        )
        if self.pause_above:
            cycle += f" (pauses > {self.pause_above:g} x the local median RR left out)"
        gate = (
            f", RR irregularity over +-{self.fibrillation_beats} beats < "
            f"{self.fibrillation_above:g}"
            if self.fibrillation_above
            else ""
        )
        return (
            f"RR < {self.premature_below:g} x the longest regular cycle within +-"
            f"{self.cycle_beats} beats{cycle}, "
            f"segment irregularity < {self.irregularity_below:g}{p_wave}{gate}"
        )


def sinus_cycle_ratio(
    pre_rr: np.ndarray,
    ventricular: np.ndarray,
    groups: np.ndarray | None = None,
    half: int = 16,
    pause_above: float = 0.0,
) -> np.ndarray:
    """(n,) pre-RR over the 90th percentile of the RR intervals within +-``half`` beats that
    neither start nor end at a ``ventricular`` beat (nor, with ``pause_above`` > 0, are
    longer than ``pause_above`` x their window's median RR: :func:`without_pauses`); NaN
    where none is left.

    pre_rr: (n,) seconds from the previous beat (column 0 of
    :func:`~ecglens.signal.beats.rr_features`); ventricular: (n,) bool; groups: (n,) the
    record of each beat (beats in record order), None for one record.
    """
    pre_rr = np.asarray(pre_rr, dtype=np.float64)
    ventricular = np.asarray(ventricular, dtype=bool)
    groups = np.zeros(len(pre_rr), dtype=np.int64) if groups is None else np.asarray(groups)
    out = np.full(len(pre_rr), np.nan)
    for g in np.unique(groups) if len(groups) else []:
        idx = np.flatnonzero(groups == g)
        pre, v = pre_rr[idx], ventricular[idx]
        touches = v | np.concatenate([[False], v[:-1]])  # the interval ends or starts at a V
        clean = np.where(touches, np.nan, pre)
        padded = np.concatenate([np.full(half, np.nan), clean, np.full(half, np.nan)])
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
        if pause_above:
            windows = without_pauses(windows, pause_above)
        usable = (~np.isnan(windows)).any(axis=1)
        p90 = np.full(len(pre), np.nan)
        if usable.any():
            p90[usable] = np.nanpercentile(windows[usable], 90, axis=1)
        out[idx] = pre / p90
    return out


def without_pauses(windows: np.ndarray, pause_above: float) -> np.ndarray:
    """(n, w) RR windows with the intervals longer than ``pause_above`` x their window's
    median set to NaN (a copy): a sinus pause or a blocked beat, not the sinus cycle."""
    with np.errstate(all="ignore"), _quiet_nan_warnings():
        median = np.nanmedian(windows, axis=1, keepdims=True)
    return np.where(windows > pause_above * median, np.nan, windows)


def rr_irregularity(
    pre_rr: np.ndarray, groups: np.ndarray | None = None, half: int = 16
) -> np.ndarray:
    """(n,) how fibrillation-like the rhythm is around each beat: the median over +-``half``
    beats of |RR_i - RR_(i-1)| / median RR there. Sinus rhythm with isolated premature beats
    stays low (two large differences per premature beat); atrial fibrillation is high.
    NaN where the window holds no difference. pre_rr: (n,) seconds; groups: as
    :func:`sinus_cycle_ratio`."""
    pre_rr = np.asarray(pre_rr, dtype=np.float64)
    groups = np.zeros(len(pre_rr), dtype=np.int64) if groups is None else np.asarray(groups)
    out = np.full(len(pre_rr), np.nan)
    for g in np.unique(groups) if len(groups) else []:
        idx = np.flatnonzero(groups == g)
        pre = pre_rr[idx]
        diff = np.abs(np.diff(pre, prepend=np.nan))
        pad = np.full(half, np.nan)
        d_win = np.lib.stride_tricks.sliding_window_view(np.concatenate([pad, diff, pad]),
                                                         2 * half + 1)  # fmt: skip
        r_win = np.lib.stride_tricks.sliding_window_view(np.concatenate([pad, pre, pad]),
                                                         2 * half + 1)  # fmt: skip
        with np.errstate(all="ignore"), _quiet_nan_warnings():
            out[idx] = np.nanmedian(d_win, axis=1) / np.nanmedian(r_win, axis=1)
    return out


@contextmanager
def _quiet_nan_warnings() -> Iterator[None]:
    """Silence numpy's all-NaN-slice warnings (such windows give NaN, as documented)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def premature_by_rhythm(
    rr: np.ndarray,
    rule: RhythmRule,
    ventricular: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """(n,) bool: beats premature against the sinus cycle in a regular segment.

    rr: (n, 13 + 26) RR and record context features from
    :func:`~ecglens.inputs.beats.beat_inputs` with ``record_features``; ventricular: (n,)
    bool, the beats the classifier calls V or F (needed by ``rule.without_ventricular``);
    groups: (n,) record of each beat when ``rr`` holds several records, in record order.
    """
    if rr.ndim != 2 or rr.shape[1] < N_RR_COLUMNS + N_CONTEXT_FEATURES:
        raise EcgLensError(
            "the rhythm rule needs the record context features: cut beats with "
            "BeatConfig(record_features=True)"
        )
    ratio = rr[:, _column("pre_over_local_p90")]  # +-16 beats, every interval
    if rule.without_ventricular or rule.cycle_beats != CONTEXT_CYCLE_BEATS or rule.pause_above:
        if rule.without_ventricular and ventricular is None:
            raise EcgLensError("without_ventricular needs the classifier's V and F calls")
        left_out = ventricular if rule.without_ventricular else np.zeros(len(rr), dtype=bool)
        clean = sinus_cycle_ratio(rr[:, 0], left_out, groups, rule.cycle_beats, rule.pause_above)
        ratio = np.where(np.isnan(clean), ratio, clean)
    premature = ratio < rule.premature_below
    regular = rr[:, _column("segment_irregularity")] < rule.irregularity_below
    if rule.fibrillation_above:
        irregular = rr_irregularity(rr[:, 0], groups, rule.fibrillation_beats)
        regular &= ~(irregular >= rule.fibrillation_above)
    if rule.p_corr_below >= 1.0:  # the P wave left out
        return premature & regular
    return premature & regular & (rr[:, _column("p_corr_sinus")] < rule.p_corr_below)


def relabelled_by_rhythm(
    scores: np.ndarray,
    rr: np.ndarray,
    classes: list[str] | tuple[str, ...],
    rule: RhythmRule,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """(n,) bool: beats the classifier calls N (argmax of ``scores``, (n, k)) that
    :func:`premature_by_rhythm` makes S. ``groups``: (n,) record of each beat when the
    beats of several records are given together (in record order)."""
    if "N" not in classes or "S" not in classes:
        raise EcgLensError("the rhythm rule needs a model with classes N and S")
    if len(scores) == 0:
        return np.zeros(0, dtype=bool)
    called = np.asarray(scores).argmax(1)
    ventricular = np.isin(called, [list(classes).index(c) for c in ("V", "F") if c in classes])
    premature = premature_by_rhythm(rr, rule, ventricular, groups)
    return (called == list(classes).index("N")) & premature


def apply_rhythm_rule(
    scores: np.ndarray,
    rr: np.ndarray,
    classes: list[str] | tuple[str, ...],
    rule: RhythmRule,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Scores (logits or probabilities, (n, k)) with N and S swapped where the classifier's
    choice is N and :func:`premature_by_rhythm` holds: the choice becomes S with the same
    confidence. A copy; ``classes`` must hold N and S; ``groups`` as
    :func:`relabelled_by_rhythm`."""
    return _swap_n_and_s(scores, relabelled_by_rhythm(scores, rr, classes, rule, groups), classes)


def with_model_rhythm_rule(
    scores: np.ndarray,
    rr: np.ndarray,
    classes: list[str] | tuple[str, ...],
    config: ModelConfig,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`apply_rhythm_rule` with the rule of a model ``config``: ``(scores, relabelled)``,
    relabelled the (n,) bool beats it made S; ``(scores, None)`` unchanged for a model
    without a rule."""
    rule = model_rhythm_rule(config)
    if rule is None:
        return scores, None
    relabelled = relabelled_by_rhythm(scores, rr, classes, rule, groups)
    return _swap_n_and_s(scores, relabelled, classes), relabelled


def swap_classes(
    scores: np.ndarray,
    relabel: np.ndarray,
    classes: list[str] | tuple[str, ...],
    first: str,
    second: str,
) -> np.ndarray:
    """A copy of ``scores`` (n, k) with the ``first`` and ``second`` class columns swapped in
    the ``relabel`` rows: the call moves between them with the same confidence (the rhythm
    and AF rules swap N and S, the cluster vote N and V)."""
    a, b = list(classes).index(first), list(classes).index(second)
    scores = np.array(scores, copy=True)
    scores[relabel, a], scores[relabel, b] = scores[relabel, b], scores[relabel, a].copy()
    return scores


def _swap_n_and_s(
    scores: np.ndarray, relabel: np.ndarray, classes: list[str] | tuple[str, ...]
) -> np.ndarray:
    """A copy of ``scores`` (n, k) with the N and S columns swapped in the ``relabel`` rows."""
    return swap_classes(scores, relabel, classes, "N", "S")


def model_rhythm_rule(config: ModelConfig) -> RhythmRule | None:
    """The rhythm rule a model config carries (``rhythm_rule``), or None."""
    saved = config.rhythm_rule
    return RhythmRule.from_dict(saved["settings"]) if saved else None


def p_corr_previous(rr: np.ndarray) -> np.ndarray | None:
    """(n,) each beat's P-window correlation with the previous beat's, the context feature
    ``p_corr_previous`` of the rr array of :func:`~ecglens.inputs.beats.beat_inputs`; None
    for models without the record context features."""
    rr = np.asarray(rr)
    if rr.ndim != 2 or rr.shape[1] < N_RR_COLUMNS + N_CONTEXT_FEATURES:
        return None
    return rr[:, _column("p_corr_previous")].astype(np.float64)


def with_af_rule(
    scores: np.ndarray,
    times: np.ndarray,
    classes: list[str] | tuple[str, ...],
    groups: np.ndarray | None = None,
    usable: np.ndarray | None = None,
    p_corr: np.ndarray | None = None,
    settings: AfSettings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Beats inside atrial fibrillation (:func:`~ecglens.signal.rhythm_episodes.af_beats`)
    and the scores with S made N there: by AAMI, a supraventricular beat in AF is not a
    premature S beat. ``(scores, in_af)``: a copy of ``scores`` (n, k) with N and S swapped
    where the choice is S inside AF, and the (n,) bool AF flags. ``times``: (n,) beat times in
    s; ``groups``: (n,) record of each beat when several records are given (in record order);
    ``usable``: (n,) bool, False for beats in unusable stretches; ``p_corr``: (n,) the beats'
    P-wave consistency (:func:`p_corr_previous`; without it the AF rule reads the RR
    intervals only, with the settings chosen for that, ``AF_SETTINGS_RR_ONLY``); ``settings``:
    default ``AF_SETTINGS``. Models without N and S classes get their scores back and no AF
    flag."""
    scores = np.asarray(scores)
    n = len(scores)
    in_af = np.zeros(n, dtype=bool)
    if n == 0 or "N" not in classes or "S" not in classes:
        return scores, in_af
    letters = np.asarray(list(classes))[scores.argmax(1)]
    times = np.asarray(times, dtype=np.float64)
    groups = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups)
    if settings is None:
        settings = AF_SETTINGS if p_corr is not None else AF_SETTINGS_RR_ONLY
    elif p_corr is None:
        settings = replace(settings, p_corr_below=1.0)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        keep = None if usable is None else np.asarray(usable)[idx]
        pc = None if p_corr is None else np.asarray(p_corr)[idx]
        in_af[idx] = af_beats(times[idx], letters[idx], settings, keep, pc)
    relabel = in_af & (letters == "S")
    return _swap_n_and_s(scores, relabel, classes), in_af
