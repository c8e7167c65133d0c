import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ecglens.errors import EcgLensError
from ecglens.studies.images import (
    ROBUST_KINDS,
    ImagesBenchmarkConfig,
    image_vs_signal,
    run_images_benchmark,
)
from ecglens.studies.images import ptbxl_folder as ptbxl_folder_of

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


@pytest.fixture(scope="module")
def ptbxl_folder(fake_ptbxl, tmp_path_factory):
    """A synthetic PTB-XL folder: 4 records in each of the 10 folds, half normal."""
    return fake_ptbxl(tmp_path_factory.mktemp("ptbxl-root"), per_fold=4) / "ptb-xl"


def test_rendered_rows_cross_domain_pretraining_and_image_vs_signal(
    image_root, ptbxl_folder, tmp_path
):
    cfg = ImagesBenchmarkConfig(
        height=32, width=64, models=("image-cnn", "vgg16"), fusions=("probabilities",), folds=2,
        epochs=1, batch_size=8, variants=1, n_boot=50, random_split=False, robustness=False,
        ptbxl=str(ptbxl_folder), rendered_models=("image-cnn", "vgg16"), rendered_epochs=1,
        rendered_variants=1,
    )  # fmt: skip
    result = run_images_benchmark(image_root, tmp_path, cfg, progress=False, command="test")
    rows = result["rows"]
    rendered = {r["model"]: r for r in rows if r["kind"] == "rendered"}
    assert set(rendered) == {"image-cnn", "vgg16", "fusion-features", "fusion-probabilities"}
    assert all(r["n_scored"] == 4 and set(r["f1"]) == {"normal", "abnormal"}
               for r in rendered.values())  # fmt: skip
    assert rendered["fusion-features"]["member_minutes"] is not None
    cross = [r for r in rows if r["kind"] == "cross-domain"]
    directions = {r["split"] for r in cross}
    assert len(directions) == 3  # both directions and the in-domain reference
    to_mendeley = [r for r in cross if r["split"].startswith("rendered")]
    assert all(r["n_scored"] == 12 for r in to_mendeley)  # every distinct Mendeley image
    pretrained = [r for r in rows if r["kind"] == "pretrained"]
    assert [r["model"] for r in pretrained] == ["image-cnn"]
    assert pretrained[0]["n_scored"] == 12 and pretrained[0]["pretrain_minutes"] >= 0
    gain = next(r for r in rows if r["kind"] == "pretrain-gain")
    assert gain["accuracy_gain_ci"][0] <= gain["accuracy_gain"] <= gain["accuracy_gain_ci"][1]
    versus = next(r for r in rows if r["kind"] == "image-vs-signal")
    assert versus["n_records"] == 4 and versus["image_model"] in rendered
    assert versus["gap"] == pytest.approx(versus["signal_auc"] - versus["image_auc"])
    assert result["rendered_data"]["test"] == {"normal": 2, "abnormal": 2}
    table = (tmp_path / "benchmark.md").read_text()
    assert "rendered PTB-XL fold 10" in table and "Cross-domain" in table
    assert "pretrained on rendered PTB-XL" in table and "Image vs signal" in table
    # the pretrained cell starts from the rendered image-cnn
    config = json.loads(
        (tmp_path / "cells/grouped-cv-pretrained/image-cnn/fold-0/model.json").read_text()
    )
    assert config["run"]["init"].endswith("rendered/image-cnn/split/model.safetensors")
    assert len((tmp_path / "cells/grouped-cv-pretrained/image-cnn/init.sha256").read_text()) == 65
    # nothing is retrained on a second run
    model = tmp_path / "cells" / "rendered" / "vgg16" / "split" / "model.safetensors"
    stamp = model.stat().st_mtime_ns
    again = run_images_benchmark(image_root, tmp_path, cfg, progress=False)
    assert model.stat().st_mtime_ns == stamp
    assert [r.get("accuracy") for r in again["rows"]] == [r.get("accuracy") for r in rows]


def test_image_vs_signal_pairs_the_bootstrap():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    signal = y + rng.normal(0, 0.5, 100)
    image = y + rng.normal(0, 1.0, 100)
    out = image_vs_signal(y, image, signal, n_boot=200)
    assert out["gap"]["value"] == pytest.approx(out["signal"]["value"] - out["image"]["value"])
    assert out["gap"]["value"] > 0 and out["gap"]["ci"][0] <= out["gap"]["value"]
    same = image_vs_signal(y, image, image, n_boot=50)
    assert same["gap"]["value"] == 0 and same["gap"]["ci"] == [0.0, 0.0]


def test_rendered_config_is_checked(tmp_path):
    with pytest.raises(EcgLensError, match="pretrain models"):
        ImagesBenchmarkConfig(rendered_models=("image-cnn", "vgg16"), pretrain=("mobilenet-v2",))
    with pytest.raises(EcgLensError, match="unknown image model"):
        ImagesBenchmarkConfig(rendered_models=("resnet",))
    run = ImagesBenchmarkConfig().rendered_run("image-cnn")
    assert run.split == "ptbxl-folds" and run.train.epochs == 8
    assert ImagesBenchmarkConfig().run("image-cnn").identity()["init"] is None
    assert ptbxl_folder_of(tmp_path / "ecg-images", ImagesBenchmarkConfig()) is None
