"""The ecglens web service: ``create_app(models)`` builds a FastAPI app around models loaded once.

Endpoints (JSON; OpenAPI at ``/openapi.json``, a plain docs page at ``/docs``):

- ``POST /predict``: multipart ``files`` (a WFDB record: .hea + .dat [+ .atr], or one .zip of
  them; a CSV/TXT/NPY sample file with the field ``fs`` in Hz; an EDF/BDF file), or ``?demo=NAME``
  for a shipped demo record; optional ``model``, ``lead``, ``review_threshold``, ``mc_samples``.
  Returns what ``ecglens predict --json`` writes for one record. With ``?keep=true`` the
  prediction is kept (the last few, for a while) and its id comes back in the
  ``X-Ecglens-Result`` header, for ``/explain`` and ``/results/{id}/...``.
- ``POST /explain``: the relevance of chosen beats (arrays) and the explanation figure (PNG or
  SVG, base64) of a kept result (``result``) or of an upload.
- ``GET /results/{id}`` (the prediction again), ``/results/{id}/signal`` (the classified lead as
  float32), ``/results/{id}/report`` (the self-contained HTML report).
- ``GET /models`` (with their cards), ``GET /demo``, ``GET /health``; ``GET /`` the web page.

Safety: a request-size limit checked before the body is read; uploads stored under names the
server chooses in a fresh temporary directory per request, removed afterwards; zips refused when
a member's path leaves the archive; WFDB headers, NPY and EDF headers checked before parsing
(declared signals, samples and sampling rate); no pickle (NPY read with ``allow_pickle=False``,
weights with safetensors); a sample budget per record and the physical ranges of
:mod:`ecglens.io.limits` checked before any reader runs; CPU work in worker processes (a bounded
pool and queue, 503 with Retry-After when full), each with an address-space limit, killed past
the request's time limit (503) or when its client leaves; requests only for the allowed host
names and POSTs only from the server's own origin (or ``allowed_origins``); heads and bodies
that come too slowly get a 408 (see :mod:`~ecglens.serve.guard`, :mod:`~ecglens.serve.protocol`).

Where things are: this module holds the routes; :mod:`~ecglens.serve.service` the models and
the predict/explain/report jobs, which run in :mod:`~ecglens.serve.pool`; uploads are saved by
:mod:`~ecglens.serve.uploads`, checked by :mod:`~ecglens.serve.format_checks` and made one record
by :mod:`~ecglens.serve.staging`; :mod:`~ecglens.serve.results` keeps predictions;
:mod:`~ecglens.serve.explanations` builds the ``/explain`` answers; :mod:`~ecglens.serve.demo`
lists the demo records; :mod:`~ecglens.serve.guard` is the host, origin, size and upload-time
middleware; :mod:`~ecglens.serve.protocol` uvicorn's protocol with a head timeout, a connection
limit and JSON errors;
:mod:`~ecglens.serve.api_schema` declares the fields; :mod:`~ecglens.serve.docs_page` renders
``/docs``.

Errors: input errors are 4xx with ``{"error": "<one line>"}`` (``EcgLensError`` -> 422). An
exception while reading an uploaded file is the file's fault (422, logged). Any other exception is
a bug in ecglens: it stays a 500 (one-line JSON, traceback in the server log) so that it is seen
and fixed, not hidden; the property-based test asserts that no request reaches one.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecglens.errors import EcgLensError
from ecglens.io.limits import MAX_SAMPLES
from ecglens.plot.style import class_color
from ecglens.predict.tasks import task_of
from ecglens.serve.api_schema import (
    ERRORS,
    MAX_BEATS,
    RESULT_HEADER,
    BeatForm,
    DemoQuery,
    FigureForm,
    FilesField,
    FsField,
    KeepQuery,
    LeadField,
    McField,
    MethodForm,
    ModelField,
    ResultForm,
    ResultPath,
    ReviewField,
    UnitsField,
)
from ecglens.serve.docs_page import docs_page
from ecglens.serve.errors import ClientError, as_form_fields, one_line
from ecglens.serve.guard import Guard
from ecglens.serve.pool import RETRY_TIMEOUT_S, Bug, ClientGone, Pool
from ecglens.serve.results import KeptResults, beat_predictions
from ecglens.serve.service import DEFAULT_MODELS, DEMO_DIR, Options, Service
from ecglens.tasks import explainers_of

__all__ = ["DEFAULT_MODELS", "DEMO_DIR", "RESULT_HEADER", "create_app"]

log = logging.getLogger("ecglens.serve")

STATIC_DIR = Path(__file__).parent / "static"
MAX_SIGNAL_SAMPLES = 4_000_000  # samples in one /results/{id}/signal response
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# modules the jobs import on first use, imported before the workers are forked
WARM_IMPORTS = ("wfdb", "pandas", "pyarrow", "matplotlib.pyplot", "ecglens.report.html")
DEFAULT_WORKER_MEMORY_MB = 2048  # address space a request's worker may add (MB)
# samples of one record (all signals): about 24 B each while read and classified (measured:
# +471 MB for 20M), so 10M stays within about 250 MB; 3.9 h of 2 leads at 360 Hz
DEFAULT_MAX_SAMPLES = 10_000_000


def create_app(
    models: list[str] | tuple[str, ...] = DEFAULT_MODELS,
    max_upload_mb: float = 50,
    request_timeout_s: float = 120,
    max_concurrent: int = 2,
    queue_size: int = 8,
    device: str = "cpu",
    torch_threads: int | None = 1,
    keep_results: int = 16,
    result_ttl_s: float = 1800,
    demo_dir: str | Path | None = DEMO_DIR,
    worker_memory_mb: float = DEFAULT_WORKER_MEMORY_MB,
    keep_results_mb: float = 512,
    allowed_hosts: list[str] | tuple[str, ...] | None = None,
    allowed_origins: list[str] | tuple[str, ...] = (),
    upload_timeout_s: float = 60.0,
    idle_timeout_s: float = 15.0,
    max_samples: int = DEFAULT_MAX_SAMPLES,
) -> FastAPI:
    """The web service with ``models`` (shipped names or paths) loaded once, now.

    max_upload_mb: largest request body (MB); request_timeout_s: time limit per request, queue
    wait included (s); max_concurrent: requests worked on at once (worker processes sharing the
    models; on a GPU threads, each with its own copy of every model); queue_size: requests
    waiting beyond those (503 beyond); torch_threads: torch's intra-op threads (process-wide;
    None leaves it); keep_results, keep_results_mb, result_ttl_s: how many predictions
    ``?keep=true`` keeps, their total size (MB), and how long (s); demo_dir: folder of demo WFDB
    records; worker_memory_mb: address space a request's worker process may add to the server's
    (0: no limit). On the CPU requests run in worker processes forked from the server (killed on
    time-out or when the client leaves); on a GPU in threads. allowed_hosts: the Host names
    answered (None: any; ``ecglens serve`` always gives them: the loopback names by default);
    allowed_origins: origins besides the server's own whose POSTs are accepted (a proxy's public
    origin); upload_timeout_s, idle_timeout_s: seconds to receive a request body, and without
    any of its data (408 after); max_samples: samples of a record (all signals), checked before
    it is read (at most ``io.limits.MAX_SAMPLES``).
    """
    if max_upload_mb <= 0:
        raise EcgLensError(f"max_upload_mb must be positive, not {max_upload_mb:g}")
    if request_timeout_s <= 0:
        raise EcgLensError(f"request_timeout_s must be positive, not {request_timeout_s:g}")
    if max_concurrent < 1 or queue_size < 0:
        raise EcgLensError(
            f"max_concurrent must be >= 1 and queue_size >= 0, not {max_concurrent}, {queue_size}"
        )
    if torch_threads is not None:
        torch.set_num_threads(int(torch_threads))
    max_bytes = int(max_upload_mb * 1_000_000)
    if max_samples < 1:
        raise EcgLensError(f"max_samples must be >= 1, not {max_samples}")
    if worker_memory_mb < 0 or keep_results_mb <= 0:
        raise EcgLensError("worker_memory_mb must be >= 0 and keep_results_mb positive")
    isolate = str(device).startswith("cpu")  # CUDA does not survive a fork
    pool = Pool(max_concurrent, queue_size, request_timeout_s, worker_memory_mb, isolate)
    service = Service(
        list(models), 1 if pool.isolate else max_concurrent, device, max_bytes, pool,
        KeptResults(keep_results, result_ttl_s, int(keep_results_mb * 1e6)),
        None if demo_dir is None else Path(demo_dir), min(int(max_samples), MAX_SAMPLES),
    )

    if pool.isolate:
        # what every worker would import on its first request, imported once here instead
        for module in WARM_IMPORTS:
            with contextlib.suppress(ImportError):
                importlib.import_module(module)
        # the models and modules loaded so far are never collected: keeping them out of the
        # collector's sight spares each forked worker copying every page they sit on
        gc.collect()
        gc.freeze()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        pool.shutdown()

    app = FastAPI(
        title="ecglens",
        version=_version(),
        description="Classify ECG records and show why. Research software, not a medical device.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(
        Guard, max_bytes=max_bytes, allowed_hosts=allowed_hosts, allowed_origins=allowed_origins,
        upload_timeout_s=upload_timeout_s, idle_timeout_s=idle_timeout_s,
    )
    _add_error_handlers(app)

    def options(
        fs: float | None,
        model: str | None,
        lead: str | None,
        review_threshold: float | None,
        mc_samples: int | None,
        units: str | None = None,
    ) -> Options:
        return Options(
            fs, model, lead.strip() if lead else None, review_threshold, mc_samples, units
        )

    @app.post(
        "/predict",
        summary="Classify one record",
        responses={**ERRORS, 200: {"description": "What `ecglens predict --json` writes"}},
    )
    async def predict(
        *,
        files: FilesField,
        fs: FsField = None,
        units: UnitsField = None,
        model: ModelField = None,
        lead: LeadField = None,
        review_threshold: ReviewField = None,
        mc_samples: McField = None,
        demo: DemoQuery = None,
        keep: KeepQuery = False,
        request: Request,
    ) -> Response:
        """Classify the uploaded record (or a demo record) with one model: every beat for beat
        models, the whole record for 12-lead and MI models."""
        opts = options(fs, model, lead, review_threshold, mc_samples, units)
        result = await pool.run(
            "predict_job", files, demo, opts, disconnected=request.is_disconnected
        )
        headers = {RESULT_HEADER: service.results.add(result)} if keep else None
        return Response(result.body, media_type="application/json", headers=headers)

    @app.post("/explain", summary="Explain beats or a 12-lead record", responses=ERRORS)
    async def explain(
        *,
        result: ResultForm = None,
        beat: BeatForm = None,
        method: MethodForm = None,
        figure: FigureForm = "png",
        files: FilesField,
        fs: FsField = None,
        units: UnitsField = None,
        model: ModelField = None,
        lead: LeadField = None,
        review_threshold: ReviewField = None,
        mc_samples: McField = None,
        demo: DemoQuery = None,
        request: Request,
    ) -> dict[str, Any]:
        """Relevance of the chosen beats (waveform and map, at ``beat_fs``), their
        probabilities, uncertainty and review flag, and the explanation figure (base64); for
        12-lead models the relevance along the record and the ECG-paper figure."""
        beats = list(beat or [])
        if len(beats) > MAX_BEATS:
            raise ClientError(422, f"beat: {len(beats)} beats; at most {MAX_BEATS} per request")
        kept = None
        if result is not None:
            if files or demo is not None:
                raise ClientError(400, "give either result or a record (files or demo), not both")
            kept = service.results.get(result)
        opts = options(fs, model, lead, review_threshold, mc_samples, units)
        return await pool.run(  # type: ignore[no-any-return]
            "explain_job", kept, files, demo, opts, beats, method, figure,
            disconnected=request.is_disconnected,
        )

    @app.get("/results/{result_id}", summary="A kept prediction", responses=ERRORS)
    async def get_result(result_id: ResultPath) -> Response:
        """The /predict response of a kept result."""
        return Response(service.results.get(result_id).body, media_type="application/json")

    @app.get(
        "/results/{result_id}/signal",
        summary="The classified lead of a kept beat prediction",
        responses={**ERRORS, 200: {"content": {"application/octet-stream": {}},
                                   "description": "float32 little-endian samples in mV"}},
    )
    async def get_signal(
        result_id: ResultPath,
        start: Annotated[int, Query(ge=0, description="First sample")] = 0,
        stop: Annotated[int | None, Query(ge=0, description="Sample after the last")] = None,
    ) -> Response:
        """Samples ``start:stop`` of the lead the beats were detected on (float32 LE, mV), at
        most 4,000,000 per call; headers give the rate, lead and total length."""
        kept = service.results.get(result_id)
        bp = beat_predictions(kept.prediction)
        if bp is None:
            raise ClientError(
                422, f"result {result_id} has no single-lead signal ({kept.task.description})"
            )
        total = len(bp.signal)
        stop = min(total, start + MAX_SIGNAL_SAMPLES) if stop is None else min(stop, total)
        if start >= total or stop <= start:
            raise ClientError(422, f"start/stop: samples {start}:{stop} outside 0:{total}")
        if stop - start > MAX_SIGNAL_SAMPLES:
            raise ClientError(422, f"stop: at most {MAX_SIGNAL_SAMPLES:,} samples per call")
        data = np.ascontiguousarray(bp.signal[start:stop], dtype="<f4").tobytes()
        headers = {
            "X-Sampling-Rate": f"{bp.fs:g}",
            "X-Total-Samples": str(total),
            "X-Start": str(start),
            "X-Lead": _safe_filename(bp.lead),
        }
        return Response(data, media_type="application/octet-stream", headers=headers)

    @app.get(
        "/results/{result_id}/report",
        summary="The HTML report of a kept prediction",
        responses={**ERRORS, 200: {"content": {"text/html": {}},
                                   "description": "A self-contained HTML file"}},
    )
    async def get_report(result_id: ResultPath, request: Request) -> HTMLResponse:
        """The self-contained HTML report (model, record strip, class counts, Grad-CAM / CAM)."""
        kept = service.results.get(result_id)
        text = await pool.run("report_job", kept, disconnected=request.is_disconnected)
        name = f"{_safe_filename(kept.record)}-report.html"
        return HTMLResponse(text, headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Security-Policy": REPORT_CSP,
        })

    @app.get("/models", summary="Loaded models with their cards")
    async def get_models() -> dict[str, Any]:
        """Every loaded model: task, classes, explainers, class colours and model card."""
        listed = []
        for name, loaded in service.models.items():
            task = task_of(loaded)
            classes = list(loaded.config.classes)
            listed.append({
                "name": name,
                "task": task.name,
                "family": task.family,
                "description": task.description,
                "classes": classes,
                "methods": list(explainers_of(loaded)),
                "colors": {c: class_color(c) for c in classes},
                "card": loaded.card,
            })
        return {"default": next(iter(service.models)), "models": listed}

    @app.get("/demo", summary="Shipped demo records")
    async def get_demo() -> dict[str, Any]:
        """Demo records that ``POST /predict?demo=NAME`` classifies."""
        return {"records": [{k: v for k, v in d.items() if k != "path"}
                            for d in service.demo.values()]}

    @app.get("/health", summary="Liveness and load")
    async def health() -> dict[str, Any]:
        """Status, loaded models, requests running and waiting, and the limits."""
        return {
            "status": "ok",
            "models": list(service.models),
            **pool.stats(),
            "max_concurrent": pool.max_concurrent,
            "queue_size": pool.queue_size,
            "request_timeout_s": pool.timeout_s,
            "max_upload_mb": max_bytes / 1e6,
            "max_samples": service.max_samples,
            "worker_memory_mb": pool.memory_bytes / 2**20 if pool.isolate else None,
            "keep_results_mb": service.results.max_bytes / 1e6,
        }

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(docs_page(app.openapi()))

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Every error a one-line JSON ``{"error": ...}``: client errors as they say, input errors
    422, out of memory 503, anything else (a bug in ecglens) 500 with the traceback logged."""

    @app.exception_handler(ClientError)
    async def client_error(_request: Any, exc: ClientError) -> JSONResponse:
        return _error(exc.status, str(exc), exc.headers)

    @app.exception_handler(EcgLensError)
    async def input_error(_request: Any, exc: EcgLensError) -> JSONResponse:
        return _error(422, as_form_fields(str(exc)))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Any, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Any, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:
            message = "malformed request body (expected multipart/form-data)"
        return _error(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(ClientGone)
    async def client_gone(_request: Any, _exc: ClientGone) -> JSONResponse:
        return _error(499, "client closed the request before its answer: the work was stopped")

    @app.exception_handler(Bug)
    async def worker_bug(_request: Any, exc: Bug) -> JSONResponse:
        return _error(
            500, f"internal server error ({exc}): a bug in ecglens; the server log has the "
            "traceback"
        )

    @app.exception_handler(MemoryError)
    async def out_of_memory(_request: Any, exc: MemoryError) -> JSONResponse:
        log.error("out of memory", exc_info=exc)
        return _error(503, "out of memory for this request; send a shorter record",
                      {"Retry-After": str(RETRY_TIMEOUT_S)})

    @app.exception_handler(Exception)
    async def server_bug(_request: Any, exc: Exception) -> JSONResponse:
        log.error("internal error", exc_info=exc)
        return _error(
            500, f"internal server error ({type(exc).__name__}): a bug in ecglens; the server "
            "log has the traceback"
        )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{'.'.join(loc) or 'request'}: {first.get('msg', 'invalid value')}{more}"


def _safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:64] or "record"


def _version() -> str:
    from ecglens import __version__

    return str(__version__)
