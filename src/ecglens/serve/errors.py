"""Errors the server answers with: :class:`ClientError` (a 4xx, or a 503 when busy) and the
one-line messages of its JSON bodies (``{"error": "<one line>"}``)."""

from __future__ import annotations

import re


class ClientError(Exception):
    """A request the server refuses: ``status`` (4xx, or 503 when busy) and a one-line message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def one_line(text: object, limit: int = 500) -> str:
    """``text`` on one line (whitespace collapsed), at most ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


_CLI_OPTIONS = re.compile(r"--(fs|lead|beat|method|model|review-threshold|mc-samples)\b")


def as_form_fields(text: str) -> str:
    """A message of the library with its CLI options (``--fs``) named as the form fields."""
    return _CLI_OPTIONS.sub(lambda m: "form field " + m.group(1).replace("-", "_"), text)
