"""``ecglens images render``: PTB-XL records as printout images with a manifest."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ecglens.data.rendered import read_manifest
from ecglens.inputs.images import ImageInputConfig, image_input


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecglens", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def ptbxl(fake_ptbxl, tmp_path_factory) -> Path:
    """A synthetic PTB-XL folder (2 records per fold, the second abnormal); record 3's
    signal file is damaged."""
    folder = fake_ptbxl(tmp_path_factory.mktemp("render"), per_fold=2) / "ptb-xl"
    (folder / "records100" / "00000" / "00003_lr.dat").write_bytes(b"\x00\x01")
    return folder


def test_render_three_records_skips_the_bad_one(ptbxl, tmp_path):
    out = tmp_path / "rendered"
    ids = ["--ecg-id", "1", "--ecg-id", "2", "--ecg-id", "3"]
    result = run_cli("images", "render", "--data", str(ptbxl), "--out", str(out), *ids,
                     "--no-progress")  # fmt: skip
    assert result.returncode == 0, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "00003_lr" in errors[0]
    assert "Traceback" not in result.stderr
    manifest = pd.read_csv(out / "manifest.csv")
    assert manifest["ecg_id"].tolist() == [1, 2]
    assert set(manifest.columns) >= {"ecg_id", "file", "label", "strat_fold"}
    meta = pd.read_csv(ptbxl / "ptbxl_database.csv", index_col="ecg_id")
    assert manifest["strat_fold"].tolist() == meta.loc[[1, 2], "strat_fold"].tolist()
    # fake records: the second of each fold is abnormal (an MI, STTC, CD or HYP statement)
    assert manifest["label"].tolist() == ["normal", "abnormal"]
    report = json.loads((out / "render.json").read_text())
    assert list(report["failed"]) == ["3"] and report["n_rendered"] == 2
    rendered = read_manifest(out)
    for path in rendered.files:
        with Image.open(path) as image:
            assert image.size == (738, 524)
        x = image_input(path, ImageInputConfig())  # the image models read it as it is
        assert x.shape == (1, 128, 224) and np.isfinite(x).all()
    assert not list(out.rglob("*.tmp*"))  # atomic writes leave no partial files


def test_render_realism_is_seeded(ptbxl, tmp_path):
    def render(out, seed):
        result = run_cli("images", "render", "--data", str(ptbxl), "--out", str(out),
                         "--ecg-id", "1", "--realism", "1", "--seed", str(seed),
                         "--no-progress")  # fmt: skip
        assert result.returncode == 0, result.stderr
        return np.asarray(Image.open(out / "images" / "00001.png"))

    a, b, c = render(tmp_path / "a", 3), render(tmp_path / "b", 3), render(tmp_path / "c", 4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_render_errors_are_one_line(tmp_path):
    result = run_cli("images", "render", "--data", str(tmp_path), "--out", str(tmp_path / "o"))
    assert result.returncode == 1
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "PTB-XL not found" in lines[0]


def test_render_real_ptbxl_records(ptbxl_dir, tmp_path):
    """Three records of the PTB-XL subset (skips without ECGLENS_DATA)."""
    from ecglens.data.ptbxl import load_ptbxl_metadata
    from ecglens.data.rendered import rendered_label

    ids = ["--ecg-id", "1", "--ecg-id", "8", "--ecg-id", "9"]
    result = run_cli("images", "render", "--data", str(ptbxl_dir), "--out", str(tmp_path), *ids,
                     "--no-progress")  # fmt: skip
    assert result.returncode == 0, result.stderr
    rendered = read_manifest(tmp_path)
    meta = load_ptbxl_metadata(ptbxl_dir)
    expected = [rendered_label(meta.loc[i, "superclasses"]) for i in rendered.ecg_id]
    assert [rendered.classes[k] for k in rendered.labels] == expected
    assert rendered.strat_fold.tolist() == meta.loc[rendered.ecg_id, "strat_fold"].tolist()
