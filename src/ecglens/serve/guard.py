"""The ASGI middleware in front of the app: refuses requests for other host names (400: DNS
rebinding), cross-origin POSTs (403: a page elsewhere posting to this server), request bodies
over the upload limit (413, before they are read when Content-Length says so) or too slow (408),
each with a one-line JSON body, and adds security headers.

The host check is that of Starlette's ``TrustedHostMiddleware`` (names, ``*.domain`` wildcards,
``*`` for any) with a JSON answer. The origin check: a POST (any method but GET, HEAD, OPTIONS)
whose ``Origin`` header is present must come from the server's own origin (the scheme and the
``Host`` it was sent to) or one of ``allowed_origins`` (a proxy's public origin); ``Origin:
null`` and ``Sec-Fetch-Site: cross-site`` are refused. Clients that send no Origin (curl,
scripts) are not browsers carrying a user's session, and pass."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

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


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def host_name(host: str) -> str:
    """The name of a ``Host`` header's value, without its port, lower case (``[::1]:80`` ->
    ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """Whether ``host`` (a Host header) names one of ``allowed`` (names, ``*.domain``, ``*``)."""
    name = host_name(host)
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == "*" or name == host_name(pattern):
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


def normal_origin(origin: str) -> str:
    """``scheme://host[:port]`` of an origin or URL, lower case, without a default port."""
    parts = urlsplit(origin.strip().lower())
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return origin.strip().lower()
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port is not None and port != default:
        netloc += f":{port}"
    return f"{parts.scheme}://{netloc}"


class Guard:
    """ASGI middleware: refuses requests whose Host is not one of ``allowed_hosts`` (400; None:
    any), cross-origin POSTs (403; ``allowed_origins``: other origins accepted), request bodies
    over ``max_bytes`` (413, before they are read when Content-Length says so, else as soon as
    the count passes it), bodies not received within ``upload_timeout_s`` or with a pause over
    ``idle_timeout_s`` (408), and adds security headers (a CSP that allows only the app's own
    files)."""

    def __init__(
        self,
        app: Any,
        max_bytes: int,
        allowed_hosts: Sequence[str] | None = None,
        allowed_origins: Sequence[str] = (),
        upload_timeout_s: float = 60.0,
        idle_timeout_s: float = 15.0,
    ) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.upload_timeout_s, self.idle_timeout_s = upload_timeout_s, idle_timeout_s
        self.allowed_hosts = None if allowed_hosts is None else list(allowed_hosts)
        self.allowed_origins = {normal_origin(o) for o in allowed_origins}

    def refusal(self, scope: dict) -> tuple[int, str] | None:
        """(status, message) when the request's host or origin is refused, else None."""
        headers = {k.lower(): v for k, v in scope.get("headers") or []}
        host = headers.get(b"host", b"").decode("latin-1")
        if self.allowed_hosts is not None and not host_allowed(host, self.allowed_hosts):
            return 400, (
                f"host {host[:100]!r} is not a name this server answers to (start it with "
                "--allowed-host NAME to add one)"
            )
        if scope.get("method", "GET") in SAFE_METHODS:
            return None
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
        origin = headers.get(b"origin")
        if origin is None:
            if site == "cross-site":
                return 403, "cross-site request refused: post from the server's own page"
            return None
        text = origin.decode("latin-1")
        own = normal_origin(f"{scope.get('scheme', 'http')}://{host}")
        if text.lower() != "null" and normal_origin(text) in ({own} | self.allowed_origins):
            return None
        return 403, (
            f"cross-origin request from {text[:100]!r} refused: post from the server's own page "
            "(behind a proxy, start it with --allowed-origin ORIGIN)"
        )

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
        refused = self.refusal(scope)
        if refused is not None:
            await self._send_error(send, *refused)
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
        loop = asyncio.get_running_loop()
        body_deadline = loop.time() + self.upload_timeout_s
        received, body_done, started = 0, False, False
        cut: tuple[int, str] | None = None  # the body was cut short: this answer replaces the app's

        async def limited_receive() -> dict:
            nonlocal received, body_done, cut
            if body_done:
                return await receive()  # http.disconnect, when the client leaves
            wait = min(self.idle_timeout_s, body_deadline - loop.time())
            try:
                message = await asyncio.wait_for(receive(), max(wait, 0.001))
            except TimeoutError:
                slow = loop.time() >= body_deadline
                cut = (408, (
                    f"request body not received within {self.upload_timeout_s:g} s"
                    if slow else f"no request data for {self.idle_timeout_s:g} s"
                ) + ": upload timed out")
                raise ClientError(*cut) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.max_bytes:
                    cut = (413, f"request body over the upload limit of {limit_mb}")
                    raise ClientError(*cut)
            else:
                body_done = True
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if cut is not None:
                return  # the app's answer to a body cut short is replaced by the one below
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
            if cut is None:
                raise
        if cut is not None and not started:
            await self._send_error(send, *cut)
