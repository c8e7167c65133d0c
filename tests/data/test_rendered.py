import numpy as np
import pytest

from ecglens.data.ptbxl import load_ptbxl_metadata
from ecglens.data.rendered import (
    MANIFEST,
    RENDERED_CLASSES,
    RenderConfig,
    binary_of_mendeley,
    binary_probabilities,
    read_manifest,
    render_ptbxl,
    render_settings,
    rendered_label,
    write_manifest,
)
from ecglens.errors import EcgLensError


def test_label_rule():
    assert rendered_label(["NORM"]) == "normal"
    assert rendered_label(["MI"]) == "abnormal"
    assert rendered_label(["NORM", "STTC"]) == "abnormal"  # NORM with another: abnormal
    assert rendered_label(["CD", "HYP"]) == "abnormal"
    assert rendered_label([]) is None


def test_mendeley_classes_map_to_normal_vs_abnormal():
    classes = ("normal", "mi", "post_mi", "abnormal")
    assert binary_of_mendeley(classes).tolist() == [0, 1, 1, 1]
    with pytest.raises(EcgLensError, match="unknown Mendeley class"):
        binary_of_mendeley(["sinus"])
    p = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.2, 0.3, 0.4]])
    p2 = binary_probabilities(p, classes)
    assert np.allclose(p2, [[0.7, 0.3], [0.1, 0.9]])
    same = np.array([[0.2, 0.8]])
    assert np.array_equal(binary_probabilities(same, RENDERED_CLASSES), same)
    with pytest.raises(EcgLensError, match="do not match"):
        binary_probabilities(p, RENDERED_CLASSES)


def _rows(folder, n=3):
    (folder / "images").mkdir(parents=True)
    rows = []
    for i in range(n):
        (folder / "images" / f"{i + 1:05d}.png").write_bytes(b"x")
        rows.append({"ecg_id": n - i, "file": f"images/{n - i:05d}.png",
                     "label": RENDERED_CLASSES[i % 2], "strat_fold": 8 + i, "patient_id": 7,
                     "superclasses": "NORM" if i % 2 == 0 else "MI|STTC"})  # fmt: skip
    return rows


def test_manifest_round_trip(tmp_path):
    write_manifest(tmp_path, _rows(tmp_path))
    got = read_manifest(tmp_path)
    assert got.ecg_id.tolist() == [1, 2, 3]  # sorted by ecg_id
    assert got.strat_fold.tolist() == [10, 9, 8]
    assert [got.classes[k] for k in got.labels] == ["normal", "abnormal", "normal"]
    assert got.folds([9, 10]).tolist() == [0, 1]
    assert got.counts()["test"] == {"normal": 1, "abnormal": 0}


def test_manifest_errors(tmp_path):
    with pytest.raises(EcgLensError, match="no manifest.csv"):
        read_manifest(tmp_path)
    rows = _rows(tmp_path)
    write_manifest(tmp_path, rows)
    (tmp_path / rows[0]["file"]).unlink()
    with pytest.raises(EcgLensError, match="1 files named in the manifest are missing"):
        read_manifest(tmp_path)
    text = (tmp_path / MANIFEST).read_text().replace("abnormal", "sinus")
    (tmp_path / MANIFEST).write_text(text)
    with pytest.raises(EcgLensError, match="unknown label 'sinus'"):
        read_manifest(tmp_path)


def test_labels_agree_with_the_ptbxl_binary_task(ptbxl_dir):
    meta = load_ptbxl_metadata(ptbxl_dir)
    for superclasses, binary in zip(meta["superclasses"], meta["binary"], strict=True):
        label = rendered_label(superclasses)
        assert (label is None) == np.isnan(binary)
        if label is not None:
            assert RENDERED_CLASSES.index(label) == int(binary)


def test_render_loop_draws_each_labelled_record_and_writes_the_manifest(tmp_path, fake_ptbxl):
    """The loop with a stand-in for the page drawing (the real one is
    ecglens.plot.printout.ptbxl_page): seeded draws per record, a manifest and render.json."""
    root = fake_ptbxl(tmp_path / "data", per_fold=1) / "ptb-xl"
    seen = {}

    def draw(signals, fs, header, rng, realism):
        assert signals.shape[0] == 12 and fs == 100 and realism == 0.5
        ecg_id = int(header[0].split()[2])
        seen[ecg_id] = rng.integers(1 << 30)
        return np.full((8, 12, 3), ecg_id % 256, np.uint8)

    config = RenderConfig(realism=0.5, seed=7)
    result = render_ptbxl(root, tmp_path / "out", config, progress=False, draw=draw)
    rendered = read_manifest(tmp_path / "out")
    assert result["n_rendered"] == len(rendered) == len(seen) > 0
    assert all(seen[i] == np.random.default_rng([7, i]).integers(1 << 30) for i in seen)
    assert render_settings(tmp_path / "out")["config"]["realism"] == 0.5
