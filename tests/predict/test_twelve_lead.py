"""12-lead predictions: lead mapping, resampling, cropping/padding, errors, CAM and Grad-CAM.

Fast tests use an untrained cam-cnn with a hand-made config; the PTB-XL tests (ECGLENS_DATA)
read real 100 and 500 Hz records.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ecglens.data.ptbxl import LEADS_12, SUPERCLASSES
from ecglens.errors import EcgLensError
from ecglens.explain import explain_12lead
from ecglens.inputs.twelve_lead import preprocessing_config
from ecglens.io import Record, read_record
from ecglens.models.cam import SUPERCLASS_CHANNELS, CamCNN
from ecglens.models.registry import LoadedModel, list_pretrained, load_model
from ecglens.predict import classify_12lead
from ecglens.signal.baseline import LeadScaler


def _model(task: str = "binary") -> LoadedModel:
    torch.manual_seed(0)
    scaler = LeadScaler(mean=np.zeros(12), std=np.full(12, 0.2))
    config = {
        "architecture": "cam-cnn",
        "task": f"ptbxl-{task}",
        "fs": 100,
        "n_leads": 12,
        "length": 1000,
        "lead_names": list(LEADS_12),
        "preprocessing": preprocessing_config("polynomial", scaler),
    }
    if task == "binary":
        module = CamCNN(n_classes=1)
        config |= {"classes": ["normal", "abnormal"], "outputs": ["abnormal"], "threshold": 0.5}
    else:
        module = CamCNN(n_classes=5, channels=SUPERCLASS_CHANNELS)
        config |= {
            "classes": list(SUPERCLASSES),
            "outputs": list(SUPERCLASSES),
            "threshold": dict.fromkeys(SUPERCLASSES, 0.3),
        }
    return LoadedModel(name=f"tiny-{task}", module=module.eval(), config=config)


def _signals(fs: float, seconds: float = 10.0) -> np.ndarray:
    """(T, 12) smooth synthetic ECG-like signals (band-limited, so rates agree)."""
    t = np.arange(int(round(seconds * fs))) / fs
    beats = sum(np.exp(-0.5 * ((t - b) / 0.03) ** 2) for b in np.arange(0.4, seconds, 0.9))
    waves = beats - 0.3 * np.sin(2 * np.pi * 0.9 * t) ** 2
    return np.stack([waves * (0.5 + k / 12) + 0.1 * np.sin(t + k) for k in range(12)], axis=1)


def _record(fs: float = 100.0, seconds: float = 10.0, names=LEADS_12, name="rec") -> Record:
    sig = _signals(fs, seconds)[:, : len(names)]
    return Record(signals=sig, fs=fs, lead_names=list(names), name=name, path=None)


def test_binary_prediction_dict_and_cam():
    model = _model()
    pred = classify_12lead(_record(), model)
    d = pred.to_dict()
    json.dumps(d)
    assert d["record"] == "rec" and d["model"] == "tiny-binary"
    assert d["sampling_rate"] == 100 and d["resampled_from"] is None and d["notes"] == []
    assert d["label"] in ("normal", "abnormal") and 0.0 <= d["probability"] <= 1.0
    assert d["label"] == ("abnormal" if d["probability"] >= 0.5 else "normal")
    assert d["threshold"] == 0.5 and d["leads"] == list(LEADS_12)
    assert pred.signals.shape == pred.x.shape == (12, 1000)
    assert pred.cam.shape == (1000,) and pred.cam.min() >= 0.0 and pred.cam.max() <= 1.0
    assert pred.cam_classes == ["normal", "abnormal"]
    assert pred.explained_class == d["label"]
    # the "normal" map is the negated abnormal map
    assert np.allclose(pred.cams[0], 1.0 - pred.cams[1], atol=1e-5)


def test_500_hz_is_resampled_and_says_so():
    model = _model()
    at_100 = classify_12lead(_record(100.0), model)
    at_500 = classify_12lead(_record(500.0), model)
    d = at_500.to_dict()
    assert d["resampled_from"] == 500 and d["sampling_rate"] == 100
    assert any("resampled from 500 Hz" in n for n in d["notes"])
    assert abs(at_500.probability - at_100.probability) < 0.05


def test_leads_are_matched_by_name_case_insensitively():
    model = _model()
    ref = classify_12lead(_record(), model)
    order = [11, 3, 0, 1, 2, 4, 5, 6, 7, 8, 9, 10]
    sig = _signals(100.0)[:, order]
    names = [LEADS_12[i].upper() if i % 2 else LEADS_12[i].lower() for i in order]
    shuffled = classify_12lead(Record(sig, 100.0, names, "shuffled"), model)
    assert shuffled.probability == pytest.approx(ref.probability, abs=1e-6)
    assert shuffled.to_dict()["notes"] == []


def test_wrong_number_of_leads_is_a_clear_error(tmp_path):
    record = _record(names=LEADS_12[:8])
    record.path = tmp_path / "eight_leads"
    with pytest.raises(EcgLensError) as err:
        classify_12lead(record, _model())
    message = str(err.value)
    assert str(tmp_path / "eight_leads") in message
    assert "8 leads" in message and "I, II, III, aVR, aVL, aVF, V1, V2" in message
    assert "needs 12" in message


def test_unknown_or_duplicated_lead_names_are_errors():
    names = [*LEADS_12[:11], "X7"]
    with pytest.raises(EcgLensError, match="missing V6"):
        classify_12lead(_record(names=names), _model())
    with pytest.raises(EcgLensError, match="duplicated"):
        classify_12lead(_record(names=[*LEADS_12[:11], "v5"]), _model())


def test_generic_lead_names_are_taken_in_standard_order():
    model = _model()
    pred = classify_12lead(_record(names=[f"lead{i}" for i in range(12)]), model)
    ref = classify_12lead(_record(), model)
    assert pred.probability == pytest.approx(ref.probability, abs=1e-6)
    assert "standard order" in pred.to_dict()["notes"][0]


def test_long_records_are_cropped_and_short_ones_padded():
    model = _model()
    long = classify_12lead(_record(seconds=15.0), model).to_dict()
    assert any("cropped to the first 10 s of 15 s" in n for n in long["notes"])
    short = classify_12lead(_record(seconds=6.0), model)
    assert any("zero-padded from 6 s" in n for n in short.to_dict()["notes"])
    assert short.x.shape == (12, 1000) and np.all(short.signals[:, 600:] == 0)
    with pytest.raises(EcgLensError, match="at least 2 s"):
        classify_12lead(_record(seconds=1.0), model)


def test_superclass_output():
    model = _model("superclass")
    pred = classify_12lead(_record(), model)
    d = pred.to_dict()
    json.dumps(d)
    assert set(d["probabilities"]) == set(SUPERCLASSES)
    assert "probability" not in d
    assert d["labels"] == [c for c, p in d["probabilities"].items() if p >= 0.3]
    assert d["label"] == max(d["probabilities"], key=d["probabilities"].get)
    assert d["threshold"] == dict.fromkeys(SUPERCLASSES, 0.3)
    assert pred.cams.shape == (5, 1000) and pred.explained_class == d["label"]


def test_explanations_cam_and_grad_cam():
    model = _model()
    pred = classify_12lead(_record(), model)
    for method in ("cam", "grad-cam"):
        for target in ("normal", "abnormal", None):
            rel = explain_12lead(pred, model, method, target=target)
            assert rel.shape == (1000,) and rel.min() >= 0.0 and rel.max() <= 1.0 + 1e-6
    assert np.array_equal(explain_12lead(pred, model, "cam", "abnormal"), pred.cams[1])
    with pytest.raises(EcgLensError, match="method"):
        explain_12lead(pred, model, "lime")
    with pytest.raises(EcgLensError, match="no class"):
        explain_12lead(pred, model, "cam", target="MI")


def test_non_12_lead_models_are_refused():
    config = {"architecture": "kachuee", "task": "beats", "classes": ["N"]}
    beat_model = LoadedModel("beats", torch.nn.Identity(), config)
    with pytest.raises(EcgLensError, match="12-lead"):
        classify_12lead(_record(), beat_model)


def _real_model() -> LoadedModel:
    if "ecglens-ptbxl-binary" in list_pretrained():
        return load_model("ecglens-ptbxl-binary")
    return _model()


def test_real_500_hz_record_is_resampled_and_agrees_with_100_hz(ptbxl_dir):
    model = _real_model()
    hr = classify_12lead(read_record(ptbxl_dir / "records500" / "00000" / "00002_hr"), model)
    lr = classify_12lead(read_record(ptbxl_dir / "records100" / "00000" / "00002_lr"), model)
    d = hr.to_dict()
    assert d["resampled_from"] == 500 and d["record"] == "00002_hr"
    assert d["path"].endswith("00002_hr")
    assert lr.to_dict()["resampled_from"] is None
    assert abs(hr.probability - lr.probability) < 0.05


def test_real_record_with_leads_removed_is_refused(ptbxl_dir, tmp_path):
    record = read_record(ptbxl_dir / "records100" / "00000" / "00002_lr")
    record.signals = record.signals[:, :8]
    record.lead_names = record.lead_names[:8]
    with pytest.raises(EcgLensError, match="8 leads"):
        classify_12lead(record, _real_model())


@pytest.mark.slow
def test_report_shows_cam_and_grad_cam_for_each_record(ptbxl_dir, tmp_path):
    from ecglens.evaluate.ptbxl import score_binary
    from ecglens.models.registry import load_model, save_pretrained
    from ecglens.tasks import report

    model = _model()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    config = dict(model.config)
    config["metrics"] = score_binary(y, np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1), 0.5, 50)
    config["val_metrics"] = config["metrics"]
    config["history"] = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "val_auc": 0.8, "lr": 1e-3}
        for e in (1, 2, 3)
    ]
    path = save_pretrained(model.module, config, tmp_path / "tiny", card="# tiny\n")
    records = [ptbxl_dir / "records100" / "00000" / "00002_lr"]
    out = report(records, load_model(path), tmp_path / "report.html", progress=False)
    text = out.read_text()
    assert "Record 00002_lr" in text and "Class activation map" in text and "Grad-CAM" in text
    assert "ROC curve" in text and "95% CI low" in text and "Training curves" in text
    assert text.count("<img") >= 5  # confusion, ROC, training curves, CAM, Grad-CAM
