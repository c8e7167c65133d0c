"""The files users have, each checked rather than guessed: a wrong sampling rate, a time
column in seconds, ms or date-times, samples in uV or V, an inverted lead, a 12-lead record,
an image, a CSV of beats or a folder mixing them with no --model. Each gets a correct answer
or a one-line error naming the file and the fix; none exits 0 with a wrong answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglens.errors import EcgLensError
from ecglens.io import read_record
from ecglens.io.formats import expand_inputs
from ecglens.models import load_model
from ecglens.predict import run
from ecglens.tasks.choose import check_model_fits, choose_model, input_shape

REPO = Path(__file__).resolve().parents[2]
RECORD = REPO / "data" / "mitdb-demo" / "213"
FS = 360.0
SECONDS = 60
LEADS_12 = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecglens", *args], capture_output=True, text=True, timeout=600
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def mlii() -> np.ndarray:
    """A minute of lead MLII of MIT-BIH record 213 (mV, 360 Hz)."""
    return read_record(RECORD).signals[: int(FS * SECONDS), 0]


@pytest.fixture(scope="module")
def model():
    return load_model("ecglens-mitdb-inter")


@pytest.fixture(scope="module")
def reference(mlii, model, tmp_path_factory) -> dict:
    """The minute as a plain CSV in mV given --fs 360: the answer the others must give."""
    path = tmp_path_factory.mktemp("ref") / "plain.csv"
    pd.DataFrame({"ecg": mlii}).to_csv(path, index=False)
    return run(path, model, fs=FS).to_dict()


def _csv(path: Path, **columns) -> Path:
    pd.DataFrame(columns).to_csv(path, index=False)
    return path


def _same_beats(got: dict, want: dict) -> None:
    assert got["sampling_rate"] == want["sampling_rate"]
    assert got["class_counts"] == want["class_counts"]
    assert [b["sample"] for b in got["beats"]] == [b["sample"] for b in want["beats"]]


# -- rate ----------------------------------------------------------------------------------


def test_time_column_in_seconds_gives_the_rate(tmp_path, mlii, model, reference):
    path = _csv(tmp_path / "sec.csv", time=np.arange(len(mlii)) / FS, ecg=mlii)
    _same_beats(run(path, model).to_dict(), reference)


def test_time_column_in_ms_gives_the_rate(tmp_path, mlii, model, reference):
    path = _csv(tmp_path / "ms.csv", time_ms=1000 * np.arange(len(mlii)) / FS, ecg=mlii)
    _same_beats(run(path, model).to_dict(), reference)


def test_time_column_rounded_to_the_ms_without_a_unit_in_its_name(tmp_path, mlii):
    path = _csv(tmp_path / "t.csv", t=np.round(1000 * np.arange(len(mlii)) / FS), ecg=mlii)
    assert read_record(path).fs == FS  # steps of 2 and 3 ms: 360 Hz


def test_date_time_stamps_give_the_rate(tmp_path, mlii, model, reference):
    stamps = pd.Timestamp("2024-05-01 12:00:00") + pd.to_timedelta(
        np.arange(len(mlii)) / FS, unit="s"
    )
    path = _csv(tmp_path / "stamps.csv", timestamp=stamps.strftime("%Y-%m-%d %H:%M:%S.%f"),
                ecg=mlii)  # fmt: skip
    _same_beats(run(path, model).to_dict(), reference)


def test_fs_that_disagrees_with_the_time_column_is_refused(tmp_path, mlii):
    """The CSV at 250 Hz given --fs 500 that used to give 136 beats instead of 207."""
    path = _csv(tmp_path / "wearable.csv", time=np.arange(len(mlii)) / FS, ecg=mlii)
    result = run_cli("predict", str(path), "--fs", "500", "--no-table")
    assert_one_line_error(result, "wearable.csv", "360 Hz", "--fs 500", "give --fs 360")


def test_fs_within_one_percent_of_the_time_column_is_taken(tmp_path, mlii):
    path = _csv(tmp_path / "sec.csv", time=np.arange(len(mlii)) / FS, ecg=mlii)
    assert read_record(path, fs=362.0).fs == 362.0


def test_no_rate_at_all_says_how_to_give_it(tmp_path, mlii):
    path = _csv(tmp_path / "norate.csv", ecg=mlii)
    result = run_cli("predict", str(path), "--no-table")
    assert_one_line_error(result, "norate.csv", "give --fs HZ", "time column")


def test_a_rate_outside_ecg_rates_is_refused(tmp_path, mlii):
    path = _csv(tmp_path / "slow.csv", ecg=mlii)
    with pytest.raises(EcgLensError, match=r"slow.csv: --fs 5 Hz is outside 50-10,000 Hz"):
        read_record(path, fs=5.0)


def test_a_clearly_wrong_rate_stops_after_peak_detection(tmp_path, model):
    """A 1,000 Hz recording (60 bpm, 100-ms QRS) given --fs 250: beats 4 s apart with
    400-ms QRS complexes at that rate; no ECG has them."""
    fs = 1000
    t = np.arange(60 * fs) / fs
    ecg = sum(np.exp(-0.5 * ((t - b) / 0.025) ** 2) for b in np.arange(0.5, 60, 1.0))
    path = _csv(tmp_path / "fast.csv", ecg=1.5 * ecg)
    with pytest.raises(EcgLensError, match=r"fast.csv: at 250 Hz .* give the right --fs"):
        run(path, model, fs=250.0)
    assert run(path, model, fs=1000.0).to_dict()["n_beats"] == 60


# -- units ---------------------------------------------------------------------------------


def test_microvolts_are_converted_with_a_warning(tmp_path, mlii, model, reference):
    path = _csv(tmp_path / "uv.csv", ecg=1000 * mlii)
    prediction = run(path, model, fs=FS)
    _same_beats(prediction.to_dict(), reference)
    assert any("only in uV: converted" in w for w in prediction.warnings)
    assert np.abs(prediction.result.signal).max() < 10  # in mV now


def test_volts_are_converted_with_a_warning(tmp_path, mlii, model, reference):
    prediction = run(_csv(tmp_path / "v.csv", ecg=mlii / 1000), model, fs=FS)
    _same_beats(prediction.to_dict(), reference)
    assert any("only in V: converted" in w for w in prediction.warnings)


def test_units_given_are_used_without_a_warning(tmp_path, mlii, model, reference):
    prediction = run(_csv(tmp_path / "uv.csv", ecg=1000 * mlii), model, fs=FS, units="uV")
    _same_beats(prediction.to_dict(), reference)
    assert not any("uV" in w for w in prediction.warnings)


def test_amplitudes_that_fit_no_unit_stop_with_the_fix(tmp_path, mlii):
    path = _csv(tmp_path / "odd.csv", ecg=30 * mlii)  # ~100 peak to peak: mV? uV? neither
    result = run_cli("predict", str(path), "--fs", "360", "--no-table")
    assert_one_line_error(result, "odd.csv", "give --units")


def test_microvolt_beat_figure_draws_a_sane_axis(tmp_path, mlii):
    """The explain figure of a uV file: converted to mV, so no axis of 44,961 ticks."""
    path = _csv(tmp_path / "uv.csv", ecg=1000 * mlii)
    result = run_cli("explain", str(path), "--fs", "360", "--beat", "1",
                     "--out", str(tmp_path / "b.png"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Locator attempting" not in result.stderr and (tmp_path / "b.png").stat().st_size


# -- polarity ------------------------------------------------------------------------------


def test_an_inverted_lead_is_reported(tmp_path, mlii, model, reference):
    prediction = run(_csv(tmp_path / "inv.csv", MLII=-mlii), model, fs=FS)
    assert any("lead MLII looks inverted" in w for w in prediction.warnings)
    upright = run(_csv(tmp_path / "up.csv", MLII=mlii), model, fs=FS)
    assert not any("inverted" in w for w in upright.warnings)


# -- the right model for each input --------------------------------------------------------


@pytest.fixture(scope="module")
def twelve_lead(tmp_path_factory) -> Path:
    import wfdb

    folder = tmp_path_factory.mktemp("twelve")
    t = np.arange(500 * 10) / 500
    beats = sum(np.exp(-0.5 * ((t - b) / 0.02) ** 2) for b in np.arange(0.4, 10, 0.85))
    sig = np.stack([beats * (0.5 + k / 12) + 0.05 * np.sin(t + k) for k in range(12)], axis=1)
    wfdb.wrsamp(
        "syn12", fs=500, units=["mV"] * 12, sig_name=LEADS_12, p_signal=sig, fmt=["16"] * 12,
        adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(folder),
    )  # fmt: skip
    return folder / "syn12"


def test_a_12_lead_record_without_model_gets_both_models(tmp_path, twelve_lead):
    out = tmp_path / "p.json"
    result = run_cli("predict", str(twelve_lead), "--json", str(out), "--no-table")
    assert result.returncode == 0, result.stderr
    answer = json.loads(out.read_text())
    assert answer["model"] == "ecglens-ptbxl-binary" and "probability" in answer
    beside = answer["beats_model"]
    assert beside["model"] == "ecglens-mitdb-inter" and beside["lead"] == "II"
    assert beside["n_beats"] >= 10


def test_a_two_lead_record_gets_the_beat_model():
    assert choose_model(RECORD) == "ecglens-mitdb-inter"


def test_a_12_lead_model_named_for_a_two_lead_record_is_refused():
    result = run_cli("predict", str(RECORD), "--model", "ecglens-ptbxl-binary", "--no-table")
    assert_one_line_error(result, "213", "does not read records of 2 leads",
                          "ecglens-mitdb-inter")  # fmt: skip


def test_an_image_gets_the_fused_image_model_and_a_beat_model_is_refused(tmp_path):
    from PIL import Image

    path = tmp_path / "scan.jpg"
    Image.new("RGB", (64, 48), "white").save(path)
    assert choose_model(path) == "ecglens-images-fused"
    with pytest.raises(EcgLensError, match=r"scan.jpg: .* does not read printout images; "
                       r"models that do: ecglens-images-fused, ecglens-images-cnn"):
        check_model_fits(load_model("ecglens-mitdb-inter"), path)


def test_a_csv_of_beats_gets_a_kachuee_model(tmp_path):
    path = tmp_path / "beats.csv"
    np.savetxt(path, np.random.default_rng(0).random((4, 187)), delimiter=",", fmt="%.4f")
    assert choose_model(path) == "kachuee-mitdb-inter"


def test_a_folder_mixing_records_and_images_gives_each_its_own_model(tmp_path, twelve_lead):
    import shutil

    from PIL import Image

    folder = tmp_path / "mixed"
    folder.mkdir()
    for suffix in (".hea", ".dat"):
        shutil.copy(RECORD.with_suffix(suffix), folder / f"213{suffix}")
        shutil.copy(twelve_lead.with_suffix(suffix), folder / f"syn12{suffix}")
    Image.new("RGB", (64, 48), "white").save(folder / "scan.png")
    chosen = {p.name: choose_model(p) for p in expand_inputs([folder])}
    assert chosen == {
        "213": "ecglens-mitdb-inter",
        "scan.png": "ecglens-images-fused",
        "syn12": "ecglens-ptbxl-binary",
    }


def test_a_long_12_lead_holter_goes_to_the_beat_model(tmp_path):
    import wfdb

    sig = np.random.default_rng(0).normal(0, 0.1, (100 * 120, 12))
    wfdb.wrsamp("long12", fs=100, units=["mV"] * 12, sig_name=LEADS_12, p_signal=sig,
                fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12,
                write_dir=str(tmp_path))  # fmt: skip
    shape = input_shape(tmp_path / "long12")
    assert shape.duration_s == 120 and not shape.twelve_lead
    assert choose_model(shape) == "ecglens-mitdb-inter"


def test_a_mistyped_model_name_gets_did_you_mean():
    result = run_cli("predict", str(RECORD), "--model", "ecglens-mitdb-iter", "--no-table")
    assert_one_line_error(result, "did you mean ecglens-mitdb-inter?")


# -- frictions -----------------------------------------------------------------------------


@pytest.mark.slow
def test_explain_without_beat_explains_the_reports_beats(tmp_path):
    out = tmp_path / "e.png"
    result = run_cli("explain", str(RECORD), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "explaining beats" in result.stderr and out.stat().st_size > 0


@pytest.mark.slow
def test_batch_on_csvs_without_fs_says_pass_fs_once(tmp_path, mlii):
    pytest.importorskip("dask.distributed")
    folder = tmp_path / "csvs"
    folder.mkdir()
    for name in ("a", "b"):
        _csv(folder / f"{name}.csv", ecg=mlii[: int(FS * 20)])
    result = run_cli("batch", str(folder), "--out", str(tmp_path / "o.parquet"),
                     "--workers", "1", "--no-progress")  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.count("pass --fs HZ") == 1, result.stderr  # the summary, once
    assert result.stderr.count("give --fs HZ") == 2, result.stderr  # each file's error
