"""The bounded worker pool: requests' CPU work runs in worker processes forked from the server
after the models are loaded (they are shared copy-on-write, not loaded again), one request at a
time each, at most ``max_concurrent`` at once and ``queue_size`` waiting (503 beyond). A
worker's address space is limited (``resource.setrlimit``: the server's size at the fork plus
``memory_mb``); a worker is killed (and a new one forked for the next request) when its request
runs over the time limit (503) or its client goes away, and retires by itself once it holds
``RETIRE_MB`` more than when it started. The server copies the uploads into the request's
temporary folder, hands the job on by name (``target``'s method), and removes the folder after,
however the work ended. Every 503 says when to retry (``Retry-After``).

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
RETIRE_MB = 256  # a worker that grew by this much since it started ends after its request


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


def _field_kb(name: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _worker(conn: Any, target: Any, memory: int, others: list[int]) -> None:
    """A worker process: close the server's ends of other workers' pipes (``others``), limit
    its address space, then run jobs as they come (``(name, tmp, args)``, pickled) and send
    back ``(outcome, retiring)``; end when the server closes the pipe or once grown by
    ``RETIRE_MB``."""
    for fd in others:
        with contextlib.suppress(OSError):
            os.close(fd)
    if memory > 0:
        limit = _vm_size() + memory
        with contextlib.suppress(ValueError, OSError):  # a hard limit below it: keep that
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    start_kb = _field_kb("VmRSS")
    while True:
        try:
            name, tmp, args = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            os._exit(0)
        outcome = _outcome(getattr(target, name), Job(Path(tmp)), args)
        retiring = _field_kb("VmRSS") - start_kb > RETIRE_MB * 1024
        try:
            data = pickle.dumps((outcome, retiring), protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            data = pickle.dumps(((
                "error", 503, "out of memory for this request; send a shorter record",
                {"Retry-After": str(RETRY_TIMEOUT_S)}), True))
        except Exception as exc:  # an answer that does not pickle: a bug
            data = pickle.dumps((("bug", f"{type(exc).__name__}: {exc}",
                                  traceback.format_exc()), False))
        del outcome
        conn.send_bytes(data)
        if retiring:
            os._exit(0)


@dataclass
class Worker:
    """A worker process and the server's end of its pipe."""

    process: Any
    conn: Any


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
        self._workers: set[Any] = set()  # every live worker process
        self._idle: list[Worker] = []  # workers waiting for a job
        self._conns: set[Any] = set()  # the server's ends of the workers' pipes
        self._forking = threading.Lock()
        self._reaping: ThreadPoolExecutor | None = None  # joins ended workers
        self.target: Any = None  # the object whose methods the jobs are (the service)
        self.prepare: Callable[[Path, tuple], tuple] | None = None  # args -> picklable args
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
        work: str,
        *args: Any,
        disconnected: Callable[[], Awaitable[bool]] | None = None,
    ) -> Any:
        """``target.<work>(job, *args)`` (``job``: a :class:`Job`) in a worker; its value, or
        its error. ``disconnected``: awaited now and then; when it says True the work is stopped
        and :class:`ClientGone` raised."""
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
                    if self.prepare is not None:
                        args = await loop.run_in_executor(
                            self._executor(), self.prepare, job.tmp, args
                        )
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
        work: str,
        job: Job,
        args: tuple,
        deadline: float,
        disconnected: Callable[[], Awaitable[bool]] | None,
    ) -> Any:
        loop = asyncio.get_running_loop()
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:  # forked from a thread: the fork does not hold up the event loop
            worker = await loop.run_in_executor(self._executor(), self._fork)
        message = pickle.dumps((work, str(job.tmp), args), protocol=pickle.HIGHEST_PROTOCOL)
        reading = asyncio.ensure_future(
            loop.run_in_executor(self._executor(), _exchange, worker.conn, message)
        )
        ended = await self._watch(reading, deadline, disconnected)
        if ended is not None:
            self._kill(worker.process)
            await asyncio.wait({reading})
            self._retire(worker)
            if ended == "gone":
                raise ClientGone()
            raise self._timed_out()
        data = reading.result()
        if data is None:  # the worker died without an answer: killed by the kernel (memory)
            self._retire(worker)
            log.warning("worker %s ended with no answer", worker.process.pid)
            raise ClientError(
                503, "out of memory (or a crash) for this request; send a shorter record",
                {"Retry-After": str(RETRY_TIMEOUT_S)}
            )
        outcome, retiring = pickle.loads(data)
        if retiring:
            self._retire(worker)
        else:
            with self._lock:
                self._idle.append(worker)
        return _unpack(outcome)

    def _fork(self) -> Worker:
        """A new worker process, forked now, and its pipe. One fork at a time, so that no
        worker holds another's end of a pipe (it would not see the server close it)."""
        context = multiprocessing.get_context("fork")
        with self._forking:
            others = [c.fileno() for c in self._conns if not c.closed]
            ours, theirs = context.Pipe(duplex=True)
            process = context.Process(
                target=_worker, args=(theirs, self.target, self.memory_bytes, others),
                daemon=True,
            )
            process.start()
            theirs.close()
            self._conns.add(ours)
        with self._lock:
            self._workers.add(process)
        return Worker(process, ours)

    def _retire(self, worker: Worker) -> None:
        """Close a worker's pipe (it ends) and wait for it apart, not before the response."""
        with self._forking:
            worker.conn.close()
            self._conns.discard(worker.conn)
        self._reaper().submit(self._reap, worker.process)

    async def _in_thread(
        self,
        work: str,
        job: Job,
        args: tuple,
        deadline: float,
        disconnected: Callable[[], Awaitable[bool]] | None,
    ) -> Any:
        loop = asyncio.get_running_loop()
        running = asyncio.ensure_future(
            loop.run_in_executor(
                self._executor(), _outcome, getattr(self.target, work), job, args
            )
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
            idle, self._idle = self._idle, []
            executors = [self._threads, self._reaping]
            self._threads = self._reaping = None
        for worker in idle:
            worker.conn.close()  # the worker ends
        for process in workers:
            self._kill(process)
        for executor in executors:
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)


def _exchange(conn: Any, message: bytes) -> bytes | None:
    """Send a job to a worker and wait for its pickled answer; None when it ended without one."""
    try:
        conn.send_bytes(message)
        return conn.recv_bytes()
    except (EOFError, OSError):
        return None


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
