import shutil
from pathlib import Path

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.io import read_annotations, read_record, select_lead


def copy_record(src: Path, dst_dir: Path) -> Path:
    for suffix in (".hea", ".dat", ".atr"):
        shutil.copy(src.with_suffix(suffix), dst_dir / (src.name + suffix))
    return dst_dir / src.name


def test_reads_demo_record(demo_record):
    record = read_record(demo_record)
    assert record.fs == 360
    assert record.signals.shape == (650000, 2)
    assert record.lead_names == ["MLII", "V1"]
    signal, name = select_lead(record)
    assert name == "MLII" and signal.shape == (650000,)
    # physical units: MIT-BIH ECG amplitudes are a few mV
    assert 0.5 < np.ptp(signal[:3600]) < 10


def test_reads_with_extension_and_checks_rate(demo_record):
    assert read_record(demo_record.with_suffix(".hea")).name == "213"
    with pytest.raises(EcgLensError, match="360 Hz but 250 Hz"):
        read_record(demo_record, fs=250)


def test_select_lead_by_name_and_index(demo_record):
    record = read_record(demo_record)
    assert select_lead(record, "v1")[1] == "V1"
    assert select_lead(record, 1)[1] == "V1"
    assert select_lead(record, "0")[1] == "MLII"
    with pytest.raises(EcgLensError, match="no lead 'V5'"):
        select_lead(record, "V5")
    with pytest.raises(EcgLensError, match="no lead index 7"):
        select_lead(record, 7)


def test_missing_record_names_the_file(tmp_path):
    with pytest.raises(EcgLensError, match=r"nothere\.hea.*not found"):
        read_record(tmp_path / "nothere")


def test_truncated_dat(demo_record, tmp_path):
    path = copy_record(demo_record, tmp_path)
    data = path.with_suffix(".dat").read_bytes()
    path.with_suffix(".dat").write_bytes(data[: len(data) // 2])
    with pytest.raises(EcgLensError, match=r"213\.dat: signal file truncated"):
        read_record(path)


def test_corrupted_dat_fails_checksum(demo_record, tmp_path):
    path = copy_record(demo_record, tmp_path)
    data = bytearray(path.with_suffix(".dat").read_bytes())
    rng = np.random.default_rng(0)
    data[1000:5000] = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    path.with_suffix(".dat").write_bytes(bytes(data))
    with pytest.raises(EcgLensError, match=r"213\.dat: .*checksum.*corrupted.*strict"):
        read_record(path, strict=True)
    record = read_record(path)  # without strict: read, with one warning per signal
    assert record.signals.shape == (650000, 2)
    assert len(record.warnings) == 2
    assert all("fails its header checksum" in w for w in record.warnings)


def test_malformed_header(demo_record, tmp_path):
    path = copy_record(demo_record, tmp_path)
    path.with_suffix(".hea").write_text("this is not a header\n")
    with pytest.raises(EcgLensError, match=r"213\.hea"):
        read_record(path)


def test_missing_dat(demo_record, tmp_path):
    path = copy_record(demo_record, tmp_path)
    path.with_suffix(".dat").unlink()
    with pytest.raises(EcgLensError, match=r"213\.dat: signal file missing"):
        read_record(path)


def test_annotations(demo_record):
    ann = read_annotations(demo_record)
    assert len(ann.sample) == len(ann.symbol) > 3000
    assert np.all(np.diff(ann.sample) >= 0)
    assert "V" in set(ann.symbol)


def test_csv_and_npy_records(tmp_path):
    t = np.arange(0, 10, 1 / 250)
    signal = np.sin(2 * np.pi * 1.2 * t)
    np.save(tmp_path / "x.npy", signal)
    rec = read_record(tmp_path / "x.npy", fs=250)
    assert rec.fs == 250 and rec.signals.shape == (2500, 1)
    np.savetxt(
        tmp_path / "x.csv",
        np.column_stack([signal, -signal]),
        delimiter=",",
        header="II,V1",
        comments="",
    )
    rec = read_record(tmp_path / "x.csv", fs=250)
    assert rec.lead_names == ["II", "V1"] and rec.signals.shape == (2500, 2)
    with pytest.raises(EcgLensError, match="needs its sampling rate"):
        read_record(tmp_path / "x.csv")


def test_nan_in_csv_is_an_error(tmp_path):
    values = np.ones(100)
    values[10] = np.nan
    np.save(tmp_path / "bad.npy", values)
    with pytest.raises(EcgLensError, match=r"bad\.npy: 1 samples are NaN"):
        read_record(tmp_path / "bad.npy", fs=100)


def test_image_unknown_extension_folder_and_missing_file(tmp_path):
    (tmp_path / "ecg.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(EcgLensError, match=r"ecg\.png: an image \(\.png\), not an ECG signal"):
        read_record(tmp_path / "ecg.png")
    with pytest.raises(EcgLensError, match=r"scan\.JPG: an image"):
        read_record(tmp_path / "scan.JPG")
    (tmp_path / "ecg.xml").write_text("<AnnotatedECG/>")
    with pytest.raises(
        EcgLensError, match=r"ecg\.xml: not an ECG record format .*\(\.xml\).*\.hea"
    ):
        read_record(tmp_path / "ecg.xml")
    (tmp_path / "folder").mkdir()
    with pytest.raises(EcgLensError, match=r"folder: a folder, not a record"):
        read_record(tmp_path / "folder")
    (tmp_path / "blob").write_bytes(b"\x00" * 10)
    with pytest.raises(EcgLensError, match=r"blob: not an ECG record format .*no extension"):
        read_record(tmp_path / "blob")
    with pytest.raises(
        EcgLensError,
        match=r"x\.hea: record not found \(no \.hea header file; also tried x\.edf, x\.bdf\)",
    ):
        read_record(tmp_path / "x")
    with pytest.raises(EcgLensError, match=r"x\.csv: file not found"):
        read_record(tmp_path / "x.csv", fs=250)
    with pytest.raises(EcgLensError, match=r"x\.edf: file not found"):
        read_record(tmp_path / "x.edf")


def test_transposed_samples_are_reported(tmp_path):
    np.save(tmp_path / "t.npy", np.zeros((2, 500)) + np.sin(np.arange(500) / 10))
    record = read_record(tmp_path / "t.npy", fs=250)
    assert record.signals.shape == (500, 2) and record.units == ["mV", "mV"]
    assert record.warnings == ["values read as 2 leads of 500 samples"]


def test_a_time_column_is_left_out_with_a_warning(tmp_path):
    fs = 250.0
    t = np.arange(2500) / fs
    ecg = np.sin(2 * np.pi * 1.2 * t) ** 15
    path = tmp_path / "with_time.csv"
    np.savetxt(path, np.column_stack([t, ecg]), delimiter=",", header="time_s,ecg_mv",
               comments="")
    record = read_record(path, fs=fs)
    assert record.lead_names == ["ecg_mv"] and record.signals.shape == (2500, 1)
    assert "time_s" in record.warnings[0]
    bare = tmp_path / "bare.csv"
    np.savetxt(bare, np.column_stack([np.arange(2500), ecg]), delimiter=",")
    assert read_record(bare, fs=fs).signals.shape == (2500, 1)


def test_a_12_lead_record_gives_lead_ii_to_beat_models():
    from ecglens.io import Record, select_lead

    names = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    record = Record(signals=np.tile(np.arange(12.0), (10, 1)), fs=100.0, lead_names=names,
                    name="r")
    signal, name = select_lead(record)
    assert name == "II" and signal[0] == 1.0


def test_clock_rate_reads_seconds_ms_and_names():
    from ecglens.io.records import clock_rate

    assert clock_rate(np.arange(100) * 0.004) == pytest.approx(250.0)
    assert clock_rate(np.arange(100) * 4.0) == pytest.approx(250.0)  # only a rate in ms
    assert clock_rate(np.arange(100) * 1.0, "time_ms") == pytest.approx(1000.0)
    assert clock_rate(np.arange(100) * 1.0) is None  # 0, 1, 2...: a sample index
    assert clock_rate(np.arange(100) * 0.002, "sample") is None
    assert clock_rate(np.arange(100) * 2000.0, "t_us") == pytest.approx(500.0)


def test_units_factor_converts_only_what_fits_one_unit(tmp_path):
    from ecglens.io.records import units_factor

    where = tmp_path / "x.csv"
    assert units_factor(2.0, None, where) == (1.0, None)
    factor, message = units_factor(2000.0, None, where)
    assert factor == 1e-3 and "only in uV" in message
    factor, message = units_factor(0.002, None, where)
    assert factor == 1e3 and "only in V" in message
    with pytest.raises(EcgLensError, match="x.csv: .* give --units"):
        units_factor(60.0, None, where)
    assert units_factor(2000.0, "uV", where) == (1e-3, None)
    assert "not those of an ECG" in units_factor(2000.0, "mV", where)[1]
    with pytest.raises(EcgLensError, match="--units must be one of mV, uV, V"):
        units_factor(2.0, "kV", where)
