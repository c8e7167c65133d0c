"""Score models on the public Kaggle heartbeat CSVs (Kachuee et al. 2018 format).

Two kinds of model: MIT-BIH beat models (task ``"beats"``, classes N, S, V, F, Q) are scored on
a test file such as ``mitbih_test.csv``; ``"kaggle-ptb"`` models (normal vs MI) on the test rows
of their own random beat split of ``ptbdb_normal.csv`` + ``ptbdb_abnormal.csv``, re-made from
the seed and fractions saved in their config. Training (:mod:`ecglens.train.kaggle`) scores
with the same functions, so re-scoring the same files gives the saved metrics exactly.

OPTIMISTIC, PATIENTS LEAK: the files carry no patient or record column and are split by beat,
so beats of the same patients are on both sides; every result says so (``"optimistic": True``
and a ``"warning"``). Scores are per beat, with no intervals: without patients there is no
independent unit to resample.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens.data.kaggle import read_kaggle_csv
from ecglens.data.kaggle_ptb import PTB_CLASSES, read_ptbdb_csvs, stratified_beat_split
from ecglens.data.labels import AAMI_CLASSES
from ecglens.errors import EcgLensError
from ecglens.evaluate.metrics import classification_metrics
from ecglens.evaluate.mitdb import SCORED_CLASSES
from ecglens.evaluate.ptbxl import binary_scores, sigmoid
from ecglens.io.beat_csv import check_unit_range, file_sha256
from ecglens.models.config import ModelConfig
from ecglens.models.registry import LoadedModel
from ecglens.predict.beat_rows import check_takes_kaggle_beats
from ecglens.predict.forward import predict_logits

PTB_TASK = "kaggle-ptb"
MI_THRESHOLD = 0.5  # predict MI when P(MI) >= 0.5 (the softmax argmax; see THRESHOLD_NOTE)
THRESHOLD_NOTE = (
    "MI when P(MI) >= 0.5, the argmax of the softmax, as the published work on these files "
    "reports; the stratified split keeps the files' class shares on every side, and a "
    "threshold chosen on validation beats of the same patients would add nothing"
)
NO_INTERVALS = (
    "none: the rows are beats of unknown patients (no patient or record column), so there is "
    "no independent unit to resample"
)


def leak_warning(dataset: str) -> str:
    """The patient-leak warning of every Kaggle result; dataset "mitbih" or "ptbdb"."""
    split = (
        "mitbih_train.csv and mitbih_test.csv hold beats of the same 48 MIT-BIH records, "
        "split at random by beat"
        if dataset == "mitbih"
        else "ptbdb_normal.csv and ptbdb_abnormal.csv are split here at random by beat"
    )
    return (
        f"OPTIMISTIC, PATIENTS LEAK: {split}, so beats of the same patients (often of the same "
        "recording) are in both training and test data. These scores measure recognising beats "
        "of patients seen in training, not classifying new patients: compare them only with "
        "results on the same kind of split, and expect much lower scores on new patients "
        "(see the inter-patient MIT-BIH and PTB-XL fold results)."
    )


def score_mitbih(
    model: torch.nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    classes: list[str] | tuple[str, ...] = AAMI_CLASSES,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Beat-level metrics of a 5-class model on beats x (n, 187) with labels y (n,) 0-4:
    accuracy, per-class precision/recall/F1/support, macro-F1 (classes present; also over N, S,
    V, F as ``macro_f1_nsvf``), confusion matrix (rows reference, columns prediction)."""
    predicted = predict_logits(model, (x,), device=device).argmax(1)
    metrics = classification_metrics(y, predicted, list(classes))
    metrics["macro_f1_nsvf"] = classification_metrics(y, predicted, list(classes), SCORED_CLASSES)[
        "macro_f1"
    ]
    metrics["unit"] = "beat"
    metrics["intervals"] = NO_INTERVALS
    return metrics


def mi_probability(
    model: torch.nn.Module, x: np.ndarray, device: str | torch.device = "cpu"
) -> np.ndarray:
    """P(MI) (n,) float64 of a two-class (normal, MI) model on beats x (n, 187): the softmax of
    its two logits, computed as sigmoid(logit MI - logit normal)."""
    logits = predict_logits(model, (x,), device=device).astype(np.float64)
    if logits.ndim != 2 or logits.shape[1] != 2:
        raise EcgLensError(f"a normal-vs-MI model has 2 outputs, this one {logits.shape[1:]}")
    return sigmoid(logits[:, 1] - logits[:, 0])


def score_ptb(
    model: torch.nn.Module, x: np.ndarray, y: np.ndarray, device: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Beat-level metrics of a normal-vs-MI model on beats x (n, 187), labels y (n,) 0 normal /
    1 MI, MI positive at P(MI) >= 0.5: accuracy, sensitivity, specificity, precision, F1 (of MI),
    ROC-AUC of P(MI), per-class scores, confusion matrix [[TN, FP], [FN, TP]] and counts."""
    probability = mi_probability(model, x, device)
    predicted = (probability >= MI_THRESHOLD).astype(np.int64)
    metrics = classification_metrics(y, predicted, list(PTB_CLASSES))
    scores = binary_scores(y, probability, MI_THRESHOLD)
    metrics.update(
        {
            "n_normal": int(np.sum(y == 0)),
            "n_mi": int(np.sum(y == 1)),
            "threshold": MI_THRESHOLD,
            "sensitivity": scores["recall"],
            "specificity": scores["specificity"],
            "precision": scores["precision"],
            "f1": scores["f1"],
            "roc_auc": scores["roc_auc"],
            "unit": "beat",
            "intervals": NO_INTERVALS,
        }
    )
    return metrics


def _message(exc: EcgLensError) -> str:
    text = str(exc)
    prefix = f"{exc.path}: "
    return text[len(prefix) :] if exc.path and text.startswith(prefix) else text


@contextmanager
def naming_arguments(arguments: Mapping[str, str | Path | None]) -> Iterator[None]:
    """Add the argument name to errors raised on one of ``arguments``' files (name -> path)."""
    try:
        yield
    except EcgLensError as exc:
        given = {str(Path(p)): a for a, p in arguments.items() if p is not None}
        if exc.path not in given:
            raise
        raise EcgLensError(f"{_message(exc)} (given as {given[exc.path]})", exc.path) from exc


def read_mitbih_csv(path: str | Path, argument: str) -> tuple[np.ndarray, np.ndarray]:
    """A Kaggle MIT-BIH file: ``(x (n, 187) float32 in [0, 1], y (n,) int64 0-4)``; errors name
    the file and ``argument``. A ``ptbdb_*`` file is refused (labels 0/1 would read as N/S)."""
    if Path(path).name.lower().startswith("ptbdb"):
        raise EcgLensError(
            f"{argument} looks like a Kaggle PTB file (normal vs MI labels, not N, S, V, F, Q); "
            "PTB files go to a kaggle-ptb run as normal and abnormal files",
            path,
        )
    with naming_arguments({argument: path}):
        x, y = read_kaggle_csv(path)
        check_unit_range(x, path)
    return x, y


def read_ptb_csvs(
    normal_csv: str | Path, abnormal_csv: str | Path
) -> tuple[np.ndarray, np.ndarray]:
    """The two Kaggle PTB files (see :func:`~ecglens.data.kaggle_ptb.read_ptbdb_csvs`); errors
    name the file and its argument, ``normal_csv`` or ``abnormal_csv``."""
    with naming_arguments({"normal_csv": normal_csv, "abnormal_csv": abnormal_csv}):
        return read_ptbdb_csvs(normal_csv, abnormal_csv)


def file_info(path: str | Path, rows: int) -> dict[str, Any]:
    """{"name", "sha256", "rows"} of a data file (saved in model configs and results)."""
    return {"name": Path(path).name, "sha256": file_sha256(path), "rows": int(rows)}


def _files_match(config: ModelConfig, files: dict[str, dict[str, Any]]) -> bool | None:
    """Whether ``files`` (role -> file_info) have the SHA-256 the model's config saved; None
    when the config saved none."""
    saved = (config.data or {}).get("files") or {}
    if not all(role in saved for role in files):
        return None
    return all(saved[role]["sha256"] == info["sha256"] for role, info in files.items())


def evaluate_kaggle(
    loaded: LoadedModel,
    test_csv: str | Path | None = None,
    normal_csv: str | Path | None = None,
    abnormal_csv: str | Path | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Score ``loaded`` on Kaggle heartbeat CSVs.

    A MIT-BIH beat model (task "beats", classes N, S, V, F, Q, Kachuee beats alone) is scored on
    every row of ``test_csv``. A "kaggle-ptb" model is scored on the test rows of its own split
    (seed and fractions from its config) of ``normal_csv`` + ``abnormal_csv``. Returns the
    metrics (see :func:`score_mitbih`, :func:`score_ptb`) with "model", "dataset", "split" (a
    name; kaggle-ptb also "split_config": the seed and fractions), "optimistic" (always True),
    "warning", "files" (name, SHA-256, rows) and "same_files_as_training" (None when the model
    saved no checksums).
    """
    check_takes_kaggle_beats(loaded, "Kaggle beat CSVs")
    if loaded.task == PTB_TASK:
        return _evaluate_ptb(loaded, test_csv, normal_csv, abnormal_csv, device)
    if loaded.task == "beats" and tuple(loaded.classes) == AAMI_CLASSES:
        return _evaluate_mitbih(loaded, test_csv, normal_csv, abnormal_csv, device)
    raise EcgLensError(
        f"model {loaded.name} (task {loaded.task!r}, classes {', '.join(loaded.classes)}) is "
        "neither a MIT-BIH beat model (N, S, V, F, Q) nor a kaggle-ptb model"
    )


def _evaluate_mitbih(loaded, test_csv, normal_csv, abnormal_csv, device) -> dict[str, Any]:
    if normal_csv is not None or abnormal_csv is not None:
        given = "normal_csv" if normal_csv is not None else "abnormal_csv"
        raise EcgLensError(
            f"{given} is a Kaggle PTB file, for kaggle-ptb models; model {loaded.name} "
            "classifies N, S, V, F, Q beats: give test_csv (mitbih_test.csv) instead"
        )
    if test_csv is None:
        raise EcgLensError(
            f"test_csv is needed: model {loaded.name} is scored on a Kaggle MIT-BIH test file "
            "(mitbih_test.csv)"
        )
    x, y = read_mitbih_csv(test_csv, "test_csv")
    metrics = score_mitbih(loaded.module, x, y, loaded.classes, device)
    files = {"test": file_info(test_csv, len(y))}
    config = loaded.config
    warning = [leak_warning("mitbih")]
    trained_on = config.split
    if trained_on != "kaggle":
        warning.append(
            f"Model {loaded.name} was trained on the {trained_on} split of the MIT-BIH records, "
            "not on mitbih_train.csv; the Kaggle test file holds beats of all 48 records, "
            "its training records included."
        )
    same = _files_match(config, files)
    if same is False:
        warning.append("test_csv is not the file this model was scored on at training.")
    return {
        "model": loaded.name,
        "dataset": "mitbih",
        "split": "kaggle",
        "optimistic": True,
        "warning": " ".join(warning),
        "files": files,
        "same_files_as_training": same,
        **metrics,
    }


def _evaluate_ptb(loaded, test_csv, normal_csv, abnormal_csv, device) -> dict[str, Any]:
    if test_csv is not None:
        raise EcgLensError(
            f"test_csv is a Kaggle MIT-BIH file; model {loaded.name} is a kaggle-ptb model "
            "(normal vs MI): give normal_csv and abnormal_csv (ptbdb_normal.csv, "
            "ptbdb_abnormal.csv) instead"
        )
    for argument, value in (("normal_csv", normal_csv), ("abnormal_csv", abnormal_csv)):
        if value is None:
            raise EcgLensError(
                f"{argument} is needed: model {loaded.name} is scored on the test rows of its "
                "split of ptbdb_normal.csv and ptbdb_abnormal.csv"
            )
    split = loaded.config.split
    if not isinstance(split, dict) or not {"seed", "test_fraction"} <= set(split):
        raise EcgLensError(f"model {loaded.name}: its config saves no kaggle-ptb split")
    x, y = read_ptb_csvs(normal_csv, abnormal_csv)
    _, test = stratified_beat_split(y, split["test_fraction"], split["seed"])
    metrics = score_ptb(loaded.module, x[test], y[test], device)
    files = {
        "normal": file_info(normal_csv, int(np.sum(y == 0))),
        "abnormal": file_info(abnormal_csv, int(np.sum(y == 1))),
    }
    warning = [leak_warning("ptbdb")]
    same = _files_match(loaded.config, files)
    if same is False:
        warning.append(
            "These are not the files this model was trained on: the split re-made from them is "
            "not the model's own, and its training beats may be among these test rows."
        )
    return {
        "model": loaded.name,
        "dataset": "ptbdb",
        "split": str(split.get("kind", "kaggle-ptb random beat split")),
        "split_config": split,
        "optimistic": True,
        "warning": " ".join(warning),
        "files": files,
        "same_files_as_training": same,
        **metrics,
    }
