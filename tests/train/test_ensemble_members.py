import json
from dataclasses import replace

import pytest

from ecglens.errors import EcgLensError
from ecglens.studies.mitdb import BenchmarkConfig, cell_run_config
from ecglens.train.ensemble import member_runs
from ecglens.train.mitdb import run_config_dict


def _write_runs(tmp_path, runs):
    dirs = []
    for i, run in enumerate(runs):
        d = tmp_path / f"run{i}"
        d.mkdir(parents=True)
        (d / "run_config.json").write_text(json.dumps(run_config_dict(run)))
        dirs.append(d)
    return dirs


def test_members_differ_only_in_seed_and_share_validation_records(tmp_path):
    base = cell_run_config("kachuee", "rhythm", "focal", BenchmarkConfig(), "median-beat")
    seeds = [replace(base, train=replace(base.train, seed=s), split_seed=0) for s in (1, 2)]
    runs = member_runs(_write_runs(tmp_path / "ok", [base, *seeds]))
    assert [r.train.seed for r in runs] == [0, 1, 2]

    other_split = replace(seeds[0], split_seed=None)  # seed 1 would draw other records
    with pytest.raises(EcgLensError, match="split-seed"):
        member_runs(_write_runs(tmp_path / "split", [base, other_split]))
    other_loss = replace(seeds[0], train=replace(seeds[0].train, loss="ce"))
    with pytest.raises(EcgLensError, match="same run"):
        member_runs(_write_runs(tmp_path / "loss", [base, other_loss]))
    with pytest.raises(EcgLensError, match="same training seed"):
        member_runs(_write_runs(tmp_path / "twice", [base, base]))
    with pytest.raises(EcgLensError, match="at least two"):
        member_runs(_write_runs(tmp_path / "one", [base]))
    with pytest.raises(EcgLensError, match="run_config.json"):
        member_runs([tmp_path / "ok" / "run0", tmp_path / "nowhere"])
