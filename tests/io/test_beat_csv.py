"""Kaggle-style beat CSVs: 187 columns (beats) or 188 (beats + label), errors, the sniffer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecglens.data.kaggle import write_kaggle_csv
from ecglens.errors import EcgLensError
from ecglens.io.beat_csv import file_sha256, looks_like_beat_csv, read_beat_csv


def _beats(n: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 187)).astype(np.float32)
    x[:, 160:] = 0.0
    x[0, 0] = 1.0
    return x, np.arange(n) % 5


def _write(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("".join(",".join(r) + "\n" for r in rows))
    return path


def test_reads_beats_with_and_without_labels(tmp_path):
    x, y = _beats()
    labelled = write_kaggle_csv(tmp_path / "mitbih_test.csv", x, y)
    xr, yr = read_beat_csv(labelled)
    assert xr.dtype == np.float32 and xr.shape == (6, 187)
    assert yr is not None and yr.dtype == np.int64 and yr.tolist() == y.tolist()
    np.testing.assert_array_equal(xr, x)
    bare = tmp_path / "beats.csv"
    np.savetxt(bare, x, delimiter=",", fmt="%.9e")
    xb, yb = read_beat_csv(bare)
    assert yb is None
    np.testing.assert_array_equal(xb, x)
    assert looks_like_beat_csv(labelled) and looks_like_beat_csv(bare)
    assert len(file_sha256(bare)) == 64


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["0.5"] * 187, ["0.5"] * 186], "not a numeric CSV of beats"),  # ragged
        ([["a"] * 187, ["0.5"] * 187], "not a numeric CSV of beats"),  # header row
        ([["0.5"] * 3] * 4, "expected 187 columns"),  # a signal CSV
        ([["0.5"] * 186 + ["nan"]], "NaN or infinite values (first in row 1)"),
        ([["0.5"] * 186 + ["1.5"]], "must lie in [0, 1]"),
        ([["0.5"] * 187 + ["1.5"]], "row 1 has 1.5"),  # label not an integer
        ([["0.5"] * 187 + ["0"], ["0.5"] * 187 + ["7"]], "row 2 has 7"),  # label out of range
    ],
)
def test_bad_files_are_refused_naming_the_file(tmp_path, rows, message):
    path = _write(tmp_path / "bad.csv", rows)
    with pytest.raises(EcgLensError) as err:
        read_beat_csv(path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(EcgLensError, match="file not found"):
        read_beat_csv(tmp_path / "none.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(EcgLensError, match="file is empty"):
        read_beat_csv(tmp_path / "empty.csv")


def test_looks_like_beat_csv_tells_beats_from_signals(tmp_path):
    signal = tmp_path / "ecg.csv"
    np.savetxt(signal, np.zeros((500, 2)), delimiter=",")
    header = _write(tmp_path / "header.csv", [[f"c{i}" for i in range(188)], ["0.5"] * 188])
    assert not looks_like_beat_csv(signal)
    assert not looks_like_beat_csv(header)
    assert not looks_like_beat_csv(tmp_path / "missing.csv")
    assert looks_like_beat_csv(_write(tmp_path / "one.csv", [[], ["0.25"] * 188]))
