"""The web service (``ecglens serve``): a FastAPI app that classifies and explains uploaded ECG
records, and a web page served by the same app.

Needs the ``serve`` extra (fastapi, uvicorn, python-multipart); ``import ecglens.serve`` works
without it, and :func:`serve` says how to install it. The service is a thin layer on top of
inference (:mod:`ecglens.predict`, :mod:`ecglens.explain`, :mod:`ecglens.report`); it never
imports the CLI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ecglens.serve.app import create_app

        return create_app
    if name == "serve":
        from ecglens.serve.main import serve

        return serve
    raise AttributeError(f"module 'ecglens.serve' has no attribute {name!r}")
