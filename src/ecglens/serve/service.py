"""The service behind the routes: the models (one replica per worker), the worker pool, kept
results and demo records, and the jobs the pool runs: predict, explain, report.

Each job takes the pool's :class:`~ecglens.serve.pool.Job` first (its temporary folder, and the
``cancel`` event at whose next :func:`~ecglens.serve.pool.checkpoint` work in a thread stops
once its request has timed out; a worker process is killed instead).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile as StarletteUploadFile

from ecglens.errors import EcgLensError
from ecglens.io import Record, read_record
from ecglens.io.formats import InputKind
from ecglens.io.limits import MAX_SAMPLES
from ecglens.models.registry import LoadedModel, load_model
from ecglens.predict import run
from ecglens.predict.tasks import Task, task_of
from ecglens.report.html import render_report
from ecglens.serve.demo import demo_records
from ecglens.serve.errors import ClientError
from ecglens.serve.explanations import chosen_method, explanation
from ecglens.serve.pool import Job, Pool, checkpoint
from ecglens.serve.results import KeptResults, Result
from ecglens.serve.staging import ACCEPTED, Staged, stage
from ecglens.serve.uploads import Upload, copy_uploads, unpack_uploads
from ecglens.tasks import view_of, view_of_model
from ecglens.tasks.choose import InputShape, choose_model

log = logging.getLogger("ecglens.serve")

DEMO_DIR = Path(__file__).resolve().parents[3] / "data" / "mitdb-demo"  # in a source checkout
# the beat model (the default), the 12-lead binary model and the fused printout model: 342 MB
# peak RSS and 3.4 s to load the three on one CPU, against 314 MB and 0.9 s for the first two
DEFAULT_MODELS = ("ecglens-mitdb-inter", "ecglens-ptbxl-binary", "ecglens-images-fused")
FIGURES = threading.Lock()  # matplotlib is not thread-safe: one figure at a time


@dataclass
class Options:
    """The form fields of a prediction (None: not given)."""

    fs: float | None = None
    model: str | None = None
    lead: str | None = None
    review_threshold: float | None = None
    mc_samples: int | None = None
    units: str | None = None  # of CSV/NPY samples: "mV", "uV" or "V" (None: judged)


class Service:
    """The models (``replicas`` copies of each, one per worker, so that no two threads share a
    module: explainers hook into it and MC dropout switches its mode), the pool, kept results
    and demo records."""

    def __init__(
        self,
        models: list[str],
        replicas: int,
        device: str,
        max_upload_bytes: int,
        pool: Pool,
        results: KeptResults,
        demo_dir: Path | None,
        max_samples: int = MAX_SAMPLES,
    ) -> None:
        if not models:
            raise EcgLensError("give at least one model to serve")
        self.device = device
        self.max_upload_bytes = max_upload_bytes
        self.max_samples = max_samples
        self.pool, self.results = pool, results
        pool.target, pool.prepare = self, self.prepare  # the jobs the pool runs, by name
        self.models: dict[str, LoadedModel] = {}
        self._replicas: dict[str, queue.SimpleQueue[LoadedModel]] = {}
        for name in dict.fromkeys(models):
            loaded = load_model(name, device)
            task_of(loaded)  # an unknown task fails at start-up, not on the first request
            self.models[loaded.name] = loaded
            copies: queue.SimpleQueue[LoadedModel] = queue.SimpleQueue()
            copies.put(loaded)
            for _ in range(replicas - 1):
                copies.put(dataclasses.replace(loaded, module=copy.deepcopy(loaded.module)))
            self._replicas[loaded.name] = copies
        self.demo = demo_records(demo_dir)

    @contextmanager
    def replica(self, name: str) -> Iterator[LoadedModel]:
        """A copy of model ``name`` that no other thread uses meanwhile."""
        copies = self._replicas[name]
        loaded = copies.get()
        try:
            yield loaded
        finally:
            copies.put(loaded)

    def pick_model(self, requested: str | None, record: Record | None, kind: InputKind) -> str:
        """``requested`` when loaded; else the model the input decides among those loaded
        (:func:`ecglens.tasks.choose.choose_model`: an image model for images, a model taking
        Kaggle beats for a CSV of beats, a 12-lead model for a record with the 12 leads of at
        most a minute, else a beat model)."""
        if requested:
            if requested not in self.models:
                raise ClientError(
                    422, f"model {requested!r} is not loaded by this server; loaded: "
                    f"{', '.join(self.models)}"
                )
            return requested
        shape = InputShape(kind)
        if record is not None:
            shape = InputShape(kind, tuple(record.lead_names), record.duration_s)
        try:
            return choose_model(shape, available={n: m.config for n, m in self.models.items()})
        except EcgLensError as exc:
            if kind == InputKind.IMAGE:
                raise ClientError(
                    422, "an image, not an ECG signal record: the server has no image model "
                    f"loaded (loaded: {', '.join(self.models)})"
                ) from exc
            raise ClientError(422, f"{exc} (loaded: {', '.join(self.models)})") from exc

    def prepare(self, tmp: Path, args: tuple) -> tuple:
        """A job's arguments as a worker process takes them: uploaded files (not picklable)
        copied into the job's folder ``tmp`` (run by the server before it hands the job on)."""
        return tuple(
            copy_uploads(a, tmp)
            if isinstance(a, list) and a and isinstance(a[0], StarletteUploadFile)
            else a
            for a in args
        )

    def source(self, files: list[Upload], demo: str | None, tmp: Path) -> Staged:
        """The record of a request: the demo record ``demo``, or the uploaded ``files`` (copied
        into ``tmp``) unpacked and staged there."""
        if demo is not None:
            if files:
                raise ClientError(400, "give either files or demo, not both")
            if demo not in self.demo:
                known = ", ".join(self.demo) or "none on this server"
                raise ClientError(422, f"no demo record {demo!r}; demo records: {known}")
            path = self.demo[demo]["path"]
            return Staged(path, f"demo/{demo}", InputKind.WFDB, demo, {str(path.parent): "demo"})
        if not files:
            raise ClientError(400, f"no files uploaded: send files ({ACCEPTED}) or ?demo=NAME")
        return stage(unpack_uploads(files, tmp, self.max_upload_bytes), tmp, self.max_samples)

    def predict_staged(self, staged: Staged, options: Options, cancel: threading.Event) -> Result:
        """Classify the staged input with the model asked for, or the one that fits it (see
        :func:`ecglens.predict.run`)."""
        with staged.scrubbing():
            record = None
            if staged.kind not in (InputKind.IMAGE, InputKind.BEAT_CSV):  # its leads and
                record = self._read(staged, options.fs, options.units)  # length: the model
                record.name = staged.display
            name = self.pick_model(options.model, record, staged.kind)
            checkpoint(cancel)
            task = task_of(self.models[name])
            given = {
                "lead": options.lead,
                "review_threshold": options.review_threshold,
                "mc_samples": options.mc_samples,
            }
            if not options.model:  # chosen by the server: leave out what does not apply
                given = {k: v for k, v in given.items() if k in task.options}
            source = staged.path if record is None else record
            with self.replica(name) as loaded:
                prediction = run(source, loaded, device=self.device, **given)
            warnings = [staged.scrub(w) for w in prediction.warnings]
        return _result(prediction.result, name, task, staged, warnings)

    def _read(self, staged: Staged, fs: float | None, units: str | None = None) -> Record:
        try:
            return read_record(staged.path, fs=fs, units=units)
        except (EcgLensError, MemoryError):
            raise
        except Exception as exc:  # a reader tripping over the bytes: the file's fault
            log.warning("cannot read upload %s", staged.label, exc_info=True)
            raise ClientError(
                422, f"{staged.label}: cannot read the record ({type(exc).__name__}: {exc})"
            ) from exc

    def predict_job(
        self, job: Job, files: list[Upload], demo: str | None, options: Options
    ) -> Result:
        """Stage the request's record in the job's temporary folder and classify it."""
        staged = self.source(files, demo, job.tmp)
        checkpoint(job.cancel)
        return self.predict_staged(staged, options, job.cancel)

    def explain_job(
        self,
        job: Job,
        result: Result | None,
        files: list[Upload],
        demo: str | None,
        options: Options,
        beats: list[int],
        method: str | None,
        fmt: str,
    ) -> dict[str, Any]:
        """Explain a kept ``result``, or the prediction of the request's record."""
        if result is None:
            result = self.predict_job(job, files, demo, options)
            checkpoint(job.cancel)
        return self.explain(result, beats, method, fmt)

    def explain(
        self, result: Result, beats: list[int], method: str | None, fmt: str
    ) -> dict[str, Any]:
        """The /explain response of ``result`` (see :func:`explanation`)."""
        chosen = chosen_method(result, method, self.models[result.model])
        with self.replica(result.model) as loaded, FIGURES:
            return explanation(result, loaded, beats, method, chosen, fmt, self.device)

    def report_job(self, _job: Job, result: Result) -> str:
        """The self-contained HTML report of a kept ``result``."""
        view = view_of(result.prediction)
        if view.report is None:
            raise ClientError(422, f"no HTML report of {view.name} from the server")
        with self.replica(result.model) as loaded, FIGURES:
            kind = view_of_model(loaded).report
            sections = [
                kind.model_section(loaded),
                view.report.record_section(result.prediction, loaded, self.device),
            ]
            metadata = {
                **kind.report_metadata(loaded),
                "record": result.record,
                "command": "ecglens serve",
            }
            return render_report(
                f"ecglens report: {result.record} ({loaded.name})", sections, metadata
            )


def _result(
    prediction: Any, model: str, task: Task, staged: Staged, warnings: list[str]
) -> Result:
    """The prediction with its /predict response: what ``ecglens predict --json`` writes, under
    the client's file name, with the reader's warnings."""
    _relabel(prediction, staged)
    out = {**prediction.to_dict(), "warnings": warnings}
    if "path" in out:
        out["path"] = staged.label
    body = json.dumps(out).encode()
    return Result(prediction, model, task, staged.display, body)


def _relabel(prediction: Any, staged: Staged) -> None:
    """Replace the server's temporary path (and a record named after it: images, CSVs of
    beats) in a prediction by the client's file name."""
    server_names = {str(staged.path), staged.path.name}
    for obj in (prediction, getattr(prediction, "beats", None)):
        if obj is None or not dataclasses.is_dataclass(obj):
            continue
        if hasattr(obj, "path"):
            obj.path = staged.label
        if getattr(obj, "record", None) in server_names:
            obj.record = staged.label
