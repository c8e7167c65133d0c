"""Every WFDB variant wfdb reads: formats, byte offsets, .mat signal files, several samples
per frame, multi-segment records, and the header oddities that are warnings, not errors."""

from pathlib import Path

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.io import read_record, select_lead

FS = 360
N = 300  # frames; a multiple of 2 and 3 so packed formats end on whole blocks
# format -> (adc resolution in bits, amplitude in adu that fits it)
FORMATS = {
    "8": (8, 100),
    "16": (16, 30000),
    "24": (24, 7_900_000),
    "32": (32, 2_000_000_000),
    "61": (16, 30000),
    "80": (8, 120),
    "160": (16, 30000),
    "212": (12, 1900),
    "310": (10, 480),
    "311": (10, 480),
}


def digital_signals(amplitude: int, n: int = N, k: int = 2) -> np.ndarray:
    """(n, k) int64 samples within +-1.05 ``amplitude``: sines of different phases, slow
    enough for format 8's deltas, with an offset so that their sums (checksums) are not 0."""
    t = np.arange(n)[:, None] / 100
    return np.round(amplitude * (np.sin(2 * np.pi * t + np.arange(k)) + 0.05)).astype(np.int64)


def encode(fmt: str, d: np.ndarray, init: np.ndarray) -> bytes:
    """Samples (n_frames, n_signals) as the bytes of a WFDB signal file in ``fmt``."""
    flat = d.reshape(-1)
    if fmt == "8":
        return np.diff(d, axis=0, prepend=init[None, :]).astype(np.int8).tobytes()
    if fmt in ("16", "61", "32", "160", "80"):
        dtype = {"16": "<i2", "61": ">i2", "32": "<i4", "160": "<u2", "80": "u1"}[fmt]
        shift = {"160": 32768, "80": 128}.get(fmt, 0)
        return (flat + shift).astype(dtype).tobytes()
    if fmt == "24":
        return flat.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    u = flat & (0xFFF if fmt == "212" else 0x3FF)
    if fmt == "212":
        a, b = u[0::2], u[1::2]
        out = np.stack([a & 0xFF, (a >> 8) | ((b >> 8) << 4), b & 0xFF], axis=1)
    elif fmt == "310":
        a, b, c = u[0::3], u[1::3], u[2::3]
        out = np.stack(
            [
                (a & 0x7F) << 1,
                (a >> 7) | ((c & 0x1F) << 3),
                (b & 0x7F) << 1,
                (b >> 7) | ((c >> 5) << 3),
            ],
            axis=1,
        )
    else:  # 311
        a, b, c = u[0::3], u[1::3], u[2::3]
        out = np.stack(
            [a & 0xFF, (a >> 8) | ((b & 0x3F) << 2), (b >> 6) | ((c & 0xF) << 4), c >> 4], axis=1
        )
    return out.astype(np.uint8).tobytes()


def checksum(x: np.ndarray) -> int:
    """The WFDB checksum: the 16-bit (signed) sum of the samples."""
    s = int(x.sum()) % 65536
    return s - 65536 if s >= 32768 else s


def write_record(
    folder: Path,
    name: str,
    fmt: str,
    d: np.ndarray,
    *,
    offset: int = 0,
    gains: tuple[str, ...] = ("200(0)/mV", "1000(5)/uV"),
    sig_names: tuple[str, ...] = ("II", "V1"),
    checksums: list | None = None,
    inits: list | None = None,
    sig_len: int | None = None,
) -> Path:
    """Write ``<name>.hea`` and ``<name>.dat`` by hand; ``d`` is (n_frames, n_signals).

    A checksum of None leaves the checksum, block size and description fields out.
    """
    k = len(sig_names)
    init = d[0] if inits is None else np.asarray(inits)
    sums = [checksum(d[:, i]) for i in range(k)] if checksums is None else checksums
    field = fmt + (f"+{offset}" if offset else "")
    lines = [f"{name} {k} {FS} {d.shape[0] if sig_len is None else sig_len}"]
    for i in range(k):
        line = f"{name}.dat {field} {gains[i]} {FORMATS[fmt][0]} 0 {int(init[i])}"
        if sums[i] is not None:
            line += f" {sums[i]} 0 {sig_names[i]}"
        lines.append(line)
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    (folder / f"{name}.dat").write_bytes(b"\x00" * offset + encode(fmt, d, init))
    return folder / name


def expected_mv(d: np.ndarray) -> np.ndarray:
    """Physical values of the two default signals, in mV (200 adu/mV; 1000 adu/uV, base 5)."""
    return np.column_stack([d[:, 0] / 200, (d[:, 1] - 5) / 1000 / 1000])


@pytest.mark.parametrize("fmt", sorted(FORMATS, key=int))
def test_every_format_round_trips(tmp_path, fmt):
    d = digital_signals(FORMATS[fmt][1])
    path = write_record(tmp_path, f"f{fmt}", fmt, d)
    record = read_record(path)
    assert record.warnings == []
    assert record.fs == FS and record.lead_names == ["II", "V1"]
    assert record.units == ["mV", "mV"]
    np.testing.assert_allclose(record.signals, expected_mv(d), rtol=0, atol=1e-12)


def test_wfdb_written_formats_match_the_hand_written_ones(tmp_path):
    import wfdb

    d = digital_signals(1500)
    for fmt in ("16", "80", "212", "24", "32", "508", "516", "524"):
        dd = np.clip(d, -127, 127) if fmt in ("80", "508") else d
        wfdb.wrsamp(
            f"w{fmt}",
            fs=FS,
            units=["mV", "uV"],
            sig_name=["II", "V1"],
            d_signal=dd,
            fmt=[fmt, fmt],
            adc_gain=[200, 1000],
            baseline=[0, 5],
            write_dir=str(tmp_path),
        )
        record = read_record(tmp_path / f"w{fmt}")
        assert record.warnings == [], fmt
        np.testing.assert_allclose(record.signals, expected_mv(dd), atol=1e-12)


def test_byte_offset(tmp_path):
    d = digital_signals(30000)
    record = read_record(write_record(tmp_path, "off", "16", d, offset=512))
    np.testing.assert_allclose(record.signals, expected_mv(d), atol=1e-12)
    assert record.warnings == []


def test_challenge_2017_mat_with_zero_checksum(tmp_path):
    """As the PhysioNet/CinC Challenge 2017 files: MATLAB v4 ``val`` (1 x n int16), format
    16 at byte offset 24, single lead at 300 Hz, 0 in the checksum field."""
    import scipy.io

    d = digital_signals(800, n=900, k=1)
    scipy.io.savemat(tmp_path / "A00001.mat", {"val": d.T.astype(np.int16)}, format="4")
    assert (tmp_path / "A00001.mat").stat().st_size == 24 + d.size * 2
    (tmp_path / "A00001.hea").write_text(
        f"A00001 1 300 900 05:05:15 1/05/2014\nA00001.mat 16+24 1000/mV 16 0 {d[0, 0]} 0 0 ECG\n"
    )
    for given in ("A00001", "A00001.mat", "A00001.hea"):
        record = read_record(tmp_path / given)
        assert record.fs == 300 and record.lead_names == ["ECG"] and record.units == ["mV"]
        np.testing.assert_allclose(record.signals[:, 0], d[:, 0] / 1000)
        assert len(record.warnings) == 1 and "checksum is 0" in record.warnings[0]
    with pytest.raises(EcgLensError, match=r"A00001\.mat: .*checksum is 0.*strict"):
        read_record(tmp_path / "A00001", strict=True)


def test_mat_without_header(tmp_path):
    (tmp_path / "lonely.mat").write_bytes(b"\x00" * 64)
    with pytest.raises(EcgLensError, match=r"lonely\.mat: a MATLAB file with no WFDB header"):
        read_record(tmp_path / "lonely.mat")


def test_wfdb2mat_v5_file(tmp_path, monkeypatch):
    import wfdb
    from wfdb.io.convert.matlab import wfdb_to_mat

    d = digital_signals(3000)
    wfdb.wrsamp(
        "src",
        fs=FS,
        units=["mV", "uV"],
        sig_name=["II", "V1"],
        d_signal=d,
        fmt=["16", "16"],
        adc_gain=[200, 1000],
        baseline=[0, 5],
        write_dir=str(tmp_path),
    )
    monkeypatch.chdir(tmp_path)
    wfdb_to_mat("src")  # writes srcm.mat (MATLAB v5, data at byte 192) and srcm.hea
    record = read_record(tmp_path / "srcm")
    assert record.warnings == []
    np.testing.assert_allclose(record.signals, expected_mv(d), atol=1e-12)


def test_several_samples_per_frame(tmp_path):
    """II at 4 samples per frame, Resp at 1: frames of [II x4, Resp]; read at 4 x 100 Hz."""
    fast = digital_signals(1000, n=4 * N, k=1)[:, 0]
    slow = np.arange(N) * 10
    frames = np.column_stack([fast.reshape(N, 4), slow])
    body = frames.astype("<i2").tobytes()
    (tmp_path / "mf.hea").write_text(
        f"mf 2 100 {N}\n"
        f"mf.dat 16x4 200/mV 16 0 {fast[0]} {checksum(fast)} 0 II\n"
        f"mf.dat 16 100/NU 16 0 0 {checksum(slow)} 0 Resp\n"
    )
    (tmp_path / "mf.dat").write_bytes(body)
    record = read_record(tmp_path / "mf")
    assert record.fs == 400 and record.lead_names == ["II", "Resp"]
    assert record.units == ["mV", "NU"]
    np.testing.assert_allclose(record.signals[:, 0], fast / 200)
    np.testing.assert_allclose(record.signals[::4, 1], slow / 100)
    assert any("Resp interpolated to 400 Hz" in w for w in record.warnings)


def test_multi_segment_fixed_layout(tmp_path):
    d = digital_signals(1900, n=2 * N)
    write_record(tmp_path, "fx_1", "16", d[:N])
    write_record(tmp_path, "fx_2", "212", d[N:])
    (tmp_path / "fx.hea").write_text(f"fx/2 2 {FS} {2 * N}\nfx_1 {N}\nfx_2 {N}\n")
    record = read_record(tmp_path / "fx")
    assert record.name == "fx" and record.fs == FS and record.lead_names == ["II", "V1"]
    assert record.warnings == []
    np.testing.assert_allclose(record.signals, expected_mv(d), atol=1e-12)


def test_multi_segment_variable_layout_with_gaps(tmp_path):
    d = digital_signals(1900, n=2 * N)
    (tmp_path / "vr_layout.hea").write_text(
        f"vr_layout 3 {FS} 0\n~ 0 200/mV 16 0 0 0 0 II\n~ 0 200/mV 16 0 0 0 0 V1\n"
        "~ 0 200/mV 16 0 0 0 0 ABP\n"
    )
    write_record(tmp_path, "vr_1", "16", d[:N])
    write_record(tmp_path, "vr_3", "16", d[N:, :1], sig_names=("II",), gains=("200/mV",))
    (tmp_path / "vr.hea").write_text(
        f"vr/4 3 {FS} {2 * N + 60}\nvr_layout 0\nvr_1 {N}\n~ 60\nvr_3 {N}\n"
    )
    record = read_record(tmp_path / "vr")
    assert record.lead_names == ["II", "V1"]  # ABP is in no segment: left out
    assert record.signals.shape == (2 * N + 60, 2)
    np.testing.assert_allclose(record.signals[:N], expected_mv(d[:N]), atol=1e-12)
    assert np.all(record.signals[N : N + 60] == 0)
    np.testing.assert_allclose(record.signals[N + 60 :, 0], d[N:, 0] / 200)
    assert np.all(record.signals[N:, 1] == 0)
    assert len(record.warnings) == 1 and "gaps" in record.warnings[0]
    assert "II 0.2 s" in record.warnings[0] and "V1 1.0 s" in record.warnings[0]
    with pytest.raises(EcgLensError, match=r"vr\.hea: gaps .*strict"):
        read_record(tmp_path / "vr", strict=True)


def test_multi_segment_missing_segment(tmp_path):
    d = digital_signals(1900)
    write_record(tmp_path, "ms_1", "16", d)
    (tmp_path / "ms.hea").write_text(f"ms/2 2 {FS} {2 * N}\nms_1 {N}\nms_2 {N}\n")
    with pytest.raises(EcgLensError, match=r"ms_2: segment header of record ms missing"):
        read_record(tmp_path / "ms")


def test_segment_warnings_are_named(tmp_path):
    d = digital_signals(1900, n=2 * N)
    write_record(tmp_path, "sw_1", "16", d[:N], checksums=[0, 0])
    write_record(tmp_path, "sw_2", "16", d[N:])
    (tmp_path / "sw.hea").write_text(f"sw/2 2 {FS} {2 * N}\nsw_1 {N}\nsw_2 {N}\n")
    record = read_record(tmp_path / "sw")
    assert len(record.warnings) == 2
    assert all(w.startswith("segment sw_1: signal") for w in record.warnings)
    with pytest.raises(EcgLensError, match=r"sw_1\.dat: .*checksum is 0"):
        read_record(tmp_path / "sw", strict=True)


def test_header_shorter_than_file_is_a_warning(tmp_path):
    d = digital_signals(30000)
    sums = [checksum(d[:200, i]) for i in range(2)]
    path = write_record(tmp_path, "short", "16", d, sig_len=200, checksums=sums)
    record = read_record(path)
    assert record.n_samples == 200
    assert record.warnings == [
        f"short.dat holds {N} samples per signal but the header says 200: read the first 200"
    ]
    with pytest.raises(EcgLensError, match=r"short\.dat: .*holds 300 samples"):
        read_record(path, strict=True)


def test_initial_value_mismatch_is_a_warning(tmp_path):
    d = digital_signals(30000)
    path = write_record(tmp_path, "iv", "16", d, inits=[d[0, 0] + 1, d[0, 1]])
    record = read_record(path)
    assert len(record.warnings) == 1 and "initial value" in record.warnings[0]
    with pytest.raises(EcgLensError, match=r"iv\.dat: signal 'II' starts at"):
        read_record(path, strict=True)


def test_missing_checksum_is_noted_not_refused(tmp_path):
    """Checksums (and the descriptions after them) are optional in a WFDB header."""
    d = digital_signals(30000)
    path = write_record(tmp_path, "nock", "16", d, checksums=[None, None])
    for strict in (False, True):
        record = read_record(path, strict=strict)
        assert record.lead_names == ["lead0", "lead1"]
        assert record.warnings == ["no checksum in the header for lead0, lead1: not verified"]
        np.testing.assert_allclose(record.signals, expected_mv(d), atol=1e-12)


def test_truncated_packed_format_is_an_error(tmp_path):
    d = digital_signals(1900)
    path = write_record(tmp_path, "tr", "212", d)
    data = (tmp_path / "tr.dat").read_bytes()
    (tmp_path / "tr.dat").write_bytes(data[:-3])
    with pytest.raises(EcgLensError, match=r"tr\.dat: signal file truncated: 897 bytes, .*900"):
        read_record(path)


def test_unknown_format_is_an_error(tmp_path):
    d = digital_signals(1900)
    path = write_record(tmp_path, "uf", "16", d)
    header = (
        (tmp_path / "uf.hea")
        .read_text()
        .replace(" 16 200", " 99 200")
        .replace(" 16 1000", " 99 1000")
    )
    (tmp_path / "uf.hea").write_text(header)
    with pytest.raises(EcgLensError, match=r"uf\.hea: unknown signal format '99'"):
        read_record(path, strict=False)


def test_default_lead_skips_a_non_ecg_first_signal(tmp_path):
    d = digital_signals(1900)
    path = write_record(tmp_path, "rs", "16", d, sig_names=("Resp", "ECG"))
    assert select_lead(read_record(path))[1] == "ECG"
