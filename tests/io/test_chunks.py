"""Windowed reading of long records: every format gives the samples ``read_record`` gives,
window by window, without holding the whole signal."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.io import chunks, read_record
from ecglens.io.chunks import NotWindowed, iter_windows, read_window, record_info

FS = 100.0
N = 36_000  # 6 minutes at 100 Hz


def signals(n: int = N, seed: int = 0) -> np.ndarray:
    """(n, 2) mV rounded to 1 uV (exact in CSV text and in 16-bit WFDB at gain 1000)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FS
    x = np.sin(2 * np.pi * 1.2 * t) ** 15 + 0.1 * np.sin(2 * np.pi * 0.2 * t)
    both = np.column_stack([x, -0.5 * x]) + rng.normal(0, 0.02, (n, 2))
    return np.round(both, 3)


def write_csv(path: Path, values: np.ndarray, header: str | None = "time_s,MLII,V5") -> Path:
    with path.open("w") as f:
        if header:
            f.write(header + "\n")
        for i, (a, b) in enumerate(values):
            f.write(f"{i / FS:.2f},{a:.3f},{b:.3f}\n")
    return path


def write_wfdb(folder: Path, values: np.ndarray, name: str = "rec") -> Path:
    import wfdb

    wfdb.wrsamp(
        name, fs=FS, units=["mV", "mV"], sig_name=["MLII", "V5"], p_signal=values,
        fmt=["16", "16"], adc_gain=[1000.0, 1000.0], baseline=[0, 0], write_dir=str(folder),
    )  # fmt: skip
    return folder / name


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("chunks")
    values = signals()
    np.save(folder / "plain.npy", values)
    np.save(folder / "leads_in_rows.npy", values.T.copy())
    np.save(folder / "clock.npy", np.column_stack([np.arange(N) / FS, values]))
    edfio = pytest.importorskip("edfio")
    edfio.Edf(
        [
            edfio.EdfSignal(values[:, 0] * 1000, FS, label="ECG II", physical_dimension="uV"),
            edfio.EdfSignal(values[:, 1], FS, label="ECG V5", physical_dimension="mV"),
        ]
    ).write(folder / "holter.edf")
    return {
        "npy": folder / "plain.npy",
        "npy-rows": folder / "leads_in_rows.npy",
        "npy-clock": folder / "clock.npy",
        "csv": write_csv(folder / "export.csv", values),
        "wfdb": write_wfdb(folder, values),
        "edf": folder / "holter.edf",
    }


FORMATS = ["npy", "npy-rows", "npy-clock", "csv", "wfdb", "edf"]


@pytest.mark.parametrize("kind", FORMATS)
def test_info_and_windows_match_read_record(records, kind):
    path = records[kind]
    fs = None if kind in ("wfdb", "edf") else FS
    whole = read_record(path, fs=fs)
    info = record_info(path, fs=fs)
    assert (info.n_samples, info.fs, list(info.lead_names)) == (
        whole.n_samples, whole.fs, whole.lead_names,
    )  # fmt: skip
    assert list(info.warnings) == whole.warnings
    for lead in range(len(info.lead_names)):
        window = read_window(info, 1234, 5678, lead=lead)
        assert window.dtype == np.float64 and window.shape == (5678 - 1234,)
        np.testing.assert_array_equal(window, whole.signals[1234:5678, lead])


@pytest.mark.parametrize("kind", FORMATS)
def test_overlapping_windows_in_order_give_every_sample(records, kind):
    path = records[kind]
    info = record_info(path, fs=None if kind in ("wfdb", "edf") else FS)
    whole = read_record(path, fs=None if kind in ("wfdb", "edf") else FS).signals[:, 0]
    cores = [(0, 10_000), (10_000, 20_000), (20_000, N)]
    reads = [(max(a - 500, 0), min(b + 500, N)) for a, b in cores]
    parts = list(iter_windows(info, reads))
    pieces = zip(parts, cores, reads, strict=True)
    joined = np.concatenate([p[a - r : b - r] for p, (a, b), (r, _) in pieces])
    np.testing.assert_array_equal(joined, whole)


def test_csv_without_header_and_with_blank_lines_at_the_end(tmp_path):
    values = signals(2000)
    path = tmp_path / "bare.csv"
    path.write_text("".join(f"{a:.3f};{b:.3f}\r\n" for a, b in values) + "\r\n\n")
    info = record_info(path, fs=FS)
    assert info.n_samples == 2000 and info.lead_names == ("lead0", "lead1")
    np.testing.assert_array_equal(read_window(info, 1990, 2000, lead=1), values[1990:, 1])


def test_csv_windows_must_come_in_order(records):
    info = record_info(records["csv"], fs=FS)
    windows = iter_windows(info, [(5000, 6000), (100, 200)])
    next(windows)
    with pytest.raises(EcgLensError, match="in order"):
        next(windows)


def test_csv_windows_with_gaps_skip_the_rows_between(records, monkeypatch):
    monkeypatch.setattr(chunks, "CSV_CHUNK_ROWS", 700)
    info = record_info(records["csv"], fs=FS)
    spans = [(10, 50), (3000, 3100), (20_000, 20_001), (N - 5, N)]
    whole = signals()[:, 0]
    for (a, b), got in zip(spans, iter_windows(info, spans), strict=True):
        np.testing.assert_array_equal(got, whole[a:b])


def test_read_window_holds_only_the_window(tmp_path):
    """A 16 MB NPY file, a 160 kB window: the memory traced while reading is the window's."""
    path = tmp_path / "big.npy"
    values = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(1_000_000, 2))
    values[:] = 1.0
    values.flush()
    del values
    info = record_info(path, fs=FS)
    tracemalloc.start()
    window = read_window(info, 400_000, 420_000, lead=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert window.nbytes == 160_000
    assert peak < 3 * window.nbytes  # the file (16 MB) is memory-mapped, never loaded


def test_streamed_csv_holds_a_window_and_a_chunk(tmp_path, monkeypatch):
    """200,000 rows (1.6 MB a lead in float64) in 2,000-row windows: what is held is a
    window, a chunk and pandas' read buffer, not the lead."""
    n = 200_000
    monkeypatch.setattr(chunks, "CSV_CHUNK_ROWS", 1000)
    info = record_info(write_csv(tmp_path / "long.csv", signals(n)), fs=FS)
    spans = [(a, a + 2000) for a in range(0, n, 2000)]
    tracemalloc.start()
    total = sum(len(w) for w in iter_windows(info, spans, lead=0))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total == n
    assert peak < n * 8 / 2


def test_errors_name_the_file(tmp_path, records):
    with pytest.raises(EcgLensError, match="missing.npy: file not found"):
        record_info(tmp_path / "missing.npy", fs=FS)
    with pytest.raises(EcgLensError, match="needs its sampling rate"):
        record_info(records["npy"])
    with pytest.raises(EcgLensError, match="header says 100 Hz but 250 Hz"):
        record_info(records["wfdb"], fs=250)
    with pytest.raises(EcgLensError, match=r"plain.npy: no lead 'II'"):
        read_window(records["npy"], 0, 10, fs=FS, lead="II")
    with pytest.raises(EcgLensError, match=r"plain.npy: window \[0, 99999\) outside"):
        read_window(records["npy"], 0, 99_999, fs=FS)
    text = np.array(["a", "b"])
    np.save(tmp_path / "text.npy", text)
    with pytest.raises(EcgLensError, match="text.npy: expected numbers"):
        record_info(tmp_path / "text.npy", fs=FS)


def test_strict_refuses_what_read_record_refuses(tmp_path):
    folder = write_wfdb(tmp_path, signals(2000)).parent
    dat = folder / "rec.dat"
    dat.write_bytes(dat.read_bytes() + bytes(40))  # 10 frames more than the header says
    assert "holds 2010 samples" in record_info(folder / "rec").warnings[0]
    with pytest.raises(EcgLensError, match="refused under strict reading"):
        read_record(folder / "rec", strict=True)
    with pytest.raises(EcgLensError, match="rec.dat: .*refused under strict reading"):
        record_info(folder / "rec", strict=True)


def test_nan_is_reported_with_its_time(tmp_path):
    values = signals(5000)
    values[3000, 0] = np.nan
    path = tmp_path / "gap.npy"
    np.save(path, values)
    assert read_window(path, 0, 2000, fs=FS).shape == (2000,)
    with pytest.raises(EcgLensError, match=r"gap.npy: 1 samples are NaN or infinite \(the first "
                       r"at 30.000 s\)"):  # fmt: skip
        read_window(path, 2000, 4000, fs=FS)


def test_records_read_only_whole_are_refused_as_not_windowed(tmp_path):
    edfio = pytest.importorskip("edfio")
    edfio.Bdf([edfio.BdfSignal(np.sin(np.arange(512) / 10), 256, label="ECG")]).write(
        tmp_path / "x.bdf"
    )
    with pytest.raises(NotWindowed, match="x.bdf: a BDF file"):
        record_info(tmp_path / "x.bdf")
    wide = tmp_path / "rows.csv"
    wide.write_text("\n".join(",".join(["0.1"] * 50) for _ in range(3)) + "\n")
    with pytest.raises(NotWindowed, match="leads in rows"):
        record_info(wide, fs=FS)
    for part in ("seg1", "seg2"):
        write_wfdb(tmp_path, signals(200), name=part)
    (tmp_path / "multi.hea").write_text("multi/2 2 100 400\nseg1 200\nseg2 200\n")
    assert read_record(tmp_path / "multi").n_samples == 400
    with pytest.raises(NotWindowed, match="multi.hea: a multi-segment record"):
        record_info(tmp_path / "multi")
    assert issubclass(NotWindowed, EcgLensError)
