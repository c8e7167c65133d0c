"""The ASGI middleware in front of the app: refuses request bodies over the upload limit with a
one-line JSON 413 (before they are read when Content-Length says so) and adds security headers."""

from __future__ import annotations

import json
from typing import Any

from ecglens.serve.errors import ClientError

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class Guard:
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
                for key, value in SECURITY_HEADERS:
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
