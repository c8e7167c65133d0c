"""Batch inference on Dask: rows in Parquet parts, bad records logged, resumable runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.distributed")
pq = pytest.importorskip("pyarrow.parquet")

from ecglens.batch import BatchConfig, find_records, read_committed, read_errors, run_batch  # noqa: E402
from ecglens.errors import EcgLensError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "mitdb-demo"
SECONDS = 40  # each demo record cut to its first 40 s
FAST = {"workers": 1, "processes": False, "device": "cpu"}  # threads of this process


def _cut(name: str, out: Path) -> None:
    import wfdb

    rec = wfdb.rdrecord(str(DEMO / name), sampto=int(SECONDS * 360))
    wfdb.wrsamp(
        name, fs=rec.fs, units=rec.units, sig_name=rec.sig_name, p_signal=rec.p_signal,
        fmt=["16"] * rec.n_sig, adc_gain=[200.0] * rec.n_sig, baseline=[0] * rec.n_sig,
        write_dir=str(out),
    )  # fmt: skip


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> Path:
    """A folder: 213 and 232 (40 s each) and a corrupt record 999 (its signal file truncated)."""
    folder = tmp_path_factory.mktemp("records")
    for name in ("213", "232"):
        _cut(name, folder)
    (folder / "999.hea").write_text("999 2 360 14400\n999.dat 16 200 16 0 0 0 0 MLII\n"
                                    "999.dat 16 200 16 0 0 0 0 V1\n")  # fmt: skip
    (folder / "999.dat").write_bytes(b"\x00" * 100)
    return folder


def _rows(out: Path):
    return pq.read_table(out).to_pandas()


def test_find_records_folders_globs_and_sample_files(records, tmp_path):
    names = [p.name for p in find_records(records)]
    assert names == ["213", "232", "999"]
    assert [p.name for p in find_records(f"{records}/2*")] == ["213", "232"]
    assert find_records(records / "213.hea") == [records / "213"]
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    np.save(nested / "x.npy", np.zeros((10, 1)))
    (nested / "y.edf").write_bytes(b"")
    assert [p.name for p in find_records(tmp_path)] == ["y.edf"]
    assert [p.name for p in find_records(f"{tmp_path}/**/*", samples=True)] == ["x.npy", "y.edf"]
    with pytest.raises(EcgLensError, match="no such folder"):
        find_records(tmp_path / "missing")


def test_find_records_leaves_out_the_segments_of_a_multi_segment_record(tmp_path):
    (tmp_path / "m.hea").write_text("m/2 1 125 200\nm_1 100\nm_2 100\n")
    for seg in ("m_1", "m_2"):
        (tmp_path / f"{seg}.hea").write_text(f"{seg} 1 125 100\n{seg}.dat 16 200 16 0 0 0 0 II\n")
    assert [p.name for p in find_records(tmp_path)] == ["m"]


def test_a_run_writes_beat_rows_and_logs_the_bad_record(records, tmp_path):
    out = tmp_path / "beats.parquet"
    summary = run_batch(records, out, BatchConfig(review_threshold=0.5, **FAST), progress=False)
    assert (summary.found, summary.done, summary.failed) == (3, 2, 1)
    rows = _rows(out)
    assert sorted(rows["record"].unique()) == ["213", "232"]
    assert len(rows) == summary.rows == summary.beats > 60  # ~1-2 beats a second
    assert {"sample", "time_s", "label", "p_N", "p_V", "uncertainty", "review", "artifact"} <= set(
        rows.columns
    )
    np.testing.assert_allclose(rows[["p_N", "p_S", "p_V", "p_F", "p_Q"]].sum(1), 1, atol=1e-4)
    assert rows["review"].notna().all() and rows["path"].str.endswith(("213", "232")).all()
    (error,) = read_errors(out)
    assert error["record"] == "999" and error["path"] == str(records / "999")
    assert "999" in error["error"] and "\n" not in error["error"]
    assert summary.model_loads and all(n >= 1 for n in summary.model_loads.values())
    # the per-record summary table beside the beat table, read as its own dataset
    summaries = pq.read_table(out / "_summary").to_pandas().set_index("record")
    assert sorted(summaries.index) == ["213", "232"]
    for record, beats in rows.groupby("record"):
        counted = beats[~beats["artifact"]]
        assert summaries.loc[record, "n_V"] == (counted["label"] == "V").sum()
        assert 30 < summaries.loc[record, "hr_mean_bpm"] < 200
        for episode in summaries.loc[record, "episodes"]:
            assert set(episode) == {"type", "start_s", "end_s"}
    assert {"af_burden", "sdnn_ms", "qrs_ms", "qtc_bazett_ms", "n_pause"} <= set(summaries.columns)


def test_a_killed_run_resumes_without_redoing_committed_records(records, tmp_path):
    out = tmp_path / "beats.parquet"
    first = run_batch(records / "213", out, BatchConfig(**FAST), progress=False)
    assert (first.done, first.parts) == (1, 1)
    (part,) = out.glob("part-*.parquet")
    before = (part.stat().st_mtime_ns, part.read_bytes())
    (out / ".part-00001-dead.parquet.x1y2.tmp").write_bytes(b"half a part")  # killed mid-write

    second = run_batch(records, out, BatchConfig(**FAST), progress=False)
    assert (second.skipped, second.done, second.failed, second.parts) == (1, 1, 1, 1)
    assert (part.stat().st_mtime_ns, part.read_bytes()) == before
    assert read_committed(out).paths == {str(records / "213"), str(records / "232")}
    rows = _rows(out)  # the temporary file is not part of the dataset
    assert set(rows["record"]) == {"213", "232"}
    assert not rows.duplicated(["record", "sample"]).any()

    third = run_batch(records, out, BatchConfig(**FAST), progress=False)
    assert (third.skipped, third.skipped_failed, third.done, third.failed) == (2, 1, 0, 0)
    assert third.exit_status == 1 and "1 failed before" in third.counts_line()
    retried = run_batch(records, out, BatchConfig(retry_failed=True, **FAST), progress=False)
    assert (retried.done, retried.failed) == (0, 1) and len(read_errors(out)) == 1
    assert retried.exit_status == 1

    with pytest.raises(EcgLensError, match="other options.*review_threshold"):
        run_batch(records, out, BatchConfig(review_threshold=0.3, **FAST), progress=False)


def test_a_12_lead_model_gives_one_row_per_record(tmp_path):
    import wfdb

    from ecglens.data.ptbxl import LEADS_12

    t = np.arange(1000) / 100
    beats = sum(np.exp(-0.5 * ((t - b) / 0.015) ** 2) for b in np.arange(0.3, 10, 0.8))
    signal = beats[:, None] * np.linspace(0.5, 1.5, 12)[None] + 0.01 * np.sin(t)[:, None]
    folder = tmp_path / "ptb"
    folder.mkdir()
    wfdb.wrsamp(
        "00001_lr", fs=100, units=["mV"] * 12, sig_name=list(LEADS_12), p_signal=signal,
        fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(folder),
    )  # fmt: skip
    out = tmp_path / "ptb.parquet"
    config = BatchConfig(model="ecglens-ptbxl-binary", **FAST)
    summary = run_batch(folder, out, config, progress=False)
    assert (summary.done, summary.rows, summary.beats) == (1, 1, 0)
    rows = _rows(out)
    assert list(rows.columns) == ["record", "path", "label", "probability"]
    assert rows["record"].tolist() == ["00001_lr"] and 0 <= rows["probability"][0] <= 1
    assert rows["label"][0] in ("normal", "abnormal")
    (row,) = pq.read_table(out / "_summary").to_pylist()
    assert row["record"] == "00001_lr" and abs(row["hr_mean_bpm"] - 75) < 2  # a beat / 0.8 s
    with pytest.raises(EcgLensError, match="does not apply"):
        run_batch(folder, tmp_path / "x.parquet", BatchConfig(model="ecglens-ptbxl-binary",
                  review_threshold=0.5, **FAST), progress=False)  # fmt: skip


def test_worker_processes_load_the_model_once(records, tmp_path):
    """The default path: worker processes, each loading the model on its first record."""
    out = tmp_path / "beats.parquet"
    config = BatchConfig(workers=1, device="cpu", part_records=1)
    summary = run_batch([records / "213", records / "232"], out, config, progress=False)
    assert (summary.done, summary.parts) == (2, 2)  # one part per record
    assert list(summary.model_loads.values()) == [1]  # two records, one load
    assert summary.load_s > 0 and len(list(out.glob("part-*.parquet"))) == 2


def test_refuses_an_output_that_is_a_file_and_bad_settings(records, tmp_path):
    (tmp_path / "f.parquet").write_text("")
    with pytest.raises(EcgLensError, match="folder of Parquet parts"):
        run_batch(records, tmp_path / "f.parquet", BatchConfig(**FAST), progress=False)
    with pytest.raises(EcgLensError, match="workers must be at least 1"):
        run_batch(records, tmp_path / "o.parquet", BatchConfig(workers=0), progress=False)


def test_a_worker_that_cannot_load_the_model_stops_the_run(records, tmp_path, monkeypatch):
    """Not a bad record: nothing goes to _errors.jsonl, the run stops with one line."""
    import ecglens.batch.run as batch_run

    def broken(config, name):
        raise EcgLensError("no such model", "/nowhere/model.safetensors")

    monkeypatch.setattr(batch_run, "_worker_model", broken)  # workers are threads here
    out = tmp_path / "beats.parquet"
    with pytest.raises(EcgLensError, match="worker failed.*no such model"):
        run_batch(records / "213", out, BatchConfig(**FAST), progress=False)
    assert read_errors(out) == [] and read_committed(out).paths == set()


def test_a_record_whose_worker_died_is_logged_to_retry(tmp_path):
    from types import SimpleNamespace

    from distributed import KilledWorker

    import ecglens.batch.run as batch_run

    class Lost:  # a future whose task killed its worker allowed-failures times
        status = "error"

        def exception(self):
            worker = SimpleNamespace(address="tcp://127.0.0.1:1")
            return KilledWorker("predict_record-1", worker, 3)

    result = batch_run._result_of(Lost(), str(tmp_path / "100"))
    assert result.retry and "worker running it died" in result.error
    out = tmp_path / "o.parquet"
    out.mkdir()
    batch_run._append_error(out, result)
    assert read_errors(out)[0]["retry"] is True and read_committed(out).failed == set()
