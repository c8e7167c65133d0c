import io
from pathlib import Path

import numpy as np
import pytest
from conftest import draw_ecg_paper
from PIL import Image, ImageDraw

from ecglens.data.images import (
    DUPLICATE_DISTANCE,
    IMAGE_CLASSES,
    crop_trace_area,
    duplicate_groups,
    grouped_folds,
    hamming,
    hash_distances,
    hash_groups,
    image_class,
    list_images,
    load_image_set,
    perceptual_hash,
    random_split,
    read_image,
)
from ecglens.errors import EcgLensError

SIZE = (246, 175)  # (W, H) pixels: a third of the dataset's 738x524


def _printout(seed: int, size: tuple[int, int] = SIZE) -> Image.Image:
    """A synthetic printout: header text band, pink grid, four rows of spiky traces."""
    rng = np.random.default_rng(seed)
    w, h = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for x0 in range(4, w - 30, 30):
        draw.rectangle([x0, 4, x0 + int(rng.integers(8, 25)), 9], fill="black")
    top = draw_ecg_paper(draw, (w, h))
    for row in range(4):
        base = top + (row + 0.6) * (h - top) / 4.5
        beats = np.cumsum(rng.uniform(15, 40, size=20))
        xs = np.arange(w)
        ys = base + rng.normal(0, 0.6, size=w)
        for b in beats[beats < w - 3]:
            ys[int(b)] -= rng.uniform(10, 22)
            ys[int(b) + 2] += rng.uniform(2, 6)
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill="black", width=1)
    return image


def _half(image: Image.Image) -> Image.Image:
    w, h = image.size
    small = image.resize((w // 2, h // 2), Image.Resampling.LANCZOS)
    return small.resize((w, h), Image.Resampling.LANCZOS)


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _brighter(image: Image.Image) -> Image.Image:
    array = np.asarray(image, dtype=np.float32) * 1.1
    return Image.fromarray(np.clip(array, 0, 255).round().astype(np.uint8))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("data/normal/x.jpg", "normal"),
        ("data/Normal/x.jpg", "normal"),
        ("data/MI/x.jpg", "mi"),
        ("data/post_mi/x.jpg", "post_mi"),
        ("data/PMI/x.jpg", "post_mi"),
        ("data/History of MI/x.jpg", "post_mi"),
        ("data/HB/x.jpg", "abnormal"),
        ("data/abnormal_heartbeat/x.jpg", "abnormal"),
        ("data/Abnormal/MI(3).jpg", "abnormal"),
    ],
)
def test_class_from_folder(path, expected):
    assert image_class(path) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Normal(12).jpg", "normal"),
        ("MI(3).jpg", "mi"),
        ("PMI(3).jpg", "post_mi"),
        ("pmi_7.png", "post_mi"),
        ("HB(1).JPG", "abnormal"),
    ],
)
def test_class_from_file_name_prefix(name, expected):
    assert image_class(Path("somewhere") / name) == expected


@pytest.mark.parametrize("name", ["scan(1).jpg", "Mixed(2).jpg", "abnormal(1).jpg"])
def test_unknown_class_names_the_file(name):
    with pytest.raises(EcgLensError, match=r"unknown image class") as info:
        image_class(Path("inbox") / name)
    assert name in str(info.value)


def test_list_images_finds_images_recursively_with_classes(tmp_path):
    for rel in ["normal/b.jpg", "normal/a.PNG", "mi/deep/MI(1).jpeg", "other/PMI(2).jpg"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        _printout(0).save(tmp_path / rel, "PNG" if rel.lower().endswith("png") else "JPEG")
    (tmp_path / "normal" / "notes.txt").write_text("not an image")
    (tmp_path / "normal" / "._c.jpg").write_bytes(b"macOS resource fork")
    found = list_images(tmp_path)
    assert [(p.relative_to(tmp_path).as_posix(), c) for p, c in found] == [
        ("mi/deep/MI(1).jpeg", "mi"),
        ("normal/a.PNG", "normal"),
        ("normal/b.jpg", "normal"),
        ("other/PMI(2).jpg", "post_mi"),
    ]
    with pytest.raises(EcgLensError, match="no such image folder"):
        list_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EcgLensError, match="no .jpg"):
        list_images(tmp_path / "empty")


def test_read_image_shapes_and_range(tmp_path):
    path = tmp_path / "Normal(1).png"
    _printout(1).save(path)
    gray = read_image(path)
    assert gray.shape == (1, SIZE[1], SIZE[0]) and gray.dtype == np.float32
    assert 0.0 <= gray.min() < 0.2 and gray.max() == 1.0
    rgb = read_image(path, size=(64, 96), grayscale=False)
    assert rgb.shape == (3, 64, 96) and rgb.dtype == np.float32
    pink = rgb[:, 40, :].mean(axis=1)
    assert pink[0] > pink[1]  # the grid is reddish
    with pytest.raises(EcgLensError, match="size"):
        read_image(path, size=(0, 10))


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"this is not a picture", "not a readable image"), (None, "corrupt image")],
)
def test_corrupt_files_give_one_line_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "MI(9).jpg"
    if content is None:  # a JPEG cut in half
        buffer = io.BytesIO()
        _printout(2).save(buffer, "JPEG")
        content = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    path.write_bytes(content)
    for read in (read_image, perceptual_hash):
        with pytest.raises(EcgLensError, match=reason) as info:
            read(path)
        message = str(info.value)
        assert "\n" not in message and message.startswith(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(EcgLensError, match="no such image file"):
        read_image(tmp_path / "HB(1).jpg")


def test_crop_trace_area_drops_the_header_and_footer():
    image = np.zeros((3, 524, 738), dtype=np.float32)
    assert crop_trace_area(image).shape == (3, 412, 738)
    assert crop_trace_area(image[0]).shape == (412, 738)
    assert crop_trace_area(image, top=0.5, bottom=1.0).shape == (3, 262, 738)
    with pytest.raises(EcgLensError, match="top"):
        crop_trace_area(image, top=0.6, bottom=0.5)


def test_perceptual_hash_of_file_equals_hash_of_array(tmp_path):
    path = tmp_path / "Normal(1).png"
    image = _printout(3)
    image.save(path)
    assert perceptual_hash(path) == perceptual_hash(read_image(path))
    assert hamming(perceptual_hash(path), perceptual_hash(read_image(path, grayscale=False))) <= 2
    assert perceptual_hash(path).bit_length() <= 256
    classic = perceptual_hash(path, resize=32, band=(1, 9), crop=False)
    assert 0 <= classic < 2**64
    with pytest.raises(EcgLensError, match="band"):
        perceptual_hash(path, resize=32, band=(16, 40))


def test_hamming_and_distances():
    assert hamming(0b1011, 0b0001) == 2
    big = (1 << 255) | 1
    assert hamming(big, 0) == 2
    d = hash_distances([0, 1, big])
    assert d.tolist() == [[0, 1, 2], [1, 0, 1], [2, 1, 0]]
    assert hash_distances([0], [1, big]).tolist() == [[1, 2]]


def test_hash_groups_join_chains_of_near_pairs():
    far = (1 << 64) - 1
    assert hash_groups([0b0, far, 0b1, 0b11], max_distance=1).tolist() == [0, 1, 0, 0]
    assert hash_groups([0b0, far, 0b1, 0b11], max_distance=0).tolist() == [0, 1, 2, 3]
    assert hash_groups([]).tolist() == []


def test_near_duplicates_fall_in_one_group(tmp_path):
    original = _printout(10)
    copies = {
        "Normal(1).png": original,
        "Normal(2).jpg": original,  # exact copy (as a JPEG)
        "Normal(3).png": _half(original),
        "Normal(4).png": _jpeg(original, 60),
        "Normal(5).png": _brighter(original),
        "Normal(6).png": _jpeg(_brighter(_half(original)), 60),
    }
    others = {f"HB({k}).png": _printout(20 + k) for k in range(6)}
    paths = []
    for name, image in {**copies, **others}.items():
        image.save(tmp_path / name)
        paths.append(tmp_path / name)
    hashes = [perceptual_hash(p) for p in paths]
    d = hash_distances(hashes)
    n = len(copies)
    assert d[:n, :n].max() <= DUPLICATE_DISTANCE
    off_diagonal = d[n:, :][~np.eye(len(paths), dtype=bool)[n:, :]]
    assert off_diagonal.min() > DUPLICATE_DISTANCE
    groups = duplicate_groups(paths)
    assert groups.tolist() == [0] * n + list(range(1, len(others) + 1))


def _toy_groups(seed=0, n_groups=60):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 9, size=n_groups)
    groups = np.repeat(np.arange(n_groups), sizes)
    labels = np.repeat(rng.integers(0, 4, size=n_groups), sizes)
    return groups, labels


def test_grouped_folds_never_split_a_group():
    groups, labels = _toy_groups()
    folds = grouped_folds(groups, labels, n_folds=5, seed=0)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tested), np.arange(len(groups)))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == len(groups)
        assert set(labels[test]) == set(labels)  # every class in every fold here
    again = grouped_folds(groups, labels, n_folds=5, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    with pytest.raises(EcgLensError, match="n_folds"):
        grouped_folds(groups[:3], labels[:3], n_folds=5)


def test_random_split_is_stratified_and_leaks_groups():
    groups, labels = _toy_groups()
    train, test = random_split(len(labels), labels, test_fraction=0.2, seed=0)
    assert not set(train) & set(test) and len(train) + len(test) == len(labels)
    assert abs(len(test) - 0.2 * len(labels)) <= 1
    for k in range(4):
        share = np.mean(labels[test] == k) - np.mean(labels == k)
        assert abs(share) < 0.05
    assert set(groups[train]) & set(groups[test])  # the leak it is documented to have
    with pytest.raises(EcgLensError, match="labels"):
        random_split(len(labels) + 1, labels)


def test_load_image_set(tmp_path):
    for k, folder in enumerate(IMAGE_CLASSES):
        (tmp_path / folder).mkdir()
        image = _printout(40 + k)
        image.save(tmp_path / folder / "a.png")
        _jpeg(image, 60).save(tmp_path / folder / "b.png")
    images = load_image_set(tmp_path)
    assert len(images) == 8 and images.n_groups == 4
    assert images.labels.dtype == np.int64 and images.groups.dtype == np.int64
    assert [images.classes[k] for k in images.labels] == [
        c for c in sorted(IMAGE_CLASSES) for _ in range(2)
    ]
    for g in range(4):
        assert len(set(images.labels[images.groups == g])) == 1


@pytest.mark.slow
def test_real_dataset_has_491_distinct_images_each_in_one_class(ecg_images_dir):
    images = load_image_set(ecg_images_dir)
    assert len(images) == 928
    assert np.bincount(images.labels).tolist() == [284, 239, 172, 233]
    assert images.n_groups == 491
    for g in np.unique(images.groups):
        assert len(set(images.labels[images.groups == g])) == 1
    mi = images.classes.index("mi")
    assert len(np.unique(images.groups[images.labels == mi])) == 30
