import pytest
import torch

from ecglens.errors import EcgLensError
from ecglens.models import create_model, list_models, list_pretrained, load_model, save_pretrained


def test_kachuee_architecture_matches_the_paper():
    model = create_model("kachuee")
    assert "kachuee" in list_models()
    assert model(torch.zeros(3, 187)).shape == (3, 5)
    assert model(torch.zeros(3, 1, 187)).shape == (3, 5)
    convs = [m for m in model.blocks.modules() if isinstance(m, torch.nn.Conv1d)]
    assert len(convs) == 10  # five residual blocks of two conv layers
    assert all(c.out_channels == 32 and c.kernel_size == (5,) for c in convs)
    dense = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert [d.out_features for d in dense] == [32, 32, 5]


def test_unknown_architecture():
    with pytest.raises(EcgLensError, match="unknown architecture"):
        create_model("nope")


def test_save_and_load_round_trip(tmp_path):
    model = create_model("kachuee").eval()
    config = {"architecture": "kachuee", "architecture_kwargs": {}, "classes": list("NSVFQ")}
    path = save_pretrained(model, config, tmp_path / "m", card="# card")
    loaded = load_model(path)
    x = torch.randn(2, 187)
    torch.testing.assert_close(loaded.module(x), model(x))
    assert loaded.card == "# card" and loaded.classes == list("NSVFQ")
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(EcgLensError, match="no such model"):
        load_model(tmp_path / "missing")


@pytest.mark.parametrize("name", ["kachuee-mitdb-inter", "kachuee-mitdb-intra"])
def test_shipped_models_load(name):
    assert name in list_pretrained()
    loaded = load_model(name)
    assert loaded.config["task"] == "beats"
    assert loaded.config["split"] in ("inter-patient", "intra-patient")
    assert "ecglens train mitdb" in loaded.card
    assert loaded.module(torch.zeros(1, 187)).shape == (1, 5)


def test_architectures_are_found_without_a_hand_list():
    """Every module of ecglens.models that registers an architecture is found by importing
    the package's modules (the registry keeps no list of them)."""
    import pkgutil
    import re
    from pathlib import Path

    import ecglens.models
    from ecglens.models import registry

    assert not hasattr(registry, "_ARCHITECTURE_MODULES")
    declared = set()
    for module in pkgutil.iter_modules(ecglens.models.__path__):
        text = (Path(ecglens.models.__path__[0]) / f"{module.name}.py").read_text()
        declared |= set(re.findall(r'@register_model\("([^"]+)"\)', text))
    assert {"kachuee", "cnn-lstm", "cam-cnn", "ensemble", "image-cnn"} <= declared
    assert set(list_models()) == declared


def test_cli_help_imports_no_architecture():
    """Discovery happens when a model is created or loaded, not when the CLI starts."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from ecglens.cli.main import main\n"
        "sys.argv = ['ecglens', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('IMPORTED', sorted(m for m in sys.modules if m.startswith('ecglens.models')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "IMPORTED []" in out.stdout
