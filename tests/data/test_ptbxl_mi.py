"""PTB-XL MI vs normal beats: label rule, record table, beats, cache, record scores (a tiny fake
PTB-XL folder written with wfdb; slow: the shared PTB-XL subset)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglens.data import ptbxl_mi
from ecglens.data.ptbxl_mi import (
    MI_CLASSES,
    load_mi_beats,
    mi_label,
    mi_record_table,
    record_beats_mi,
    record_probability,
)
from ecglens.errors import EcgLensError

STATEMENTS = pd.DataFrame(
    {
        "diagnostic": [1.0, 1.0, 1.0, 1.0, np.nan],
        "diagnostic_class": ["NORM", "MI", "STTC", "CD", np.nan],
    },
    index=["NORM", "IMI", "NDT", "CLBBB", "SR"],
)
ROWS = [  # ecg_id, patient_id, scp_codes, strat_fold, RR interval (s) of the synthetic ECG
    (1, 10, "{'NORM': 100.0, 'SR': 0.0}", 1, 0.8),
    (2, 11, "{'IMI': 100.0}", 2, 0.6),
    (3, 12, "{'NORM': 50.0, 'IMI': 50.0, 'CLBBB': 100.0}", 9, 1.1),
    (4, 13, "{'NDT': 100.0}", 9, 0.8),  # STTC only: excluded
    (5, 14, "{'SR': 0.0}", 10, 0.8),  # no diagnostic superclass: excluded
    (6, 15, "{'NORM': 100.0}", 10, 0.8),  # file not written
    (7, 16, "{'IMI': 80.0}", 10, 0.8),  # lead II flat
    (8, 17, "{'NORM': 100.0}", 10, 0.8),  # .dat truncated
    (9, 10, "{'NORM': 100.0}", 1, 0.7),  # patient 10 again, same fold
]
LEADS_ON_DISK = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
FS = 100
START_S = 0.4


def _synthetic_ecg(rr: float, amplitude: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """10 s at 100 Hz: narrow R, small S, broad T every ``rr`` s; returns (signal, R samples)."""
    t = np.arange(10 * FS) / FS
    beats = np.arange(START_S, 10.0, rr)
    s = np.zeros_like(t)
    for b in beats:
        s += np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        s -= 0.2 * np.exp(-0.5 * ((t - b - 0.03) / 0.01) ** 2)
        s += 0.3 * np.exp(-0.5 * ((t - b - 0.25) / 0.04) ** 2)
    return amplitude * s, np.round(beats * FS).astype(np.int64)


@pytest.fixture
def fake_ptbxl_mi(tmp_path: Path, ptbxl_tables):
    """``fake_ptbxl_mi(rows=ROWS) -> tmp_path``: a PTB-XL-shaped folder under ``tmp_path``
    (metadata and 100 Hz WFDB records, ids 6-8 missing or broken)."""

    def make(rows=ROWS) -> Path:
        _write_records(ptbxl_tables(tmp_path, rows, STATEMENTS), rows)
        return tmp_path

    return make


def _write_records(rec_dir: Path, rows) -> None:
    import wfdb

    for ecg_id, *_, rr in rows:
        if ecg_id == 6:
            continue
        ecg, _ = _synthetic_ecg(rr)
        sig = np.stack([ecg * (0.5 + k / 24) for k in range(12)], axis=1)
        if ecg_id == 7:
            sig[:, 1] = 0.0
        wfdb.wrsamp(
            f"{ecg_id:05d}_lr", fs=FS, units=["mV"] * 12, sig_name=LEADS_ON_DISK,
            p_signal=sig, fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12,
            write_dir=str(rec_dir),
        )  # fmt: skip
    dat = rec_dir / "00008_lr.dat"
    dat.write_bytes(dat.read_bytes()[:100])


def test_mi_label_rule():
    assert mi_label(["NORM"]) == 0
    assert mi_label(["MI"]) == 1
    assert mi_label(["NORM", "MI"]) == 1  # MI with anything else: MI
    assert mi_label(["MI", "STTC", "CD", "HYP"]) == 1
    assert mi_label(["NORM", "CD"]) is None  # NORM with another superclass: excluded
    assert mi_label(["STTC"]) is None
    assert mi_label([]) is None


def test_record_table_on_fake_folder(tmp_path, fake_ptbxl_mi):
    root = fake_ptbxl_mi()
    table = mi_record_table(root)
    assert list(table.columns) == list(ptbxl_mi.TABLE_COLUMNS)
    assert table["ecg_id"].tolist() == [1, 2, 3, 6, 7, 8, 9]
    assert table["label"].tolist() == [0, 1, 1, 0, 1, 0, 0]
    assert table["strat_fold"].tolist() == [1, 2, 9, 10, 10, 10, 1]
    for column in ("ecg_id", "patient_id", "strat_fold", "label"):
        assert table[column].dtype == np.int64, column
    assert table.loc[0, "path"] == str(root / "ptb-xl" / "records100" / "00000" / "00001_lr")
    strict = mi_record_table(root, min_likelihood=60)  # ecg_id 3's IMI (50) no longer counts
    assert 3 not in strict["ecg_id"].tolist()


def test_record_table_refuses_a_patient_in_two_folds(fake_ptbxl_mi):
    rows = [*ROWS[:-1], (9, 10, "{'NORM': 100.0}", 10, 0.7)]  # patient 10 in folds 1 and 10
    root = fake_ptbxl_mi(rows)
    with pytest.raises(EcgLensError, match="several strat_folds: 10"):
        mi_record_table(root)


def test_record_beats_at_detected_r_peaks(tmp_path, fake_ptbxl_mi):
    root = fake_ptbxl_mi()
    path = root / "ptb-xl" / "records100" / "00000" / "00002_lr"
    beats = record_beats_mi(path)
    _, want = _synthetic_ecg(0.6)
    np.testing.assert_array_equal(beats.sample, want)
    assert beats.x.shape == (len(want), 187) and beats.x.dtype == np.float32
    assert beats.rr.shape == (len(want), 13)
    assert beats.x.min() >= 0.0 and beats.x.max() <= 1.0
    assert np.all(beats.x[:, 0] > 0.95)  # each beat starts on its R peak, the window's maximum
    assert np.all(beats.x[:, 0] >= beats.x[:, :60].max(axis=1) - 1e-6)
    assert beats.y.tolist() == [-1] * len(want) and beats.classes == MI_CLASSES
    assert set(beats.record) == {"00002_lr"} and set(beats.checksums) == {"00002_lr"}
    assert len(record_beats_mi(path, lead="V5")) == len(want)
    with pytest.raises(EcgLensError, match="no lead 'X'"):
        record_beats_mi(path, lead="X")


def test_load_beats_labels_folds_and_skips(tmp_path, fake_ptbxl_mi):
    root = fake_ptbxl_mi()
    calls = []
    mi = load_mi_beats(root, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (7, 7) and len(calls) == 7
    assert set(mi.skipped) == {6, 7, 8}
    assert "no .hea" in mi.skipped[6] and "flat" in mi.skipped[7]
    assert "00008_lr.dat" in mi.skipped[8]
    b = mi.beats
    n_beats = {str(r[0]): len(_synthetic_ecg(r[4])[1]) for r in ROWS if r[0] in (1, 2, 3, 9)}
    names, counts = np.unique(b.record, return_counts=True)
    assert dict(zip(names.tolist(), counts.tolist(), strict=True)) == n_beats
    label = {"1": 0, "2": 1, "3": 1, "9": 0}
    fold = {"1": 1, "2": 2, "3": 9, "9": 1}
    patient = {"1": 10, "2": 11, "3": 12, "9": 10}
    assert b.y.tolist() == [label[r] for r in b.record]
    assert mi.fold.tolist() == [fold[r] for r in b.record]
    assert mi.patient.tolist() == [patient[r] for r in b.record]
    assert b.classes == MI_CLASSES and set(b.checksums) == set(label)
    assert b.class_counts() == {
        "normal": n_beats["1"] + n_beats["9"],
        "MI": n_beats["2"] + n_beats["3"],
    }
    val = load_mi_beats(root, folds=[9])
    assert set(val.beats.record) == {"3"} and not val.skipped
    train = mi.subset(mi.fold <= 8)
    assert set(train.beats.record) == {"1", "2", "9"} and len(train.fold) == len(train)
    with pytest.raises(EcgLensError, match="no beats from the 3 PTB-XL"):
        load_mi_beats(root, folds=[10])


def test_no_r_peak_is_a_skip(tmp_path, monkeypatch, fake_ptbxl_mi):
    root = fake_ptbxl_mi()
    real = ptbxl_mi.ecg_peaks
    # record 9 has a 0.7 s RR: report no R peak for it
    monkeypatch.setattr(
        ptbxl_mi,
        "ecg_peaks",
        lambda s, fs: real(s, fs)[:0] if np.diff(real(s, fs))[0] == 70 else real(s, fs),
    )
    mi = load_mi_beats(root, folds=[1])
    assert set(mi.beats.record) == {"1"}
    assert mi.skipped[9].endswith("00009_lr: no R peaks found on lead II")


def test_cache_is_used_and_keyed_on_lead(tmp_path, monkeypatch, fake_ptbxl_mi):
    root = fake_ptbxl_mi()
    cache = tmp_path / "cache"
    first = load_mi_beats(root, folds=[1, 2], cache_dir=cache)
    files = sorted(p.name for p in (cache / "ptbxl_mi").glob("*.npz"))
    assert [f.split("-")[0] for f in files] == ["00001_lr", "00002_lr", "00009_lr"]

    computed = []
    real = ptbxl_mi.record_beats_mi

    def counting(*args, **kwargs):
        computed.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(ptbxl_mi, "record_beats_mi", counting)
    again = load_mi_beats(root, folds=[1, 2], cache_dir=cache)
    assert computed == []  # all three records read back from the cache
    np.testing.assert_array_equal(again.beats.x, first.beats.x)
    np.testing.assert_array_equal(again.beats.rr, first.beats.rr)
    np.testing.assert_array_equal(again.beats.sample, first.beats.sample)
    assert again.beats.y.tolist() == first.beats.y.tolist()
    assert again.beats.record.tolist() == first.beats.record.tolist()
    assert again.beats.checksums == first.beats.checksums
    assert not list((cache / "ptbxl_mi").glob(".*.tmp"))
    load_mi_beats(root, lead="V5", folds=[1, 2], cache_dir=cache)  # another lead, another key
    assert len(computed) == 3 and len(list((cache / "ptbxl_mi").glob("*.npz"))) == 6


def test_record_probability_mean_and_median():
    p = np.array([0.1, 0.9, 0.2, 0.4, 0.3, 1.0])
    ids = np.array(["7", "3", "7", "3", "7", "3"], dtype=object)
    records, mean = record_probability(p, ids)
    assert records.tolist() == ["7", "3"]  # order of first appearance
    np.testing.assert_allclose(mean, [0.2, 2.3 / 3])
    _, median = record_probability(p, ids, how="median")
    np.testing.assert_allclose(median, [0.2, 0.9])
    labels = record_probability(np.array([1, 1, 0, 0]), np.array([5, 5, 2, 2]))
    assert labels[0].tolist() == [5, 2] and labels[1].tolist() == [1.0, 0.0]
    empty = record_probability(np.zeros(0), np.zeros(0))
    assert len(empty[0]) == len(empty[1]) == 0
    with pytest.raises(EcgLensError, match="how must be"):
        record_probability(p, ids, how="max")
    with pytest.raises(EcgLensError, match="record_ids"):
        record_probability(p, ids[:-1])
    with pytest.raises(EcgLensError, match="NaN"):
        record_probability(np.array([np.nan]), np.array([1]))


@pytest.mark.slow
def test_real_mi_table_is_patient_disjoint_and_gives_beats(ptbxl_dir):
    table = mi_record_table(ptbxl_dir)
    assert set(table["label"]) == {0, 1} and table["ecg_id"].is_unique
    split = np.select(
        [table["strat_fold"] <= 8, table["strat_fold"] == 9], ["train", "val"], "test"
    )
    patients = {s: set(table.loc[split == s, "patient_id"]) for s in ("train", "val", "test")}
    assert not patients["train"] & patients["val"]
    assert not patients["train"] & patients["test"]
    assert not patients["val"] & patients["test"]
    for s in ("val", "test"):  # both classes in every held-out split
        assert set(table.loc[split == s, "label"]) == {0, 1}

    picked = pd.concat([table[table["label"] == k].head(3) for k in (0, 1)])
    beats = [record_beats_mi(p) for p in picked["path"]]
    for b in beats:
        assert 4 <= len(b) <= 30  # 10 s of ECG
        assert b.x.shape[1] == 187 and b.x.min() >= 0.0 and b.x.max() <= 1.0
        assert np.all(np.diff(b.sample) > 0) and b.sample.max() < 1000
    mi = load_mi_beats(ptbxl_dir.parent, folds=[10])
    assert set(mi.fold) == {10} and not mi.skipped
    assert set(mi.beats.y) == {0, 1} and len(np.unique(mi.beats.record)) > 100
