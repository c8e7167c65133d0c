"""Provenance saved with every trained model, the same for every training family: the
software environment (the card text is in :mod:`ecglens.train.cards`)."""

from __future__ import annotations

import platform
import sys

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


