"""AAMI (ANSI/AAMI EC57) heartbeat classes and the MIT-BIH symbols that map to them."""

from __future__ import annotations

import numpy as np

AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")

SYMBOL_TO_AAMI: dict[str, str] = {
    **dict.fromkeys(["N", "L", "R", "e", "j"], "N"),
    **dict.fromkeys(["A", "a", "J", "S"], "S"),
    **dict.fromkeys(["V", "E"], "V"),
    "F": "F",
    **dict.fromkeys(["/", "f", "Q"], "Q"),
}


def aami_class(symbol: str) -> str | None:
    """AAMI class of a beat annotation symbol, or None for non-beat annotations."""
    return SYMBOL_TO_AAMI.get(symbol)


def aami_labels(symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map symbols to class indices into :data:`AAMI_CLASSES`.

    Returns ``(keep, labels)``: a boolean mask of beat symbols and the integer
    labels of the kept ones.
    """
    index = {c: i for i, c in enumerate(AAMI_CLASSES)}
    mapped = [SYMBOL_TO_AAMI.get(str(s)) for s in symbols]
    keep = np.array([m is not None for m in mapped], dtype=bool)
    labels = np.array([index[m] for m in mapped if m is not None], dtype=np.int64)
    return keep, labels
