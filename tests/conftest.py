"""Shared fixtures: the demo records in the repo, the full databases under ECGLENS_DATA, and
factories of small synthetic inputs and models (a PTB-XL-shaped folder, Kaggle beat CSVs, a
printout image, a tiny image model)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglens.data.ptbxl import LEADS_12

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "data" / "mitdb-demo"


def data_root() -> Path | None:
    root = os.environ.get("ECGLENS_DATA")
    return Path(root) if root else None


@pytest.fixture
def demo_record() -> Path:
    """MIT-BIH record 213 shipped with the repo (path without extension)."""
    return DEMO_DIR / "213"


def shared_folder(folder: str, marker: str, what: str) -> Path:
    """``ECGLENS_DATA/<folder>`` when it holds ``marker``; skips the test (naming ``what``)
    when ECGLENS_DATA is unset or the folder is incomplete."""
    root = data_root()
    if root is None:
        pytest.skip(f"ECGLENS_DATA is not set: {what} unavailable")
    path = root / folder
    if not (path / marker).exists():
        pytest.skip(f"no {what} at {path}")
    return path


@pytest.fixture(scope="session")
def mitdb_dir() -> Path:
    """The full MIT-BIH database; skips when ECGLENS_DATA is not set."""
    return shared_folder("mitdb", "100.hea", "full MIT-BIH database")


@pytest.fixture(scope="session")
def nstdb_dir() -> Path:
    """The MIT-BIH noise stress records; skips when ECGLENS_DATA is not set."""
    return shared_folder("nstdb", "118e06.hea", "noise stress records")


@pytest.fixture(scope="session")
def ecg_images_dir() -> Path:
    """The ECG printout images; skips when ECGLENS_DATA is not set."""
    return shared_folder("ecg-images", "normal", "ECG printout images")


@pytest.fixture(scope="session")
def ptbxl_dir() -> Path:
    """The PTB-XL subset; skips when ECGLENS_DATA is not set."""
    return shared_folder("ptb-xl", "ptbxl_database.csv", "PTB-XL subset")


# -- a synthetic PTB-XL folder, for training, evaluation and data tests ------------------

STATEMENTS = pd.DataFrame(
    {
        "diagnostic": [1.0, 1.0, 1.0, 1.0, 1.0, np.nan],
        "diagnostic_class": ["NORM", "MI", "STTC", "CD", "HYP", np.nan],
    },
    index=["NORM", "IMI", "NDT", "CLBBB", "LVH", "SR"],
)
ABNORMAL_CODES = ("IMI", "NDT", "CLBBB", "LVH")


def synthetic_ecg(abnormal: bool, rng: np.random.Generator, fs: float = 100.0) -> np.ndarray:
    """(T, 12) mV: narrow spikes every 0.8 s; abnormal records add a wide negative wave after
    each spike; plus baseline wander and noise."""
    n = int(10 * fs)
    t = np.arange(n) / fs
    x = np.zeros(n)
    for beat in np.arange(0.3, 10.0, 0.8):
        x += np.exp(-0.5 * ((t - beat) / 0.015) ** 2)
        if abnormal:
            x -= 0.6 * np.exp(-0.5 * ((t - beat - 0.25) / 0.06) ** 2)
    gains = np.linspace(0.5, 1.5, 12)
    wander = 0.3 * np.sin(2 * np.pi * 0.15 * t + rng.uniform(0, 6))
    sig = x[:, None] * gains[None, :] + wander[:, None]
    return sig + rng.normal(0, 0.02, size=sig.shape)


def _write_ptbxl_tables(
    root: Path, rows: list[tuple], statements: pd.DataFrame = STATEMENTS
) -> Path:
    """``root/ptb-xl`` with ``scp_statements.csv`` and ``ptbxl_database.csv`` (one row per
    ``(ecg_id, patient_id, scp_codes, strat_fold, ...)``, 100 Hz records under
    ``records100/00000/<ecg_id>_lr``); returns the (empty) record folder."""
    folder = root / "ptb-xl"
    rec_dir = folder / "records100" / "00000"
    rec_dir.mkdir(parents=True)
    statements.to_csv(folder / "scp_statements.csv")
    pd.DataFrame(
        {
            "ecg_id": [r[0] for r in rows],
            "patient_id": [float(r[1]) for r in rows],
            "scp_codes": [r[2] for r in rows],
            "strat_fold": [r[3] for r in rows],
            "filename_lr": [f"records100/00000/{r[0]:05d}_lr" for r in rows],
            "filename_hr": [f"records500/00000/{r[0]:05d}_hr" for r in rows],
        }
    ).to_csv(folder / "ptbxl_database.csv", index=False)
    return rec_dir


@pytest.fixture(scope="session")
def ptbxl_tables() -> Callable[..., Path]:
    """``ptbxl_tables(root, rows, statements=STATEMENTS)`` writes the PTB-XL metadata under
    ``root/ptb-xl`` and returns the record folder (see :func:`_write_ptbxl_tables`)."""
    return _write_ptbxl_tables


def _write_fake_ptbxl(root: Path, per_fold: int = 4, seed: int = 0) -> Path:
    """A PTB-XL-shaped folder (metadata, statements, 100 Hz WFDB records), folds 1-10, half of
    each fold normal; abnormal records cycle through MI, STTC, CD, HYP."""
    import wfdb

    rng = np.random.default_rng(seed)
    rows, signals = [], []
    ecg_id = 0
    for fold in range(1, 11):
        for i in range(per_fold):
            ecg_id += 1
            abnormal = i % 2 == 1
            code = ABNORMAL_CODES[(ecg_id // 2) % 4] if abnormal else "NORM"
            rows.append((ecg_id, 1000 + ecg_id, f"{{'{code}': 100.0, 'SR': 0.0}}", fold))
            signals.append(synthetic_ecg(abnormal, rng))
    rec_dir = _write_ptbxl_tables(root, rows)
    for (ecg_id, *_), signal in zip(rows, signals, strict=True):
        wfdb.wrsamp(
            f"{ecg_id:05d}_lr", fs=100, units=["mV"] * 12, sig_name=list(LEADS_12),
            p_signal=signal, fmt=["16"] * 12, adc_gain=[1000.0] * 12,
            baseline=[0] * 12, write_dir=str(rec_dir),
        )  # fmt: skip
    return root


@pytest.fixture(scope="session")
def fake_ptbxl() -> Callable[..., Path]:
    """``fake_ptbxl(root, per_fold=4, seed=0)`` writes a PTB-XL-shaped folder under ``root``
    (see :func:`_write_fake_ptbxl`) and returns ``root``."""
    return _write_fake_ptbxl


# -- Kaggle-style beat CSVs (mitbih_train/test.csv, ptbdb_normal/abnormal.csv) -------------


def synthetic_beats(
    n: int, n_classes: int, seed: int, noise: float = 0.05, bump: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """(n, 187) beats in [0, 1] (float32): an R peak at sample 0, a bump whose place depends on
    the class, ``noise`` (sd) and zero padding from sample 170; labels (n,) cycle through the
    classes."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    x = 0.2 + rng.normal(0, noise, (n, 187))
    x += bump * np.exp(-0.5 * ((np.arange(187)[None, :] - 20 - 30 * y[:, None]) / 6) ** 2)
    x[:, 0], x[:, 170:] = 1.0, 0.0
    return np.clip(x, 0, 1).astype(np.float32), y


@pytest.fixture(scope="session")
def kaggle_beats() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """``kaggle_beats(n, n_classes, seed, noise=0.05, bump=0.5) -> (x, y)``: see
    :func:`synthetic_beats`."""
    return synthetic_beats


@pytest.fixture(scope="session")
def kaggle_csvs(tmp_path_factory) -> Callable[..., dict[str, Path]]:
    """``kaggle_csvs(train=200, test=80, ptb=240, seeds=(0, 1, 2), noise=0.05, bump=0.5)``
    writes the four Kaggle files of synthetic beats (:func:`synthetic_beats`: five classes for
    MIT-BIH, two for PTB) into a new folder and returns their paths under the keys ``train``,
    ``test`` (``mitbih_*.csv``), ``normal`` and ``abnormal`` (``ptbdb_*.csv``)."""
    from ecglens.data.kaggle import write_kaggle_csv
    from ecglens.data.kaggle_ptb import write_ptbdb_csvs

    def make(
        train: int = 200,
        test: int = 80,
        ptb: int = 240,
        seeds: tuple[int, int, int] = (0, 1, 2),
        noise: float = 0.05,
        bump: float = 0.5,
    ) -> dict[str, Path]:
        root = tmp_path_factory.mktemp("kaggle")
        shape = {"noise": noise, "bump": bump}
        paths = {
            "train": write_kaggle_csv(
                root / "mitbih_train.csv", *synthetic_beats(train, 5, seeds[0], **shape)
            ),
            "test": write_kaggle_csv(
                root / "mitbih_test.csv", *synthetic_beats(test, 5, seeds[1], **shape)
            ),
        }
        paths["normal"], paths["abnormal"] = write_ptbdb_csvs(
            root, *synthetic_beats(ptb, 2, seeds[2], **shape)
        )
        return paths

    return make


# -- printout images and a tiny image model ------------------------------------------------


def draw_printout(size: tuple[int, int] = (246, 175), seed: int = 0):
    """A synthetic ECG printout in the dataset's layout, scaled to ``size`` = (W, H) pixels
    (the dataset's is 738 x 524): a header with its full-width rule, the pink grid box (5-mm
    lines every 13.1 px at full size), four rows of noisy black traces with a spike every
    beat. A PIL RGB image."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    w, h = size
    sx, sy = w / 738, h / 524
    image = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([10 * sx, 8 * sy, 200 * sx, 16 * sy], fill="black")  # header text
    draw.rectangle([10 * sx, 44 * sy, 728 * sx, 47 * sy], fill="black")  # header rule
    draw_ecg_paper(draw, size)
    for baseline in (154, 254, 355, 455):
        xs = np.arange(round(30 * sx), round(706 * sx))
        ys = (baseline - 10) * sy + rng.normal(0, 0.6, size=len(xs))
        ys[(xs % max(1, round(60 * sx))) == 0] -= 40 * sy
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill="black", width=1)
    return image


def _write_printout(path: Path, seed: int = 0) -> Path:
    """A 246 x 175 synthetic printout (:func:`draw_printout`)."""
    draw_printout((246, 175), seed).save(path)
    return Path(path)


def draw_ecg_paper(draw, size: tuple[int, int]) -> int:
    """Draw the pink grid box of a printout (``size`` = (W, H) pixels: the box spans
    x 23-725 and y 94-506 of the dataset's 738 x 524, lines every 13.1 px there, scaled);
    returns the box's top in pixels."""
    w, h = size
    sx, sy = w / 738, h / 524
    top = round(h * 94 / 524)
    for x in np.arange(23, 726, 13.1) * sx:
        draw.line([(x, top), (x, 506 * sy)], fill=(246, 214, 214))
    for y in np.arange(94, 507, 13.1) * sy:
        draw.line([(23 * sx, y), (725 * sx, y)], fill=(246, 214, 214))
    return top


@pytest.fixture(scope="session")
def printout_image() -> Callable[..., Path]:
    """``printout_image(path, seed=0) -> path`` saves a small synthetic printout (the format
    follows the suffix: PNG, JPEG...)."""
    return _write_printout


TINY_IMAGE_MEMBER = {"architecture": "image-cnn", "kwargs": {"channels": [4, 8]}}


@pytest.fixture(scope="session")
def tiny_image_model(tmp_path_factory) -> Callable[..., Path]:
    """``tiny_image_model(name="tiny", members=[TINY_IMAGE_MEMBER] * 2, mode="probabilities",
    card=None, **config) -> folder``: an untrained four-class ``image-fusion`` of ``members``
    (seeded with 0) on 32 x 64 inputs, saved as ``<folder>/model`` as a shipped image model
    would be, so ``load_model(folder)`` loads it under ``name``; ``config`` adds entries to
    its config (``metrics``...)."""
    import torch

    from ecglens.data.images import IMAGE_CLASSES
    from ecglens.inputs.images import ImageInputConfig
    from ecglens.models.registry import create_model, save_pretrained
    from ecglens.predict.images import IMAGE_TASK

    def make(
        name: str = "tiny",
        members: list[dict] | None = None,
        mode: str = "probabilities",
        card: str | None = None,
        **config,
    ) -> Path:
        members = [TINY_IMAGE_MEMBER, TINY_IMAGE_MEMBER] if members is None else members
        kwargs = {"members": members, "num_classes": 4, "mode": mode}
        torch.manual_seed(0)
        module = create_model("image-fusion", **kwargs)
        full = {
            "architecture": "image-fusion",
            "architecture_kwargs": kwargs,
            "task": IMAGE_TASK,
            "classes": list(IMAGE_CLASSES),
            "input": asdict(ImageInputConfig(32, 64)),
            **config,
        }
        folder = tmp_path_factory.mktemp(name) / name
        save_pretrained(module, full, folder / "model", card)
        return folder

    return make


@pytest.fixture(scope="session")
def tiny_beat_model(tmp_path_factory) -> Callable[..., Path]:
    """``tiny_beat_model(architecture="kachuee", kwargs=None, name="m", seed=0, **config)
    -> folder``: an untrained beat model (``kwargs``: its architecture's arguments, by
    default a small five-class kachuee) seeded with ``seed``, saved as ``<folder>/model`` so
    ``load_model(folder)`` loads it under ``name``; its config reads the AAMI classes, the
    beat alone (``inputs: ["x"]``) in the default :class:`~ecglens.inputs.beats.BeatConfig`,
    unless ``config`` replaces those entries or adds others."""
    import torch

    from ecglens.data.labels import AAMI_CLASSES
    from ecglens.inputs.beats import BeatConfig
    from ecglens.models.registry import create_model, save_pretrained

    def make(
        architecture: str = "kachuee",
        kwargs: dict | None = None,
        name: str = "m",
        seed: int = 0,
        **config,
    ) -> Path:
        kwargs = {"n_classes": 5, "channels": 4, "n_blocks": 2} if kwargs is None else kwargs
        torch.manual_seed(seed)
        full = {
            "architecture": architecture,
            "architecture_kwargs": kwargs,
            "task": "beats",
            "classes": list(AAMI_CLASSES),
            "inputs": ["x"],
            "beats": asdict(BeatConfig()),
            **config,
        }
        folder = tmp_path_factory.mktemp(name) / name
        save_pretrained(create_model(architecture, **kwargs), full, folder / "model")
        return folder

    return make


@pytest.fixture
def one_torch_thread():
    """Torch on one thread for the test (small models run faster so on a shared machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def mitbih_like(tmp_path_factory):
    """A tiny 'MIT-BIH' kachuee beat model (untrained, seeded) to transfer from."""
    import torch

    from ecglens.models import create_model, save_pretrained

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("init") / "src.safetensors"
    config = {
        "architecture": "kachuee",
        "architecture_kwargs": {"n_classes": 5},
        "task": "beats",
        "classes": ["N", "S", "V", "F", "Q"],
        "inputs": ["x"],
        "beats": {"representation": "kachuee"},
        "split": "intra-patient",
    }
    save_pretrained(create_model("kachuee", n_classes=5), config, path)
    return path
