"""Shared fixtures: the demo records in the repo and the full databases under ECGLENS_DATA."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
