"""Shared fixtures: the demo records in the repo and the full databases under ECGLENS_DATA."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglens.data.ptbxl import LEADS_12

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "data" / "mitdb-demo"


def data_root() -> Path | None:
    root = os.environ.get("ECGLENS_DATA")
    return Path(root) if root else None


@pytest.fixture
def demo_record() -> Path:
    """MIT-BIH record 213 shipped with the repo (path without extension)."""
    return DEMO_DIR / "213"


@pytest.fixture
def mitdb_dir() -> Path:
    """The full MIT-BIH database; skips when ECGLENS_DATA is not set."""
    root = data_root()
    if root is None:
        pytest.skip("ECGLENS_DATA is not set: full MIT-BIH database unavailable")
    path = root / "mitdb"
    if not (path / "100.hea").exists():
        pytest.skip(f"no MIT-BIH database at {path}")
    return path


@pytest.fixture
def nstdb_dir() -> Path:
    root = data_root()
    if root is None:
        pytest.skip("ECGLENS_DATA is not set: noise stress records unavailable")
    path = root / "nstdb"
    if not (path / "118e06.hea").exists():
        pytest.skip(f"no noise stress records at {path}")
    return path


@pytest.fixture
def ptbxl_dir() -> Path:
    root = data_root()
    if root is None:
        pytest.skip("ECGLENS_DATA is not set: PTB-XL subset unavailable")
    path = root / "ptb-xl"
    if not (path / "ptbxl_database.csv").exists():
        pytest.skip(f"no PTB-XL data at {path}")
    return path


# -- a synthetic PTB-XL folder, for training, evaluation and data tests ------------------

STATEMENTS = pd.DataFrame(
    {
        "diagnostic": [1.0, 1.0, 1.0, 1.0, 1.0, np.nan],
        "diagnostic_class": ["NORM", "MI", "STTC", "CD", "HYP", np.nan],
    },
    index=["NORM", "IMI", "NDT", "CLBBB", "LVH", "SR"],
)
ABNORMAL_CODES = ("IMI", "NDT", "CLBBB", "LVH")


def synthetic_ecg(abnormal: bool, rng: np.random.Generator, fs: float = 100.0) -> np.ndarray:
    """(T, 12) mV: narrow spikes every 0.8 s; abnormal records add a wide negative wave after
    each spike; plus baseline wander and noise."""
    n = int(10 * fs)
    t = np.arange(n) / fs
    x = np.zeros(n)
    for beat in np.arange(0.3, 10.0, 0.8):
        x += np.exp(-0.5 * ((t - beat) / 0.015) ** 2)
        if abnormal:
            x -= 0.6 * np.exp(-0.5 * ((t - beat - 0.25) / 0.06) ** 2)
    gains = np.linspace(0.5, 1.5, 12)
    wander = 0.3 * np.sin(2 * np.pi * 0.15 * t + rng.uniform(0, 6))
    sig = x[:, None] * gains[None, :] + wander[:, None]
    return sig + rng.normal(0, 0.02, size=sig.shape)


def _write_fake_ptbxl(root: Path, per_fold: int = 4, seed: int = 0) -> Path:
    """A PTB-XL-shaped folder (metadata, statements, 100 Hz WFDB records), folds 1-10, half of
    each fold normal; abnormal records cycle through MI, STTC, CD, HYP."""
    import wfdb

    folder = root / "ptb-xl"
    rec_dir = folder / "records100" / "00000"
    rec_dir.mkdir(parents=True)
    STATEMENTS.to_csv(folder / "scp_statements.csv")
    rng = np.random.default_rng(seed)
    rows = []
    ecg_id = 0
    for fold in range(1, 11):
        for i in range(per_fold):
            ecg_id += 1
            abnormal = i % 2 == 1
            code = ABNORMAL_CODES[(ecg_id // 2) % 4] if abnormal else "NORM"
            rows.append((ecg_id, 1000 + ecg_id, f"{{'{code}': 100.0, 'SR': 0.0}}", fold))
            wfdb.wrsamp(
                f"{ecg_id:05d}_lr", fs=100, units=["mV"] * 12, sig_name=list(LEADS_12),
                p_signal=synthetic_ecg(abnormal, rng), fmt=["16"] * 12, adc_gain=[1000.0] * 12,
                baseline=[0] * 12, write_dir=str(rec_dir),
            )  # fmt: skip
    pd.DataFrame(
        {
            "ecg_id": [r[0] for r in rows],
            "patient_id": [float(r[1]) for r in rows],
            "scp_codes": [r[2] for r in rows],
            "strat_fold": [r[3] for r in rows],
            "filename_lr": [f"records100/00000/{r[0]:05d}_lr" for r in rows],
            "filename_hr": [f"records500/00000/{r[0]:05d}_hr" for r in rows],
        }
    ).to_csv(folder / "ptbxl_database.csv", index=False)
    return root


@pytest.fixture(scope="session")
def fake_ptbxl() -> Callable[..., Path]:
    """``fake_ptbxl(root, per_fold=4, seed=0)`` writes a PTB-XL-shaped folder under ``root``
    (see :func:`_write_fake_ptbxl`) and returns ``root``."""
    return _write_fake_ptbxl
