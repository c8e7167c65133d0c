"""Rhythm episodes from beat times and classes: atrial fibrillation, runs, allorhythmias, pauses.

Pure functions on arrays: ``times`` (n,) beat times in s, ``labels`` (n,) AAMI class letters
(N, S, V, F, Q). An episode is ``(start_s, end_s)``.

Atrial fibrillation (:func:`af_beats`) is read from RR irregularity alone, as the
low-complexity detectors of Sarkar et al. and Petrenas et al. do: the RR intervals that
start or end at a ventricular beat are left out (ectopic beats make a sinus rhythm look
irregular), the irregularity of each beat's neighbourhood is the median absolute successive
RR difference over the median RR of ``AfSettings.half_window`` intervals on each side, and a
beat is in AF where it exceeds ``AfSettings.irregularity_above``. Stretches shorter than
``AfSettings.min_episode_s`` are dropped, gaps shorter than ``AfSettings.max_gap_s`` closed.
The settings were chosen on the MIT-BIH inter-patient training records (DS1) only
(``ecglens evaluate rhythm --tune``).

Sarkar S, Ritscher D, Mehra R. A detector for a chronic implantable atrial tachyarrhythmia
monitor. IEEE Trans Biomed Eng 55(3) 2008. Petrenas A, Marozas V, Sornmo L. Low-complexity
detection of atrial fibrillation in continuous long-term monitoring. Comput Biol Med 65 2015.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ecglens.signal.pwave import (
    N_POINTS,
    P_END_S,
    P_START_S,
    detrend_windows,
    row_correlation,
    wave_windows,
)

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
    P-window correlation with the previous beat's (:func:`p_wave_consistency`) must be under
    this too (fibrillatory waves do not repeat; sinus P waves do); 1.0 or more leaves the P
    wave out.
    """

    half_window: int = 16
    irregularity_above: float = 0.1
    min_episode_s: float = 30.0
    max_gap_s: float = 10.0
    p_corr_below: float = 1.0


AF_SETTINGS = AfSettings()


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


def p_wave_consistency(clean: np.ndarray, fs: float, peaks: np.ndarray) -> np.ndarray:
    """(n,) Pearson correlation of each beat's P window (300 to 60 ms before the R peak,
    line-detrended) with the previous beat's; ``clean``: one band-passed lead (m,) at ``fs``
    Hz, ``peaks``: R-peak indices. The first beat gets NaN."""
    peaks = np.asarray(peaks)
    out = np.full(len(peaks), np.nan)
    if len(peaks) < 2:
        return out
    p = detrend_windows(wave_windows(clean, fs, peaks, -P_START_S, -P_END_S, N_POINTS))
    out[1:] = row_correlation(p[1:], p[:-1])
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
    p_corr: (n,) :func:`p_wave_consistency` (needed when ``settings.p_corr_below`` < 1).
    """
    times = np.asarray(times, dtype=np.float64)
    labels = np.asarray(labels)
    n = len(times)
    if n < 3:
        return np.zeros(n, dtype=bool)
    keep = np.ones(n, dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    irregular = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(keep)
    if len(idx) >= 3:
        ventricular = np.isin(labels[idx], ("V", "F"))
        score = rr_irregularity(times[idx], ventricular, settings.half_window)
        irregular[idx] = np.nan_to_num(score, nan=0.0) > settings.irregularity_above
        if settings.p_corr_below < 1.0:
            if p_corr is None:
                raise ValueError("p_corr_below < 1 needs the beats' P-wave consistency")
            pc = np.asarray(p_corr, dtype=np.float64)[idx].copy()
            pc[ventricular | np.concatenate([[False], ventricular[:-1]])] = np.nan
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                p_med = np.nanmedian(_windows(pc, settings.half_window), axis=1)
            irregular[idx] &= np.nan_to_num(p_med, nan=1.0) < settings.p_corr_below
    spans = runs(irregular)
    spans = _closed(spans, times, settings.max_gap_s, keep)
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
