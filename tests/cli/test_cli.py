"""The CLI's contract: one-line errors with non-zero exit, JSON outputs of the documented shape."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecglens", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("predict", "explain", "evaluate", "train", "report", "export-kaggle"):
        assert command in result.stdout


def test_missing_record(tmp_path):
    assert_one_line_error(run_cli("predict", str(tmp_path / "nope")), "nope.hea", "not found")


def test_record_without_requested_lead(demo_record):
    assert_one_line_error(
        run_cli("predict", str(demo_record), "--lead", "V5"), "213", "no lead 'V5'"
    )


def test_corrupted_dat(demo_record, tmp_path):
    for suffix in (".hea", ".dat", ".atr"):
        shutil.copy(demo_record.with_suffix(suffix), tmp_path / f"213{suffix}")
    data = bytearray((tmp_path / "213.dat").read_bytes())
    data[2000:2600] = bytes(600)
    (tmp_path / "213.dat").write_bytes(bytes(data))
    result = run_cli("predict", str(tmp_path / "213"), "--json", str(tmp_path / "p.json"))
    assert result.returncode == 0, result.stderr
    assert "checksum" in json.loads((tmp_path / "p.json").read_text())["warnings"][0]
    assert "checksum" in result.stderr
    strict = run_cli("predict", str(tmp_path / "213"), "--strict")
    assert_one_line_error(strict, "213.dat", "strict")


def test_a_folder_run_reports_the_bad_record_and_goes_on(demo_record, tmp_path):
    for name in ("213", "232"):
        for suffix in (".hea", ".dat", ".atr"):
            shutil.copy(demo_record.with_name(name + suffix), tmp_path / f"{name}{suffix}")
    (tmp_path / "999.hea").write_text("999 1 360 1000\n999.dat 212 200 11 1024 0 0 0 MLII\n")
    out = tmp_path / "all.jsonl"
    result = run_cli("predict", str(tmp_path), "--json", str(out), "--no-table", "--model",
                     "kachuee-mitdb-inter")
    assert result.returncode == 1
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["record"] for r in lines] == ["213", "232", "999"]
    assert "error" in lines[2] and "999" in lines[2]["error"] and "beats" in lines[0]
    assert "3 records, 1 failed" in result.stderr
    assert sum(line.startswith("error:") for line in result.stderr.splitlines()) == 1


def test_jsonl_output_is_one_object_a_line_even_for_one_record(demo_record, tmp_path):
    out = tmp_path / "one.jsonl"
    result = run_cli("predict", str(demo_record), "--json", str(out), "--no-table",
                     "--model", "kachuee-mitdb-inter")
    assert result.returncode == 0, result.stderr
    assert len(out.read_text().splitlines()) == 1
    folder = run_cli("predict", str(demo_record), "--json", str(tmp_path))
    assert_one_line_error(folder, "--json names a folder")


def test_flat_line_csv(tmp_path):
    np.savetxt(tmp_path / "flat.csv", np.zeros(5000))
    assert_one_line_error(run_cli("predict", str(tmp_path / "flat.csv"), "--fs", "250"), "flat.csv")


def test_predict_json_lines(demo_record, tmp_path):
    out = tmp_path / "pred.jsonl"
    other = demo_record.parent / "232"
    result = run_cli(
        "predict", str(demo_record), str(other), "--json", str(out), "--no-table", "--no-progress"
    )
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["record"] == "213" and first["sampling_rate"] == 360.0
    beat = first["beats"][0]
    assert set(beat) >= {"sample", "time_s", "label", "probabilities"}
    assert beat["label"] in "NSVFQ"
    assert abs(sum(beat["probabilities"].values()) - 1) < 1e-3
    assert abs(beat["time_s"] - beat["sample"] / 360) < 1e-3
    # the detector finds (nearly) all of record 213's 3,251 annotated beats
    assert abs(len(first["beats"]) - 3251) < 30


def test_predict_resampled_csv(demo_record, tmp_path):
    """A CSV at another rate is resampled to what the model needs."""
    from ecglens.io import read_record, select_lead
    from ecglens.signal.resample import resample_signal

    signal, _ = select_lead(read_record(demo_record))
    np.savetxt(tmp_path / "ecg.csv", resample_signal(signal[: 360 * 60], 360, 250))
    out = tmp_path / "pred.json"
    result = run_cli(
        "predict", str(tmp_path / "ecg.csv"), "--fs", "250", "--json", str(out), "--no-table"
    )
    assert result.returncode == 0, result.stderr
    pred = json.loads(out.read_text())
    assert pred["sampling_rate"] == 250 and 60 < len(pred["beats"]) < 120


def test_explain_writes_png(demo_record, tmp_path):
    out = tmp_path / "beat.png"
    result = run_cli("explain", str(demo_record), "--beat", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = run_cli("explain", str(demo_record), "--beat", "99999", "--out", str(out))
    assert_one_line_error(bad, "beat index out of range")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "split", "n_beats"),
    [
        ("kachuee-mitdb-inter", "inter-patient", 49712),
        ("kachuee-mitdb-intra", "intra-patient", 21899),
        ("ecglens-mitdb-inter", "inter-patient", 49712),
        ("ecglens-mitdb-intra", "intra-patient", 21899),
    ],
)
def test_evaluate_shipped_beat_models_reproduce_their_cards(
    mitdb_dir, tmp_path, model, split, n_beats
):
    from ecglens.models import load_model

    out = tmp_path / "metrics.json"
    result = run_cli(
        "evaluate",
        "mitdb",
        "--split",
        split,
        "--model",
        model,
        "--data",
        str(mitdb_dir),
        "--json",
        str(out),
        "--no-progress",
        "--device",
        "cpu",
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(out.read_text())
    card = load_model(model).config["metrics"]
    assert metrics["n"] == card["n"] == n_beats
    assert metrics["accuracy"] == pytest.approx(card["accuracy"], abs=1e-9)
    assert metrics["macro_f1"] == pytest.approx(card["macro_f1"], abs=1e-9)
    for cls in "NSVFQ":
        assert set(metrics["per_class"][cls]) >= {"precision", "recall", "f1", "support"}
        assert metrics["per_class"][cls]["f1"] == pytest.approx(
            card["per_class"][cls]["f1"], abs=1e-9
        )
    assert metrics["bootstrap"]["metrics"]["accuracy"]["ci"] == pytest.approx(
        card["bootstrap"]["metrics"]["accuracy"]["ci"]
    )
    if model == "ecglens-mitdb-inter":  # per-record S/V Se and +P, as its card's table
        assert len(card["per_record"]) == 22
        assert metrics["per_record"] == card["per_record"]
        assert metrics["without_232"]["per_class"] == card["without_232"]["per_class"]


def test_predict_and_explain_12lead(ptbxl_dir, tmp_path):
    record = ptbxl_dir / "records500" / "00000" / "00009_hr"
    out = tmp_path / "p.json"
    result = run_cli(
        "predict", str(record), "--model", "ecglens-ptbxl-binary", "--json", str(out), "--no-table"
    )
    assert result.returncode == 0, result.stderr
    pred = json.loads(out.read_text())
    assert pred["resampled_from"] == 500 and pred["label"] in ("normal", "abnormal")
    assert 0 <= pred["probability"] <= 1
    png = tmp_path / "e.png"
    result = run_cli("explain", str(record), "--model", "ecglens-ptbxl-binary", "--out", str(png))
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_12lead_model_on_a_two_lead_record(demo_record):
    result = run_cli("predict", str(demo_record), "--model", "ecglens-ptbxl-binary")
    assert_one_line_error(result, "213", "2 leads", "needs 12")


@pytest.mark.slow
def test_shipped_mi_model_evaluates_predicts_and_explains(ptbxl_dir, tmp_path):
    from ecglens.models import list_pretrained, load_model

    if "ecglens-ptbxl-mi" not in list_pretrained():
        pytest.skip("ecglens-ptbxl-mi is not shipped")
    out = tmp_path / "mi.json"
    result = run_cli(
        "evaluate", "ptbxl", "--task", "mi", "--model", "ecglens-ptbxl-mi",
        "--data", str(ptbxl_dir), "--json", str(out), "--no-progress", "--device", "cpu",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    got = json.loads(out.read_text())
    card = load_model("ecglens-ptbxl-mi").config["metrics"]
    for key in ("roc_auc", "accuracy", "sensitivity", "specificity", "f1"):
        assert got[key]["value"] == pytest.approx(card[key]["value"], abs=1e-9), key
        assert got[key]["ci"] == pytest.approx(card[key]["ci"], abs=1e-9), key
    record = ptbxl_dir / "records100" / "00000" / "00009_lr"
    pred_file = tmp_path / "p.json"
    result = run_cli(
        "predict", str(record), "--model", "ecglens-ptbxl-mi", "--json", str(pred_file)
    )
    assert result.returncode == 0, result.stderr
    pred = json.loads(pred_file.read_text())
    assert pred["label"] in ("normal", "MI") and 0 <= pred["probability"] <= 1
    assert len(pred["beats"]) == pred["n_beats"] > 3 and "probability" in pred["beats"][0]
    png = tmp_path / "e.png"
    result = run_cli("explain", str(record), "--model", "ecglens-ptbxl-mi", "--out", str(png))
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--review-threshold", "2", "--review-threshold must be"),
     ("--review-threshold", "-1", "--review-threshold"), ("--mc-samples", "-3", "--mc-samples")],
)
def test_out_of_range_options_are_refused(demo_record, option, value, message):
    result = run_cli("predict", str(demo_record), "--model", "kachuee-mitdb-inter", option, value)
    assert_one_line_error(result, message)


def test_a_missing_record_fails_before_the_model_loads(tmp_path):
    result = run_cli("predict", str(tmp_path / "missing.csv"))
    assert_one_line_error(result, "missing.csv", "not found")


def test_export_kaggle_ptbxl_then_train_kaggle(tmp_path, fake_ptbxl):
    root = fake_ptbxl(tmp_path / "data", per_fold=8)
    out = tmp_path / "kaggle"
    result = run_cli("export-kaggle", "--dataset", "ptbxl", "--data", str(root / "ptb-xl"),
                     "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert (out / "ptbdb_normal.csv").exists() and (out / "ptbdb_abnormal.csv").exists()
    run_dir = tmp_path / "run"
    result = run_cli("train", "kaggle", "--normal", str(out / "ptbdb_normal.csv"), "--abnormal",
                     str(out / "ptbdb_abnormal.csv"), "--epochs", "1", "--out", str(run_dir),
                     "--no-progress", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "same patient" in result.stderr or "patients" in result.stderr
    assert (run_dir / "model.safetensors").exists()



def test_a_report_over_records_goes_on_past_a_bad_one(demo_record, tmp_path):
    for suffix in (".hea", ".dat", ".atr"):
        shutil.copy(demo_record.with_suffix(suffix), tmp_path / f"213{suffix}")
    (tmp_path / "999.hea").write_text("999 1 360 1000\n999.dat 212 200 11 1024 0 0 0 MLII\n")
    out = tmp_path / "r.html"
    result = run_cli("report", str(tmp_path), "--model", "kachuee-mitdb-inter", "--out", str(out),
                     "--no-progress")
    assert result.returncode == 1
    html = out.read_text()
    assert "Record 213" in html and "999: not read" in html
    assert "2 records, 1 failed" in result.stderr


@pytest.mark.slow
def test_a_long_recording_is_read_in_windows_and_streamed(demo_record, tmp_path):
    from ecglens.io import read_record

    record = read_record(demo_record)
    path = tmp_path / "holter.npy"
    np.save(path, np.tile(record.signals[:, :1], (5, 1)).astype(np.float32))  # 2.5 h
    out = tmp_path / "holter.jsonl"
    result = run_cli("predict", str(path), "--fs", "360", "--model", "kachuee-mitdb-inter",
                     "--json", str(out), "--no-table")
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 1
    d = json.loads(lines[0])
    assert d["windows"]["n_windows"] == 5 and d["n_beats"] == len(d["beats"])
    assert abs(d["n_beats"] - 5 * 3248) < 10 and "signal_quality" in d


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ecglens-images-cnn", "ecglens-images-fused"])
def test_shipped_image_model_reproduces_its_row_and_explains_an_image(name, tmp_path):
    from conftest import data_root

    from ecglens.models import list_pretrained, load_model

    root = data_root()
    if root is None or not (root / "ecg-images").is_dir():
        pytest.skip("ECGLENS_DATA is not set: ECG printout images unavailable")
    if name not in list_pretrained():
        pytest.skip(f"{name} is not shipped")
    out = tmp_path / "img.json"
    result = run_cli("evaluate", "images", "--model", name, "--data",
                     str(root / "ecg-images"), "--json", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    got, card = json.loads(out.read_text()), load_model(name).config["metrics"]
    assert got["accuracy"] == card["accuracy"] and got["macro_f1"] == card["macro_f1"]
    assert got["per_class"] == card["per_class"]
    row = f"{100 * card['accuracy']['value']:.1f} [{100 * card['accuracy']['ci'][0]:.1f}, "
    results = Path(__file__).parents[2] / "docs" / "results" / "images.md"
    assert row in results.read_text()  # the model's row on the image results page
    image = root / "ecg-images" / "mi" / "MI(1).jpg"
    pred = tmp_path / "p.json"
    result = run_cli("predict", str(image), "--model", name, "--json", str(pred))
    assert result.returncode == 0, result.stderr
    d = json.loads(pred.read_text())
    assert d["label"] in d["probabilities"] and d["record"]
    png = tmp_path / "e.png"
    result = run_cli("explain", str(image), "--model", name, "--out", str(png))
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "method", ["grad-cam", "saliency", "smoothgrad", "integrated-gradients", "occlusion", "shapley"]
)
def test_explain_takes_every_beat_explainer(method, demo_record, tmp_path):
    from ecglens.explain.explainers import explainers_for

    assert method in explainers_for("beats")
    out = tmp_path / f"{method}.png"
    result = run_cli("explain", str(demo_record), "--beat", "3", "--method", method,
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_explain_takes_every_record_and_image_explainer(tmp_path):
    from conftest import data_root

    from ecglens.explain.explainers import explainers_for

    root = data_root()
    if root is None:
        pytest.skip("ECGLENS_DATA is not set: PTB-XL and the printouts unavailable")
    cases = [
        (root / "ptb-xl/records100/00000/00162_lr", "ecglens-ptbxl-binary",
         explainers_for("12-lead")),
        (root / "ecg-images/mi/MI(1).jpg", "ecglens-images-cnn", explainers_for("image")),
    ]
    for path, model, methods in cases:
        for method in methods:
            out = tmp_path / f"{model}-{method}.png"
            result = run_cli("explain", str(path), "--model", model, "--method", method,
                             "--out", str(out))
            assert result.returncode == 0, f"{model} {method}: {result.stderr}"
            assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", (model, method)
    bad = run_cli("explain", str(cases[1][0]), "--model", "ecglens-images-cnn", "--method",
                  "lime", "--out", str(tmp_path / "x.png"))
    assert_one_line_error(bad, "lime")


def test_predict_table_marks_the_beats_the_rhythm_rule_made_s(demo_record):
    result = run_cli("predict", str(demo_record.parent / "232"), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "S (rhythm)" in result.stdout  # record 232: runs of atrial premature beats
    assert "S beats by the model's rhythm rule" in " ".join(result.stderr.split())
