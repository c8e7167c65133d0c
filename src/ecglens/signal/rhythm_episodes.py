"""Rhythm episodes from beat times and classes: atrial fibrillation, runs, allorhythmias, pauses.

Pure functions on arrays: ``times`` (n,) beat times in s, ``labels`` (n,) AAMI class letters
(N, S, V, F, Q). An episode is ``(start_s, end_s)``.

Atrial fibrillation (:func:`af_beats`) is read from RR irregularity, as the low-complexity
detectors of Sarkar et al. and Petrenas et al. do, and from the absence of a repeating P wave:
the RR intervals that start or end at a ventricular beat are left out (ectopic beats make a
sinus rhythm look irregular), the irregularity of each beat's neighbourhood is the median
absolute successive RR difference over the median RR of ``AfSettings.half_window`` intervals
on each side, and a beat is in AF where it exceeds ``AfSettings.irregularity_above`` and the
median correlation of each P window with the previous beat's over the same neighbourhood is
under ``AfSettings.p_corr_below`` (sinus P waves repeat; fibrillatory waves do not).
Stretches shorter than ``AfSettings.min_episode_s`` are dropped, gaps shorter than
``AfSettings.max_gap_s`` closed.
The settings were chosen on the MIT-BIH inter-patient training records (DS1) only
(``python bench/af_tune.py``).

Sarkar S, Ritscher D, Mehra R. A detector for a chronic implantable atrial tachyarrhythmia
monitor. IEEE Trans Biomed Eng 55(3) 2008. Petrenas A, Marozas V, Sornmo L. Low-complexity
detection of atrial fibrillation in continuous long-term monitoring. Comput Biol Med 65 2015.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

PAUSE_S = 2.0  # an RR interval longer than this is a pause
MIN_RUN_BEATS = 3  # SVT / VT: at least this many consecutive S / V beats
MIN_ALLORHYTHMIA_CYCLES = 3  # bigeminy / trigeminy: at least this many cycles in a row


@dataclass(frozen=True)
class AfSettings:
    """Atrial fibrillation from RR irregularity (see the module docstring).

    half_window: RR intervals on each side of a beat in its neighbourhood; irregularity_above:
    median |dRR| / median RR above which the neighbourhood is fibrillating; min_episode_s:
    shortest AF episode kept (s); max_gap_s: shorter interruptions between two AF stretches
    are closed (s); p_corr_below: the median, over the same neighbourhood, of each beat's
    P-window correlation with the previous beat's (the context feature ``p_corr_previous``
    of :mod:`ecglens.inputs.rhythm`) must be under
    this too (fibrillatory waves do not repeat; sinus P waves do); 1.0 or more leaves the P
    wave out.
    """

    half_window: int = 16
    irregularity_above: float = 0.1
    min_episode_s: float = 30.0
    max_gap_s: float = 10.0
    p_corr_below: float = 1.0


# chosen on DS1 only by ``python bench/af_tune.py``: the largest min(duration Se, +P), then
# the smallest worst-record burden error (see docs/results/rhythm.md)
AF_SETTINGS = AfSettings(
    half_window=8, irregularity_above=0.04, min_episode_s=60.0, max_gap_s=10.0, p_corr_below=0.4
)
# the same grid without the P wave, for beats without the P-wave context feature (models
# without the record context features): chosen on DS1 by the same rule
AF_SETTINGS_RR_ONLY = AfSettings(
    half_window=8, irregularity_above=0.1, min_episode_s=60.0, max_gap_s=5.0, p_corr_below=1.0
)


def _windows(values: np.ndarray, half: int) -> np.ndarray:
    padded = np.concatenate([np.full(half, np.nan), values, np.full(half, np.nan)])
    return np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)


def rr_irregularity(
    times: np.ndarray, ventricular: np.ndarray | None = None, half: int = 16
) -> np.ndarray:
    """(n,) median |dRR| / median RR of the intervals within ``half`` intervals of each beat,
    intervals that start or end at a ``ventricular`` beat ((n,) bool) left out; NaN where
    fewer than 4 are left (and for records of fewer than 3 beats)."""
    times = np.asarray(times, dtype=np.float64)
    n = len(times)
    if n < 3:
        return np.full(n, np.nan)
    rr = np.diff(times, prepend=np.nan)  # rr[i]: interval ending at beat i
    if ventricular is not None:
        v = np.asarray(ventricular, dtype=bool)
        rr[v | np.concatenate([[False], v[:-1]])] = np.nan
    drr = np.abs(np.diff(rr, prepend=np.nan))  # NaN when either interval was left out
    with np.errstate(all="ignore"):
        wr, wd = _windows(rr, half), _windows(drr, half)
        enough = (np.sum(~np.isnan(wd), axis=1) >= 4) & (np.sum(~np.isnan(wr), axis=1) >= 4)
        out = np.full(n, np.nan)
        if enough.any():
            out[enough] = np.nanmedian(wd[enough], axis=1) / np.nanmedian(wr[enough], axis=1)
    return out


def af_beats(
    times: np.ndarray,
    labels: np.ndarray | list[str],
    settings: AfSettings = AF_SETTINGS,
    usable: np.ndarray | None = None,
    p_corr: np.ndarray | None = None,
) -> np.ndarray:
    """(n,) bool: beats inside atrial fibrillation (or flutter) episodes.

    times: (n,) s; labels: (n,) class letters (V and F beats are ventricular); usable: (n,)
    bool, False for beats in unusable stretches (never AF, and left out of the RR series);
    p_corr: (n,) each beat's P-window correlation with the previous beat's (needed when
    ``settings.p_corr_below`` < 1).
    """
    irregularity, p_median = af_evidence(times, labels, settings.half_window, usable, p_corr)
    return af_from_evidence(times, irregularity, p_median, settings, usable)


def af_evidence(
    times: np.ndarray,
    labels: np.ndarray | list[str],
    half_window: int,
    usable: np.ndarray | None = None,
    p_corr: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per beat: the RR irregularity of its neighbourhood (:func:`rr_irregularity`, 0 where
    unknown or unusable) and the median P-wave consistency of the same neighbourhood
    (ventricular beats and the beats after them left out; 1 where unknown; None without
    ``p_corr``)."""
    times = np.asarray(times, dtype=np.float64)
    labels = np.asarray(labels)
    n = len(times)
    keep = np.ones(n, dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    irregularity = np.zeros(n)
    p_median = None if p_corr is None else np.ones(n)
    idx = np.flatnonzero(keep)
    if len(idx) < 3:
        return irregularity, p_median
    ventricular = np.isin(labels[idx], ("V", "F"))
    score = rr_irregularity(times[idx], ventricular, half_window)
    irregularity[idx] = np.nan_to_num(score, nan=0.0)
    if p_corr is not None and p_median is not None:
        pc = np.asarray(p_corr, dtype=np.float64)[idx].copy()
        pc[ventricular | np.concatenate([[False], ventricular[:-1]])] = np.nan
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            p_med = np.nanmedian(_windows(pc, half_window), axis=1)
        p_median[idx] = np.nan_to_num(p_med, nan=1.0)
    return irregularity, p_median


def af_from_evidence(
    times: np.ndarray,
    irregularity: np.ndarray,
    p_median: np.ndarray | None,
    settings: AfSettings = AF_SETTINGS,
    usable: np.ndarray | None = None,
) -> np.ndarray:
    """(n,) bool AF beats from :func:`af_evidence`: irregular (and without repeating P
    waves), in stretches of at least ``settings.min_episode_s`` once gaps under
    ``settings.max_gap_s`` are closed."""
    times = np.asarray(times, dtype=np.float64)
    n = len(times)
    if n < 3:
        return np.zeros(n, dtype=bool)
    keep = np.ones(n, dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    irregular = (irregularity > settings.irregularity_above) & keep
    if settings.p_corr_below < 1.0:
        if p_median is None:
            raise ValueError("p_corr_below < 1 needs the beats' P-wave consistency")
        irregular &= p_median < settings.p_corr_below
    spans = _closed(runs(irregular), times, settings.max_gap_s, keep)
    out = np.zeros(n, dtype=bool)
    for a, b in spans:  # beat index ranges [a, b)
        if _span_s(times, a, b) >= settings.min_episode_s:
            out[a:b] = True
    return out & keep


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges ``[a, b)`` of the runs of True in ``flags`` (n,)."""
    flags = np.asarray(flags, dtype=bool)
    if not flags.any():
        return []
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _span_s(times: np.ndarray, a: int, b: int) -> float:
    """Seconds covered by beats ``a .. b-1``, from the interval before ``a``."""
    start = times[a - 1] if a > 0 else times[a]
    return float(times[b - 1] - start)


def _closed(
    spans: list[tuple[int, int]], times: np.ndarray, max_gap_s: float, keep: np.ndarray
) -> list[tuple[int, int]]:
    """Merge consecutive spans separated by less than ``max_gap_s`` of usable beats."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and times[a] - times[out[-1][1] - 1] < max_gap_s and keep[out[-1][1] : a].all():
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def beat_span_episodes(
    times: np.ndarray, spans: list[tuple[int, int]]
) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of beat index ranges: from the beat before the first (the interval
    that leads into the episode) to the last beat."""
    return [(float(times[a - 1] if a > 0 else times[a]), float(times[b - 1])) for a, b in spans]


def label_runs(
    labels: np.ndarray | list[str], label: str, min_beats: int = MIN_RUN_BEATS
) -> list[tuple[int, int]]:
    """Runs of at least ``min_beats`` consecutive beats of class ``label``: ``[a, b)``."""
    return [(a, b) for a, b in runs(np.asarray(labels) == label) if b - a >= min_beats]


def allorhythmia_runs(
    labels: np.ndarray | list[str],
    period: int,
    ectopic: tuple[str, ...] = ("V",),
    min_cycles: int = MIN_ALLORHYTHMIA_CYCLES,
) -> list[tuple[int, int]]:
    """Bigeminy (``period`` 2: N V N V ...) or trigeminy (3: N N V N N V ...): index ranges
    ``[a, b)`` of at least ``min_cycles`` cycles of ``period - 1`` N beats and one ectopic
    beat (default V), from the first cycle's first N beat to the last ectopic beat."""
    labels = np.asarray(labels)
    n = len(labels)
    ect = np.isin(labels, ectopic)
    normal = labels == "N"
    out: list[tuple[int, int]] = []
    i = period - 1
    while i < n:
        cycles, j = 0, i
        while j < n and ect[j] and normal[j - period + 1 : j].all() and j - period + 1 >= 0:
            cycles += 1
            j += period
        if cycles >= min_cycles:
            out.append((i - period + 1, j - period + 1))
            i = j - period + 1
        else:
            i += 1
    return out


def pauses(
    times: np.ndarray, usable: np.ndarray | None = None, pause_s: float = PAUSE_S
) -> list[tuple[float, float]]:
    """RR intervals longer than ``pause_s`` between two usable beats: ``(start_s, end_s)``."""
    times = np.asarray(times, dtype=np.float64)
    if len(times) < 2:
        return []
    keep = np.ones(len(times), dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    long = (np.diff(times) > pause_s) & keep[:-1] & keep[1:]
    return [(float(times[i]), float(times[i + 1])) for i in np.flatnonzero(long)]
