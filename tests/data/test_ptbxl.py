"""PTB-XL labels, loading, caching and folds: hand-made rows, tiny WFDB records, real data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglens.data import ptbxl
from ecglens.data.ptbxl import (
    LEADS_12,
    SUPERCLASSES,
    PtbxlConfig,
    binary_label,
    check_patient_disjoint,
    diagnostic_superclass_map,
    load_ptbxl,
    load_ptbxl_metadata,
    split_by_fold,
    superclasses_of,
)
from ecglens.errors import EcgLensError

STATEMENTS = pd.DataFrame(
    {
        "diagnostic": [1.0, 1.0, 1.0, 1.0, np.nan, np.nan],
        "diagnostic_class": ["NORM", "MI", "STTC", "CD", np.nan, np.nan],
    },
    index=["NORM", "IMI", "NDT", "CLBBB", "SR", "AFLT"],
)
CODE_TO_CLASS = diagnostic_superclass_map(STATEMENTS)


def test_superclass_rule_on_hand_made_rows():
    assert CODE_TO_CLASS == {"NORM": "NORM", "IMI": "MI", "NDT": "STTC", "CLBBB": "CD"}
    assert superclasses_of({"NORM": 100.0, "SR": 0.0}, CODE_TO_CLASS) == ["NORM"]
    assert superclasses_of({"IMI": 15.0, "NORM": 80.0}, CODE_TO_CLASS) == ["NORM", "MI"]
    assert superclasses_of({"SR": 0.0, "AFLT": 100.0}, CODE_TO_CLASS) == []
    # likelihood threshold: >= min_likelihood counts, a likelihood of 0 counts by default
    assert superclasses_of({"NDT": 0.0}, CODE_TO_CLASS) == ["STTC"]
    assert superclasses_of({"NDT": 0.0, "IMI": 50.0}, CODE_TO_CLASS, 50) == ["MI"]
    assert superclasses_of({"IMI": 35.0}, CODE_TO_CLASS, 50) == []


def test_binary_rule():
    assert binary_label(["NORM"]) == 0.0
    assert binary_label(["NORM", "MI"]) == 1.0  # NORM with another superclass: abnormal
    assert binary_label(["CD"]) == 1.0
    assert math.isnan(binary_label([]))


ROWS = [  # ecg_id, patient_id, scp_codes, strat_fold
    (1, 10.0, "{'NORM': 100.0, 'SR': 0.0}", 1),
    (2, 11.0, "{'NORM': 80.0, 'IMI': 15.0}", 2),
    (3, 12.0, "{'SR': 0.0}", 3),
    (4, 13.0, "{'CLBBB': 100.0, 'NDT': 0.0}", 9),
    (5, 14.0, "{'NORM': 100.0}", 10),
]
LEAD_ORDER_ON_DISK = ["V6", "I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5"]


@pytest.fixture
def fake_ptbxl_folder(tmp_path: Path, ptbxl_tables):
    """``fake_ptbxl_folder(write_ids=(1, 2, 4, 5), corrupt_ids=(5,)) -> tmp_path``: a
    PTB-XL-shaped folder under ``tmp_path``, metadata for ROWS, 100 Hz WFDB records for
    ``write_ids`` (``corrupt_ids`` truncated)."""

    def make(write_ids=(1, 2, 4, 5), corrupt_ids=(5,)) -> Path:
        _write_records(ptbxl_tables(tmp_path, ROWS, STATEMENTS), write_ids, corrupt_ids)
        return tmp_path

    return make


def _write_records(rec_dir: Path, write_ids, corrupt_ids) -> None:
    import wfdb

    t = np.arange(1000) / 100.0
    for ecg_id in write_ids:
        # lead k of LEADS_12 carries the value k/10 + ecg_id/100 (+ a small 1 Hz wave)
        sig = np.stack(
            [
                LEADS_12.index(n.replace("AV", "aV")) / 10 + ecg_id / 100 + 0.05 * np.sin(t)
                for n in LEAD_ORDER_ON_DISK
            ],
            axis=1,
        )
        wfdb.wrsamp(
            f"{ecg_id:05d}_lr", fs=100, units=["mV"] * 12, sig_name=LEAD_ORDER_ON_DISK,
            p_signal=sig, fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12,
            write_dir=str(rec_dir),
        )  # fmt: skip
    for ecg_id in corrupt_ids:
        dat = rec_dir / f"{ecg_id:05d}_lr.dat"
        dat.write_bytes(dat.read_bytes()[:100])


def test_metadata_columns_on_hand_made_rows(tmp_path, fake_ptbxl_folder):
    root = fake_ptbxl_folder()
    meta = load_ptbxl_metadata(root)
    assert list(meta.index) == [1, 2, 3, 4, 5]
    assert meta.loc[2, "superclasses"] == ["NORM", "MI"]
    assert meta.loc[4, "superclasses"] == ["STTC", "CD"]
    assert meta["binary"].tolist()[:2] == [0.0, 1.0] and math.isnan(meta.loc[3, "binary"])
    assert meta["has_lr"].tolist() == [True, True, False, True, True]
    assert not meta["has_hr"].any()
    assert meta["patient_id"].dtype == np.int64
    strict = load_ptbxl_metadata(root, min_likelihood=20)
    assert strict.loc[2, "superclasses"] == ["NORM"] and strict.loc[2, "binary"] == 0.0


def test_load_counts_skips_reorders_and_caches(tmp_path, monkeypatch, fake_ptbxl_folder):
    root = fake_ptbxl_folder(write_ids=(1, 2, 5), corrupt_ids=(5,))
    messages: list[str] = []
    config = PtbxlConfig(root, task="superclass")
    data = load_ptbxl(config, progress=False, cache_dir=tmp_path / "cache", log=messages.append)
    # 3 excluded (no superclass); 4 missing; 5 truncated -> unreadable
    assert data.n_excluded == 1 and data.missing == [4] and list(data.failed) == [5]
    assert "truncated" in data.failed[5] and data.n_skipped == 2
    assert data.ecg_id.tolist() == [1, 2] and data.x.shape == (2, 12, 1000)
    assert data.x.dtype == np.float32 and data.y.shape == (2, len(SUPERCLASSES))
    assert data.y[1].tolist() == [1, 1, 0, 0, 0]
    # leads come back in LEADS_12 order whatever the order and case in the header
    assert np.allclose(data.x[1].mean(axis=1), np.arange(12) / 10 + 0.02, atol=0.01)
    assert "2 records loaded" in messages[0] and "1 not on disk" in messages[0]

    caches = list((tmp_path / "cache").glob("ptbxl_100hz_*.npz"))
    assert len(caches) == 1

    def no_reading(*args, **kwargs):
        raise AssertionError("records read although cached")

    monkeypatch.setattr(ptbxl, "read_ptbxl_signals", no_reading)
    again = load_ptbxl(config, progress=False, cache_dir=tmp_path / "cache", log=messages.append)
    assert np.array_equal(again.x, data.x) and again.failed == data.failed
    assert "from cache" in messages[1]
    binary = load_ptbxl(PtbxlConfig(root), progress=False, cache_dir=tmp_path / "cache", log=None)
    assert binary.y.tolist() == [0.0, 1.0]


def test_split_and_patient_check(tmp_path, fake_ptbxl_folder):
    root = fake_ptbxl_folder(write_ids=(1, 2, 4, 5), corrupt_ids=())
    config = PtbxlConfig(root)
    data = load_ptbxl(config, progress=False, cache_dir=None)
    train, val, test = split_by_fold(data, config)
    assert train.ecg_id.tolist() == [1, 2] and val.ecg_id.tolist() == [4]
    assert test.ecg_id.tolist() == [5]
    check_patient_disjoint(data)
    data.patient_id[3] = data.patient_id[0]  # same patient in folds 1 and 10
    with pytest.raises(EcgLensError, match="1 patients"):
        check_patient_disjoint(data)
    with pytest.raises(EcgLensError, match="two of"):
        split_by_fold(data, PtbxlConfig(root, val_folds=(8, 9)))


def test_config_validation(tmp_path):
    with pytest.raises(EcgLensError):
        PtbxlConfig(tmp_path, sampling_rate=250)
    with pytest.raises(EcgLensError):
        PtbxlConfig(tmp_path, task="rhythm")
    with pytest.raises(EcgLensError, match="PTB-XL not found"):
        load_ptbxl_metadata(tmp_path)


# ---- real data (ECGLENS_DATA) ----


@pytest.fixture(scope="module")
def data_root(ptbxl_dir) -> Path:
    return ptbxl_dir.parent


@pytest.fixture(scope="module")
def real_meta(data_root):
    return load_ptbxl_metadata(data_root)


def test_real_metadata_counts(real_meta):
    meta = real_meta
    assert meta.index.is_unique and meta["strat_fold"].between(1, 10).all()
    if len(meta) != 1987:
        pytest.skip(f"not the 1,987-record subset ({len(meta)} rows): exact counts not checked")
    counts = {c: sum(c in s for s in meta["superclasses"]) for c in SUPERCLASSES}
    assert counts == {"NORM": 1051, "MI": 370, "STTC": 467, "CD": 410, "HYP": 215}
    assert int(meta["binary"].isna().sum()) == 22
    assert meta["binary"].value_counts().to_dict() == {0.0: 1007, 1.0: 958}
    assert meta["strat_fold"].value_counts().sort_index().tolist() == [
        212, 178, 177, 193, 207, 156, 196, 171, 242, 255
    ]  # fmt: skip
    assert int(meta["has_lr"].sum()) == 1987 and int(meta["has_hr"].sum()) == 19


def test_real_no_patient_in_two_folds(real_meta):
    check_patient_disjoint(real_meta)


def test_real_500hz_records_load(data_root, tmp_path):
    data = load_ptbxl(PtbxlConfig(data_root, sampling_rate=500), progress=False, cache_dir=tmp_path)
    assert len(data) > 0 and data.x.shape[1:] == (12, 5000) and data.fs == 500.0
    assert not data.failed
    assert np.isfinite(data.x).all() and 0.05 < np.abs(data.x).max() < 20.0  # mV scale


@pytest.mark.slow
def test_real_100hz_full_load(data_root, tmp_path):
    config = PtbxlConfig(data_root)
    data = load_ptbxl(config, progress=False, cache_dir=tmp_path)
    meta = load_ptbxl_metadata(data_root)
    assert len(data) + data.n_skipped == int(meta["binary"].notna().sum())
    assert not data.failed and data.x.shape[1:] == (12, 1000)
    train, val, test = split_by_fold(data, config)
    assert len(train) + len(val) + len(test) == len(data)
    assert set(np.unique(test.strat_fold)) == {10}
    check_patient_disjoint(data)
