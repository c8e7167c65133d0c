"""ECG printout images (Khan, Hussain and Malik, "ECG Images dataset of Cardiac Patients",
Mendeley Data V2, 2021): classes, reading, duplicate groups and leak-free folds.

The dataset repeats images: of 928 files only 491 are distinct (``mi/`` holds 30 images
repeated 7-8 times, ``normal/`` and ``post_mi/`` hold every image twice). A random
image-level split therefore puts copies of test images in the training set. Images are
grouped by perceptual hash (:func:`duplicate_groups`) and folds keep groups whole
(:func:`grouped_folds`); :func:`random_split` is the leaky split, kept for comparison.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.fft
from PIL import Image
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from ecglens.errors import EcgLensError
from ecglens.inputs.images import LUMA, TRACE_BOTTOM, TRACE_TOP, crop_rows
from ecglens.io.images import decode_image

IMAGE_CLASSES = ("normal", "mi", "post_mi", "abnormal")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

# Folder names (lower case, spaces and hyphens read as "_") -> class.
_FOLDER_CLASSES = {
    "normal": "normal",
    "mi": "mi",
    "post_mi": "post_mi",
    "pmi": "post_mi",
    "history_of_mi": "post_mi",
    "abnormal": "abnormal",
    "hb": "abnormal",
    "abnormal_heartbeat": "abnormal",
}
# File-name prefixes of the Mendeley release: Normal(k), MI(k), PMI(k), HB(k). Anchored at
# the start and not followed by a letter, so "PMI(3)" is post-MI, never MI.
_PREFIX = re.compile(r"^(normal|pmi|mi|hb)(?![a-z])", re.IGNORECASE)
_PREFIX_CLASSES = {"normal": "normal", "mi": "mi", "pmi": "post_mi", "hb": "abnormal"}

# Perceptual hash: the DCT coefficients [a:b, a:b] of a PHASH_RESIZE x PHASH_RESIZE
# thumbnail of the trace area, one bit each. A mid-frequency band, not pHash's lowest
# frequencies: those encode the printout layout that every image shares (see
# duplicate_groups for the measurements).
PHASH_RESIZE = 64  # pixels
PHASH_BAND = (16, 32)  # DCT indices [a, b), rows and columns: 16 x 16 = 256 bits
# Largest Hamming distance between hashes of one image's copies; see duplicate_groups.
DUPLICATE_DISTANCE = 32  # bits, of 256


def image_class(path: str | Path) -> str:
    """Class of one image: from its folder name, else from its file-name prefix.

    Folders ``normal``, ``mi``, ``post_mi`` / ``pmi`` / ``history_of_mi``, ``abnormal`` /
    ``hb`` / ``abnormal_heartbeat`` (any case); prefixes ``Normal``, ``MI``, ``PMI``, ``HB``.
    The folder wins when both are present.
    """
    path = Path(path)
    folder = re.sub(r"[\s\-]+", "_", path.parent.name.strip().lower())
    if folder in _FOLDER_CLASSES:
        return _FOLDER_CLASSES[folder]
    match = _PREFIX.match(path.name)
    if match:
        return _PREFIX_CLASSES[match.group(1).lower()]
    raise EcgLensError(
        f"unknown image class: folder {path.parent.name!r} is not one of "
        f"{', '.join(sorted(_FOLDER_CLASSES))} and the name does not start with "
        "Normal, MI, PMI or HB",
        path,
    )


def list_images(root: str | Path) -> list[tuple[Path, str]]:
    """``(path, class)`` of every .jpg/.jpeg/.png (any case) under ``root``, sorted by path.

    Hidden files (``.*``, e.g. macOS ``._Normal(1).jpg`` resource forks) are skipped.
    """
    root = Path(root)
    if not root.is_dir():
        raise EcgLensError("no such image folder", root)
    paths = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    )
    if not paths:
        raise EcgLensError(f"no {'/'.join(IMAGE_EXTENSIONS)} images in this folder", root)
    return [(p, image_class(p)) for p in paths]


def _check_size(size: tuple[int, int] | None) -> None:
    if size is None:
        return
    if len(size) != 2 or not all(isinstance(s, int | np.integer) and s > 0 for s in size):
        raise EcgLensError(f"size must be two positive integers (height, width), not {size!r}")


def read_image(
    path: str | Path, size: tuple[int, int] | None = None, grayscale: bool = True
) -> np.ndarray:
    """Image as float32 (C, H, W) in [0, 1]; C = 1 (grayscale, BT.601 luma) or 3 (RGB).

    ``size = (H, W)`` in pixels resizes (Pillow's antialiased bilinear filter); ``None``
    keeps the file's size. A missing, corrupt or non-image file raises EcgLensError.
    """
    _check_size(size)
    array = decode_image(path, grayscale)
    if size is not None:
        size_wh = (int(size[1]), int(size[0]))
        array = np.asarray(Image.fromarray(array).resize(size_wh, Image.Resampling.BILINEAR))
    array = np.asarray(array, dtype=np.float32) / 255.0
    return array[None] if grayscale else array.transpose(2, 0, 1).copy()


def crop_trace_area(
    image: np.ndarray, top: float = TRACE_TOP, bottom: float = TRACE_BOTTOM
) -> np.ndarray:
    """Rows ``round(top * H)`` to ``round(bottom * H)`` of (..., H, W): the printout's grid.

    The defaults drop the header text band (the top 17.9 % of the height) and the footer
    (bottom 3.4 %), measured on all 928 files of the dataset (the grid spans rows 94-505 of
    524 in every one). Fractions, so they hold after any resize of the whole printout.
    """
    if not 0.0 <= top < bottom <= 1.0:
        raise EcgLensError(f"need 0 <= top < bottom <= 1, got top={top}, bottom={bottom}")
    return crop_rows(image, top, bottom)


def _gray(image: np.ndarray) -> np.ndarray:
    """(H, W), (1, H, W) or (3, H, W) in [0, 1] -> float32 (H, W) luma."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[0] == 1:
        return image[0]
    if image.ndim == 3 and image.shape[0] == 3:
        return np.tensordot(LUMA, image, axes=1)
    raise EcgLensError(f"expected an image (H, W), (1, H, W) or (3, H, W), got {image.shape}")


def perceptual_hash(
    image: str | Path | np.ndarray,
    resize: int = PHASH_RESIZE,
    band: tuple[int, int] = PHASH_BAND,
    crop: bool = True,
) -> int:
    """DCT hash of an image file or array ((H, W) or (C, H, W) in [0, 1]), as an int.

    Grayscale; the trace area (:func:`crop_trace_area`) when ``crop``; Lanczos resize to
    ``resize`` x ``resize`` pixels; orthonormal 2-D DCT-II; the coefficients
    ``[a:b, a:b]`` of ``band = (a, b)``, row-major, each one bit (1 = above their median),
    first bit most significant: ``(b - a) ** 2`` bits, 256 by default.
    ``resize=32, band=(1, 9), crop=False`` is the classic 64-bit pHash (the 8x8 lowest
    frequencies without the DC row and column, as the pHash library takes them).
    """
    low, high = band
    if not 0 <= low < high <= resize:
        raise EcgLensError(f"band must satisfy 0 <= a < b <= resize={resize}, not {band}")
    if isinstance(image, str | Path):
        gray = np.asarray(decode_image(image), dtype=np.float32) / 255.0
    else:
        gray = _gray(image)
    if crop:
        gray = crop_trace_area(gray)
    thumb = Image.fromarray(np.ascontiguousarray(gray, dtype=np.float32))  # mode "F"
    thumb = thumb.resize((resize, resize), Image.Resampling.LANCZOS)
    dct = scipy.fft.dctn(np.asarray(thumb, dtype=np.float64), type=2, norm="ortho")
    block = dct[low:high, low:high].ravel()
    bits = block > np.median(block)
    return int.from_bytes(np.packbits(bits).tobytes(), "big") >> (-len(bits) % 8)


def hamming(a: int, b: int) -> int:
    """Number of bits that differ between two hashes."""
    return (int(a) ^ int(b)).bit_count()


def _words(hashes: Sequence[int], n_words: int | None = None) -> np.ndarray:
    """Non-negative int hashes -> (n, n_words) uint64, least significant word first."""
    ints = [int(h) for h in hashes]
    if any(h < 0 for h in ints):
        raise EcgLensError("hashes must be non-negative integers")
    if n_words is None:
        n_words = max([(h.bit_length() + 63) // 64 for h in ints] + [1])
    mask = (1 << 64) - 1
    rows = [[(h >> (64 * k)) & mask for k in range(n_words)] for h in ints]
    return np.array(rows, dtype=np.uint64).reshape(len(ints), n_words)


def hash_distances(hashes: Sequence[int], others: Sequence[int] | None = None) -> np.ndarray:
    """Hamming distances (n, m) int64, in bits, between ``hashes`` and ``others``
    (default: ``hashes`` itself, (n, n))."""
    n = len(hashes)
    words = _words(list(hashes) + (list(others) if others is not None else []))
    left, right = words[:n], (words[n:] if others is not None else words)
    return np.bitwise_count(left[:, None, :] ^ right[None, :, :]).sum(axis=-1, dtype=np.int64)


def hash_groups(hashes: Sequence[int], max_distance: int = DUPLICATE_DISTANCE) -> np.ndarray:
    """Group ids (n,) int64 joining every pair within ``max_distance`` bits (union-find).

    Groups are the connected components of "within the threshold", numbered 0, 1, ... in
    order of their first member. Memory grows with n, not n^2 (blocks of 256 rows).
    """
    if max_distance < 0:
        raise EcgLensError(f"max_distance must be >= 0 bits, not {max_distance}")
    words = _words(hashes)
    n = len(words)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    block = 256
    for start in range(0, n, block):
        rows = words[start : start + block]
        near = np.bitwise_count(rows[:, None, :] ^ words[None, :, :]).sum(-1) <= max_distance
        for i, j in zip(*np.nonzero(near), strict=True):
            i, j = find(start + int(i)), find(int(j))
            if i != j:
                parent[max(i, j)] = min(i, j)
    roots = [find(i) for i in range(n)]
    ids: dict[int, int] = {}
    return np.array([ids.setdefault(r, len(ids)) for r in roots], dtype=np.int64)


def duplicate_groups(
    paths: Sequence[str | Path], max_distance: int = DUPLICATE_DISTANCE
) -> np.ndarray:
    """Group ids (n,) int64 of exact and near-duplicate images (see :func:`hash_groups`).

    Measured on the dataset (928 files of 738x524, 491 distinct images), Hamming distances
    of the default 256-bit hash, in bits:

    * copies of each of the 491 distinct images against the original: resized to 0.5x and
      back (Lanczos) max d = 16 (mean 6.1); re-encoded as JPEG quality 60 max d = 16
      (mean 5.6); brightened by 10 % max d = 12 (mean 4.1); all three at once max d = 18
      (mean 8.2); byte-identical copies d = 0;
    * distinct images (all 120,295 pairs): min d = 48, 0.1st percentile 66, median 104.

    ``DUPLICATE_DISTANCE`` = 32 bits (of 256) sits between the two (14 bits above the
    copies, 16 below the closest distinct pair); any threshold from 8 to 47 bits gives the
    same 491 groups as byte identity. The classic 64-bit pHash cannot do this: on the whole
    printout 3,433 pairs of distinct images have d = 0 and the median is 4 bits, while
    copies reach 8 bits; the shared layout (grid, header, lead labels) fills its lowest
    frequencies.
    """
    return hash_groups([perceptual_hash(p) for p in paths], max_distance)


def grouped_folds(
    groups: Sequence[int] | np.ndarray,
    labels: Sequence[int] | np.ndarray,
    n_folds: int = 5,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_folds`` (train_idx, test_idx) int64 pairs; no group on both sides of any fold.

    Stratified by class as far as whole groups allow (scikit-learn's StratifiedGroupKFold,
    shuffled with ``seed``); every index is in exactly one test fold.
    """
    groups, labels = np.asarray(groups), np.asarray(labels)
    if groups.shape != labels.shape or groups.ndim != 1:
        raise EcgLensError(f"groups {groups.shape} and labels {labels.shape} must be (n,)")
    if n_folds < 2:
        raise EcgLensError(f"n_folds must be >= 2, not {n_folds}")
    if len(np.unique(groups)) < n_folds:
        raise EcgLensError(f"n_folds={n_folds} exceeds the {len(np.unique(groups))} groups")
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    x = np.zeros((len(labels), 1))
    return [
        (train.astype(np.int64), test.astype(np.int64))
        for train, test in splitter.split(x, labels, groups)
    ]


def random_split(
    n: int, labels: Sequence[int] | np.ndarray, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified image-level (train_idx, test_idx): **leaky** on this dataset.

    Copies of one image land on both sides, so test scores are optimistic; use it only to
    show the gap to :func:`grouped_folds`.
    """
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise EcgLensError(f"labels must be ({n},), got {labels.shape}")
    if not 0.0 < test_fraction < 1.0:
        raise EcgLensError(f"test_fraction must be in (0, 1), not {test_fraction}")
    train, test = train_test_split(
        np.arange(n), test_size=test_fraction, stratify=labels, random_state=seed
    )
    return np.sort(train).astype(np.int64), np.sort(test).astype(np.int64)


@dataclass
class ImageSet:
    """Image files with class indices into ``classes`` and duplicate-group ids, both (n,)."""

    paths: list[Path]
    labels: np.ndarray
    groups: np.ndarray
    classes: tuple[str, ...] = field(default=IMAGE_CLASSES)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def n_groups(self) -> int:
        return len(np.unique(self.groups))


def load_image_set(root: str | Path, max_distance: int = DUPLICATE_DISTANCE) -> ImageSet:
    """Every image under ``root`` (see :func:`list_images`) with its class and group."""
    items = list_images(root)
    paths = [p for p, _ in items]
    labels = np.array([IMAGE_CLASSES.index(c) for _, c in items], dtype=np.int64)
    return ImageSet(paths, labels, duplicate_groups(paths, max_distance), IMAGE_CLASSES)
