"""The bounded worker pool: CPU work of requests in ``max_concurrent`` threads, at most
``queue_size`` waiting (503 beyond), each request given a time limit (503 after); work stops at
its next :func:`checkpoint` once its request has timed out."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ecglens.serve.errors import ClientError


class Abandoned(Exception):
    """Work whose request timed out: stop at the next checkpoint."""


def checkpoint(cancel: threading.Event) -> None:
    """Raise :class:`Abandoned` when ``cancel`` is set (the request timed out)."""
    if cancel.is_set():
        raise Abandoned()


class Pool:
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
                checkpoint(cancel)
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
