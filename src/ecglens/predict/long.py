"""Beat classification of long recordings (24-hour Holters, 7-day patches) in bounded memory.

>>> from ecglens.models import load_model
>>> from ecglens.predict.long import classify_long, long_record_dict_stream
>>> for window in classify_long("holter.npy", load_model("ecglens-mitdb-inter"), fs=250):
...     window.predictions.class_counts()
>>> model = load_model("ecglens-mitdb-inter")
>>> with open("holter.json", "w") as f:
...     f.writelines(long_record_dict_stream("holter.npy", model, fs=250))

Windows. A record is processed in windows of ``WINDOW_S`` = 1800 s (30 min, the length of
the MIT-BIH records the models were trained on), each read with ``OVERLAP_S`` = 30 s more
on either side through :func:`ecglens.io.chunks.iter_windows`: only one lead of a window
(+ overlap) is held in float64 (7.7 MB at 250 Hz), and the results are yielded window by
window. While the model classifies one window, a second thread reads and prepares the next
(numpy, scipy and torch release the GIL, so two cores are busy); so at most two windows are
in memory. The last window also takes the rest of the record when that is shorter than
half a window (so it lasts up to 1.5 windows), as the last quality segment does.

Within a window, the steps are those of :func:`~ecglens.predict.beats.classify_record`:
the window and its overlap cleaned once, its R peaks and signal quality
(:func:`~ecglens.signal.process.process_lead`), beat inputs
(:func:`~ecglens.inputs.beats.cut_beat_inputs`) for every beat found there, calibrated
probabilities and uncertainty (:func:`~ecglens.predict.beats.beat_probabilities`). The
overlap lets the band-pass filters settle (their edge transients die out within a few
seconds) and the detector learn its levels (its first 10 s) before the window's core begins,
and it gives the beats at the core's edges their neighbours (RR intervals, context beats).

Seams. Beats are kept from a window's own core ``[start, stop)`` only, so none is counted
twice. Two windows may place the same beat a sample apart on either side of their seam:
a beat the next window finds up to ``SEAM_TOLERANCE_S`` = 150 ms (the matching tolerance of
beat detection) before its core is kept when the previous window kept no beat within
150 ms of it, and a beat within 150 ms of one the previous window kept is dropped; so no
beat is lost at a seam either.

Per-window statistics. Every per-record statistic of the beat inputs is computed per
window, over the surrounding 30 minutes (the core and its overlap): the median-beat
normalisation, the RR ratios over the record's median and mean RR, Kachuee's 10-s
amplitude blocks, the detector's polarity and levels, and the quality templates and noise
reference. Over a 24-hour Holter the patient's "usual beat" drifts (heart rate from sleep
to exercise, QRS axis with posture, amplitude with electrode contact), so a 30-minute
reference is the sensible one; it is also the reference the models saw in training (one
MIT-BIH record). The windows and the overlap are whole multiples of 30 s, so every
window's 6-s quality segments and Kachuee's 10-s blocks fall on the record's own grid, as
in the in-memory path; on a record of one window the results equal ``classify_record``'s.

The record's signal quality joins the windows' core segments: ``signal_quality`` in the
JSON has the record's unusable intervals and usable fraction, as for a short record. A
window whose whole range is under 0.02 mV (a lead off throughout) has no beats and is
unusable, where the in-memory path would refuse a record that flat. Reference annotations
(``.atr``) are not matched to the beats here (the JSON does not carry them).

Measured with ``python bench/long_recording.py``: 24 hours of two leads at 250 Hz in
46-57 s and 430-530 MB (about 300 MB of which is Python, torch and the model) from .npy or
.csv, against 59-123 s and 1.8-5.9 GB in memory, with the same beats.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.errors import EcgLensError
from ecglens.inputs.beats import BeatConfig, cut_beat_inputs, model_input_arrays
from ecglens.io.chunks import RecordInfo, iter_windows, record_info
from ecglens.models.config import ModelConfig
from ecglens.models.registry import LoadedModel
from ecglens.predict.beats import (
    MIN_FS,
    BeatPredictions,
    _naming,
    beat_probabilities,
    check_beat_options,
)
from ecglens.predict.clusters import cluster_ids, model_cluster_vote, with_model_cluster_vote
from ecglens.predict.rhythm import (
    model_rhythm_rule,
    p_corr_previous,
    with_af_rule,
    with_model_rhythm_rule,
)
from ecglens.predict.summary import beat_summary
from ecglens.signal.beats import rr_features
from ecglens.signal.filters import ecg_clean
from ecglens.signal.process import LeadProcessing, process_lead
from ecglens.signal.quality import (
    FLAT_PTP_MV,
    SEGMENT_S,
    SignalQuality,
    _intervals,
)

WINDOW_S = 1800.0  # s: one window, the length of an MIT-BIH record
OVERLAP_S = 30.0  # s read on each side of a window; a multiple of the 6-s and 10-s grids
GRID_S = 30.0  # s: windows are whole multiples of this (6-s segments, 10-s Kachuee blocks)
SEAM_TOLERANCE_S = 0.15  # s: two windows' detections closer than this at a seam: one beat
MIN_WINDOW_S = 60.0  # s: shortest window accepted
LONG_RECORD_S = 7200.0  # s: records longer than this are worth the long path (2 hours)
BEAT_TASK = "beats"


@dataclass
class LongWindow:
    """The beats of one window of a long record.

    index: 0-based window number; start, stop: the core, record samples ``[start, stop)``;
    offset: the first sample read (``start`` minus the overlap, or 0);
    predictions: the core's beats, ``sample`` (n,) as record sample indices, ``signal``
    the lead's samples read (record samples ``offset ...``), ``quality`` the core's 6-s
    segments with times in s from the start of the record.
    """

    index: int
    start: int
    stop: int
    offset: int
    predictions: BeatPredictions


@dataclass
class _Plan:
    info: RecordInfo
    lead: int
    lead_name: str
    spans: list[tuple[int, int]]
    step: int
    overlap: int
    config: ModelConfig
    mc_samples: int


def window_spans(n_samples: int, fs: float, window_s: float = WINDOW_S) -> list[tuple[int, int]]:
    """The windows' cores ``[start, stop)`` covering ``n_samples`` samples at ``fs`` Hz once.

    Cores are ``round(window_s / GRID_S)`` grid steps of ``round(GRID_S * fs)`` samples; the
    last core takes the rest when it is shorter than half a window.
    """
    step = _step(fs, window_s)
    starts = list(range(0, n_samples, step))
    if len(starts) > 1 and n_samples - starts[-1] < step / 2:
        starts.pop()
    return list(zip(starts, [*starts[1:], n_samples], strict=True))


def _step(fs: float, window_s: float) -> int:
    """Samples in a window: whole 30-s grid steps."""
    if not np.isfinite(window_s) or window_s < MIN_WINDOW_S:
        raise EcgLensError(f"window must be at least {MIN_WINDOW_S:g} s, not {window_s!r}")
    return max(round(window_s / GRID_S), 1) * max(round(GRID_S * fs), 1)


def _plan(
    path: str | Path | RecordInfo,
    loaded: LoadedModel,
    lead: str | int | None,
    fs: float | None,
    window_s: float,
    mc_samples: int | None,
    review_threshold: float | None,
) -> _Plan:
    """Every check that can fail before the first window: the record, its rate and lead,
    the model and the options."""
    if loaded.task != BEAT_TASK:
        raise EcgLensError(
            f"model {loaded.name} (task {loaded.task!r}) is not run on long records: the "
            f"long-record path classifies beats with a {BEAT_TASK!r} model"
        )
    check_beat_options(review_threshold, mc_samples)
    info = path if isinstance(path, RecordInfo) else record_info(path, fs)
    if info.fs < MIN_FS:
        raise EcgLensError(
            f"sampling rate {info.fs:g} Hz is too low (need >= {MIN_FS:g} Hz)", info.path
        )
    index = info.lead_index(lead)
    config = loaded.config
    return _Plan(
        info=info,
        lead=index,
        lead_name=info.lead_names[index],
        spans=window_spans(info.n_samples, info.fs, window_s),
        step=_step(info.fs, window_s),
        overlap=max(round(OVERLAP_S / GRID_S), 1) * max(round(GRID_S * info.fs), 1),
        config=config,
        mc_samples=config.mc_samples if mc_samples is None else mc_samples,
    )


def classify_long(
    path: str | Path | RecordInfo,
    loaded: LoadedModel,
    lead: str | int | None = None,
    fs: float | None = None,
    device: str | torch.device = "cpu",
    window_s: float = WINDOW_S,
    mc_samples: int | None = None,
    review_threshold: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[LongWindow]:
    """Classify every beat of a long record, window by window (see the module doc).

    ``path``: a record as :func:`~ecglens.io.chunks.record_info` reads it (``fs`` for
    CSV/NPY) or its :class:`~ecglens.io.chunks.RecordInfo`; ``lead``, ``mc_samples`` and
    ``review_threshold`` as in :func:`~ecglens.predict.beats.classify_record`;
    ``progress(done, total)`` is called after each window. The record, rate, lead, model
    and options are checked before this returns; errors in the samples (NaN, a file that
    ends early) come with the window that holds them.
    """
    plan = _plan(path, loaded, lead, fs, window_s, mc_samples, review_threshold)
    return _windows(plan, loaded, device, review_threshold, progress)


@dataclass
class _Prepared:
    """A window's signal work, done ahead of the model: the kept beats and their inputs."""

    index: int
    start: int
    stop: int
    offset: int
    signal: np.ndarray
    sample: np.ndarray
    x: np.ndarray
    rr: np.ndarray
    quality: SignalQuality
    artifact: np.ndarray


def _prepare(plan: _Plan) -> Iterator[_Prepared]:
    """Read each window, detect its beats, keep its core's, cut their inputs, assess quality."""
    info, n = plan.info, plan.info.n_samples
    reads = [(max(a - plan.overlap, 0), min(b + plan.overlap, n)) for a, b in plan.spans]
    beat_config = plan.config.beats
    tolerance = max(round(SEAM_TOLERANCE_S * info.fs), 1)
    kept_before = np.zeros(0, dtype=np.int64)  # the previous window's last kept beats
    quality_before: SignalQuality | None = None
    signals = iter_windows(info, reads, plan.lead)
    for index, ((start, stop), (offset, _)) in enumerate(zip(plan.spans, reads, strict=True)):
        signal = next(signals)
        with _naming(info.path):
            processed = _process(signal, info.fs)
            peaks = processed.peaks
            quality = _core_quality(processed.quality, info.fs, offset, start, stop)
            x, rr = _inputs(processed.cleaned, info.fs, peaks, beat_config)
        absolute = peaks + offset
        keep = (absolute >= start - tolerance) & (absolute < stop)
        if kept_before.size:
            near = np.abs(absolute[:, None] - kept_before[None, :]) <= tolerance
            keep &= ~near.any(axis=1)
        rows = np.flatnonzero(keep)
        sample = absolute[rows]
        artifact = quality.beat_is_artifact(sample, info.fs)
        if quality_before is not None and np.any(sample < start):
            before = sample < start  # beats the previous window missed: judged by its quality
            artifact[before] = quality_before.beat_is_artifact(sample[before], info.fs)
        yield _Prepared(index, start, stop, offset, signal, sample, x[rows], rr[rows], quality,
                        artifact)  # fmt: skip
        kept_before = sample[sample >= stop - 2 * tolerance]
        quality_before = quality


def _windows(
    plan: _Plan,
    loaded: LoadedModel,
    device: str | torch.device,
    review_threshold: float | None,
    progress: Callable[[int, int], None] | None,
) -> Iterator[LongWindow]:
    """Classify the prepared windows; the next window is prepared in a second thread while
    the model runs (numpy, scipy and torch release the GIL), so two cores are both busy."""
    info = plan.info
    prepared = _prepare(plan)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecglens-window") as pool:
        pending = pool.submit(next, prepared, None)
        while (window := pending.result()) is not None:
            pending = pool.submit(next, prepared, None)
            clusters = cluster_ids(window.rr)
            probabilities, uncertainty, by_rhythm, by_cluster = _probabilities(
                loaded, window.x, window.rr, clusters, plan, device
            )
            probabilities, in_af = with_af_rule(
                probabilities, window.sample / info.fs, loaded.classes, usable=~window.artifact,
                p_corr=p_corr_previous(window.rr),
            )
            predictions = BeatPredictions(
                record=info.name,
                path=str(info.path),
                fs=info.fs,
                lead=plan.lead_name,
                classes=list(loaded.classes),
                sample=window.sample,
                probabilities=probabilities,
                x=window.x,
                rr=window.rr,
                signal=window.signal,
                model=loaded.name,
                uncertainty=uncertainty,
                review_threshold=review_threshold,
                quality=window.quality,
                artifact=window.artifact,
                by_rhythm=by_rhythm,
                cluster=clusters,
                by_cluster=by_cluster,
                in_af=in_af if {"N", "S"} <= set(loaded.classes) else None,
            )
            yield LongWindow(
                index=window.index,
                start=window.start,
                stop=window.stop,
                offset=window.offset,
                predictions=predictions,
            )
            if progress is not None:
                progress(window.index + 1, len(plan.spans))


def _process(signal: np.ndarray, fs: float) -> LeadProcessing:
    """A window cleaned once, its R peaks and its quality
    (:func:`~ecglens.signal.process.process_lead`); a flat window (a lead off for the whole
    window) is not cleaned: no peaks, every segment unusable."""
    if not _flat(signal):
        return process_lead(signal, fs)
    n = len(signal)
    seg = max(round(SEGMENT_S * fs), 1)
    edges = np.append(np.arange(max(n // seg, 1)) * seg, n)
    k = len(edges) - 1
    unusable = SignalQuality(
        segment_s=SEGMENT_S, bounds_s=edges / fs, usable=np.zeros(k, bool),
        score=np.zeros(k), noise=np.full(k, np.inf), intervals=[], usable_fraction=0.0,
    )  # fmt: skip
    return LeadProcessing(cleaned=signal, peaks=np.zeros(0, dtype=np.int64), quality=unusable)


def _flat(signal: np.ndarray) -> bool:
    """True for a window whose whole range is under ``FLAT_PTP_MV`` (0.02 mV): no ECG in it,
    and a detector learning its levels on it would take filter noise for beats."""
    return bool(np.ptp(signal) < FLAT_PTP_MV)


def _inputs(
    cleaned: np.ndarray, fs: float, peaks: np.ndarray, config: BeatConfig
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~ecglens.inputs.beats.cut_beat_inputs` of the cleaned window, or empty inputs
    for a window without beats."""
    if len(peaks) == 0:
        shape = (
            (config.input_length,) if config.context == 1 else (config.context, config.input_length)
        )
        return np.zeros((0, *shape), np.float32), rr_features(peaks, fs)
    return cut_beat_inputs(cleaned, fs, peaks, config)


def _probabilities(
    loaded: LoadedModel,
    x: np.ndarray,
    rr: np.ndarray,
    clusters: np.ndarray | None,
    plan: _Plan,
    device,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(n, k) calibrated probabilities, (n,) uncertainty, for a model with a rhythm rule the
    (n,) bool beats it made S, and for a model with a cluster vote the (n,) bool beats it made
    V (``clusters``: :func:`~ecglens.predict.clusters.cluster_ids` of ``rr``); empty for a
    window without beats."""
    if len(x) == 0:
        empty = None if model_rhythm_rule(plan.config) is None else np.zeros(0, dtype=bool)
        empty_vote = None if model_cluster_vote(plan.config) is None else np.zeros(0, dtype=bool)
        return (
            np.zeros((0, len(loaded.classes)), np.float32),
            np.zeros(0, np.float32),
            empty,
            empty_vote,
        )
    probabilities, uncertainty = beat_probabilities(
        loaded.module,
        model_input_arrays(x, rr, plan.config.inputs),
        float(plan.config.temperature),
        plan.mc_samples,
        device,
    )
    probabilities, by_rhythm = with_model_rhythm_rule(
        probabilities, rr, loaded.classes, plan.config
    )
    probabilities, by_cluster = with_model_cluster_vote(
        probabilities, clusters, loaded.classes, plan.config
    )
    return probabilities, uncertainty, by_rhythm, by_cluster


def _core_quality(
    whole: SignalQuality, fs: float, offset: int, start: int, stop: int
) -> SignalQuality:
    """Quality of the core ``[start, stop)`` of a window read from ``offset``, from the
    window's ``whole`` quality: its 6-s segments, times in s from the record's start."""
    edges = np.rint(whole.bounds_s * fs).astype(np.int64) + offset
    inside = np.flatnonzero((edges[1:] > start) & (edges[:-1] < stop))
    bounds = np.clip(np.append(edges[inside], edges[inside[-1] + 1]), start, stop)
    return _joined(
        whole.segment_s, bounds / fs, whole.usable[inside], whole.score[inside],
        whole.noise[inside],
    )  # fmt: skip


def _joined(
    segment_s: float, bounds_s: np.ndarray, usable: np.ndarray, score: np.ndarray,
    noise: np.ndarray,
) -> SignalQuality:  # fmt: skip
    """A :class:`SignalQuality` over consecutive segments ``bounds_s`` (k + 1,) in s."""
    span = float(bounds_s[-1] - bounds_s[0])
    usable_s = float(np.diff(bounds_s)[usable].sum())
    return SignalQuality(
        segment_s=float(segment_s),
        bounds_s=bounds_s,
        usable=usable,
        score=score,
        noise=noise,
        intervals=_intervals(~usable, bounds_s),
        usable_fraction=usable_s / span if span > 0 else 0.0,
    )


def record_quality(windows: list[SignalQuality]) -> SignalQuality:
    """The whole record's quality from its windows' core qualities (in order, contiguous)."""
    bounds = np.concatenate([windows[0].bounds_s[:1], *[q.bounds_s[1:] for q in windows]])
    return _joined(
        windows[0].segment_s,
        bounds,
        np.concatenate([q.usable for q in windows]),
        np.concatenate([q.score for q in windows]),
        np.concatenate([q.noise for q in windows]),
    )


def long_record_dict_stream(
    path: str | Path | RecordInfo,
    loaded: LoadedModel,
    lead: str | int | None = None,
    fs: float | None = None,
    device: str | torch.device = "cpu",
    window_s: float = WINDOW_S,
    mc_samples: int | None = None,
    review_threshold: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    extra: dict[str, Any] | None = None,
) -> Iterator[str]:
    """One record's JSON object, in pieces (one per window), on one line (no newline at the
    end): the keys of :meth:`BeatPredictions.to_dict` and ``"warnings"`` (the reader's),
    plus ``"windows"`` ({"window_s", "overlap_s", "n_windows"}) and ``extra``.

    ``"record"`` comes first and ``"beats"`` before the record's totals (``n_beats``,
    ``class_counts``, ``n_review``, ``n_artifact``, ``signal_quality``, ``warnings``), which
    are known only at the end; at most one window's beats are held as Python objects.
    Arguments as :func:`classify_long`, whose checks run before this returns.
    """
    plan = _plan(path, loaded, lead, fs, window_s, mc_samples, review_threshold)
    windows = _windows(plan, loaded, device, review_threshold, progress)
    return _json_pieces(plan, loaded, windows, review_threshold, extra or {})


def _json_pieces(
    plan: _Plan,
    loaded: LoadedModel,
    windows: Iterator[LongWindow],
    review_threshold: float | None,
    extra: dict[str, Any],
) -> Iterator[str]:
    info = plan.info
    head = {
        "record": info.name,
        "path": str(info.path),
        "sampling_rate": info.fs,
        "lead": plan.lead_name,
        "model": loaded.name,
        "review_threshold": review_threshold,
        "windows": {
            "window_s": round(plan.step / info.fs, 6),
            "overlap_s": round(plan.overlap / info.fs, 6),
            "n_windows": len(plan.spans),
        },
    }
    yield json.dumps(head)[:-1] + ', "beats": ['
    counts = dict.fromkeys(loaded.classes, 0)
    n_beats = n_review = n_artifact = n_by_rhythm = n_by_cluster = 0
    qualities = []
    times, labels, artifact, in_af = [], [], [], []
    intervals = None
    for window in windows:
        predictions = window.predictions
        times.append(predictions.sample / info.fs)
        labels.extend(predictions.labels)
        artifact.append(predictions.artifact)
        if predictions.in_af is not None:
            in_af.append(predictions.in_af)
        if intervals is None and len(predictions.sample):
            intervals = _window_intervals(predictions, window.offset)
        beats = json.dumps(predictions.to_dict()["beats"])[1:-1]
        if beats:
            yield (", " if n_beats else "") + beats
        n_beats += len(predictions.sample)
        for name, count in predictions.class_counts().items():
            counts[name] += count
        if review_threshold is not None:
            n_review += int(np.sum(predictions.uncertainty > review_threshold))
        n_artifact += int(predictions.artifact.sum())
        if predictions.by_rhythm is not None:
            n_by_rhythm += int(predictions.by_rhythm.sum())
        if predictions.by_cluster is not None:
            n_by_cluster += int(predictions.by_cluster.sum())
        qualities.append(predictions.quality)
    quality = record_quality(qualities)
    summary = beat_summary(
        np.concatenate(times),
        labels,
        list(loaded.classes),
        info.n_samples / info.fs,
        artifact=np.concatenate(artifact),
        in_af=np.concatenate(in_af) if in_af else None,
        noise=quality.intervals,
    )
    summary["intervals"] = intervals
    tail = {
        "summary": summary,
        "n_beats": n_beats,
        "class_counts": counts,
        "n_review": None if review_threshold is None else n_review,
        "n_artifact": n_artifact,
        "n_by_rhythm_rule": n_by_rhythm if model_rhythm_rule(plan.config) else None,
        "n_by_cluster_vote": n_by_cluster if model_cluster_vote(plan.config) else None,
        "n_in_af": int(sum(a.sum() for a in in_af)) if in_af else None,
        "signal_quality": quality.to_dict(),
        "warnings": list(info.warnings),
        **extra,
    }
    yield "], " + json.dumps(tail)[1:]


def _window_intervals(predictions: BeatPredictions, offset: int) -> dict[str, Any] | None:
    """The median beat's intervals of one window (a long record's first window with beats)."""
    cleaned = ecg_clean(predictions.signal, predictions.fs)
    summary = beat_summary(
        predictions.sample / predictions.fs,
        predictions.labels,
        predictions.classes,
        len(predictions.signal) / predictions.fs,
        artifact=predictions.artifact,
        in_af=predictions.in_af,
        clean=cleaned,
        fs=predictions.fs,
        peaks=predictions.sample - offset,
    )
    return summary["intervals"]
