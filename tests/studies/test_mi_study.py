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


def test_cells_saved_before_runs_named_their_beats_are_reused(tmp_path):
    import json
    from dataclasses import asdict

    from ecglens.studies.mi import _finished

    cfg = MiBenchmarkConfig(epochs=1, device="cpu")
    run = cfg.run("scratch", 1.0, 0)
    saved = json.loads(json.dumps(asdict(run)))
    saved.pop("beats")  # a cell trained before MiRunConfig held a BeatConfig
    (tmp_path / "model.json").write_text(json.dumps({"run": saved}))
    assert _finished(tmp_path, run) is not None  # the default beats: the same run
    window = MiBenchmarkConfig(epochs=1, device="cpu").run("scratch", 1.0, 0)
    window.beats = BeatConfig(representation="window")
    assert _finished(tmp_path, window) is None  # another beat config: trained again
