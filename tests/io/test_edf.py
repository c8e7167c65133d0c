"""EDF/EDF+/BDF files written with edfio and read back; ECG channel chosen by label."""

from pathlib import Path

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.io import ecg_channel, read_record, select_lead

edfio = pytest.importorskip("edfio")

FS = 256
T = np.arange(0, 4, 1 / FS)
ECG_MV = 1.2 * np.sin(2 * np.pi * 1.1 * T) + 0.1


def write_edf(path: Path) -> Path:
    """Resp (Ohm) first, an ECG in uV, an ECG in V, all at 256 Hz; SpO2 at 1 Hz."""
    edfio.Edf(
        [
            edfio.EdfSignal(np.sin(T), FS, label="Resp", physical_dimension="Ohm"),
            edfio.EdfSignal(ECG_MV * 1000, FS, label="ECG II", physical_dimension="uV"),
            edfio.EdfSignal(-ECG_MV / 1000, FS, label="EKG2", physical_dimension="V"),
            edfio.EdfSignal(
                np.full(4, 97.0), 1, label="SpO2", physical_dimension="%", physical_range=(0, 100)
            ),
        ]
    ).write(path)
    return path


def test_reads_edf_with_labels_units_and_rate(tmp_path):
    record = read_record(write_edf(tmp_path / "holter.edf"))
    assert record.fs == FS and record.name == "holter"
    assert record.lead_names == ["Resp", "ECG II", "EKG2"]  # SpO2 is at another rate
    assert record.units == ["Ohm", "mV", "mV"]
    assert record.warnings == ["channels at other rates than 256 Hz left out: SpO2 (1 Hz)"]
    resolution = 2.5 / 65535  # the physical range over 16 bits, in mV
    np.testing.assert_allclose(record.signals[:, 1], ECG_MV, atol=resolution)
    np.testing.assert_allclose(record.signals[:, 2], -ECG_MV, atol=resolution)
    signal, name = select_lead(record)  # Resp comes first but is no ECG
    assert name == "ECG II" and signal.shape == (4 * FS,)
    assert read_record(tmp_path / "holter", fs=FS).lead_names == record.lead_names
    with pytest.raises(EcgLensError, match=r"holter\.edf: header says 256 Hz but 250 Hz"):
        read_record(tmp_path / "holter.edf", fs=250)


def test_reads_bdf(tmp_path):
    edfio.Bdf([edfio.BdfSignal(ECG_MV, FS, label="ECG", physical_dimension="mV")]).write(
        tmp_path / "x.bdf"
    )
    record = read_record(tmp_path / "x.bdf")
    assert record.lead_names == ["ECG"] and record.units == ["mV"] and record.warnings == []
    np.testing.assert_allclose(record.signals[:, 0], ECG_MV, atol=1e-5)


def test_truncated_edf_is_an_error(tmp_path):
    path = write_edf(tmp_path / "t.edf")
    data = path.read_bytes()
    path.write_bytes(data[:-300])
    with pytest.raises(EcgLensError, match=r"t\.edf: file truncated: \d+ bytes, header implies"):
        read_record(path)


def test_edf_longer_than_its_header_is_a_warning(tmp_path):
    path = write_edf(tmp_path / "long.edf")
    data = path.read_bytes()
    record_bytes = (3 * FS + 1) * 2  # one data record: 1 s of three 256 Hz signals and SpO2
    path.write_bytes(data + data[-record_bytes:])
    record = read_record(path)
    assert record.n_samples == 4 * FS
    assert (
        record.warnings[0] == f"{record_bytes} bytes after the 4 data records the header "
        "declares: read those 4"
    )
    with pytest.raises(EcgLensError, match=r"long\.edf: .*bytes after the 4 data records"):
        read_record(path, strict=True)


def test_discontinuous_edf_is_a_warning(tmp_path):
    path = write_edf(tmp_path / "d.edf")
    data = bytearray(path.read_bytes())
    data[192:197] = b"EDF+D"
    path.write_bytes(bytes(data))
    assert any("EDF+D" in w for w in read_record(path).warnings)
    with pytest.raises(EcgLensError, match=r"d\.edf: discontinuous .*strict"):
        read_record(path, strict=True)


def test_not_an_edf(tmp_path):
    (tmp_path / "fake.edf").write_text("hello")
    with pytest.raises(EcgLensError, match=r"fake\.edf: not an EDF/BDF file"):
        read_record(tmp_path / "fake.edf")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["Resp", "ECG", "EEG Fpz-Cz"], 1),
        (["ECG1", "ECG2"], 0),
        (["EKG-2", "EKG"], 1),
        (["I", "II", "III", "aVR"], 1),
        (["V1", "MLII"], 1),
        (["ECG V5", "ECG_II"], 1),
        (["Pleth", "ECG HR", "ECG"], 2),
        (["Resp", "SpO2", "EMG"], None),
        ([], None),
    ],
)
def test_ecg_channel(names, expected):
    assert ecg_channel(names) == expected


def test_windowed_reads_are_the_whole_reads_slices(tmp_path):
    from ecglens.io.edf import open_edf, read_edf_record, read_edf_samples

    path = write_edf(tmp_path / "holter.edf")
    whole = read_edf_record(path)
    window = read_edf_record(path, sampfrom=100, sampto=300)
    np.testing.assert_array_equal(window.signals, whole.signals[100:300])
    assert window.lead_names == whole.lead_names and window.warnings == whole.warnings
    lazy = open_edf(path, lazy=True)
    assert lazy.n_samples == whole.n_samples and lazy.lead_names == whole.lead_names
    np.testing.assert_allclose(read_edf_samples(lazy, 1, 100, 300), whole.signals[100:300, 1])


def _patch_field(path: Path, offset: int, value: str) -> None:
    """Overwrite one 8-byte ASCII field of an EDF header."""
    data = bytearray(path.read_bytes())
    data[offset : offset + 8] = value.ljust(8).encode("ascii")
    path.write_bytes(bytes(data))


def _one_ecg_edf(path: Path) -> Path:
    edfio.Edf([edfio.EdfSignal(ECG_MV, FS, label="ECG", physical_dimension="mV")]).write(path)
    return path


@pytest.mark.parametrize(
    ("offset", "kind"),
    [(256 + 16 + 80 + 8 + 8, "physical"), (256 + 16 + 80 + 8 + 8 + 8 + 8, "digital")],
)
def test_channel_without_calibration_is_a_one_line_error(tmp_path, offset, kind):
    """Physical (or digital) maximum equal to the minimum: no scaling to mV, not raw counts."""
    path = _one_ecg_edf(tmp_path / "flat.edf")
    minimum = path.read_bytes()[offset - 8 : offset].decode("ascii").strip()
    _patch_field(path, offset, minimum)
    with pytest.raises(EcgLensError, match=rf"flat\.edf: channel 'ECG': {kind} minimum") as info:
        read_record(path)
    assert "\n" not in str(info.value)


def test_rate_outside_ecg_rates_is_refused(tmp_path):
    """Data records of 500,000 s: 0.0005 Hz, a rate no ECG has (and a resampling bomb)."""
    path = _one_ecg_edf(tmp_path / "slow.edf")
    _patch_field(path, 244, "500000")
    with pytest.raises(EcgLensError, match=r"slow\.edf: channel 'ECG': sampling rate .* outside"):
        read_record(path)
