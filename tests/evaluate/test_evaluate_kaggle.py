"""evaluate_kaggle: re-scoring a Kaggle-trained model gives its saved metrics exactly; every
result is flagged optimistic; wrong files for a model are refused naming the argument."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from ecglens.errors import EcgLensError
from ecglens.evaluate.kaggle import evaluate_kaggle
from ecglens.models.registry import LoadedModel, load_model
from ecglens.train.kaggle import KaggleRunConfig, train_kaggle_mitbih, train_kaggle_ptb

QUICK = {"epochs": 1, "batch_size": 16, "lr": 3e-3, "device": "cpu"}
TINY = {"channels": 8, "n_blocks": 2}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, kaggle_csvs) -> dict[str, Path]:
    """Kaggle-style files and one model trained on each kind (one epoch, one thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("kaggle-eval")
    paths = kaggle_csvs(train=200, test=80, ptb=240)
    mitbih = KaggleRunConfig.from_options("mitbih", arch_kwargs=TINY, **QUICK)
    train_kaggle_mitbih(paths["train"], paths["test"], root / "mitbih", mitbih, progress=False)
    ptb = KaggleRunConfig.from_options(
        "ptbdb", arch_kwargs=TINY, seed=3, test_fraction=0.25, **QUICK
    )
    train_kaggle_ptb(paths["normal"], paths["abnormal"], root / "ptb-run", ptb, progress=False)
    paths["mitbih_model"], paths["ptb_model"] = root / "mitbih", root / "ptb-run"
    torch.set_num_threads(threads)
    return paths


def _same_metrics(result: dict, loaded: LoadedModel) -> None:
    saved = loaded.config["metrics"]
    assert {k: result[k] for k in saved} == saved


def test_mitbih_model_rescored_exactly(trained):
    loaded = load_model(trained["mitbih_model"])
    result = evaluate_kaggle(loaded, test_csv=trained["test"])
    _same_metrics(result, loaded)
    assert result["optimistic"] is True and "PATIENTS LEAK" in result["warning"]
    assert result["same_files_as_training"] is True and result["files"]["test"]["rows"] == 80
    assert (result["dataset"], result["split"], result["model"]) == ("mitbih", "kaggle", "mitbih")


def test_ptb_model_rescored_on_its_own_split(trained, tmp_path):
    loaded = load_model(trained["ptb_model"])
    assert loaded.config["split"]["seed"] == 3 and loaded.config["split"]["test_fraction"] == 0.25
    result = evaluate_kaggle(loaded, normal_csv=trained["normal"], abnormal_csv=trained["abnormal"])
    _same_metrics(result, loaded)
    assert result["n"] == 60 and result["split_config"] == loaded.config["split"]
    assert result["optimistic"] is True and "PATIENTS LEAK" in result["warning"]
    assert result["same_files_as_training"] is True

    other = tmp_path / "ptbdb_abnormal.csv"
    shutil.copy(trained["abnormal"], other)
    with other.open("a") as f:
        f.write(",".join(["0.5"] * 187 + ["1.0"]) + "\n")
    changed = evaluate_kaggle(loaded, normal_csv=trained["normal"], abnormal_csv=other)
    assert changed["same_files_as_training"] is False
    assert "not the files this model was trained on" in changed["warning"]


def test_a_model_from_mitbih_records_is_scored_with_a_warning(trained):
    loaded = load_model("kachuee-mitdb-intra")
    result = evaluate_kaggle(loaded, test_csv=trained["test"])
    assert result["n"] == 80 and result["same_files_as_training"] is None
    assert "PATIENTS LEAK" in result["warning"] and "not on mitbih_train.csv" in result["warning"]


def test_wrong_files_for_a_model_name_the_argument(trained):
    mitbih = load_model(trained["mitbih_model"])
    ptb = load_model(trained["ptb_model"])
    cases = [
        (mitbih, {"normal_csv": trained["normal"]}, "normal_csv is a Kaggle PTB file"),
        (mitbih, {}, "test_csv is needed"),
        (mitbih, {"test_csv": trained["normal"]}, "test_csv looks like a Kaggle PTB file"),
        (ptb, {"test_csv": trained["test"]}, "test_csv is a Kaggle MIT-BIH file"),
        (ptb, {"normal_csv": trained["normal"]}, "abnormal_csv is needed"),
        (
            ptb,
            {"normal_csv": trained["test"], "abnormal_csv": trained["abnormal"]},
            "(given as normal_csv)",
        ),
        (
            mitbih,
            {"test_csv": trained["test"].with_name("missing.csv")},
            "file not found (given as test_csv)",
        ),
    ]
    for loaded, files, message in cases:
        with pytest.raises(EcgLensError) as err:
            evaluate_kaggle(loaded, **files)
        assert message in str(err.value), str(err.value)
        assert "\n" not in str(err.value)


def test_models_that_do_not_take_kaggle_beats_are_refused(trained):
    with pytest.raises(EcgLensError, match="cannot classify Kaggle beat CSVs"):
        evaluate_kaggle(load_model("ecglens-mitdb-intra"), test_csv=trained["test"])
