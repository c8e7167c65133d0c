"""PTB-XL MI-vs-normal beats exported as the Kaggle PTB files (a tiny fake PTB-XL)."""

from __future__ import annotations

import numpy as np

from ecglens.data.kaggle_ptb import export_ptbxl_mi_csvs, read_ptbdb_csvs
from ecglens.data.ptbxl_mi import load_mi_beats


def test_export_writes_both_files_from_every_fold(tmp_path, fake_ptbxl):
    root = fake_ptbxl(tmp_path / "data", per_fold=2)  # 10 normal records, 2 MI, 8 other
    out = tmp_path / "kaggle"
    counts = export_ptbxl_mi_csvs(root, out, cache_dir=None, progress=False)
    assert counts["normal_csv"] == str(out / "ptbdb_normal.csv")
    assert counts["abnormal_csv"] == str(out / "ptbdb_abnormal.csv")
    assert counts["records"] == {"normal": 10, "MI": 2} and counts["n_skipped"] == 0
    assert counts["n_patients"] == 12 and counts["lead"] == "II"
    x, y = read_ptbdb_csvs(counts["normal_csv"], counts["abnormal_csv"])
    assert (int(np.sum(y == 0)), int(np.sum(y == 1))) == (counts["n_normal"], counts["n_abnormal"])
    assert counts["n_normal"] > 10 * 5 and counts["n_abnormal"] > 2 * 5  # several beats a record
    beats = load_mi_beats(root, cache_dir=None).beats
    order = np.concatenate([np.flatnonzero(beats.y == 0), np.flatnonzero(beats.y == 1)])
    np.testing.assert_allclose(x, np.clip(beats.x[order], 0, 1), atol=1e-8)
    assert x.min() >= 0.0 and x.max() <= 1.0
