"""The MI learning-curve study on a synthetic PTB-XL folder: every cell trained once and
reused on a second run."""

from __future__ import annotations

import pytest
import torch

from ecglens.errors import EcgLensError
from ecglens.inputs.beats import BeatConfig
from ecglens.studies.mi import MiBenchmarkConfig, run_mi_benchmark


def test_unknown_mode_is_refused():
    with pytest.raises(EcgLensError, match="unknown mode"):
        MiBenchmarkConfig(modes=("transfer",))


def test_learning_curve_benchmark_reuses_cells(fake_ptbxl, mitbih_like, tmp_path):
    torch.set_num_threads(1)
    root = fake_ptbxl(tmp_path / "data", per_fold=8)  # every fold holds MI and normal records
    cfg = MiBenchmarkConfig(
        fractions=(0.5, 1.0),
        seeds=(0,),
        modes=("scratch", "transfer-frozen"),
        init=str(mitbih_like),
        epochs=1,
        device="cpu",
    )
    result = run_mi_benchmark(root, tmp_path / "out", cfg, progress=False, cache_dir=None)
    assert len(result["rows"]) == 4 and (tmp_path / "out" / "learning_curve.png").exists()
    frozen = [e for e in result["summary"] if e["mode"] == "transfer-frozen"]
    assert all("gain_over_scratch" in e for e in frozen)
    assert "transfer-frozen" in (tmp_path / "out" / "benchmark.md").read_text()
    again = run_mi_benchmark(root, tmp_path / "out", cfg, progress=False, cache_dir=None)
    assert all(r["train_seconds"] is None for r in again["rows"])  # every cell reused
    assert [r["test_auc"] for r in again["rows"]] == [r["test_auc"] for r in result["rows"]]
    assert BeatConfig().representation == "kachuee"
