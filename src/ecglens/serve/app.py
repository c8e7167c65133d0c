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
weights with safetensors); CPU work in a bounded pool with a bounded queue (503 when full) and a
per-request time limit (503).

Errors: input errors are 4xx with ``{"error": "<one line>"}`` (``EcgLensError`` -> 422). An
exception while reading an uploaded file is the file's fault (422, logged). Any other exception is
a bug in ecglens: it stays a 500 (one-line JSON, traceback in the server log) so that it is seen
and fixed, not hidden; the property-based test asserts that no request reaches one.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import html
import importlib
import io
import json
import logging
import queue
import re
import secrets
import shutil
import tempfile
import threading
import time
import zipfile
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import numpy as np
import torch
from fastapi import FastAPI, File, Form, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecglens.errors import EcgLensError
from ecglens.explain import explain_12lead, explain_beats
from ecglens.explain.recommended import recommended_method_for
from ecglens.inputs.beats import BeatConfig
from ecglens.inputs.leads import lead_order
from ecglens.io import Record, read_record
from ecglens.io.beat_csv import looks_like_beat_csv
from ecglens.models.registry import LoadedModel, load_model
from ecglens.plot.style import class_color, close_figure, figure_to_png_bytes
from ecglens.predict.beat_rows import classify_beat_rows
from ecglens.predict.beats import BeatPredictions, display_beat
from ecglens.predict.tasks import Task, classify, resolve, task_of
from ecglens.report.html import render_report

log = logging.getLogger("ecglens.serve")

STATIC_DIR = Path(__file__).parent / "static"
DEMO_DIR = Path(__file__).resolve().parents[3] / "data" / "mitdb-demo"  # in a source checkout
DEFAULT_MODELS = ("ecglens-mitdb-inter", "ecglens-ptbxl-binary")
RESULT_HEADER = "X-Ecglens-Result"
RESULT_ID = r"^[A-Za-z0-9_-]{1,64}$"
MAX_FILES = 32  # files in one upload, after unzipping
UNZIP_FACTOR = 4  # a zip may unpack to this many times the upload limit
MAX_SIGNALS = 64  # signals a WFDB header may declare
MAX_SAMPLES = 50_000_000  # signals x samples a header (or an NPY file) may declare
MAX_FS = 100_000.0  # Hz
MAX_HEADER_BYTES = 256 * 1024
MAX_BEATS = 32  # beats explained in one request
MAX_SIGNAL_SAMPLES = 4_000_000  # samples in one /results/{id}/signal response
TWELVE_LEAD_MAX_S = 60.0  # with no model named, longer 12-lead records go to a beat model
RECORD_FAMILIES = ("beats", "12-lead")  # model families that take a read record
SUFFIX_KINDS = {
    ".hea": "header",
    ".dat": "signal",
    ".mat": "signal",
    ".atr": "annotation",
    ".csv": "samples",
    ".txt": "samples",
    ".npy": "samples",
    ".edf": "edf",
    ".bdf": "edf",
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"), "image"),
}
ACCEPTED = (
    "a WFDB record (.hea + .dat [+ .atr]) or a .zip of one, .csv/.txt/.npy with fs, .edf/.bdf"
)
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_FIGURES = threading.Lock()  # matplotlib is not thread-safe: one figure at a time


class ClientError(Exception):
    """A request the server refuses: ``status`` (4xx, or 503 when busy) and a one-line message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class _Abandoned(Exception):
    """Work whose request timed out: stop at the next checkpoint."""


def one_line(text: object, limit: int = 500) -> str:
    """``text`` on one line (whitespace collapsed), at most ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


_CLI_OPTIONS = re.compile(r"--(fs|lead|beat|method|model|review-threshold|mc-samples)\b")


def as_form_fields(text: str) -> str:
    """A message of the library with its CLI options (``--fs``) named as the form fields."""
    return _CLI_OPTIONS.sub(lambda m: "form field " + m.group(1).replace("-", "_"), text)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers)


# -- uploads --------------------------------------------------------------------------------


@dataclass
class _Upload:
    name: str  # the client's base name: for lookups and messages only, never a path
    path: Path  # where its bytes are, under a name the server chose


@dataclass
class _Staged:
    """One record ready to read: ``path`` (server-chosen), ``label`` (the client's name for it),
    ``kind`` ("wfdb", "samples", "edf", "image"), ``display`` (record name to show) and
    ``names`` (server path or name -> client name, to keep server paths out of messages)."""

    path: Path
    label: str
    kind: str
    display: str
    names: dict[str, str] = field(default_factory=dict)

    def scrub(self, text: str) -> str:
        for server, client in sorted(self.names.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(server, client)
        return as_form_fields(text)

    @contextmanager
    def scrubbing(self) -> Iterator[None]:
        """Turn errors into client errors whose messages name the client's files."""
        try:
            yield
        except EcgLensError as exc:
            raise ClientError(422, self.scrub(str(exc))) from exc
        except ClientError as exc:
            raise ClientError(exc.status, self.scrub(str(exc)), exc.headers) from exc


def _client_name(filename: str | None, index: int) -> str:
    """The base name of an uploaded file (no folders), printable, at most 128 characters."""
    name = PurePosixPath(str(filename or "").replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable()).strip()[:128]
    return name or f"file{index}"


def _suffix(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def _save_uploads(files: list[UploadFile], tmp: Path, max_bytes: int) -> list[_Upload]:
    """Copy the uploaded files into ``tmp`` under server-chosen names; unpack one zip."""
    if len(files) > MAX_FILES:
        raise ClientError(400, f"{len(files)} files uploaded; at most {MAX_FILES} per request")
    uploads = []
    for i, upload in enumerate(files):
        path = tmp / f"upload{i}"
        upload.file.seek(0)
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out, 1 << 20)
        uploads.append(_Upload(_client_name(upload.filename, i), path))
    zips = [u for u in uploads if _suffix(u.name) == ".zip"]
    if not zips:
        return uploads
    if len(uploads) > 1:
        raise ClientError(400, f"{zips[0].name}: a .zip must be the only file uploaded")
    return _unzip(zips[0], tmp, max_bytes * UNZIP_FACTOR)


def _unzip(upload: _Upload, tmp: Path, max_total: int) -> list[_Upload]:
    """The zip's files, unpacked under server-chosen names; refuses members whose path leaves
    the archive, links, encrypted members, nested zips and more than ``max_total`` bytes."""
    where = upload.name
    try:
        archive = zipfile.ZipFile(upload.path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ClientError(400, f"{where}: not a readable zip file ({exc})") from exc
    with archive:
        members, seen = [], set()
        for info in archive.infolist():
            raw = info.filename.replace("\\", "/")
            parts = PurePosixPath(raw).parts
            if raw.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                raise ClientError(
                    400, f"{where}: member {raw!r} has a path outside the archive (absolute or ..)"
                )
            if info.is_dir() or not parts or parts[0] == "__MACOSX" or parts[-1].startswith("._"):
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise ClientError(400, f"{where}: member {raw!r} is a symbolic link")
            if info.flag_bits & 0x1:
                raise ClientError(400, f"{where}: member {raw!r} is encrypted")
            name = _client_name(parts[-1], len(members))
            if _suffix(name) == ".zip":
                raise ClientError(400, f"{where}: member {raw!r} is a zip inside the zip")
            if name in seen:
                raise ClientError(400, f"{where}: two members named {name!r}")
            seen.add(name)
            members.append((info, name))
        if not members:
            raise ClientError(400, f"{where}: the zip holds no files")
        if len(members) > MAX_FILES:
            raise ClientError(400, f"{where}: {len(members)} files; at most {MAX_FILES}")
        declared = sum(info.file_size for info, _ in members)
        if declared > max_total:
            raise ClientError(
                413, f"{where}: unpacks to {declared / 1e6:.1f} MB, more than the "
                f"{max_total / 1e6:.0f} MB accepted"
            )
        out, written = [], 0
        for i, (info, name) in enumerate(members):
            path = tmp / f"unzipped{i}"
            try:
                with archive.open(info) as src, path.open("wb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > max_total:
                            raise ClientError(413, f"{where}: unpacks to more than "
                                              f"{max_total / 1e6:.0f} MB")
                        dst.write(chunk)
            except ClientError:
                raise
            except Exception as exc:  # a damaged member: CRC, zlib, unsupported compression
                raise ClientError(
                    400, f"{where}: member {name!r} cannot be unpacked ({type(exc).__name__}: "
                    f"{exc})"
                ) from exc
            out.append(_Upload(name, path))
        return out


def _stage(uploads: list[_Upload], tmp: Path) -> _Staged:
    """Sort the uploads into one record and move its files under server-chosen names."""
    kinds: dict[str, list[_Upload]] = {}
    for u in uploads:
        kind = SUFFIX_KINDS.get(_suffix(u.name))
        if kind is None:
            raise ClientError(
                415, f"{u.name}: not a file type the server reads "
                f"({_suffix(u.name) or 'no extension'}); upload {ACCEPTED}"
            )
        kinds.setdefault(kind, []).append(u)
    stem = "r" + secrets.token_hex(5)
    headers = kinds.get("header", [])
    singles = kinds.get("samples", []) + kinds.get("edf", []) + kinds.get("image", [])
    if len(headers) > 1:
        names = ", ".join(u.name for u in headers)
        raise ClientError(400, f"several WFDB headers ({names}): upload one record per request")
    if headers and singles:
        raise ClientError(
            400, f"a WFDB record and {singles[0].name} in one upload: one record per request"
        )
    if headers:
        return _stage_wfdb(
            headers[0], kinds.get("signal", []), kinds.get("annotation", []), tmp, stem
        )
    if kinds.get("signal"):
        raise ClientError(
            422, f"{kinds['signal'][0].name}: a signal file needs its .hea header: upload both"
        )
    if not singles:
        raise ClientError(
            422, f"{uploads[0].name}: annotations alone are no record: upload the .hea and .dat"
        )
    if len(singles) > 1:
        names = ", ".join(u.name for u in singles)
        raise ClientError(400, f"several records ({names}): upload one record per request")
    upload = singles[0]
    suffix = _suffix(upload.name)
    target = tmp / f"{stem}{suffix}"
    upload.path.rename(target)
    kind = SUFFIX_KINDS[suffix]
    if suffix == ".npy":
        _check_npy(target, upload.name)
    elif kind == "samples":
        _check_text(target, upload.name)
    elif kind == "edf":
        _check_edf(target, upload.name)
    display = PurePosixPath(upload.name).stem or upload.name
    names = {str(target): upload.name, target.name: upload.name, stem: display, str(tmp): "upload"}
    return _Staged(target, upload.name, kind, display, names)


def _stage_wfdb(
    header: _Upload, signals: list[_Upload], annotations: list[_Upload], tmp: Path, stem: str
) -> _Staged:
    """Check the header (record line, declared signals, samples and rate), then write it under
    the server's record name with its signal-file references renamed to match."""
    where = header.name
    size = header.path.stat().st_size
    if size > MAX_HEADER_BYTES:
        raise ClientError(422, f"{where}: {size} bytes is too large for a WFDB header")
    raw = header.path.read_bytes()
    if b"\x00" in raw:
        raise ClientError(422, f"{where}: binary data, not a WFDB header (text)")
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = raw.decode("latin-1"), "latin-1"
    lines = text.splitlines()
    content = [(i, s) for i, s in enumerate(lines) if s.strip() and not s.lstrip().startswith("#")]
    if not content:
        raise ClientError(422, f"{where}: no record line: not a WFDB header")
    i0, record_line = content[0]
    fields = record_line.split()
    name = fields[0]
    if "/" in name:
        raise ClientError(
            422, f"{where}: a multi-segment record; the server reads single-segment records"
        )
    if len(fields) < 2 or not fields[1].isdigit():
        raise ClientError(
            422, f"{where}: malformed record line {one_line(record_line, 80)!r} (expected the "
            "record name, the number of signals, the sampling frequency...)"
        )
    n_sig = int(fields[1])
    if not 1 <= n_sig <= MAX_SIGNALS:
        raise ClientError(422, f"{where}: declares {n_sig} signals (accepted: 1 to {MAX_SIGNALS})")
    if len(fields) > 2:
        rate = re.match(r"^(\d*\.?\d+(?:[eE][-+]?\d+)?)", fields[2])
        if rate is None:
            raise ClientError(422, f"{where}: malformed sampling frequency {fields[2][:40]!r}")
        fs = float(rate.group(1))
        if not 0 < fs <= MAX_FS:
            raise ClientError(
                422, f"{where}: sampling frequency {fs:g} Hz outside (0, {MAX_FS:g}]"
            )
    signal_lines = content[1 : 1 + n_sig]
    if len(signal_lines) < n_sig:
        raise ClientError(
            422, f"{where}: declares {n_sig} signals but describes {len(signal_lines)}"
        )
    per_frame = 0  # samples per frame, all signals together ("16x4": 4 samples a frame)
    for _, line in signal_lines:
        tokens = line.split()
        spf = re.match(r"^\d+x(\d+)", tokens[1]) if len(tokens) > 1 else None
        per_frame += max(1, int(spf.group(1))) if spf else 1
    if len(fields) > 3:
        if not fields[3].isdigit():
            raise ClientError(422, f"{where}: malformed number of samples {fields[3][:40]!r}")
        if int(fields[3]) * per_frame > MAX_SAMPLES:
            raise ClientError(
                422, f"{where}: declares {int(fields[3])} frames of {per_frame} samples, more "
                f"than the {MAX_SAMPLES:,} samples the server accepts"
            )
    uploaded = {u.name.lower(): u for u in signals}
    renamed: dict[str, str] = {}  # the header's signal file name (lower case) -> the server's
    names = {str(tmp / stem): name, f"{stem}.hea": where, str(tmp / f"{stem}.hea"): where,
             stem: name, str(tmp): "upload"}
    new = list(lines)
    start = record_line.index(name)
    new[i0] = record_line[:start] + stem + record_line[start + len(name) :]
    for j, line in signal_lines:
        file_name = line.split()[0]
        if len(line.split()) < 2:
            raise ClientError(422, f"{where}: malformed signal line {one_line(line, 80)!r}")
        key = file_name.lower()
        if key not in renamed:
            found = uploaded.get(key)
            if found is None:
                raise ClientError(
                    422, f"{file_name}: signal file named by {where} is missing from the upload"
                )
            suffix = _suffix(file_name) if _suffix(file_name) in (".dat", ".mat") else ".dat"
            server = f"{stem}{suffix}" if not renamed else f"{stem}_{len(renamed)}{suffix}"
            found.path.rename(tmp / server)
            renamed[key] = server
            names[server] = names[str(tmp / server)] = found.name
        at = line.index(file_name)
        new[j] = line[:at] + renamed[key] + line[at + len(file_name) :]
    (tmp / f"{stem}.hea").write_text("\n".join(new) + "\n", encoding=encoding)
    matching = [a for a in annotations if PurePosixPath(a.name).stem == name] or annotations
    if len(matching) == 1:
        matching[0].path.rename(tmp / f"{stem}.atr")
        names[f"{stem}.atr"] = names[str(tmp / f"{stem}.atr")] = matching[0].name
    return _Staged(tmp / stem, where, "wfdb", name, names)


def _check_npy(path: Path, where: str) -> None:
    """Refuse an NPY file whose header declares objects, non-numbers, more than 2 dimensions or
    more values than the file holds, before numpy reads it."""
    with path.open("rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except Exception as exc:  # numpy parses the header's dict: any error is the file's
            raise ClientError(
                422, f"{where}: not a readable NumPy .npy file ({type(exc).__name__}: {exc})"
            ) from exc
        data_bytes = path.stat().st_size - f.tell()
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ClientError(422, f"{where}: holds {dtype} values, not numbers (no pickle accepted)")
    if len(shape) not in (1, 2):
        raise ClientError(422, f"{where}: {len(shape)}-D array; expected (samples,) or "
                          "(samples, leads)")
    n = int(np.prod(shape, dtype=np.int64))
    if n > MAX_SAMPLES:
        raise ClientError(422, f"{where}: {n} values, more than the {MAX_SAMPLES:,} accepted")
    if n * dtype.itemsize > data_bytes:
        raise ClientError(
            422, f"{where}: declares {n} values of {dtype} but holds {data_bytes} bytes"
        )


def _check_text(path: Path, where: str) -> None:
    with path.open("rb") as f:
        head = f.read(65536)
    if b"\x00" in head:
        raise ClientError(422, f"{where}: binary data, not a CSV/TXT of samples")


def _check_edf(path: Path, where: str) -> None:
    """Refuse a file without the EDF/BDF version field or shorter than its declared header."""
    with path.open("rb") as f:
        head = f.read(256)
    if len(head) < 256 or head[:8] not in (b"0       ", b"\xffBIOSEMI"):
        raise ClientError(422, f"{where}: not an EDF/BDF file (no EDF header)")
    try:
        n_signals = int(head[252:256].decode("ascii").strip())
    except (UnicodeDecodeError, ValueError) as exc:
        raise ClientError(422, f"{where}: malformed EDF header (number of signals)") from exc
    if not 1 <= n_signals <= 4096 or path.stat().st_size < 256 * (n_signals + 1):
        raise ClientError(422, f"{where}: EDF header declares {n_signals} signals, which the "
                          "file does not hold")


# -- work in the pool -------------------------------------------------------------------------


class _Pool:
    """Bounded concurrency: ``max_concurrent`` worker threads, at most ``queue_size`` requests
    waiting (503 beyond), each request given ``timeout_s`` seconds in all (503 after)."""

    def __init__(self, max_concurrent: int, queue_size: int, timeout_s: float) -> None:
        self.max_concurrent, self.queue_size, self.timeout_s = max_concurrent, queue_size, timeout_s
        self._executor: ThreadPoolExecutor | None = None  # started on first use
        self._lock = threading.Lock()
        self._pending = 0  # submitted, not finished (running or queued)
        self._running = 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"running": self._running, "queued": self._pending - self._running}

    def _finished(self, _future: Any) -> None:
        with self._lock:
            self._pending -= 1

    async def run(self, work: Callable[..., Any], *args: Any) -> Any:
        """``work(cancel, *args)`` in a worker thread; ``cancel`` (a threading.Event) is set
        when the request times out, so that the work can stop at its next checkpoint."""
        with self._lock:
            if self._pending >= self.max_concurrent + self.queue_size:
                raise ClientError(
                    503, f"server busy: {self.max_concurrent} requests running and "
                    f"{self.queue_size} waiting; retry later", {"Retry-After": "5"}
                )
            self._pending += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.max_concurrent, thread_name_prefix="ecglens-serve"
                )
            executor = self._executor
        cancel = threading.Event()

        def job() -> Any:
            with self._lock:
                self._running += 1
            try:
                _checkpoint(cancel)
                return work(cancel, *args)
            finally:
                with self._lock:
                    self._running -= 1

        try:
            future = executor.submit(job)
        except RuntimeError as exc:  # shut down at this moment
            self._finished(None)
            raise ClientError(503, "server shutting down; retry", {"Retry-After": "5"}) from exc
        future.add_done_callback(self._finished)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_s)
        except TimeoutError as exc:
            cancel.set()
            future.cancel()
            raise ClientError(
                503, f"request took longer than the server's limit of {self.timeout_s:g} s; "
                "retry later or send a shorter record", {"Retry-After": "10"}
            ) from exc

    def shutdown(self) -> None:
        """Drop waiting work and let the threads end (a later request starts new ones)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def _checkpoint(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise _Abandoned()


@dataclass
class _Options:
    fs: float | None = None
    model: str | None = None
    lead: str | None = None
    review_threshold: float | None = None
    mc_samples: int | None = None


@dataclass
class _Result:
    prediction: Any
    model: str
    task: Task
    record: str
    body: bytes  # the /predict response
    created: float = field(default_factory=time.monotonic)


class _Results:
    """Predictions kept for /explain and /results: the last ``keep``, for ``ttl_s`` seconds."""

    def __init__(self, keep: int, ttl_s: float) -> None:
        self.keep, self.ttl_s = keep, ttl_s
        self._items: OrderedDict[str, _Result] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self) -> None:
        now = time.monotonic()
        for rid in [r for r, item in self._items.items() if now - item.created > self.ttl_s]:
            del self._items[rid]

    def add(self, result: _Result) -> str:
        rid = secrets.token_urlsafe(12)
        with self._lock:
            self._expire()
            self._items[rid] = result
            while len(self._items) > self.keep:
                self._items.popitem(last=False)
        return rid

    def get(self, rid: str) -> _Result:
        with self._lock:
            self._expire()
            found = self._items.get(rid)
            if found is not None:
                self._items.move_to_end(rid)
        if found is None:
            raise ClientError(
                404, f"no result {rid!r}: the server keeps the last {self.keep} for "
                f"{self.ttl_s / 60:g} min; send the record again (with ?keep=true)"
            )
        return found


def _beat_predictions(prediction: Any) -> BeatPredictions | None:
    """The beats of a beat-model prediction (an MI prediction's beats too), else None."""
    if isinstance(prediction, BeatPredictions):
        return prediction
    beats = getattr(prediction, "beats", None)
    return beats if isinstance(beats, BeatPredictions) else None


def _rounded(values: np.ndarray, digits: int = 4) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(values, dtype=np.float64).ravel()]


def _encode_figure(fig: Any, fmt: str) -> dict[str, str]:
    try:
        if fmt == "svg":
            buffer = io.BytesIO()
            fig.savefig(buffer, format="svg")
            data, media = buffer.getvalue(), "image/svg+xml"
        else:
            data, media = figure_to_png_bytes(fig), "image/png"
    finally:
        close_figure(fig)
    return {"format": fmt, "media_type": media, "data": base64.b64encode(data).decode("ascii")}


def _safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:64] or "record"


class _Service:
    """The models (``replicas`` copies of each, one per worker, so that no two threads share a
    module: explainers hook into it and MC dropout switches its mode), the pool, kept results
    and demo records."""

    def __init__(
        self,
        models: list[str],
        replicas: int,
        device: str,
        max_upload_bytes: int,
        pool: _Pool,
        results: _Results,
        demo_dir: Path | None,
    ) -> None:
        if not models:
            raise EcgLensError("give at least one model to serve")
        self.device = device
        self.max_upload_bytes = max_upload_bytes
        self.pool, self.results = pool, results
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
        self.demo = _demo_records(demo_dir)

    @contextmanager
    def replica(self, name: str) -> Iterator[LoadedModel]:
        copies = self._replicas[name]
        loaded = copies.get()
        try:
            yield loaded
        finally:
            copies.put(loaded)

    def pick_model(self, requested: str | None, record: Record | None, image: bool) -> str:
        """``requested`` when loaded; else an image model for images, a 12-lead model for a
        record with the 12 leads of at most a minute, else the first beat model."""
        if requested:
            if requested not in self.models:
                raise ClientError(
                    422, f"model {requested!r} is not loaded by this server; loaded: "
                    f"{', '.join(self.models)}"
                )
            return requested
        families = {name: task_of(m).family for name, m in self.models.items()}
        if image:
            for name, family in families.items():
                if family not in RECORD_FAMILIES:
                    return name
            raise ClientError(
                422, "an image, not an ECG signal record: the server has no image model loaded "
                f"(loaded: {', '.join(self.models)})"
            )
        if record is not None and record.duration_s <= TWELVE_LEAD_MAX_S:
            for name, family in families.items():
                if family == "12-lead" and _has_leads(record, self.models[name]):
                    return name
        for name, family in families.items():
            if family == "beats":
                return name
        return next(iter(self.models))

    def source(self, files: list[UploadFile], demo: str | None, tmp: Path) -> _Staged:
        if demo is not None:
            if files:
                raise ClientError(400, "give either files or demo, not both")
            if demo not in self.demo:
                known = ", ".join(self.demo) or "none on this server"
                raise ClientError(422, f"no demo record {demo!r}; demo records: {known}")
            path = self.demo[demo]["path"]
            return _Staged(path, f"demo/{demo}", "wfdb", demo, {str(path.parent): "demo"})
        if not files:
            raise ClientError(400, f"no files uploaded: send files ({ACCEPTED}) or ?demo=NAME")
        return _stage(_save_uploads(files, tmp, self.max_upload_bytes), tmp)

    def predict_staged(
        self, staged: _Staged, options: _Options, cancel: threading.Event
    ) -> _Result:
        with staged.scrubbing():
            if staged.kind == "image":
                name = self.pick_model(options.model, None, image=True)
                record, warnings = staged.path, []
            else:
                record = self._read(staged, options.fs)
                record.name = staged.display
                warnings = [staged.scrub(w) for w in record.warnings]
                name = self.pick_model(options.model, record, image=False)
            _checkpoint(cancel)
            task = task_of(self.models[name])
            given = {
                "lead": options.lead,
                "review_threshold": options.review_threshold,
                "mc_samples": options.mc_samples,
            }
            if not options.model:  # chosen by the server: leave out what does not apply
                given = {k: v for k, v in given.items() if k in task.options}
            with self.replica(name) as loaded:
                csv_of_beats = staged.kind == "samples" and _suffix(staged.label) == ".csv"
                if csv_of_beats and looks_like_beat_csv(staged.path):
                    prediction = classify_beat_rows(staged.path, loaded, device=self.device)
                else:
                    prediction = classify(record, loaded, device=self.device, **given)
        _relabel(prediction, staged.label)
        out = {**prediction.to_dict(), "warnings": warnings}
        if "path" in out:
            out["path"] = staged.label
        body = json.dumps(out).encode()
        return _Result(prediction, name, task, staged.display, body)

    def _read(self, staged: _Staged, fs: float | None) -> Record:
        try:
            return read_record(staged.path, fs=fs)
        except (EcgLensError, MemoryError):
            raise
        except Exception as exc:  # a reader tripping over the bytes: the file's fault
            log.warning("cannot read upload %s", staged.label, exc_info=True)
            raise ClientError(
                422, f"{staged.label}: cannot read the record ({type(exc).__name__}: {exc})"
            ) from exc

    def predict_job(
        self, cancel: threading.Event, files: list[UploadFile], demo: str | None, options: _Options
    ) -> _Result:
        with tempfile.TemporaryDirectory(prefix="ecglens-serve-") as tmp:
            staged = self.source(files, demo, Path(tmp))
            _checkpoint(cancel)
            return self.predict_staged(staged, options, cancel)

    def explain_job(
        self,
        cancel: threading.Event,
        result: _Result | None,
        files: list[UploadFile],
        demo: str | None,
        options: _Options,
        beats: list[int],
        method: str | None,
        fmt: str,
    ) -> dict[str, Any]:
        if result is None:
            result = self.predict_job(cancel, files, demo, options)
            _checkpoint(cancel)
        return self.explain(result, beats, method, fmt)

    def explain(
        self, result: _Result, beats: list[int], method: str | None, fmt: str
    ) -> dict[str, Any]:
        task, prediction = result.task, result.prediction
        if method is not None and method not in task.methods:
            raise ClientError(
                422, f"method {method!r} does not apply to {task.description}; choose "
                f"{', '.join(task.methods)}"
            )
        chosen = method or recommended_method_for(result.model, task)  # measured default
        out: dict[str, Any] = {
            "record": result.record,
            "model": result.model,
            "task": task.name,
            "method": chosen,
        }
        figure = resolve(task.figure)
        bp = _beat_predictions(prediction)
        with self.replica(result.model) as loaded, _FIGURES:
            if bp is not None:
                if not beats:
                    raise ClientError(422, "give at least one beat (field beat: a 0-based index)")
                bad = [b for b in beats if not 0 <= b < len(bp.sample)]
                if bad:
                    raise ClientError(
                        422, f"beat {bad[0]} out of range: record {result.record} has "
                        f"{len(bp.sample)} beats (0-based)"
                    )
                maps = explain_beats(bp, loaded, beats, method=chosen)
                config = BeatConfig(**loaded.config["beats"])
                out["beat_fs"] = config.beat_fs
                out["r_index"] = config.r_index
                out["amplitude"] = config.amplitude_label
                out["beats"] = [_beat_entry(bp, b, maps[k]) for k, b in enumerate(beats)]
                fig = figure(prediction, loaded, method=chosen, device=self.device, beats=beats)
            elif task.family == "12-lead":
                if beats:
                    raise ClientError(
                        422, "beat applies to beat models; a 12-lead record is explained whole"
                    )
                relevance = explain_12lead(prediction, loaded, method=chosen, device=self.device)
                per_lead = relevance.ndim == 2  # (12, T) per-lead explainers: also over time
                out |= {
                    "label": prediction.label,
                    "explained_class": prediction.explained_class,
                    "cam_classes": list(prediction.cam_classes),
                    "sampling_rate": prediction.fs,
                    "leads": list(prediction.lead_names),
                    "relevance": _rounded(relevance.max(axis=0) if per_lead else relevance),
                }
                if per_lead:
                    out["relevance_per_lead"] = [_rounded(r) for r in relevance]
                fig = figure(prediction, loaded, method=chosen, device=self.device)
            elif task.family == "beats":
                raise ClientError(
                    422, "a CSV of beats is explained with `ecglens explain`; the server "
                    "explains records"
                )
            else:
                fig = figure(prediction, loaded, method=method, device=self.device,
                             beats=beats or None)
            out["figure"] = None if fmt == "none" else _encode_figure(fig, fmt)
            if fmt == "none":
                close_figure(fig)
        return out

    def report_job(self, cancel: threading.Event, result: _Result) -> str:
        module = importlib.import_module(result.task.report.partition(":")[0])
        if not (hasattr(module, "model_section") and hasattr(module, "record_section")):
            raise ClientError(
                422, f"no HTML report of {result.task.description} from the server; use "
                "`ecglens report`"
            )
        with self.replica(result.model) as loaded, _FIGURES:
            sections = [module.model_section(loaded), module.record_section(result.prediction,
                                                                             loaded)]
            cfg = loaded.config
            split = cfg.get("split", "")
            split = split.get("description", "") if isinstance(split, dict) else str(split)
            if cfg.get("optimistic"):
                split += " (optimistic: patients in both train and test)"
            metadata = {
                "model": loaded.name,
                "architecture": cfg.get("architecture"),
                "split": split,
                "record": result.record,
                "command": "ecglens serve",
            }
            return render_report(
                f"ecglens report: {result.record} ({loaded.name})", sections, metadata
            )


def _has_leads(record: Record, loaded: LoadedModel) -> bool:
    try:
        lead_order(record.lead_names, loaded.config.get("lead_names", []))
    except EcgLensError:
        return False
    return True


def _relabel(prediction: Any, label: str) -> None:
    """Replace the server's temporary path in a prediction by the client's file name."""
    for obj in (prediction, getattr(prediction, "beats", None)):
        if obj is not None and dataclasses.is_dataclass(obj) and hasattr(obj, "path"):
            obj.path = label


def _beat_entry(bp: BeatPredictions, i: int, relevance: np.ndarray) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "index": i,
        "sample": int(bp.sample[i]),
        "time_s": round(float(bp.sample[i]) / bp.fs, 4),
        "label": bp.classes[int(np.argmax(bp.probabilities[i]))],
        "probabilities": {
            c: round(float(p), 5) for c, p in zip(bp.classes, bp.probabilities[i], strict=True)
        },
    }
    if bp.uncertainty is not None:
        entry["uncertainty"] = round(float(bp.uncertainty[i]), 5)
        if bp.review_threshold is not None:
            entry["review"] = bool(bp.uncertainty[i] > bp.review_threshold)
    if bp.artifact is not None:
        entry["artifact"] = bool(bp.artifact[i])
    entry["waveform"] = _rounded(display_beat(bp.x[i]))
    entry["relevance"] = _rounded(relevance)
    return entry


def _demo_records(demo_dir: Path | None) -> dict[str, dict[str, Any]]:
    """Demo records (WFDB headers in ``demo_dir``) by name, with what /demo shows."""
    if demo_dir is None or not Path(demo_dir).is_dir():
        return {}
    import wfdb

    found = {}
    for header in sorted(Path(demo_dir).glob("*.hea")):
        if not re.match(RESULT_ID, header.stem):
            continue
        try:
            head = wfdb.rdheader(str(header.with_suffix("")))
        except Exception:  # a damaged demo file is left out, not fatal
            log.warning("demo record %s left out", header, exc_info=True)
            continue
        found[header.stem] = {
            "path": header.with_suffix(""),
            "name": header.stem,
            "sampling_rate": float(head.fs),
            "duration_s": round(float(head.sig_len or 0) / float(head.fs), 1),
            "leads": [str(n) for n in head.sig_name or []],
            "annotations": header.with_suffix(".atr").exists(),
            "comments": [str(c) for c in (head.comments or [])[:3]],
        }
    return found


# -- the app ----------------------------------------------------------------------------------


class _Guard:
    """ASGI middleware: refuses request bodies over ``max_bytes`` (413, before they are read
    when Content-Length says so, else as soon as the count passes it) and adds security headers
    (a CSP that allows only the app's own files)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _send_error(self, send: Any, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        })
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit_mb = f"{self.max_bytes / 1e6:g} MB"
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await self._send_error(send, 400, "malformed Content-Length header")
                return
            if declared > self.max_bytes:
                await self._send_error(
                    send, 413, f"request body of {declared / 1e6:.1f} MB is over the server's "
                    f"upload limit of {limit_mb}"
                )
                return
        received, too_large, started = 0, False, False

        async def limited_receive() -> dict:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise ClientError(413, "request body over the upload limit")
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if too_large:
                return  # the app's answer to a body cut short is replaced by the 413 below
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers") or [])
                present = {k.lower() for k, _ in headers}
                for key, value in (
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ):
                    if key not in present:
                        headers.append((key, value))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await self._send_error(send, 413, f"request body over the upload limit of {limit_mb}")


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{'.'.join(loc) or 'request'}: {first.get('msg', 'invalid value')}{more}"


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed request (several records, a bad zip...)"},
    404: {"description": "No such result (expired or never kept)"},
    413: {"description": "Upload over the size limit"},
    415: {"description": "A file type the server does not read"},
    422: {"description": "Invalid field, or an input error in the record"},
    503: {"description": "Busy (queue full) or over the time limit"},
}
for _spec in _ERRORS.values():
    _spec["content"] = {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}},
                "required": ["error"],
            }
        }
    }

FilesField = Annotated[
    list[UploadFile],
    File(default_factory=list,
         description=f"The record: {ACCEPTED}. Repeat the field for each file."),
]
FsField = Annotated[
    float | None,
    Form(gt=0, le=MAX_FS, allow_inf_nan=False,
         description="Sampling rate in Hz: needed for CSV/TXT/NPY, checked against headers."),
]
ModelField = Annotated[
    str | None,
    Form(max_length=200, description="A loaded model (GET /models); default: chosen by the "
         "record (12 leads of at most 60 s: the 12-lead model; else the first beat model)."),
]
LeadField = Annotated[
    str | None,
    Form(max_length=64, description="Beat models: lead name or 0-based index (default MLII, "
         "else lead II, else the first signal)."),
]
ReviewField = Annotated[
    float | None,
    Form(ge=0, le=1, allow_inf_nan=False,
         description="Beat models: flag beats whose uncertainty (0-1) exceeds this."),
]
McField = Annotated[
    int | None,
    Form(ge=0, le=100, description="Beat models: MC-dropout passes (default: the model's)."),
]
DemoQuery = Annotated[
    str | None,
    Query(max_length=64, description="A shipped demo record (GET /demo) instead of files."),
]
ResultPath = Annotated[str, PathParam(pattern=RESULT_ID, description="Id from X-Ecglens-Result.")]


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
) -> FastAPI:
    """The web service with ``models`` (shipped names or paths) loaded once, now.

    max_upload_mb: largest request body (MB); request_timeout_s: time limit per request, queue
    wait included (s); max_concurrent: requests worked on at once (threads, each with its own
    copy of every model); queue_size: requests waiting beyond those (503 beyond); torch_threads:
    torch's intra-op threads (process-wide; None leaves it); keep_results, result_ttl_s: how many
    predictions ``?keep=true`` keeps, and how long (s); demo_dir: folder of demo WFDB records.
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
    pool = _Pool(max_concurrent, queue_size, request_timeout_s)
    service = _Service(
        list(models), max_concurrent, device, max_bytes, pool,
        _Results(keep_results, result_ttl_s), None if demo_dir is None else Path(demo_dir),
    )

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
    app.add_middleware(_Guard, max_bytes=max_bytes)

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

    @app.exception_handler(MemoryError)
    async def out_of_memory(_request: Any, exc: MemoryError) -> JSONResponse:
        log.error("out of memory", exc_info=exc)
        return _error(503, "out of memory for this request; send a shorter record")

    @app.exception_handler(Exception)
    async def server_bug(_request: Any, exc: Exception) -> JSONResponse:
        log.error("internal error", exc_info=exc)
        return _error(
            500, f"internal server error ({type(exc).__name__}): a bug in ecglens; the server "
            "log has the traceback"
        )

    def options(
        fs: float | None,
        model: str | None,
        lead: str | None,
        review_threshold: float | None,
        mc_samples: int | None,
    ) -> _Options:
        return _Options(fs, model, lead.strip() if lead else None, review_threshold, mc_samples)

    @app.post(
        "/predict",
        summary="Classify one record",
        responses={**_ERRORS, 200: {"description": "What `ecglens predict --json` writes"}},
    )
    async def predict(
        *,
        files: FilesField,
        fs: FsField = None,
        model: ModelField = None,
        lead: LeadField = None,
        review_threshold: ReviewField = None,
        mc_samples: McField = None,
        demo: DemoQuery = None,
        keep: Annotated[bool, Query(description="Keep the prediction for /explain and "
                                    "/results; its id is in the X-Ecglens-Result header")] = False,
    ) -> Response:
        """Classify the uploaded record (or a demo record) with one model: every beat for beat
        models, the whole record for 12-lead and MI models."""
        opts = options(fs, model, lead, review_threshold, mc_samples)
        result = await pool.run(service.predict_job, files, demo, opts)
        headers = {RESULT_HEADER: service.results.add(result)} if keep else None
        return Response(result.body, media_type="application/json", headers=headers)

    @app.post("/explain", summary="Explain beats or a 12-lead record", responses=_ERRORS)
    async def explain(
        *,
        result: Annotated[str | None, Form(pattern=RESULT_ID, description="A kept result "
                                           "(X-Ecglens-Result of /predict?keep=true)")] = None,
        beat: Annotated[list[int] | None, Form(description="Beat models: 0-based beat index "
                                               f"(repeat, at most {MAX_BEATS})")] = None,
        method: Annotated[str | None, Form(max_length=32, description="Explainer (default: "
                                           "the model's, grad-cam or cam)")] = None,
        figure: Annotated[Literal["png", "svg", "none"], Form(description="Figure format")] = "png",
        files: FilesField,
        fs: FsField = None,
        model: ModelField = None,
        lead: LeadField = None,
        review_threshold: ReviewField = None,
        mc_samples: McField = None,
        demo: DemoQuery = None,
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
        opts = options(fs, model, lead, review_threshold, mc_samples)
        return await pool.run(
            service.explain_job, kept, files, demo, opts, beats, method, figure
        )

    @app.get("/results/{result_id}", summary="A kept prediction", responses=_ERRORS)
    async def get_result(result_id: ResultPath) -> Response:
        """The /predict response of a kept result."""
        return Response(service.results.get(result_id).body, media_type="application/json")

    @app.get(
        "/results/{result_id}/signal",
        summary="The classified lead of a kept beat prediction",
        responses={**_ERRORS, 200: {"content": {"application/octet-stream": {}},
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
        bp = _beat_predictions(kept.prediction)
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
        responses={**_ERRORS, 200: {"content": {"text/html": {}},
                                    "description": "A self-contained HTML file"}},
    )
    async def get_report(result_id: ResultPath) -> HTMLResponse:
        """The self-contained HTML report (model, record strip, class counts, Grad-CAM / CAM)."""
        kept = service.results.get(result_id)
        text = await pool.run(service.report_job, kept)
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
            classes = list(loaded.config.get("classes", []))
            listed.append({
                "name": name,
                "task": task.name,
                "family": task.family,
                "description": task.description,
                "classes": classes,
                "methods": list(task.methods),
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
        }

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(_docs_page(app.openapi()))

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _version() -> str:
    from ecglens import __version__

    return str(__version__)


def _schema_type(schema: dict[str, Any], components: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_schema_type(s, components) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_schema_type(schema.get('items', {}), components)}"
    if "enum" in schema:
        return " | ".join(map(str, schema["enum"]))
    if schema.get("format") == "binary" or schema.get("contentMediaType"):
        return "file"
    return str(schema.get("type", "any"))


def _docs_page(spec: dict[str, Any]) -> str:
    """A plain HTML page of the OpenAPI spec (no CDN, unlike Swagger UI)."""
    esc = html.escape
    components = spec.get("components", {}).get("schemas", {})
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(spec['info']['title'])} API</title><link rel=\"icon\" href=\"data:,\">",
        '<link rel="stylesheet" href="/static/style.css"></head><body class="docs"><main>',
        f"<h1>{esc(spec['info']['title'])} {esc(spec['info']['version'])} API</h1>",
        f"<p>{esc(spec['info'].get('description', ''))} Machine-readable: "
        '<a href="/openapi.json">/openapi.json</a>; the web page: <a href="/">/</a>.</p>',
    ]
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            parts.append(f"<section><h2><code>{esc(method.upper())} {esc(path)}</code></h2>")
            parts.append(f"<p><strong>{esc(op.get('summary', ''))}</strong>. "
                         f"{esc(op.get('description', ''))}</p>")
            rows = []
            for p in op.get("parameters", []):
                rows.append((p["name"], p["in"], _schema_type(p.get("schema", {}), components),
                             p.get("required", False), p.get("description", "")))
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                schema = content.get("schema", {})
                if "$ref" in schema:
                    schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
                required = set(schema.get("required", []))
                for name, prop in schema.get("properties", {}).items():
                    rows.append((name, media, _schema_type(prop, components), name in required,
                                 prop.get("description", "")))
            if rows:
                parts.append("<table><thead><tr><th>name</th><th>in</th><th>type</th>"
                             "<th>required</th><th>description</th></tr></thead><tbody>")
                parts.extend(
                    f"<tr><td><code>{esc(n)}</code></td><td>{esc(w)}</td><td>{esc(t)}</td>"
                    f"<td>{'yes' if r else ''}</td><td>{esc(d)}</td></tr>"
                    for n, w, t, r, d in rows
                )
                parts.append("</tbody></table>")
            codes = ", ".join(
                f"{esc(str(code))} {esc(r.get('description', ''))}"
                for code, r in op.get("responses", {}).items()
            )
            parts.append(f"<p class='muted'>Responses: {codes}</p></section>")
    parts.append("</main></body></html>")
    return "".join(parts)
