"""uvicorn's HTTP/1.1 protocol (h11) with the limits it lacks: a connection must send a complete
request head within ``head_timeout_s`` of opening (or of its first byte after a kept-alive
response), at most ``max_connections`` are open at once (503 beyond, with ``Retry-After``), and
the errors uvicorn writes itself (a malformed request, such as a bad Content-Length) are
one-line JSON like the app's. The body's timeouts are the app's (:mod:`ecglens.serve.guard`).

:func:`protocol_class` makes the class for :func:`uvicorn.run`'s ``http`` option."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

RETRY_CONNECTIONS_S = 2  # Retry-After when every connection is taken, s


def error_bytes(status: int, reason: str, message: str, headers: dict[str, str] | None = None
                ) -> bytes:
    """A whole HTTP/1.1 response with the JSON body ``{"error": message}``; connection closed."""
    body = json.dumps({"error": message}).encode()
    lines = [f"HTTP/1.1 {status} {reason}", "content-type: application/json",
             f"content-length: {len(body)}", "connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class GuardedH11Protocol(H11Protocol):
    """H11Protocol with a request-head timeout, a connection limit and JSON error bodies."""

    head_timeout_s: float = 10.0
    max_connections: int = 256

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refuse(error_bytes(
                503, "Service Unavailable", f"server busy: {self.max_connections} connections "
                "open; retry later", {"Retry-After": str(RETRY_CONNECTIONS_S)}
            ))  # fmt: skip
            return
        self._arm_head_timer()

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def data_received(self, data: bytes) -> None:
        if self._between_requests():
            self._arm_head_timer()  # a new request starts: its head must come in time
        super().data_received(data)
        if not self._between_requests():
            self._disarm_head_timer()  # the head is in: the app's timeouts apply

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._between_requests() and not self.transport.is_closing():
            self._refuse(error_bytes(
                408, "Request Timeout", f"request head not received within "
                f"{self.head_timeout_s:g} s: timed out"
            ))  # fmt: skip

    def _refuse(self, response: bytes) -> None:
        self.transport.write(response)
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request h11 cannot parse, as one-line JSON."""
        self._disarm_head_timer()
        self._refuse(error_bytes(400, "Bad Request", f"malformed HTTP request: {msg}"))


def protocol_class(head_timeout_s: float, max_connections: int) -> type[Any]:
    """A :class:`GuardedH11Protocol` with these limits."""
    return type(
        "ServeProtocol",
        (GuardedH11Protocol,),
        {"head_timeout_s": float(head_timeout_s), "max_connections": int(max_connections)},
    )
