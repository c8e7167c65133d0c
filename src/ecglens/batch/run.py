"""Batch inference on Dask distributed: every record under a folder (or a glob) to Parquet.

>>> from pathlib import Path
>>> from ecglens.batch import BatchConfig, run_batch
>>> summary = run_batch("mitdb/", Path("mitdb.parquet"), BatchConfig(workers=2))
>>> summary.records_per_s, summary.beats_per_s

Output: ``out`` (say ``mitdb.parquet``) is a folder that pyarrow, pandas, polars and DuckDB read
as one dataset (``pandas.read_parquet("mitdb.parquet")``). It holds

- ``part-NNNNN-RUNID.parquet``: rows of the records a part commits. Beat models (task
  ``beats``, ``kaggle-ptb``): one row per beat, ``record, path, sample`` (R peak, samples at the
  record's rate), ``time_s, label, p_<class>...`` (calibrated probabilities),
  ``uncertainty`` (0-1), ``review`` (null without a review threshold), ``artifact``. Record-level
  models (12-lead, MI): one row per record, ``record, path, label`` and ``probability`` (binary)
  or ``p_<class>...`` and ``labels`` (superclasses); MI adds ``n_beats``. Each part is written
  under a hidden temporary name and renamed (atomic), and its Parquet key-value metadata
  (``ecglens.batch``) lists the records it commits with the model and options.
- ``_summary/part-NNNNN-RUNID.parquet``: one row per record with a recording summary (beat
  and 12-lead models): heart rate, HRV, AF burden, intervals, counts per class and per hour,
  episodes per type and the ``episodes`` list (``ecglens.tasks.rows.summary_row``); read it
  as its own dataset (``pandas.read_parquet("mitdb.parquet/_summary")``); the beat dataset's
  readers skip it (its name starts with ``_``).
- ``_errors.jsonl``: one ``{"record", "path", "error"}`` a line for each record that failed
  (appended one whole line per write), with ``"retry": true`` when it was not the record's
  fault (its worker died); the run goes on without it. Dataset readers skip
  names starting with ``_`` or ``.`` (so also the temporary names of parts being written).

Resuming: records listed in a committed part, and records already in ``_errors.jsonl`` (unless
``retry_failed``, or marked ``retry``), are skipped, so running the same command again
continues a killed run. A kill loses the records in flight and those finished but not yet
committed: at most ``part_records`` records or ``part_seconds`` seconds of results (Ctrl-C
commits them first).

Workers: a local cluster (``workers`` processes, one thread and one torch thread each) by
default, or an existing cluster (``scheduler="tcp://host:8786"``) through the same code. Each
worker process loads the model once, on its first record, and keeps it. Results come back to
the client, which alone writes the output, so the folder need not be visible to the workers;
records are read by the workers, by absolute path, so those must be.

On a SLURM cluster, with dask-jobqueue: the process that creates the cluster runs its scheduler
and must stay alive for the run, so start both from one script::

    import subprocess
    from dask_jobqueue import SLURMCluster

    cluster = SLURMCluster(cores=32, processes=32, memory="64GB", walltime="04:00:00",
                           job_script_prologue=["source /path/to/.venv/bin/activate",
                                                "export OMP_NUM_THREADS=1"])
    cluster.scale(jobs=4)  # 4 SLURM jobs of 32 single-threaded workers; tasks wait for them
    subprocess.run(["ecglens", "batch", "/shared/archive", "--out", "/shared/archive.parquet",
                    "--scheduler", cluster.scheduler_address], check=True)
    cluster.close()

(or call :func:`run_batch` with ``BatchConfig(scheduler=cluster.scheduler_address)``). The
records must be on a file system every node mounts at the same path, and every node must run
the same ecglens. A failed or preempted run is continued by running the script again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecglens._atomic import atomic_write
from ecglens.errors import EcgLensError
from ecglens.io.formats import GLOB_CHARS, WFDB_HEADER, expand_inputs, record_name

if TYPE_CHECKING:
    from distributed import Client

    from ecglens.models.registry import LoadedModel

BATCH_EXTRA = "ecglens[batch]"
PART_PREFIX = "part-"
ERRORS_FILE = "_errors.jsonl"  # "_": left out by Parquet dataset readers
SUMMARY_DIR = "_summary"  # the per-record summary table, a dataset of its own
METADATA_KEY = b"ecglens.batch"
# options that change the predictions: a resumed run must use the same ones
PREDICTION_OPTIONS = ("model", "lead", "fs", "review_threshold", "mc_samples", "units")


def require_batch_extra() -> None:
    """Fail with a one-line error naming the extra to install when Dask or pyarrow is missing."""
    for module in ("dask.distributed", "pyarrow.parquet"):
        try:
            __import__(module)
        except ImportError as exc:
            raise EcgLensError(
                f"ecglens batch needs {module.split('.')[0]} ({exc}): pip install '{BATCH_EXTRA}'"
            ) from exc


@dataclass(frozen=True)
class BatchConfig:
    """What to run and where.

    model: a shipped model name or a weights path (workers must see the path); None: each
    record's own (:func:`ecglens.tasks.choose.choose_model`); units: of CSV/NPY samples
    ("mV", "uV", "V"; None: judged from their amplitude); device: torch
    device on the workers ("auto": cuda when there is one); lead, fs, review_threshold,
    mc_samples, strict: as ``ecglens predict``; workers: local worker processes (None: one per
    CPU core; ignored with ``scheduler``); threads_per_worker: Dask threads per worker;
    torch_threads: torch threads per worker; scheduler: address of an existing Dask scheduler
    (``tcp://host:8786``), None for a local cluster; processes: local workers as processes
    (False: threads of this process, for tests); part_records / part_seconds: commit a part
    when this many records (or seconds of results) are waiting; retry_failed: classify again
    the records already in ``_errors.jsonl``.
    """

    model: str | None = None
    device: str = "auto"
    lead: str | None = None
    fs: float | None = None
    review_threshold: float | None = None
    mc_samples: int | None = None
    strict: bool = False
    workers: int | None = None
    threads_per_worker: int = 1
    torch_threads: int = 1
    scheduler: str | None = None
    processes: bool = True
    part_records: int = 100
    part_seconds: float = 5.0
    retry_failed: bool = False
    units: str | None = None

    def check(self) -> None:
        """Refuse impossible settings, naming the option."""
        for name in ("workers", "threads_per_worker", "torch_threads", "part_records"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise EcgLensError(f"{name} must be at least 1, not {value}")
        if self.part_seconds <= 0:
            raise EcgLensError(f"part_seconds must be positive, not {self.part_seconds:g}")
        if self.review_threshold is not None and not 0 <= self.review_threshold <= 1:
            raise EcgLensError(f"review_threshold must be in [0, 1], not {self.review_threshold:g}")
        if self.mc_samples is not None and self.mc_samples < 0:
            raise EcgLensError(f"mc_samples must be 0 or more, not {self.mc_samples}")
        if self.fs is not None and self.fs <= 0:
            raise EcgLensError(f"fs must be positive, not {self.fs:g}")

    def classify_options(self) -> dict[str, Any]:
        """The options given to :func:`ecglens.predict.classify` (None: not given)."""
        return {
            "lead": _lead(self.lead),
            "mc_samples": self.mc_samples,
            "review_threshold": self.review_threshold,
        }

    def prediction_options(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in PREDICTION_OPTIONS}


def _lead(lead: str | None) -> str | int | None:
    """A lead given as digits is an index (as ``--lead 0``)."""
    return int(lead) if lead is not None and lead.isdigit() else lead


@dataclass
class RecordResult:
    """What a worker sends back for one record: its rows, or a one-line error.

    Times in seconds: load_s (model load, non-zero on a worker's first record only), read_s,
    classify_s (classification and building the rows).
    """

    path: str
    record: str
    table: Any = None  # pyarrow.Table; None when the record failed
    summary: Any = None  # pyarrow.Table: the record's summary row (None without one)
    error: str | None = None
    retry: bool = False  # the error is not the record's (its worker died): retried on resume
    beats: int = 0
    load_s: float = 0.0
    read_s: float = 0.0
    classify_s: float = 0.0


@dataclass
class BatchSummary:
    """What a run did. Times in seconds; rates over the whole run (cluster start included)."""

    out: Path
    found: int = 0
    skipped: int = 0  # already committed in a part
    skipped_failed: int = 0  # already in _errors.jsonl
    done: int = 0
    failed: int = 0
    rows: int = 0
    beats: int = 0
    parts: int = 0
    seconds: float = 0.0
    startup_s: float = 0.0
    write_s: float = 0.0
    load_s: float = 0.0
    read_s: float = 0.0
    classify_s: float = 0.0
    model_loads: dict[str, int] = field(default_factory=dict)  # worker -> model loads so far

    @property
    def errors_file(self) -> Path:
        return self.out / ERRORS_FILE

    @property
    def failed_total(self) -> int:
        """Records that failed, in this run or (skipped now) in an earlier one."""
        return self.failed + self.skipped_failed

    @property
    def exit_status(self) -> int:
        """1 when any record failed, in this run or an earlier one (still in the error log)."""
        return 1 if self.failed_total else 0

    def counts_line(self) -> str:
        """Found, done, failed (and failed before, skipped) records, in words."""
        before = (
            f", {self.skipped_failed} failed before (skipped; see {self.errors_file}, "
            "--retry-failed to try them again)" if self.skipped_failed else ""
        )
        return (
            f"{self.found} records found, {self.skipped} already done, {self.done} done, "
            f"{self.failed} failed{before}"
        )

    @property
    def records_per_s(self) -> float:
        return (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0

    @property
    def beats_per_s(self) -> float:
        return self.beats / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["out"] = str(self.out)
        out["records_per_s"] = round(self.records_per_s, 4)
        out["beats_per_s"] = round(self.beats_per_s, 2)
        return out


# -- finding records ---------------------------------------------------------------------------


def find_records(dir_or_glob: str | Path, samples: bool = False) -> list[Path]:
    """Inputs under a folder (searched recursively), matched by a glob (``**`` recurses), or
    one input path (see :func:`ecglens.io.formats.expand_inputs`); with ``samples`` also
    CSV/NPY sample files. Sorted."""
    text = str(dir_or_glob)
    path = Path(text)
    exists = path.exists() or Path(f"{text}{WFDB_HEADER}").is_file()
    if not exists and not any(c in text for c in GLOB_CHARS):
        raise EcgLensError("no such folder or record, and no file matches it as a glob", path)
    return expand_inputs([text], recursive=True, samples=samples)


# -- on a worker -------------------------------------------------------------------------------

_MODELS: dict[tuple[str, str, int], tuple[LoadedModel, Any]] = {}
_MODEL_LOCK = threading.Lock()
_LOADS: list[float] = []  # seconds of each model load in this process


def _worker_model(config: BatchConfig, name: str) -> tuple[LoadedModel, Any, float]:
    """Model ``name`` with ``config``'s device, loaded on this worker process's first record
    that needs it and kept: ``(loaded, device, seconds spent loading now)``."""
    key = (name, config.device, config.torch_threads)
    with _MODEL_LOCK:
        if key in _MODELS:
            return (*_MODELS[key], 0.0)
        start = time.perf_counter()
        import torch

        from ecglens.models.registry import load_model
        from ecglens.predict.forward import resolve_device

        torch.set_num_threads(config.torch_threads)
        device = resolve_device(config.device)
        _MODELS[key] = (load_model(name, device), device)
        seconds = time.perf_counter() - start
        _LOADS.append(seconds)
        return (*_MODELS[key], seconds)


def worker_loads() -> int:
    """Model loads in this process so far (run on each worker by :func:`run_batch`)."""
    return len(_LOADS)


def predict_record(path: str, config: BatchConfig) -> RecordResult:
    """Classify the record at ``path`` into a table of rows; any failure of the record becomes
    a one-line error (only loading the model can fail the task)."""
    result = RecordResult(path=path, record=record_name(path))
    from ecglens.predict import run, task_of
    from ecglens.tasks import view_of
    from ecglens.tasks.choose import choose_model
    from ecglens.tasks.rows import summary_row

    try:
        name = config.model or choose_model(path, config.fs)
    except EcgLensError as exc:  # the input's fault (an unknown format): its error, not the run's
        result.error = one_line_error(exc, path)
        return result
    loaded, device, result.load_s = _worker_model(config, name)  # a failure stops the run
    options = config.classify_options()
    if config.model is None:  # chosen by the input: only the options its task takes
        options = {k: v for k, v in options.items() if k in task_of(loaded).options}
    try:
        start = time.perf_counter()
        prediction = run(
            path, loaded, device=device, fs=config.fs, strict=config.strict,
            long_record_s=float("inf"), units=config.units, **options,
        )  # fmt: skip
        rows = view_of(prediction).rows
        result.table, result.beats = rows(prediction.result, path, result.record)
        result.summary = summary_row(prediction.result, path, result.record)
        result.read_s = prediction.read_s
        result.classify_s = time.perf_counter() - start - prediction.read_s
    except Exception as exc:  # a bad record is reported and skipped, never raised
        result.error = one_line_error(exc, path)
        result.table = None
    return result


def one_line_error(exc: BaseException, path: str | Path) -> str:
    """``str(exc)`` on one line, naming the file when the message does not."""
    if isinstance(exc, EcgLensError):
        text = str(exc) if exc.path is not None else f"{path}: {exc}"
    else:
        text = f"{path}: {type(exc).__name__}: {exc}"
    return " ".join(text.split())


# -- the output folder -------------------------------------------------------------------------


@dataclass
class _Committed:
    paths: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    parts: int = 0
    options: dict[str, Any] | None = None
    options_from: Path | None = None


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise EcgLensError(
            "the output is a folder of Parquet parts (and _errors.jsonl), but this is a file", out
        )
    if out.parent.exists() and not out.parent.is_dir():
        raise EcgLensError(f"{out.parent} is a file, not a folder", out)


def read_committed(out: Path) -> _Committed:
    """The records already committed in ``out``'s parts, those already failed, and the options
    the parts were made with."""
    import pyarrow.parquet as pq

    state = _Committed()
    if not out.is_dir():
        return state
    for part in sorted(out.glob(f"{PART_PREFIX}*.parquet")):
        try:
            meta = json.loads(pq.read_schema(part).metadata[METADATA_KEY])
        except Exception as exc:
            raise EcgLensError(
                f"unreadable batch part ({one_line_error(exc, part)}): delete it to classify "
                "its records again",
                part,
            ) from exc
        state.paths.update(meta["records"])
        state.parts += 1
        if state.options is None:
            state.options, state.options_from = meta["options"], part
    state.failed = {e["path"] for e in read_errors(out) if "path" in e and not e.get("retry")}
    return state


def read_errors(out: Path) -> list[dict[str, Any]]:
    """The lines of ``out/_errors.jsonl`` (a line torn by a kill is left out)."""
    path = out / ERRORS_FILE
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _drop_errors(out: Path, paths: set[str]) -> None:
    """Remove the lines of ``paths`` from ``out/_errors.jsonl`` (atomically: a new file
    replaces it), before those records are classified again."""
    path = out / ERRORS_FILE
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = []
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a kill
        if entry.get("path") not in paths:
            kept.append(line)
    if len(kept) == len(lines):
        return
    tmp = path.with_name(f".{ERRORS_FILE}.{os.getpid()}.tmp")
    tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    os.replace(tmp, path)


def _append_error(out: Path, result: RecordResult) -> None:
    """One whole line per write, appended (O_APPEND), so that lines never interleave."""
    entry = {"record": result.record, "path": result.path, "error": result.error}
    line = json.dumps({**entry, "retry": True} if result.retry else entry)
    fd = os.open(out / ERRORS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def _write_part(
    out: Path, name: str, tables: list[Any], paths: list[str], config: BatchConfig
) -> int:
    """Commit ``tables`` (one per record) and the list of their records as one part."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables(tables, promote_options="default")
    meta = {"records": paths, "options": config.prediction_options(), "written": time.time()}
    schema_meta = {**(table.schema.metadata or {}), METADATA_KEY: json.dumps(meta).encode()}
    table = table.replace_schema_metadata(schema_meta)
    atomic_write(out / name, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    return table.num_rows


def _write_summary_part(out: Path, name: str, tables: list[Any]) -> None:
    """The records' summary rows as ``out/_summary/<name>``, written before the beat part
    that commits them (a kill in between leaves summary rows that the resumed run writes
    again: keep the last per ``path``)."""
    if not tables:
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables(tables, promote_options="default")
    (out / SUMMARY_DIR).mkdir(exist_ok=True)
    atomic_write(
        out / SUMMARY_DIR / name, lambda tmp: pq.write_table(table, tmp, compression="zstd")
    )


# -- the run -----------------------------------------------------------------------------------


@contextmanager
def open_client(config: BatchConfig) -> Iterator[Client]:
    """A Dask client: on the scheduler at ``config.scheduler``, else on a new local cluster
    (closed on exit)."""
    from dask.distributed import Client, LocalCluster

    if config.scheduler:
        try:
            client = Client(config.scheduler)
        except (OSError, TimeoutError) as exc:
            raise EcgLensError(
                f"cannot reach the Dask scheduler at {config.scheduler}: {one_line_error(exc, '')}"
            ) from exc
        with client:
            yield client
        return
    workers = config.workers or len(os.sched_getaffinity(0))
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=config.threads_per_worker,
        processes=config.processes,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with cluster, Client(cluster) as client:
        yield client


def _check_model(config: BatchConfig) -> None:
    """Load the model here once (a wrong name fails now, not on every record) and refuse
    options its task does not take."""
    from ecglens.models.registry import load_model
    from ecglens.predict import task_of

    if config.model is None:  # each record's own model: options are filtered per record
        return
    loaded = load_model(config.model, "cpu")
    task = task_of(loaded)
    given = {k for k, v in config.classify_options().items() if v is not None}
    unknown = sorted(given - set(task.options))
    if unknown:
        raise EcgLensError(
            f"option {', '.join(unknown)} does not apply to {task.description} "
            f"(model {loaded.name})"
        )


def _with_model_path(config: BatchConfig) -> BatchConfig:
    """A model given as a path, made absolute (workers do not share this working folder)."""
    from ecglens.models.registry import list_pretrained

    if config.model is None:
        return config
    model = Path(config.model)
    if config.model in list_pretrained() or not model.exists():
        return config
    return replace(config, model=str(model.resolve()))


def run_batch(
    inputs: str | Path | Sequence[str | Path],
    out: Path,
    config: BatchConfig | None = None,
    progress: bool = True,
) -> BatchSummary:
    """Classify every record found in ``inputs`` (folders, globs or record paths: see
    :func:`find_records`) into the Parquet folder ``out``, skipping records already there.

    A record that fails is written to ``out/_errors.jsonl`` and printed on one line; the run
    goes on. Returns what was done (rates in records/s and beats/s).
    """
    config = config or BatchConfig()
    config.check()
    require_batch_extra()
    config = _with_model_path(config)
    started = time.perf_counter()
    out = Path(out)
    _check_out(out)
    entries = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    paths = sorted({str(p.resolve()) for e in entries for p in find_records(e, samples=True)})
    committed = read_committed(out)
    if committed.options is not None and committed.options != config.prediction_options():
        mine = config.prediction_options()
        differ = ", ".join(
            f"{k}={committed.options.get(k)!r} there, {mine[k]!r} now"
            for k in PREDICTION_OPTIONS
            if committed.options.get(k) != mine[k]
        )
        raise EcgLensError(
            f"holds predictions made with other options ({differ}): give the same options to "
            "resume, or another output folder",
            committed.options_from,
        )
    failed_before = set() if config.retry_failed else committed.failed
    todo = [p for p in paths if p not in committed.paths and p not in failed_before]
    summary = BatchSummary(
        out=out,
        found=len(paths),
        skipped=sum(p in committed.paths for p in paths),
        skipped_failed=sum(p in failed_before and p not in committed.paths for p in paths),
    )
    if todo:
        _check_model(config)
        out.mkdir(parents=True, exist_ok=True)
        _drop_errors(out, set(todo))  # tried again: a new line if they fail again, not a second
        _run(todo, out, config, committed.parts, summary, progress, started)
    summary.seconds = time.perf_counter() - started
    return summary


def _run(
    todo: list[str],
    out: Path,
    config: BatchConfig,
    first_part: int,
    summary: BatchSummary,
    progress: bool,
    started: float,
) -> None:
    from dask.distributed import as_completed

    from ecglens.progress import console

    run_id = uuid.uuid4().hex[:8]
    waiting: list[RecordResult] = []
    last_commit = time.monotonic()

    def commit() -> None:
        nonlocal last_commit
        done = [r for r in waiting if r.table is not None]
        if done:
            start = time.perf_counter()
            name = f"{PART_PREFIX}{first_part + summary.parts:05d}-{run_id}.parquet"
            _write_summary_part(out, name, [r.summary for r in done if r.summary is not None])
            summary.rows += _write_part(
                out, name, [r.table for r in done], [r.path for r in done], config
            )
            summary.parts += 1
            summary.write_s += time.perf_counter() - start
        waiting.clear()
        last_commit = time.monotonic()

    with open_client(config) as client, _progress_bar(len(todo), progress) as bar:
        summary.startup_s = time.perf_counter() - started
        futures = client.map(predict_record, todo, config=config, pure=False)
        by_key = {f.key: path for f, path in zip(futures, todo, strict=True)}
        results = as_completed(futures)
        del futures
        try:
            for future in results:
                result = _result_of(future, by_key[future.key])
                future.release()
                _count(summary, result)
                if result.error is not None:
                    _append_error(out, result)
                    console.print(
                        f"[red]error:[/red] {result.error}", highlight=False, soft_wrap=True
                    )
                else:
                    waiting.append(result)
                bar(result.beats)
                if len(waiting) >= config.part_records or (
                    waiting and time.monotonic() - last_commit >= config.part_seconds
                ):
                    commit()
        finally:
            commit()  # finished records are committed even when the run is interrupted
        summary.model_loads = client.run(worker_loads)


def _result_of(future: Any, path: str) -> RecordResult:
    """The future's result. A task lost with its worker (killed ``allowed-failures`` times, or
    cancelled) becomes an error to retry on resume; any other failure of the task is not the
    record's (record errors are caught inside it: this is the worker failing to load the
    model, or to import ecglens) and stops the run."""
    from distributed import KilledWorker

    if future.status == "finished":
        return future.result()
    try:
        exc = future.exception()
    except Exception as lost:  # cancelled: the scheduler lost it
        exc = lost
    if future.status == "cancelled" or isinstance(exc, KilledWorker):
        error = f"{path}: the worker running it died ({one_line_error(exc, path)})"
        return RecordResult(path=path, record=record_name(path), error=error, retry=True)
    raise EcgLensError(f"a worker failed before reading any record: {one_line_error(exc, path)}")


def _count(summary: BatchSummary, result: RecordResult) -> None:
    if result.error is None:
        summary.done += 1
    else:
        summary.failed += 1
    summary.beats += result.beats
    summary.load_s += result.load_s
    summary.read_s += result.read_s
    summary.classify_s += result.classify_s


@contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[Any]:
    """``advance(beats)`` for each record; a rich bar with records/s and beats/s on stderr."""
    if not enabled:
        yield lambda beats: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ecglens.progress import console

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rates]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("Classifying records", total=total, rates="")
        start, beats = time.perf_counter(), 0

        def advance(n: int) -> None:
            nonlocal beats
            beats += n
            seconds = max(time.perf_counter() - start, 1e-9)
            done = bar.tasks[task].completed + 1
            rates = f"{done / seconds:.2f} records/s, {beats / seconds:,.0f} beats/s"
            bar.update(task, advance=1, rates=rates)

        yield advance
