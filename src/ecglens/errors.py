"""One exception type for every user-facing failure.

The CLI prints ``str(error)`` on one line and exits non-zero, so messages
must name the file (when there is one) and say what is wrong.
"""

from __future__ import annotations

from pathlib import Path


class EcgLensError(Exception):
    """A problem with the user's input: bad file, wrong rate, missing lead..."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
