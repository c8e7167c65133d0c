"""One file of each input kind through all four front ends: ``ecglens predict``, ``ecglens
report``, ``ecglens batch`` (Dask, in-process) and ``POST /predict``. They share one entry
point (``ecglens.predict.run``), so each kind must work in each, with the same answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("dask.distributed")
pq = pytest.importorskip("pyarrow.parquet")
edfio = pytest.importorskip("edfio")

from fastapi.testclient import TestClient  # noqa: E402

from ecglens.batch import BatchConfig, run_batch  # noqa: E402
from ecglens.serve.app import create_app  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "mitdb-demo"
SECONDS = 30
FS = 360.0
LEADS_12 = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
# input kind -> (model, sampling rate to give, what its /predict answer must hold)
KINDS = {
    "wfdb": ("ecglens-mitdb-inter", None, "n_beats"),
    "edf": ("ecglens-mitdb-inter", None, "n_beats"),
    "csv": ("ecglens-mitdb-inter", FS, "n_beats"),
    "npy": ("ecglens-mitdb-inter", FS, "n_beats"),
    "beat-csv": ("kachuee-mitdb-inter", None, "n_beats"),
    "12-lead": ("ecglens-ptbxl-binary", None, "probability"),
    "image": ("ecglens-images-cnn", None, "probabilities"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, printout_image_module) -> dict[str, Path]:
    """A file of each kind, each in its own folder (batch and report take folders too)."""
    import wfdb

    root = tmp_path_factory.mktemp("kinds")
    rec = wfdb.rdrecord(str(DEMO / "213"), sampto=int(SECONDS * FS))
    folders = {kind: root / kind for kind in KINDS}
    for folder in folders.values():
        folder.mkdir()
    wfdb.wrsamp(
        "e213", fs=FS, units=rec.units, sig_name=rec.sig_name, p_signal=rec.p_signal,
        fmt=["16", "16"], adc_gain=[200.0, 200.0], baseline=[0, 0],
        write_dir=str(folders["wfdb"]),
    )  # fmt: skip
    edfio.Edf(
        [edfio.EdfSignal(rec.p_signal[:, 0], FS, label="ECG MLII", physical_dimension="mV")]
    ).write(folders["edf"] / "e213.edf")
    np.savetxt(folders["csv"] / "e213.csv", rec.p_signal, delimiter=",", fmt="%.4f")
    np.save(folders["npy"] / "e213.npy", rec.p_signal)
    rng = np.random.default_rng(0)
    np.savetxt(folders["beat-csv"] / "beats.csv", rng.random((6, 187)), delimiter=",", fmt="%.5f")
    t = np.arange(int(500 * 10)) / 500
    beats = sum(np.exp(-0.5 * ((t - b) / 0.02) ** 2) for b in np.arange(0.4, 10, 0.85))
    sig = np.stack([beats * (0.5 + k / 12) + 0.05 * np.sin(t + k) for k in range(12)], axis=1)
    wfdb.wrsamp(
        "syn12", fs=500, units=["mV"] * 12, sig_name=LEADS_12, p_signal=sig, fmt=["16"] * 12,
        adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(folders["12-lead"]),
    )  # fmt: skip
    printout_image_module(folders["image"] / "page.png")
    files = {
        "wfdb": folders["wfdb"] / "e213",
        "edf": folders["edf"] / "e213.edf",
        "csv": folders["csv"] / "e213.csv",
        "npy": folders["npy"] / "e213.npy",
        "beat-csv": folders["beat-csv"] / "beats.csv",
        "12-lead": folders["12-lead"] / "syn12",
        "image": folders["image"] / "page.png",
    }
    return files


@pytest.fixture(scope="module")
def printout_image_module():
    """A white page with four wavy traces (a stand-in printout), written to ``path``."""
    from PIL import Image, ImageDraw

    def draw(path: Path) -> Path:
        image = Image.new("RGB", (738, 524), "white")
        pen = ImageDraw.Draw(image)
        rng = np.random.default_rng(0)
        for row in range(4):
            ys = 120 + 100 * row + rng.normal(0, 2, size=738)
            ys[np.arange(20, 720, 60)] -= 30
            pen.line(list(zip(range(738), ys.tolist(), strict=True)), fill="black", width=2)
        image.save(path)
        return path

    return draw


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecglens", *args], capture_output=True, text=True, timeout=600
    )


def _fs_args(fs: float | None) -> list[str]:
    return [] if fs is None else ["--fs", f"{fs:g}"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_through_predict_report_and_batch(kind, inputs, tmp_path):
    model, fs, key = KINDS[kind]
    path = inputs[kind]
    out = tmp_path / "p.json"
    done = _cli("predict", str(path), "--model", model, *_fs_args(fs), "--no-table",
                "--no-progress", "--json", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    predicted = json.loads(out.read_text())
    assert key in predicted and "warnings" in predicted
    # a folder of this kind works as well as the file
    folder = _cli("predict", str(path.parent), "--model", model, *_fs_args(fs), "--no-table",
                  "--no-progress")  # fmt: skip
    assert folder.returncode == 0, folder.stderr
    html = tmp_path / "r.html"
    report = _cli("report", str(path), "--model", model, *_fs_args(fs), "--no-progress",
                  "--out", str(html))  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "not read" not in html.read_text() and "<img" in html.read_text()
    summary = run_batch(
        path.parent, tmp_path / "batch",
        BatchConfig(model=model, fs=fs, workers=1, processes=False, device="cpu"),
        progress=False,
    )  # fmt: skip
    assert summary.failed == 0 and summary.done == 1
    rows = pq.read_table(tmp_path / "batch").to_pandas()
    if key == "n_beats" and kind != "beat-csv":  # one row per beat, as predict counted them
        assert len(rows) == predicted["n_beats"]
    else:
        assert len(rows) == 1


@pytest.fixture(scope="module")
def client():
    models = sorted({model for model, _, _ in KINDS.values()})
    with TestClient(create_app(models, demo_dir=None)) as c:
        yield c


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_through_the_web_api(kind, inputs, client, tmp_path):
    model, fs, key = KINDS[kind]
    path = inputs[kind]
    files = [p for p in path.parent.iterdir() if p.is_file()]
    data = {"model": model, **({} if fs is None else {"fs": str(fs)})}
    response = client.post(
        "/predict", files=[("files", (p.name, p.read_bytes())) for p in files], data=data
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert key in body
    # the same answer as the CLI's JSON
    out = tmp_path / "p.json"
    done = _cli("predict", str(path), "--model", model, *_fs_args(fs), "--no-table",
                "--no-progress", "--json", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())[key] == body[key]
