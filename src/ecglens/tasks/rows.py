"""Parquet rows of predictions (pyarrow, imported when used): one row per beat for beat
predictions, one row per record for the others."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ecglens.predict.beats import BeatPredictions

if TYPE_CHECKING:
    import pyarrow as pa


def beat_rows(prediction: BeatPredictions, path: str, record: str) -> tuple[pa.Table, int]:
    """One row per beat and the beat count."""
    import pyarrow as pa

    n = len(prediction.sample)
    sample = np.asarray(prediction.sample, dtype=np.int64)
    review = None
    if prediction.review_threshold is not None and prediction.uncertainty is not None:
        review = prediction.uncertainty > prediction.review_threshold
    columns: dict[str, pa.Array] = {
        "record": pa.array([record] * n, pa.string()),
        "path": pa.array([path] * n, pa.string()),
        "sample": pa.array(sample, pa.int64()),
        "time_s": pa.array(sample / float(prediction.fs), pa.float64()),
        "label": pa.array(prediction.labels, pa.string()),
    }
    probabilities = np.asarray(prediction.probabilities, dtype=np.float32)
    for k, name in enumerate(prediction.classes):
        columns[f"p_{name}"] = pa.array(probabilities[:, k], pa.float32())
    columns["uncertainty"] = _optional(prediction.uncertainty, pa.float32(), n)
    columns["review"] = _optional(review, pa.bool_(), n)
    columns["artifact"] = _optional(prediction.artifact, pa.bool_(), n)
    return pa.table(columns), n


def record_row(prediction: Any, path: str, record: str) -> tuple[pa.Table, int]:
    """One row for the record (from its ``to_dict()``) and its beat count."""
    import pyarrow as pa

    d = prediction.to_dict()
    row: dict[str, pa.Array] = {
        "record": pa.array([record], pa.string()),
        "path": pa.array([path], pa.string()),
        "label": pa.array([d.get("label")], pa.string()),
    }
    if "probability" in d:
        row["probability"] = pa.array([d["probability"]], pa.float64())
    for name, p in (d.get("probabilities") or {}).items():
        row[f"p_{name}"] = pa.array([p], pa.float64())
    if "labels" in d:
        row["labels"] = pa.array([list(d["labels"])], pa.list_(pa.string()))
    beats = int(d.get("n_beats") or 0)
    if "n_beats" in d:
        row["n_beats"] = pa.array([beats], pa.int64())
    return pa.table(row), beats


def _optional(values: Any, dtype: pa.DataType, n: int) -> pa.Array:
    import pyarrow as pa

    return pa.nulls(n, dtype) if values is None else pa.array(values, dtype)


SUMMARY_EPISODE_TYPES = ("AF", "SVT", "VT", "bigeminy", "trigeminy", "pause", "noise")


def summary_row(prediction: Any, path: str, record: str) -> pa.Table | None:
    """One row of the record's summary (:mod:`ecglens.predict.summary`), None for predictions
    without one: ``record, path, duration_s, analysed_s, hr_mean_bpm, hr_min_bpm,
    hr_max_bpm, sdnn_ms, rmssd_ms, n_nn, af_burden, pr_ms, qrs_ms, qt_ms, qtc_bazett_ms,
    qtc_fridericia_ms, axis_deg, n_<class>, per_hour_<class>, n_<episode type>`` and
    ``episodes`` (a list of ``{type, start_s, end_s}``)."""
    import pyarrow as pa

    summary = getattr(prediction, "summary", None)
    if summary and "heart_rate" not in summary:  # a long record's totals hold the summary
        summary = summary.get("summary")
    if not summary:
        return None
    hr, hrv, iv = summary["heart_rate"], summary["hrv"], summary.get("intervals") or {}
    row: dict[str, Any] = {
        "record": record,
        "path": path,
        "duration_s": summary["duration_s"],
        "analysed_s": summary["analysed_s"],
        "hr_mean_bpm": hr["mean_bpm"],
        "hr_min_bpm": hr["min_bpm"],
        "hr_max_bpm": hr["max_bpm"],
        "sdnn_ms": hrv["sdnn_ms"],
        "rmssd_ms": hrv["rmssd_ms"],
        "n_nn": hrv["n_nn"],
        "af_burden": summary["af_burden"],
    }
    for key in ("pr_ms", "qrs_ms", "qt_ms", "qtc_bazett_ms", "qtc_fridericia_ms", "axis_deg"):
        row[key] = iv.get(key)
    for name, n in summary["counts"].items():
        row[f"n_{name}"] = n
    for name, v in summary["per_hour"].items():
        row[f"per_hour_{name}"] = v
    for kind in SUMMARY_EPISODE_TYPES:
        row[f"n_{kind}"] = sum(e["type"] == kind for e in summary["episodes"])
    floats = {k for k, v in row.items() if k not in ("record", "path") and not k.startswith("n_")}
    columns = {k: pa.array([v], pa.float64() if k in floats else None) for k, v in row.items()}
    episode = pa.struct([("type", pa.string()), ("start_s", pa.float64()), ("end_s", pa.float64())])
    columns["episodes"] = pa.array([summary["episodes"]], pa.list_(episode))
    return pa.table(columns)
