import json
from dataclasses import asdict

import pytest

from ecglens.errors import EcgLensError
from ecglens.inputs.beats import BeatConfig
from ecglens.inputs.images import ImageInputConfig
from ecglens.models.config import ModelConfig
from ecglens.models.registry import WEIGHTS_DIR, list_pretrained

SHIPPED = list_pretrained()
MINIMAL = {"architecture": "kachuee", "task": "beats", "classes": ["N", "S"]}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_config_loads_and_round_trips_byte_for_byte(name):
    text = (WEIGHTS_DIR / f"{name}.json").read_text()
    config = ModelConfig.from_dict(json.loads(text), name)
    assert config.extra == {}  # every shipped key has a typed field
    assert json.dumps(config.to_dict(), indent=2) + "\n" == text
    assert dict(config) == json.loads(text)


def test_fields_are_typed():
    inter = ModelConfig.from_dict(
        json.loads((WEIGHTS_DIR / "ecglens-mitdb-inter.json").read_text())
    )
    assert isinstance(inter.beats, BeatConfig) and inter.beats.window_fs == 180.0
    assert inter.inputs == ["x", "rr_context"] and inter.mc_samples == 0
    assert inter["beats"] == {  # the mapping view gives the JSON values
        "representation": "window", "lead": None, "window_fs": 180.0, "before_s": 0.25,
        "after_s": 0.45, "context": 1, "normalize": "median-beat", "record_features": True,
    }  # fmt: skip
    images = ModelConfig.from_dict(
        json.loads((WEIGHTS_DIR / "ecglens-images-cnn.json").read_text())
    )
    assert images.input == ImageInputConfig(height=128, width=224, grayscale=True, crop=True)


def test_defaults_of_absent_keys_are_not_written_back():
    config = ModelConfig.from_dict(MINIMAL, "tiny")
    assert config.temperature == 1.0 and config.mc_samples == 0 and config.beats is None
    assert "temperature" not in config and config.get("temperature", 2.0) == 2.0
    assert config.to_dict() == MINIMAL and list(config.to_dict()) == list(MINIMAL)
    built = ModelConfig(architecture="kachuee", classes=["N"], temperature=0.5)
    assert built.to_dict() == {"architecture": "kachuee", "classes": ["N"], "temperature": 0.5}


def test_unknown_keys_are_kept_in_order():
    d = {**MINIMAL, "future_key": {"a": 1}, "temperature": 0.7}
    config = ModelConfig.from_dict(d, "tiny")
    assert config.extra == {"future_key": {"a": 1}} and config["future_key"] == {"a": 1}
    assert list(config.to_dict()) == list(d) and config.to_dict() == d
    assert config == d and config == ModelConfig.from_dict(dict(d), "again")


def test_replace_keeps_the_layout_and_appends_new_keys():
    config = ModelConfig.from_dict(MINIMAL, "tiny").replace(task="images", mc_samples=5)
    assert config.task == "images" and list(config.to_dict()) == [*MINIMAL, "mc_samples"]
    beats = config.replace(beats={"representation": "window", "context": 3})
    assert beats.beats == BeatConfig(representation="window", context=3)
    assert beats["beats"] == {"representation": "window", "context": 3}
    assert config.replace(beats=BeatConfig())["beats"] == asdict(BeatConfig())
    with pytest.raises(EcgLensError, match="config key 'mc_samples' must be an integer"):
        config.replace(mc_samples="5")
    with pytest.raises(EcgLensError, match="config key 'temperature' must be a number"):
        ModelConfig(architecture="kachuee", classes=["N"], temperature="1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"architecture": None}, "config has no 'architecture'"),
        ({"classes": None}, "config has no 'classes'"),
        ({"temperature": "hot"}, "config key 'temperature' must be a number, not a string"),
        ({"mc_samples": 2.5}, "config key 'mc_samples' must be an integer, not a number"),
        ({"optimistic": 1}, "config key 'optimistic' must be true/false, not a number"),
        ({"classes": ["N", 1]}, "config key 'classes' must be a list of strings"),
        ({"threshold": [0.5]}, "config key 'threshold' must be a number or an object"),
        ({"beats": {"context": "3"}}, "config key 'beats.context' must be an integer"),
        ({"beats": {"speed": 1}}, "config key 'beats.speed' is unknown"),
        ({"beats": {"context": 2}}, "config key 'beats': beat context must be an odd"),
        ({"input": {"height": 2}}, "config key 'input': image height must be"),
    ],
)  # fmt: skip
def test_a_missing_or_wrong_key_is_a_one_line_error_naming_it(change, message):
    d = {k: v for k, v in {**MINIMAL, **change}.items() if v is not None}
    with pytest.raises(EcgLensError) as info:
        ModelConfig.from_dict(d, "tiny")
    assert str(info.value).startswith(f"model tiny: {message}") and "\n" not in str(info.value)


def test_a_broken_shipped_style_config_fails_when_the_model_loads(tmp_path):
    from ecglens.models import create_model, load_model, save_pretrained

    path = save_pretrained(create_model("kachuee"), dict(MINIMAL), tmp_path / "m")
    config = json.loads(path.with_suffix(".json").read_text()) | {"mc_samples": "20"}
    path.with_suffix(".json").write_text(json.dumps(config))
    with pytest.raises(EcgLensError, match=r"model m \(.*m\.json\): config key 'mc_samples'"):
        load_model(path)
    with pytest.raises(EcgLensError, match="config key 'mc_samples'"):
        save_pretrained(create_model("kachuee"), config, tmp_path / "other")
