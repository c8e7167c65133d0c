"""Provenance written with every trained model, the same for every training family: the
software environment, the command that trains the model again, and the common parts of its
model card."""

from __future__ import annotations

import platform
import sys
from typing import Any

import numpy as np
import torch

import ecglens


def environment() -> dict[str, str]:
    """Versions of ecglens, torch, numpy and Python, and the platform (saved in the config)."""
    return {
        "ecglens": ecglens.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def reproduce_section(config: dict[str, Any], data_note: str) -> str:
    """The card's "Reproduce" section: the config's ``command`` and where the data must be."""
    return f"""## Reproduce

```
{config["command"]}
```

{data_note.strip()}
"""


def intended_use_section(limits: str) -> str:
    """The card's "Intended use and limits" section."""
    return f"""## Intended use and limits

Research and teaching only, not a medical device. {limits.strip()}
"""
