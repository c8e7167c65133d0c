"""Kaggle PTB CSVs (ptbdb_normal / ptbdb_abnormal): round trip, format, errors; the beat split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecglens.data.kaggle_ptb import (
    ABNORMAL_CSV,
    NORMAL_CSV,
    read_ptbdb_csvs,
    stratified_beat_split,
    write_ptbdb_csvs,
)
from ecglens.errors import EcgLensError


def _beats(n: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 187)).astype(np.float32)
    x[:, 150:] = 0.0  # zero padding, as in the Kachuee format
    x[0, 0], x[1, 1] = 1.0, 0.0
    y = np.array([0, 1] * (n // 2))
    return x, y


def test_round_trip_and_exact_format(tmp_path):
    x, y = _beats()
    normal, abnormal = write_ptbdb_csvs(tmp_path, x, y)
    assert (normal.name, abnormal.name) == (NORMAL_CSV, ABNORMAL_CSV)
    lines = normal.read_text().splitlines()
    assert len(lines) == 6  # one row per normal beat, no header
    cells = lines[0].split(",")
    assert len(cells) == 188 and float(cells[-1]) == 0.0 and "." in cells[-1]  # label as float
    abnormal_labels = [line.split(",")[-1] for line in abnormal.read_text().splitlines()]
    assert [float(v) for v in abnormal_labels] == [1.0] * 6
    xr, yr = read_ptbdb_csvs(normal, abnormal)
    assert xr.dtype == np.float32 and xr.shape == (12, 187)
    assert yr.dtype == np.int64 and yr.tolist() == [0] * 6 + [1] * 6
    order = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y == 1)])
    np.testing.assert_array_equal(xr, x[order])  # float32 values survive the text exactly
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary file


def _write_rows(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("".join(",".join(r) + "\n" for r in rows))
    return path


def _row(value: str = "0.5", label: str = "0.0") -> list[str]:
    return [value] * 187 + [label]


@pytest.mark.parametrize(
    ("normal_rows", "message"),
    [
        ([_row(), _row()[:-1]], "not a numeric CSV"),  # a short row
        ([_row()[:-1], _row()[:-1]], "expected 188 columns"),
        ([_row(), ["abc"] + _row()[1:]], "not a numeric CSV"),
        ([["x"] * 188, _row()], "not a numeric CSV"),  # a header
        ([_row(), _row("nan")], "NaN"),
        ([_row(), _row("1.5")], "[0, 1]"),
        ([_row("-0.01")], "[0, 1]"),
        ([_row(), _row(label="1.0")], "label 1"),
    ],
)
def test_normal_file_errors_name_the_file(tmp_path, normal_rows, message):
    normal = _write_rows(tmp_path / NORMAL_CSV, normal_rows)
    abnormal = _write_rows(tmp_path / ABNORMAL_CSV, [_row(label="1.0")])
    with pytest.raises(EcgLensError) as info:
        read_ptbdb_csvs(normal, abnormal)
    text = str(info.value)
    assert message in text and str(normal) in text and "\n" not in text


def test_abnormal_file_errors_and_tolerance(tmp_path):
    normal = _write_rows(tmp_path / NORMAL_CSV, [_row("1.0000000001"), _row("-1e-9")])
    abnormal = _write_rows(tmp_path / ABNORMAL_CSV, [_row(label="1.0"), _row(label="0.0")])
    with pytest.raises(EcgLensError, match=rf"{ABNORMAL_CSV}: row 2 has label 0"):
        read_ptbdb_csvs(normal, abnormal)
    _write_rows(abnormal, [_row(label="1.0")])
    x, y = read_ptbdb_csvs(normal, abnormal)  # rounding just outside [0, 1] is clipped
    assert x.min() == 0.0 and x.max() == 1.0 and y.tolist() == [0, 0, 1]
    with pytest.raises(EcgLensError, match="file not found"):
        read_ptbdb_csvs(normal, tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(EcgLensError, match="empty.csv: file is empty"):
        read_ptbdb_csvs(tmp_path / "empty.csv", abnormal)


def test_writer_refuses_bad_inputs(tmp_path):
    x, y = _beats()
    with pytest.raises(EcgLensError, match="labels must be 0"):
        write_ptbdb_csvs(tmp_path, x, np.full(len(x), 2))
    with pytest.raises(EcgLensError, match="labels must be"):
        write_ptbdb_csvs(tmp_path, x, y[:-1])
    with pytest.raises(EcgLensError, match=r"\[0, 1\]"):
        write_ptbdb_csvs(tmp_path, x * 2, y)
    with pytest.raises(EcgLensError, match="187"):
        write_ptbdb_csvs(tmp_path, x[:, :100], y)
    with pytest.raises(EcgLensError, match=f"{ABNORMAL_CSV}: no MI beats"):
        write_ptbdb_csvs(tmp_path, x, np.zeros(len(x), dtype=int))
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_stratified_beat_split_keeps_class_ratio_and_is_seeded():
    y = np.array([0] * 80 + [1] * 20)
    train, test = stratified_beat_split(y, 0.2, seed=0)
    assert len(test) == 20 and np.sum(y[test] == 1) == 4
    assert np.intersect1d(train, test).size == 0 and len(train) + len(test) == 100
    assert np.all(np.diff(train) > 0)
    np.testing.assert_array_equal(stratified_beat_split(y, 0.2, seed=0)[1], test)
    assert not np.array_equal(stratified_beat_split(y, 0.2, seed=1)[1], test)
    with pytest.raises(EcgLensError, match="test_fraction"):
        stratified_beat_split(y, 1.0)
    with pytest.raises(EcgLensError, match="at least 2"):
        stratified_beat_split(np.array([0, 0, 0, 1]))
