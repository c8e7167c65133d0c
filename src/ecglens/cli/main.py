"""The ``ecglens`` command line: a thin layer over the Python API, one file per command group
(``models``; ``predict``/``explain``/``report``; ``evaluate``; ``train``/``benchmark``/
``ensemble``/``export-kaggle``). Commands import torch and the library only when they run, so
``ecglens --help`` starts quickly.

Every user error (bad file, missing lead, unknown model...) is printed as one
line ``error: <file>: <what is wrong>`` on stderr with exit status 1.
"""

from __future__ import annotations

import importlib
import os
import sys

from ecglens.cli.app import app
from ecglens.errors import EcgLensError
from ecglens.progress import console

# the command groups, in the order --help lists them
COMMAND_GROUPS = ("models", "predict", "evaluate", "train", "batch", "serve", "images")
for _group in COMMAND_GROUPS:
    importlib.import_module(f"ecglens.cli.{_group}")  # registers the group's commands on app


def main() -> None:
    """Console entry point: one-line errors, non-zero exit."""
    try:
        app()
    except EcgLensError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # last resort: never a traceback for the user
        if os.environ.get("ECGLENS_DEBUG"):
            raise
        console.print(
            f"[red]error:[/red] {type(exc).__name__}: {exc} "
            "(set ECGLENS_DEBUG=1 for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
