import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ecglens.errors import EcgLensError
from ecglens.train.images_benchmark import (
    ROBUST_KINDS,
    ImagesBenchmarkConfig,
    run_images_benchmark,
)

FOLDERS = {"normal": "Normal", "mi": "MI", "post_mi": "PMI", "abnormal": "HB"}


@pytest.fixture(scope="module")
def image_root(tmp_path_factory):
    """12 distinct printouts (3 per class), the first of each class saved twice."""
    root = tmp_path_factory.mktemp("ecg-images")
    for k, (folder, prefix) in enumerate(FOLDERS.items()):
        (root / folder).mkdir()
        n = 0
        for i in range(3):
            rng = np.random.default_rng(10 * k + i)
            image = Image.new("RGB", (246, 175), "white")
            draw = ImageDraw.Draw(image)
            for row in range(4):
                ys = 45 + 30 * row + rng.normal(0, 0.5, size=246)
                ys[np.arange(10, 236, 25 if k != 3 else 17)] -= 12 + 3 * k
                draw.line(list(zip(range(246), ys.tolist(), strict=True)), fill="black")
            for _ in range(2 if i == 0 else 1):
                n += 1
                image.save(root / folder / f"{prefix}({n}).png")
    return root


def test_benchmark_writes_every_row_and_reuses_its_cells(image_root, tmp_path):
    cfg = ImagesBenchmarkConfig(
        height=32, width=64, models=("image-cnn", "vgg16"), folds=2, epochs=1, batch_size=8,
        variants=1, head_epochs=2, n_boot=50,
    )  # fmt: skip
    result = run_images_benchmark(image_root, tmp_path, cfg, progress=False, command="test")
    rows = result["rows"]
    kinds = [r["kind"] for r in rows]
    assert kinds.count("cv") == 4 and kinds.count("random") == 4
    assert kinds.count("robustness") == 4 * len(ROBUST_KINDS)
    cv = {r["model"]: r for r in rows if r["kind"] == "cv"}
    assert set(cv) == {"image-cnn", "vgg16", "fusion-features", "fusion-probabilities"}
    assert all(r["n_scored"] == 12 for r in cv.values())
    assert cv["fusion-features"]["member_minutes"] is not None
    assert cv["image-cnn"]["parameters"] > 0 and cv["image-cnn"]["train_minutes"] >= 0
    robust = [r for r in rows if r["kind"] == "robustness"]
    assert all(0.0 <= r["agreement"] <= 1.0 and r["n_images"] == 12 for r in robust)
    saved = json.loads((tmp_path / "benchmark.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(rows))
    table = (tmp_path / "benchmark.md").read_text()
    assert "grouped 2-fold CV" in table and "(leaky)" in table and "Robustness" in table
    model = tmp_path / "cells" / "grouped-cv" / "vgg16" / "fold-1" / "model.safetensors"
    stamp = model.stat().st_mtime_ns
    again = run_images_benchmark(image_root, tmp_path, cfg, progress=False)
    assert model.stat().st_mtime_ns == stamp
    assert [r.get("accuracy") for r in again["rows"]] == [r.get("accuracy") for r in rows]


def test_benchmark_config_is_checked():
    with pytest.raises(EcgLensError, match="unknown image model"):
        ImagesBenchmarkConfig(models=("resnet",))
    with pytest.raises(EcgLensError, match="at least two"):
        ImagesBenchmarkConfig(models=("vgg16",))
