"""Kaggle heartbeat runs on tiny synthetic CSVs: MIT-BIH (5 classes) and PTB (normal vs MI), the
written model and card, transfer from a saved encoder (copied; frozen or fine-tuned), run
configuration defaults and refusals."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from ecglens.data.kaggle import write_kaggle_csv
from ecglens.data.kaggle_ptb import write_ptbdb_csvs
from ecglens.data.labels import AAMI_CLASSES
from ecglens.errors import EcgLensError
from ecglens.inputs.beats import BeatConfig
from ecglens.io import Record, read_record
from ecglens.io.beat_csv import file_sha256
from ecglens.models.registry import create_model, load_model, save_pretrained
from ecglens.predict.beats import classify_record
from ecglens.train.kaggle import (
    KaggleRunConfig,
    build_model,
    default_train_config,
    reproduce_command,
    run_config_from_dict,
    train_kaggle_mitbih,
    train_kaggle_ptb,
)

TINY = {"channels": 8, "n_blocks": 2}  # a small kachuee network (the default has 32 x 5)
QUICK = {"epochs": 2, "batch_size": 16, "lr": 3e-3, "device": "cpu"}


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def synthetic_beats(n: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 187) beats in [0, 1]: an R peak at sample 0, a bump whose place depends on the class,
    noise and zero padding; labels cycle through the classes."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    t = np.arange(187)
    x = 0.2 + rng.normal(0, 0.03, (n, 187))
    x += 0.6 * np.exp(-0.5 * ((t[None, :] - 20 - 30 * y[:, None]) / 6) ** 2)
    x[:, 0], x[:, 170:] = 1.0, 0.0
    return np.clip(x, 0, 1).astype(np.float32), y


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kaggle")
    out = {}
    for name, n, seed in (("mitbih_train.csv", 250, 0), ("mitbih_test.csv", 100, 1)):
        out[name] = write_kaggle_csv(root / name, *synthetic_beats(n, 5, seed))
    out["normal"], out["abnormal"] = write_ptbdb_csvs(root, *synthetic_beats(300, 2, 2))
    return out


def _init_model(tmp_path: Path, architecture: str = "kachuee", **changes) -> Path:
    """A tiny untrained 5-class beat model saved as an ``init`` for transfer; ``changes``
    replace entries of its config (``kwargs``: its architecture's arguments)."""
    torch.manual_seed(1)
    base = {"n_classes": 5, **TINY} if architecture == "kachuee" else {"n_classes": 5}
    kwargs = {**base, **changes.pop("kwargs", {})}
    config = {
        "architecture": architecture,
        "architecture_kwargs": kwargs,
        "task": "beats",
        "classes": list(AAMI_CLASSES),
        "inputs": ["x"],
        "beats": asdict(BeatConfig()),
        **changes,
    }
    return save_pretrained(create_model(architecture, **kwargs), config, tmp_path / "init")


def _encoder(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in module.state_dict().items() if not k.startswith("head.")}


def test_mitbih_run_writes_a_loadable_model_that_says_it_is_optimistic(files, tmp_path):
    run = KaggleRunConfig.from_options("mitbih", arch_kwargs=TINY, **QUICK)
    out = tmp_path / "run"
    config = train_kaggle_mitbih(
        files["mitbih_train.csv"], files["mitbih_test.csv"], out, run, progress=False
    )
    for name in ("model.safetensors", "model.json", "model.md", "metrics.json", "run_config.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "metrics.json").read_text()) == config["metrics"]
    assert run_config_from_dict(json.loads((out / "run_config.json").read_text())) == run

    loaded = load_model(out)
    assert loaded.config == json.loads(json.dumps(config))
    assert (loaded.task, loaded.classes, config["inputs"]) == ("beats", list(AAMI_CLASSES), ["x"])
    assert config["beats"] == asdict(BeatConfig()) and config["split"] == "kaggle"
    assert config["optimistic"] is True and "PATIENTS LEAK" in config["warning"]
    assert "PATIENTS LEAK" in "\n".join(loaded.card.splitlines()[:4])
    assert config["command"] in loaded.card
    test_file = config["data"]["files"]["test"]
    assert test_file == {
        "name": "mitbih_test.csv",
        "sha256": file_sha256(files["mitbih_test.csv"]),
        "rows": 100,
    }
    assert config["data"]["n_train"] + config["data"]["n_val"] == 250
    assert config["data"]["counts"]["val"] == dict.fromkeys(AAMI_CLASSES, 5)
    m = config["metrics"]
    assert m["n"] == 100 and m["classes"] == list(AAMI_CLASSES) and len(m["per_class"]) == 5
    assert np.array(m["confusion_matrix"]).shape == (5, 5) and m["accuracy"] > 0.8
    assert m["unit"] == "beat" and config["val_metrics"]["n"] == 25
    args = shlex.split(config["command"])
    assert args[:7] == [
        "ecglens", "train", "kaggle",
        "--train", str(files["mitbih_train.csv"]), "--test", str(files["mitbih_test.csv"]),
    ]  # fmt: skip
    assert "--no-class-weighted" in args and args[args.index("--monitor") + 1] == "val_macro_f1"
    assert json.loads(args[args.index("--arch-kwargs") + 1]) == TINY

    # the config is a MIT-BIH beat model's, so ecglens predict runs it on records
    demo = read_record(Path(__file__).resolve().parents[2] / "data" / "mitdb-demo" / "213")
    short = Record(demo.signals[: 20 * 360], demo.fs, demo.lead_names, "213-20s")
    beats = classify_record(short, loaded)
    assert beats.probabilities.shape[1] == 5 and len(beats.sample) > 10


def test_ptb_transfer_copies_the_encoder_and_freezing_keeps_it(files, tmp_path):
    init = _init_model(tmp_path)
    source = load_model(init)
    run = KaggleRunConfig.from_options("ptbdb", init=str(init), freeze=True, **QUICK)

    model, kwargs, transfer = build_model(run, 2)
    assert kwargs == {"n_classes": 2, **TINY}
    assert model.head[-1].out_features == 2 and model is not source.module
    for key, value in source.module.state_dict().items():
        if not key.startswith("head.5."):  # the output layer is new; the rest is copied
            assert torch.equal(model.state_dict()[key], value), key
    assert transfer["init_model"] == "init" and transfer["init_sha256"] == file_sha256(init)

    out = tmp_path / "ptb"
    config = train_kaggle_ptb(files["normal"], files["abnormal"], out, run, progress=False)
    trained = load_model(out)
    assert _encoder(trained.module).keys() == _encoder(source.module).keys()
    for key, value in _encoder(source.module).items():
        assert torch.equal(trained.module.state_dict()[key], value), key  # frozen
    hidden = "head.1.weight"
    assert not torch.equal(trained.module.state_dict()[hidden], source.module.state_dict()[hidden])

    assert config["task"] == "kaggle-ptb" and config["classes"] == ["normal", "MI"]
    assert config["inputs"] == ["x"] and config["beats"] == asdict(BeatConfig())
    assert config["optimistic"] is True and "PATIENTS LEAK" in config["warning"]
    split = config["split"]
    assert (split["kind"], split["seed"], split["test_fraction"], split["val_fraction"]) == (
        "kaggle-ptb random beat split",
        0,
        0.2,
        0.1,
    )
    assert config["transfer"]["init"] == str(init)
    assert config["transfer"]["freeze_encoder"] is True
    assert config["transfer"]["encoder_lr_scale"] == 1.0
    assert config["train"]["monitor"] == "val_auc" and config["train"]["class_weighted"] is False
    d = config["data"]
    assert (d["n_train"], d["n_val"], d["n_test"]) == (216, 24, 60)
    assert d["counts"]["test"] == {"normal": 30, "MI": 30}
    m = config["metrics"]
    assert m["n"] == 60 and m["threshold"] == 0.5
    for key in ("accuracy", "sensitivity", "specificity", "f1", "roc_auc"):
        assert 0.0 <= m[key] <= 1.0, key
    args = shlex.split(config["command"])
    assert args[3:7] == ["--normal", str(files["normal"]), "--abnormal", str(files["abnormal"])]
    assert "--freeze" in args and args[args.index("--init") + 1] == str(init)
    assert "PATIENTS LEAK" in "\n".join(trained.card.splitlines()[:4])


def test_fine_tuning_moves_the_encoder(files, tmp_path):
    init = _init_model(tmp_path)
    run = KaggleRunConfig.from_options(
        "ptbdb", init=str(init), encoder_lr_scale=0.1, **{**QUICK, "epochs": 1}
    )
    config = train_kaggle_ptb(files["normal"], files["abnormal"], tmp_path / "ft", run, False)
    before = _encoder(load_model(init).module)
    after = load_model(tmp_path / "ft").module.state_dict()
    assert any(not torch.equal(after[k], v) for k, v in before.items())
    assert config["transfer"]["encoder_lr_scale"] == 0.1
    assert "--encoder-lr-scale 0.1" in config["command"]


@pytest.mark.parametrize(
    "changes",
    [
        {"inputs": ["x", "rr_ratios"], "kwargs": {"n_rr_features": 4}},
        {"beats": asdict(BeatConfig(representation="window"))},
        {"architecture": "cnn-lstm"},
    ],
)
def test_init_must_be_a_kachuee_model_of_kachuee_beats(files, tmp_path, changes):
    init = _init_model(tmp_path, **changes)
    run = KaggleRunConfig.from_options("ptbdb", init=str(init), **QUICK)
    with pytest.raises(EcgLensError, match="is not a kachuee beat model") as err:
        train_kaggle_ptb(files["normal"], files["abnormal"], tmp_path / "x", run, False)
    assert str(err.value).startswith(f"init {init}:") and "\n" not in str(err.value)


def test_a_missing_init_model_names_the_argument(files, tmp_path):
    run = KaggleRunConfig.from_options("ptbdb", init=str(tmp_path / "none.safetensors"), **QUICK)
    with pytest.raises(EcgLensError, match=r"no such model.*\(given as init\)"):
        train_kaggle_ptb(files["normal"], files["abnormal"], tmp_path / "x", run, False)


def test_run_config_defaults_depend_on_the_dataset():
    mitbih = KaggleRunConfig.from_options("mitbih")
    ptb = KaggleRunConfig.from_options("ptbdb", epochs=3, class_weighted=True)
    t = mitbih.train
    assert (t.epochs, t.batch_size, t.lr, t.patience) == (30, 256, 1e-3, 6)
    assert (t.class_weighted, t.monitor) == (False, "val_macro_f1")
    assert (ptb.train.monitor, ptb.train.class_weighted, ptb.train.epochs) == ("val_auc", True, 3)
    assert KaggleRunConfig(dataset="ptbdb").train.class_weighted is False
    assert (mitbih.architecture, mitbih.val_fraction, mitbih.test_fraction) == ("kachuee", 0.1, 0.2)
    assert KaggleRunConfig.from_options(arch_kwargs='{"channels": 8}').architecture_kwargs == {
        "channels": 8
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"freeze": True}, "need init"),
        ({"encoder_lr_scale": 0.5}, "need init"),
        ({"val_fraction": 0.0}, "val_fraction must be between 0 and 1"),
        ({"test_fraction": 1.0}, "test_fraction must be between 0 and 1"),
        ({"monitor": "val_auc"}, "monitor for mitbih must be one of"),
        ({"dataset": "ptb"}, "dataset must be one of mitbih, ptbdb"),
        ({"init": "kachuee-mitdb-intra", "arch_kwargs": {"channels": 8}}, "from the init model"),
        ({"arch_kwargs": "{channels"}, "--arch-kwargs is not valid JSON"),
    ],
)
def test_run_config_refusals(options, message):
    with pytest.raises(EcgLensError, match=message):
        KaggleRunConfig.from_options(**options)


def test_wrong_files_and_runs_are_refused(files, tmp_path):
    mitbih = KaggleRunConfig.from_options("mitbih", arch_kwargs=TINY, **QUICK)
    with pytest.raises(EcgLensError, match="train_csv looks like a Kaggle PTB file"):
        train_kaggle_mitbih(files["normal"], files["mitbih_test.csv"], tmp_path, mitbih, False)
    beats_only = tmp_path / "beats.csv"
    np.savetxt(beats_only, synthetic_beats(4, 5, 0)[0], delimiter=",")
    with pytest.raises(EcgLensError, match=r"expected 188 columns.*\(given as test_csv\)"):
        train_kaggle_mitbih(files["mitbih_train.csv"], beats_only, tmp_path, mitbih, False)
    with pytest.raises(EcgLensError, match="needs a ptbdb run"):
        train_kaggle_ptb(files["normal"], files["abnormal"], tmp_path, mitbih, False)
    ptb = KaggleRunConfig.from_options("ptbdb", **QUICK)
    with pytest.raises(EcgLensError, match=r"label.*\(given as normal_csv\)"):
        train_kaggle_ptb(files["mitbih_test.csv"], files["abnormal"], tmp_path, ptb, False)


def test_settings_without_an_option_are_named_after_the_command():
    run = KaggleRunConfig(dataset="ptbdb", train=default_train_config("ptbdb", loss="focal"))
    command = reproduce_command(run, {"normal": "n.csv", "abnormal": "a.csv"}, "out")
    assert command.endswith("--out out  # plus, through the Python API: train.loss='focal'")
