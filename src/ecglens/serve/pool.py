"""The bounded worker pool: each request's CPU work runs in a process of its own, forked from the
server after the models are loaded (they are shared copy-on-write, not loaded again), at most
``max_concurrent`` at once and ``queue_size`` waiting (503 beyond). A worker's address space is
limited (``resource.setrlimit``: the server's size at the fork plus ``memory_mb``), and a worker
is killed when its request runs over the time limit (503) or its client goes away; its
temporary folder is removed by the server either way. Every 503 says when to retry
(``Retry-After``).

A server on a GPU (``isolate=False``: CUDA does not survive a fork) runs the work in threads
instead, which stop at their next :func:`checkpoint` once timed out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import resource
import tempfile
import threading
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecglens.errors import EcgLensError
from ecglens.serve.errors import ClientError, as_form_fields

log = logging.getLogger("ecglens.serve")

RETRY_BUSY_S = 5  # Retry-After of a 503 when every worker is busy, s
RETRY_TIMEOUT_S = 10  # Retry-After of a 503 after the time limit or out of memory, s
POLL_S = 0.25  # how often a waiting request checks its client and its time limit, s


class Abandoned(Exception):
    """Work whose request timed out: stop at the next checkpoint."""


class ClientGone(Exception):
    """The client disconnected before its answer: the work was stopped."""


def checkpoint(cancel: threading.Event) -> None:
    """Raise :class:`Abandoned` when ``cancel`` is set (the request timed out)."""
    if cancel.is_set():
        raise Abandoned()


@dataclass
class Job:
    """What a request's work gets: ``tmp``, its own temporary folder (removed by the server
    after the work, however it ended), and ``cancel``, set when the request timed out (threads
    only: a worker process is killed instead)."""

    tmp: Path
    cancel: threading.Event = field(default_factory=threading.Event)


def _vm_size() -> int:
    """This process's virtual memory size in bytes (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _outcome(work: Callable[..., Any], job: Job, args: tuple) -> tuple:
    """``work(job, *args)`` as a picklable outcome: ("ok", value) or ("error", status,
    message, headers), ("bug", description, traceback) for an error of ecglens itself."""
    try:
        return ("ok", work(job, *args))
    except ClientError as exc:
        return ("error", exc.status, str(exc), exc.headers)
    except EcgLensError as exc:
        return ("error", 422, as_form_fields(str(exc)), {})
    except MemoryError:
        return ("error", 503, "out of memory for this request; send a shorter record",
                {"Retry-After": str(RETRY_TIMEOUT_S)})
    except Exception as exc:
        return ("bug", f"{type(exc).__name__}: {exc}", traceback.format_exc())


def _worker(conn: Any, work: Callable[..., Any], job: Job, args: tuple, memory: int) -> None:
    """The body of a worker process: limit its address space, run the work, send the outcome."""
    if memory > 0:
        limit = _vm_size() + memory
        with contextlib.suppress(ValueError, OSError):  # a hard limit below it: keep that
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        data = pickle.dumps(_outcome(work, job, args), protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        data = pickle.dumps(("error", 503, "out of memory for this request; send a shorter "
                             "record", {"Retry-After": str(RETRY_TIMEOUT_S)}))
    except Exception as exc:  # an answer that does not pickle: a bug
        data = pickle.dumps(("bug", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    conn.send_bytes(data)
    conn.close()


class Pool:
    """Bounded concurrency: ``max_concurrent`` workers, at most ``queue_size`` requests waiting
    (503 beyond), each request given ``timeout_s`` seconds in all, queue wait included (503
    after). ``memory_mb``: address space a worker process may add to the server's (0: no
    limit); ``isolate``: work in forked processes (else in threads)."""

    def __init__(
        self,
        max_concurrent: int,
        queue_size: int,
        timeout_s: float,
        memory_mb: float = 0,
        isolate: bool = True,
    ) -> None:
        self.max_concurrent, self.queue_size, self.timeout_s = max_concurrent, queue_size, timeout_s
        self.memory_bytes = int(memory_mb * 1024 * 1024)
        self.isolate = isolate and hasattr(os, "fork")
        self._lock = threading.Lock()
        self._pending = 0  # admitted, not finished (running or queued)
        self._running = 0
        self._slots: asyncio.Semaphore | None = None  # made in the event loop on first use
        self._threads: ThreadPoolExecutor | None = None  # threads: the work; processes: reads
        self._workers: set[Any] = set()
        self._reaping: ThreadPoolExecutor | None = None  # joins ended workers
        self.killed = 0  # workers killed (timed out, client gone, shut down)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"running": self._running, "queued": self._pending - self._running}

    def _busy(self) -> ClientError:
        return ClientError(
            503, f"server busy: {self.max_concurrent} requests running and {self.queue_size} "
            "waiting; retry later", {"Retry-After": str(RETRY_BUSY_S)}
        )

    def _timed_out(self) -> ClientError:
        return ClientError(
            503, f"request took longer than the server's limit of {self.timeout_s:g} s; "
            "retry later or send a shorter record", {"Retry-After": str(RETRY_TIMEOUT_S)}
        )

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._threads is None:
                size = self.max_concurrent * (1 if not self.isolate else 2)
                self._threads = ThreadPoolExecutor(size, thread_name_prefix="ecglens-serve")
            return self._threads

    async def run(
        self,
        work: Callable[..., Any],
        *args: Any,
        disconnected: Callable[[], Awaitable[bool]] | None = None,
    ) -> Any:
        """``work(job, *args)`` (``job``: a :class:`Job`) in a worker; its value, or its error.
        ``disconnected``: awaited now and then; when it says True the work is stopped and
        :class:`ClientGone` raised."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        with self._lock:
            if self._pending >= self.max_concurrent + self.queue_size:
                raise self._busy()
            self._pending += 1
            if self._slots is None:
                self._slots = asyncio.Semaphore(self.max_concurrent)
            slots = self._slots
        try:
            while True:  # wait for a slot, watching the client and the time limit
                try:
                    await asyncio.wait_for(slots.acquire(), POLL_S)
                    break
                except TimeoutError:
                    if loop.time() > deadline:
                        raise self._timed_out() from None
                    if disconnected is not None and await disconnected():
                        raise ClientGone() from None
            try:
                with self._lock:
                    self._running += 1
                # made and removed here, so that what a killed worker left is removed too
                with tempfile.TemporaryDirectory(prefix="ecglens-serve-") as tmp:
                    job = Job(Path(tmp))
                    if self.isolate:
                        return await self._in_process(work, job, args, deadline, disconnected)
                    return await self._in_thread(work, job, args, deadline, disconnected)
            finally:
                with self._lock:
                    self._running -= 1
                slots.release()
        finally:
            with self._lock:
                self._pending -= 1

    async def _watch(
        self,
        task: asyncio.Future,
        deadline: float,
        disconnected: Callable[[], Awaitable[bool]] | None,
    ) -> str | None:
        """Wait for ``task``; "timeout" or "gone" when the time limit or the client ends it."""
        loop = asyncio.get_running_loop()
        while True:
            left = deadline - loop.time()
            if left <= 0:
                return "timeout"
            done, _ = await asyncio.wait({task}, timeout=min(POLL_S, left))
            if done:
                return None
            if disconnected is not None and await disconnected():
                return "gone"

    async def _in_process(
        self,
        work: Callable[..., Any],
        job: Job,
        args: tuple,
        deadline: float,
        disconnected: Callable[[], Awaitable[bool]] | None,
    ) -> Any:
        loop = asyncio.get_running_loop()
        # forked from a thread: the fork (about 15 ms for a server holding two models) does not
        # hold up the event loop
        process, receiver = await loop.run_in_executor(
            self._executor(), _fork, work, job, args, self.memory_bytes
        )
        with self._lock:
            self._workers.add(process)
        reading = asyncio.ensure_future(loop.run_in_executor(self._executor(), _receive, receiver))
        try:
            ended = await self._watch(reading, deadline, disconnected)
            if ended is not None:
                self._kill(process)
                await asyncio.wait({reading})
                if ended == "gone":
                    raise ClientGone()
                raise self._timed_out()
            data = reading.result()
        finally:
            receiver.close()
            # the answer is in: the worker's exit (tens of ms to unmap a forked server) is
            # waited for apart, not before the response
            self._reaper().submit(self._reap, process)
        if data is None:  # the worker died without an answer: killed by the kernel (memory)
            log.warning("worker %s ended with code %s and no answer", process.pid,
                        process.exitcode)
            raise ClientError(
                503, "out of memory (or a crash) for this request; send a shorter record",
                {"Retry-After": str(RETRY_TIMEOUT_S)}
            )
        return _unpack(pickle.loads(data))

    async def _in_thread(
        self,
        work: Callable[..., Any],
        job: Job,
        args: tuple,
        deadline: float,
        disconnected: Callable[[], Awaitable[bool]] | None,
    ) -> Any:
        loop = asyncio.get_running_loop()
        running = asyncio.ensure_future(
            loop.run_in_executor(self._executor(), _outcome, work, job, args)
        )
        ended = await self._watch(running, deadline, disconnected)
        if ended is not None:
            job.cancel.set()
            if ended == "gone":
                raise ClientGone()
            raise self._timed_out()
        return _unpack(running.result())

    def _reaper(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._reaping is None:
                self._reaping = ThreadPoolExecutor(1, thread_name_prefix="ecglens-reap")
            return self._reaping

    def _reap(self, process: Any) -> None:
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
        with self._lock:
            self._workers.discard(process)

    def _kill(self, process: Any) -> None:
        if process.is_alive():
            process.kill()
            self.killed += 1

    def shutdown(self) -> None:
        """Kill the workers and let the threads end (a later request starts new ones)."""
        with self._lock:
            workers, self._workers = list(self._workers), set()
            executors = [self._threads, self._reaping]
            self._threads = self._reaping = None
        for process in workers:
            self._kill(process)
        for executor in executors:
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)


def _receive(receiver: Any) -> bytes | None:
    """The worker's pickled outcome; None when it ended without sending one."""
    try:
        return receiver.recv_bytes()
    except (EOFError, OSError):
        return None


def _fork(work: Callable[..., Any], job: Job, args: tuple, memory: int) -> tuple[Any, Any]:
    """A worker process running ``work(job, *args)``, and the end of the pipe its outcome
    comes through."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_worker, args=(sender, work, job, args, memory), daemon=True)
    process.start()
    sender.close()
    return process, receiver


class Bug(Exception):
    """An error of ecglens in a worker: its description; the traceback is logged."""


def _unpack(outcome: tuple) -> Any:
    kind = outcome[0]
    if kind == "ok":
        return outcome[1]
    if kind == "error":
        raise ClientError(outcome[1], outcome[2], outcome[3] or None)
    log.error("internal error in a worker: %s", outcome[2])
    raise Bug(outcome[1])
