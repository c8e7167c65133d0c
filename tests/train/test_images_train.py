import json

import numpy as np
import pytest
import torch
from conftest import draw_ecg_paper
from PIL import Image, ImageDraw

from ecglens.data.images import load_image_set
from ecglens.errors import EcgLensError
from ecglens.evaluate.images import evaluate_images
from ecglens.inputs.images import ImageInputConfig, image_input
from ecglens.models.registry import load_model
from ecglens.predict.images import classify_image
from ecglens.train.images import (
    ImageRunConfig,
    augmentation_bank,
    clean_inputs,
    cross_validate,
    default_head_config,
    default_train_config,
    fold_splits,
    load_image_data,
    normalise_batch,
    train_final,
)

FOLDERS = {"normal": "Normal", "mi": "MI", "post_mi": "PMI", "abnormal": "HB"}
INPUT = ImageInputConfig(32, 64)
B = 50  # bootstrap resamples: enough to test, quick
TINY = {
    "image-cnn": {"channels": [4, 8]},
    "mobilenet-v2": {"width_mult": 0.1},
    "vgg16": {"width_mult": 0.05},
}


def _printout(seed: int, k: int) -> Image.Image:
    """A page in the dataset's layout (header, pink grid) with four trace rows at the
    layout's baselines; class k shapes the beats."""
    rng = np.random.default_rng(seed)
    w, h = 246, 175
    image = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([4, 4, 4 + int(rng.integers(20, 80)), 9], fill="black")
    draw.rectangle([3, 15, w - 3, 16], fill="black")  # the header's rule
    draw_ecg_paper(draw, (w, h))
    for baseline in (154, 254, 355, 455):
        ys = (baseline - 10) * h / 524 + rng.normal(0, 0.5, size=w)
        beats = np.arange(12, w - 10, 25) if k != 3 else 10 + np.cumsum(rng.uniform(12, 40, 20))
        for b in beats[beats < w - 10].astype(int):
            ys[b] -= 12
            ys[b + 2 : b + 7] += (0, -4, 4, 0)[k]
        xs = np.arange(10, w - 3)
        draw.line(list(zip(xs.tolist(), ys[xs].tolist(), strict=True)), fill="black")
    return image


@pytest.fixture(scope="module")
def image_root(tmp_path_factory):
    """16 distinct printouts (4 per class) in the Mendeley layout; every other one saved
    twice under another number, as the dataset repeats images."""
    root = tmp_path_factory.mktemp("ecg-images")
    for k, (folder, prefix) in enumerate(FOLDERS.items()):
        (root / folder).mkdir()
        n = 0
        for i in range(4):
            image = _printout(100 * k + i, k)
            for _ in range(2 if i % 2 == 0 else 1):
                n += 1
                image.save(root / folder / f"{prefix}({n}).png")
    return root


def _run(architecture="image-cnn", **kwargs) -> ImageRunConfig:
    members = kwargs.pop("members", ())
    return ImageRunConfig(
        architecture=architecture,
        architecture_kwargs=TINY.get(architecture, {}),
        input=INPUT,
        train=default_train_config(epochs=1, batch_size=8),
        head=default_head_config(epochs=2),
        folds=2,
        variants=1,
        head_variants=1,
        members=tuple({"architecture": m, "kwargs": TINY[m]} for m in members),
        **kwargs,
    )


def test_data_read_once_matches_the_data_module(image_root):
    data = load_image_data(image_root, progress=False)
    reference = load_image_set(image_root)
    assert [p.name for p in data.paths] == [p.name for p in reference.paths]
    np.testing.assert_array_equal(data.groups, reference.groups)
    counts = data.counts()
    assert counts["files"] == 24 and counts["distinct"] == 16
    assert counts["per_class"]["mi"] == {"files": 6, "distinct": 4}
    assert len(data.pages) == 16 and data.pages[0].dtype == np.uint8
    clean = clean_inputs(data, INPUT)
    np.testing.assert_array_equal(clean[0], image_input(data.paths[data.first[0]], INPUT))


def test_bank_is_seeded_and_normalised_like_inference(image_root):
    data = load_image_data(image_root, progress=False)
    bank = augmentation_bank(data, INPUT, 2, seed=0, progress=False)
    assert bank.shape == (16, 3, 1, 32, 64) and bank.dtype == np.uint8
    np.testing.assert_array_equal(bank, augmentation_bank(data, INPUT, 2, 0, progress=False))
    x = normalise_batch(torch.as_tensor(bank[:, 0])).numpy()
    np.testing.assert_allclose(x, clean_inputs(data, INPUT), atol=0.05)


def test_grouped_folds_keep_copies_together(image_root):
    data = load_image_data(image_root, progress=False)
    splits = fold_splits(data, _run())
    tested = np.concatenate([s.test for s in splits])
    assert sorted(tested) == list(range(24))
    for s in splits:
        test_groups = set(data.groups[s.test])
        assert not test_groups & set(s.train) and not test_groups & set(s.val)
        assert not set(s.train) & set(s.val)
    leaky = fold_splits(data, _run(split="random"))
    assert len(leaky) == 1 and len(leaky[0].test) == 5


def test_cross_validation_scores_every_image_once_and_is_cached(image_root, tmp_path):
    data = load_image_data(image_root, progress=False)
    run = _run()
    cv = cross_validate(image_root, run, tmp_path / "cnn", data, progress=False, n_boot=B)
    assert not np.isnan(cv.probabilities).any() and set(cv.fold) == {0, 1}
    for g in np.unique(data.groups):  # copies are scored with their group
        rows = cv.probabilities[data.groups == g]
        np.testing.assert_array_equal(rows, np.repeat(rows[:1], len(rows), axis=0))
    assert cv.metrics["n"]["value"] == 16 and cv.metrics_files["n"]["value"] == 24
    assert 0.0 <= cv.metrics["accuracy"]["value"] <= 1.0
    saved = json.loads((tmp_path / "cnn" / "cv.json").read_text())
    assert saved["metrics"]["accuracy"] == cv.metrics["accuracy"]
    stamp = (tmp_path / "cnn" / "fold-0" / "model.safetensors").stat().st_mtime_ns
    again = cross_validate(image_root, run, tmp_path / "cnn", data, progress=False, n_boot=B)
    assert (tmp_path / "cnn" / "fold-0" / "model.safetensors").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.probabilities, cv.probabilities)
    assert not (tmp_path / "cnn" / "fold-0" / "train" / "checkpoints").exists()


def test_fusions_and_the_shipped_committee(image_root, tmp_path):
    data = load_image_data(image_root, progress=False)
    members = ("image-cnn", "vgg16")
    dirs = [tmp_path / m for m in members]
    fused = {}
    for mode in ("features", "probabilities"):
        run = _run("image-fusion", fusion=mode, members=members)
        fused[mode] = cross_validate(image_root, run, tmp_path / mode, data, None, dirs, False, B)
        assert not np.isnan(fused[mode].probabilities).any()
    singles = [json.loads((d / "cv.json").read_text()) for d in dirs]
    assert all(s["metrics"]["n"]["value"] == 16 for s in singles)
    config = train_final(
        image_root, _run("image-fusion", fusion="features", members=members),
        tmp_path / "ship", "tiny-fused", data, tmp_path / "features", dirs, progress=False,
        n_boot=B,
    )  # fmt: skip
    loaded = load_model(tmp_path / "ship")
    assert next(iter(loaded.module.state_dict().values())).dtype == torch.float32
    raw = load_model(tmp_path / "ship").config
    assert raw["weights_dtype"] == "float16" and len(raw["cross_validation"]["files"]) == 24
    again = evaluate_images(loaded, image_root, n_boot=B, progress=False)
    for key in ("accuracy", "macro_f1", "per_class"):
        assert again[key] == config["metrics"][key]
    out_of_fold = fused["features"].metrics["accuracy"]["value"]
    assert abs(again["accuracy"]["value"] - out_of_fold) <= 1 / 16  # float16 vs float32
    card = (tmp_path / "ship" / "model.md").read_text()
    assert "committee of the 2 fold models" in card and "evaluate images" in card
    pred = classify_image(data.paths[0], loaded)
    assert pred.probabilities.sum() == pytest.approx(1.0)


def test_evaluate_needs_the_training_folder(image_root, tmp_path):
    data = load_image_data(image_root, progress=False)
    train_final(image_root, _run(), tmp_path / "ship", "tiny", data, progress=False, n_boot=B)
    loaded = load_model(tmp_path / "ship")
    empty = tmp_path / "other"
    empty.mkdir()
    with pytest.raises(EcgLensError, match="are not in this folder"):
        evaluate_images(loaded, empty, progress=False)
    loaded.config = loaded.config.replace(cross_validation=None)
    with pytest.raises(EcgLensError, match="records no cross-validation"):
        evaluate_images(loaded, image_root, progress=False)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"split": "leave-one-out"},
        {"folds": 1},
        {"val_fraction": 0.6},
        {"fusion": "features"},
        {"architecture": "image-fusion", "fusion": "max"},
    ],
)
def test_run_config_is_checked(kwargs):
    with pytest.raises(EcgLensError):
        ImageRunConfig(**kwargs)
