"""The web service through FastAPI's TestClient: predictions equal the library's (what
``ecglens predict --json`` writes), explanations, kept results, and every bad input a 4xx with a
one-line JSON error.

The full 30-minute demo record is classified once (module fixture); other tests use a 30-s
excerpt of it, a synthetic 12-lead record (or PTB-XL when ECGLENS_DATA is set).
"""

from __future__ import annotations

import base64
import concurrent.futures
import io
import os
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from ecglens.explain.recommended import recommended_method  # noqa: E402
from ecglens.models.registry import load_model  # noqa: E402
from ecglens.serve.app import RESULT_HEADER, create_app  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "mitdb-demo"
MODELS = ["ecglens-mitdb-inter", "ecglens-ptbxl-binary", "ecglens-ptbxl-mi"]
LEADS_12 = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def write_excerpt(folder: Path, seconds: float = 30, name: str = "e213") -> Path:
    """The first ``seconds`` of demo record 213 as WFDB record ``folder/name`` (format 212)."""
    import wfdb

    rec = wfdb.rdrecord(str(DEMO / "213"), sampto=int(seconds * 360))
    wfdb.wrsamp(
        name, fs=360, units=rec.units, sig_name=rec.sig_name, p_signal=rec.p_signal,
        fmt=["212", "212"], adc_gain=rec.adc_gain, baseline=rec.baseline, write_dir=str(folder),
    )  # fmt: skip
    return folder / name


def write_12lead(folder: Path, fs: int = 500, seconds: float = 10) -> Path:
    """A synthetic 12-lead WFDB record (narrow beats every 0.85 s), ``folder/syn12``."""
    import wfdb

    t = np.arange(int(fs * seconds)) / fs
    beats = sum(np.exp(-0.5 * ((t - b) / 0.02) ** 2) for b in np.arange(0.4, seconds, 0.85))
    sig = np.stack([beats * (0.5 + k / 12) + 0.05 * np.sin(t + k) for k in range(12)], axis=1)
    wfdb.wrsamp(
        "syn12", fs=fs, units=["mV"] * 12, sig_name=LEADS_12, p_signal=sig, fmt=["16"] * 12,
        adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(folder),
    )  # fmt: skip
    return folder / "syn12"


def record_files(base: Path, suffixes=(".hea", ".dat", ".atr")) -> list[tuple]:
    return [
        ("files", (base.name + s, (base.parent / (base.name + s)).read_bytes()))
        for s in suffixes
        if (base.parent / (base.name + s)).exists()
    ]


def assert_one_line_error(response, status: int | None = None) -> str:
    """A 4xx whose body is exactly {"error": "<one line>"}; returns the message."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if status is not None:
        assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str)
    assert body["error"] and "\n" not in body["error"]
    assert "ecglens-serve-" not in body["error"]  # no server temporary path
    return body["error"]


@pytest.fixture(scope="module")
def app():
    return create_app(MODELS)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def excerpt(tmp_path_factory) -> Path:
    return write_excerpt(tmp_path_factory.mktemp("excerpt"))


@pytest.fixture(scope="module")
def full_213(client):
    """The whole demo record 213 uploaded as WFDB files, kept: (response JSON, result id)."""
    response = client.post(
        "/predict?keep=true", files=record_files(DEMO / "213"), data={"review_threshold": "0.5"}
    )
    assert response.status_code == 200, response.text
    return response.json(), response.headers[RESULT_HEADER]


def test_health_models_openapi_and_docs(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["models"] == MODELS
    assert health["max_upload_mb"] == 50
    models = client.get("/models").json()
    assert models["default"] == MODELS[0]
    beat = models["models"][0]
    assert beat["family"] == "beats" and beat["classes"] == ["N", "S", "V", "F", "Q"]
    assert beat["card"].strip() and beat["colors"]["V"].startswith("#")
    assert models["models"][1]["family"] == "12-lead"
    spec = client.get("/openapi.json").json()
    assert {"/predict", "/explain", "/models", "/health"} <= set(spec["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/predict" in docs.text and "cdn" not in docs.text.lower()
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200


def test_predict_wfdb_upload_gives_what_the_cli_writes(full_213):
    from ecglens.io import read_record
    from ecglens.models import load_model
    from ecglens.predict import classify

    got, _ = full_213
    want = classify(
        read_record(DEMO / "213"), load_model(MODELS[0]), review_threshold=0.5
    ).to_dict()
    assert got["record"] == "213" and got["path"] == "213.hea" and got["warnings"] == []
    assert set(got) == set(want) | {"warnings"}
    for key in ("n_beats", "class_counts", "n_review", "lead", "sampling_rate", "model"):
        assert got[key] == want[key], key
    assert got["beats"][:50] == want["beats"][:50]


def test_explain_a_kept_result(client, full_213):
    pred, rid = full_213
    response = client.post("/explain", data={"result": rid, "beat": ["0", "7"]})
    assert response.status_code == 200, response.text
    out = response.json()
    default = recommended_method(load_model(out["model"]))  # the benchmark's choice
    assert out["record"] == "213" and out["method"] == default and out["beat_fs"] > 0
    assert [b["index"] for b in out["beats"]] == [0, 7]
    for b in out["beats"]:
        assert b["sample"] == pred["beats"][b["index"]]["sample"]
        assert b["label"] == pred["beats"][b["index"]]["label"]
        assert len(b["relevance"]) == len(b["waveform"]) > 50
        assert min(b["relevance"]) >= 0 and max(b["relevance"]) <= 1
        assert abs(sum(b["probabilities"].values()) - 1) < 1e-3
        assert isinstance(b["review"], bool) and 0 <= b["uncertainty"] <= 1
    assert base64.b64decode(out["figure"]["data"])[:8] == b"\x89PNG\r\n\x1a\n"
    svg = client.post("/explain", data={"result": rid, "beat": "3", "figure": "svg"}).json()
    assert b"<svg" in base64.b64decode(svg["figure"]["data"])[:2000]


def test_signal_json_and_report_of_a_kept_result(client, full_213):
    pred, rid = full_213
    signal = client.get(f"/results/{rid}/signal")
    assert signal.status_code == 200 and signal.headers["x-total-samples"] == "650000"
    assert len(signal.content) == 4 * 650000 and signal.headers["x-sampling-rate"] == "360"
    part = client.get(f"/results/{rid}/signal", params={"start": 100, "stop": 110})
    assert np.allclose(np.frombuffer(part.content, "<f4"),
                       np.frombuffer(signal.content, "<f4")[100:110])
    assert client.get(f"/results/{rid}").json()["n_beats"] == pred["n_beats"]
    report = client.get(f"/results/{rid}/report")
    assert report.status_code == 200 and report.text.startswith("<!DOCTYPE html>")
    assert "Record 213" in report.text and "attachment" in report.headers["content-disposition"]
    assert "default-src 'none'" in report.headers["content-security-policy"]


def test_zip_csv_npy_edf_and_demo(client, excerpt, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for suffix in (".hea", ".dat"):
            z.write(excerpt.parent / (excerpt.name + suffix), f"folder/{excerpt.name}{suffix}")
    zipped = client.post("/predict", files=[("files", ("rec.zip", buffer.getvalue()))])
    assert zipped.status_code == 200, zipped.text
    assert zipped.json()["record"] == "e213" and zipped.json()["n_beats"] > 20
    import wfdb

    mlii = wfdb.rdrecord(str(excerpt)).p_signal[:, 0]
    csv = "\n".join(f"{v:.4f}" for v in mlii).encode()
    with_fs = client.post("/predict", files=[("files", ("x.csv", csv))], data={"fs": "360"})
    assert with_fs.status_code == 200, with_fs.text
    assert abs(with_fs.json()["n_beats"] - zipped.json()["n_beats"]) <= 1
    message = assert_one_line_error(client.post("/predict", files=[("files", ("x.csv", csv))]))
    assert "fs" in message
    npy = io.BytesIO()
    np.save(npy, mlii.astype(np.float32))
    from_npy = client.post("/predict", files=[("files", ("x.npy", npy.getvalue()))],
                           data={"fs": "360"})
    assert from_npy.status_code == 200 and from_npy.json()["n_beats"] > 20
    from edfio import Edf, EdfSignal

    edf = Edf([EdfSignal(mlii, sampling_frequency=360, label="ECG MLII", physical_dimension="mV")])
    edf.write(tmp_path / "x.edf")
    from_edf = client.post("/predict", files=[("files", ("holter.edf",
                                                         (tmp_path / "x.edf").read_bytes()))])
    assert from_edf.status_code == 200 and from_edf.json()["lead"] == "ECG MLII"
    small = create_app(MODELS[:1], demo_dir=excerpt.parent)
    with TestClient(small) as c:
        assert [d["name"] for d in c.get("/demo").json()["records"]] == ["e213"]
        demo = c.post("/predict?demo=e213")
        assert demo.status_code == 200 and demo.json()["path"] == "demo/e213"
        assert_one_line_error(c.post("/predict?demo=232"), 422)


@pytest.fixture(scope="module")
def twelve_lead(tmp_path_factory) -> Path:
    root = os.environ.get("ECGLENS_DATA")
    if root:
        found = Path(root) / "ptb-xl" / "records100" / "00000" / "00001_lr"
        if found.with_suffix(".hea").exists():
            return found
    return write_12lead(tmp_path_factory.mktemp("twelve"))


def test_a_12_lead_record_goes_to_the_12_lead_model(client, twelve_lead):
    response = client.post("/predict?keep=true", files=record_files(twelve_lead))
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["model"] == "ecglens-ptbxl-binary" and out["task"] == "ptbxl-binary"
    assert out["label"] in ("normal", "abnormal") and 0 <= out["probability"] <= 1
    assert len(out["leads"]) == 12
    rid = response.headers[RESULT_HEADER]
    explained = client.post("/explain", data={"result": rid})
    assert explained.status_code == 200, explained.text
    body = explained.json()
    assert body["method"] == recommended_method(load_model("ecglens-ptbxl-binary"))
    assert len(body["relevance"]) == 10 * body["sampling_rate"]
    assert len(body.get("relevance_per_lead", [body["relevance"]])[0]) == len(body["relevance"])
    assert base64.b64decode(body["figure"]["data"])[:4] == b"\x89PNG"
    assert_one_line_error(client.post("/explain", data={"result": rid, "beat": "1"}), 422)
    assert_one_line_error(client.get(f"/results/{rid}/signal"), 422)
    report = client.get(f"/results/{rid}/report")
    assert report.status_code == 200 and "Class activation map" in report.text
    lead_given = client.post("/predict", files=record_files(twelve_lead),
                             data={"model": "ecglens-ptbxl-binary", "lead": "II"})
    assert "lead" in assert_one_line_error(lead_given, 422)


def test_the_mi_model_named_explicitly(client, twelve_lead):
    response = client.post("/predict?keep=true", files=record_files(twelve_lead),
                           data={"model": "ecglens-ptbxl-mi"})
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["task"] == "ptbxl-mi" and out["lead"] == "II" and out["label"] in ("MI", "normal")
    rid = response.headers[RESULT_HEADER]
    explained = client.post("/explain", data={"result": rid, "beat": "0"}).json()
    assert set(explained["beats"][0]["probabilities"]) == {"normal", "MI"}
    assert len(client.get(f"/results/{rid}/signal").content) > 0


def test_serve_says_how_to_install_the_extra(monkeypatch):
    import importlib.util

    from ecglens.errors import EcgLensError
    from ecglens.serve.main import check_serve_dependencies

    check_serve_dependencies()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "uvicorn" else real(name, *a))
    with pytest.raises(EcgLensError, match=r"uvicorn.*pip install 'ecglens\[serve\]'"):
        check_serve_dependencies()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _npy_of_objects() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def _npy_floats() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(1000))
    return buffer.getvalue()


HEA = (DEMO / "213.hea").read_bytes()
DAT = (DEMO / "213.dat").read_bytes()

BAD_UPLOADS = {
    "missing .dat": ([("213.hea", HEA)], {}, 422, "213.dat"),
    "wrong fs": ([("213.hea", HEA), ("213.dat", DAT)], {"fs": "250"}, 422, "360 Hz"),
    "zip with ../": ([("r.zip", _zip({"../213.hea": HEA}))], {}, 400, "outside the archive"),
    "absolute zip member": ([("r.zip", _zip({"/etc/x.hea": HEA}))], {}, 400, "outside"),
    "not a zip": ([("r.zip", b"PK\x03\x04 nonsense")], {}, 400, "zip"),
    "pdf": ([("paper.pdf", b"%PDF-1.4")], {}, 415, "paper.pdf"),
    "no extension": ([("record", b"x")], {}, 415, "record"),
    "binary header": ([("a.hea", b"\x00\x01\x02"), ("a.dat", b"12")], {}, 422, "a.hea"),
    "text as samples": ([("a.csv", b"hello,world\nfoo,bar\n")], {"fs": "360"}, 422, "a.csv"),
    "dat alone": ([("213.dat", DAT)], {}, 422, "header"),
    "header naming a path": ([("a.hea", HEA.replace(b"213.dat", b"../213.dat")),
                              ("213.dat", DAT)], {}, 422, "missing"),
    "two headers": ([("a.hea", HEA), ("b.hea", HEA)], {}, 400, "one record"),
    "huge declared length": ([("h.hea", b"h 2 360 900000000\nh.dat 212 200 11 1024 0 0 0 MLII\n"
                               b"h.dat 212 200 11 1024 0 0 0 V1\n"), ("h.dat", b"\x00" * 30)],
                             {}, 422, "samples"),
    "too many signals": ([("h.hea", b"h 5000 360 10\n")], {}, 422, "signals"),
    "multi-segment": ([("m.hea", b"m/2 1 360 100\ns1 50\ns2 50\n")], {}, 422, "multi-segment"),
    "truncated .dat": ([("213.hea", HEA), ("213.dat", DAT[:1000])], {}, 422, "truncated"),
    "pickled npy": ([("x.npy", _npy_of_objects())], {"fs": "360"}, 422, "pickle"),
    "npy lying about its size": ([("x.npy", _npy_floats()[:200])], {"fs": "360"}, 422,
                                 "declares 1000 values"),
    "not an edf": ([("x.edf", b"hello" * 100)], {}, 422, "EDF"),
    "unknown model": ([("213.hea", HEA), ("213.dat", DAT)], {"model": "nope"}, 422, "nope"),
    "fs zero": ([("x.csv", b"1\n2\n")], {"fs": "0"}, 422, "fs"),
    "fs nan": ([("x.csv", b"1\n2\n")], {"fs": "nan"}, 422, "fs"),
    "lead not in record": ([("213.hea", HEA), ("213.dat", DAT)], {"lead": "V9"}, 422, "V9"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS), ids=list(BAD_UPLOADS))
def test_bad_uploads_get_a_4xx_with_a_one_line_error(client, case):
    files, data, status, mentions = BAD_UPLOADS[case]
    response = client.post("/predict", files=[("files", f) for f in files], data=data)
    message = assert_one_line_error(response, status)
    assert mentions.lower() in message.lower(), message


def test_other_bad_requests(client, full_213):
    _, rid = full_213
    assert_one_line_error(client.post("/predict"), 400)
    assert_one_line_error(client.post("/predict", content=b"junk",
                                      headers={"content-type": "multipart/form-data; boundary=x"}))
    assert_one_line_error(client.get("/results/abcdefgh12345678"), 404)
    assert_one_line_error(client.get("/results/bad!id"), 422)
    assert_one_line_error(client.get("/nowhere"), 404)
    assert_one_line_error(client.delete("/predict"), 405)
    assert "out of range" in assert_one_line_error(
        client.post("/explain", data={"result": rid, "beat": "99999"}), 422)
    assert_one_line_error(client.post("/explain", data={"result": rid}), 422)
    assert_one_line_error(client.post("/explain", data={"result": rid, "beat": "1",
                                                        "method": "lime"}), 422)
    assert_one_line_error(client.post("/explain", data={"result": rid, "beat": "x"}), 422)
    assert_one_line_error(client.post("/explain", data={"result": rid, "beat": "1"},
                                      files=[("files", ("a.hea", HEA))]), 400)
    assert_one_line_error(client.get(f"/results/{rid}/signal", params={"start": 10**9}), 422)


def test_upload_limit_before_and_while_reading(excerpt):
    small = create_app(MODELS[:1], max_upload_mb=0.01, demo_dir=None)
    with TestClient(small) as c:
        files = record_files(DEMO / "213")
        message = assert_one_line_error(c.post("/predict", files=files), 413)
        assert "limit" in message

        def chunks():  # no Content-Length: counted while read
            yield b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.csv"'
            yield b"\r\n\r\n"
            for _ in range(20):
                yield b"1\n" * 1000
            yield b"\r\n--x--\r\n"

        streamed = c.post("/predict", content=chunks(),
                          headers={"content-type": "multipart/form-data; boundary=x"})
        assert_one_line_error(streamed, 413)
        ok = c.post("/predict", files=record_files(excerpt, (".hea",)))
        assert_one_line_error(ok, 422)  # under the limit: read, then the missing .dat reported


def test_uploads_land_under_server_names_in_a_removed_temporary_folder(
    client, excerpt, tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen = []
    real = tempfile.TemporaryDirectory

    def spy(*args, **kwargs):
        folder = real(*args, **kwargs)
        seen.append(Path(folder.name))
        return folder

    monkeypatch.setattr(tempfile, "TemporaryDirectory", spy)
    hea = (excerpt.parent / "e213.hea").read_bytes().replace(b"e213", b"evil")
    files = [("files", ("../../evil.hea", hea)),
             ("files", ("../../evil.dat", (excerpt.parent / "e213.dat").read_bytes()))]
    response = client.post("/predict", files=files)
    assert response.status_code == 200, response.text
    assert response.json()["path"] == "evil.hea"
    assert seen and all(not folder.exists() for folder in seen)
    assert not list(tmp_path.parent.glob("evil*")) and not list(tmp_path.glob("**/evil*"))


def test_a_full_queue_and_a_slow_request_get_503(excerpt):
    app = create_app(MODELS[:1], max_concurrent=1, queue_size=0, request_timeout_s=1.5,
                     demo_dir=excerpt.parent)
    service = app.state.service
    release = threading.Event()
    real = service.predict_job

    def slow(cancel, *args):
        release.wait(10)
        return real(cancel, *args)

    service.predict_job = slow
    with TestClient(app) as c, concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(c.post, "/predict?demo=e213")
        for _ in range(100):
            if c.get("/health").json()["running"] == 1:
                break
            threading.Event().wait(0.02)
        busy = c.post("/predict?demo=e213")
        assert "busy" in assert_one_line_error_5xx(busy)
        assert busy.headers["retry-after"]
        assert "limit" in assert_one_line_error_5xx(first.result())
        release.set()
        service.predict_job = real
        for _ in range(100):
            if c.get("/health").json()["running"] == 0:
                break
            threading.Event().wait(0.05)
        assert c.post("/predict?demo=e213").status_code == 200


def assert_one_line_error_5xx(response) -> str:
    assert response.status_code == 503, response.text
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"]
    return body["error"]


def test_a_bug_in_ecglens_stays_a_visible_500(excerpt, monkeypatch):
    import ecglens.serve.service as server

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(server, "run", broken)  # before the app forks its workers
    with TestClient(create_app(MODELS[:1], demo_dir=None), raise_server_exceptions=False) as c:
        response = c.post("/predict", files=record_files(excerpt, (".hea", ".dat")))
    assert response.status_code == 500
    assert "ZeroDivisionError" in response.json()["error"]
