"""Predictions as the server keeps them: a :class:`Result` (the prediction and its /predict
response) and :class:`KeptResults`, the last few kept for ``/explain`` and ``/results/{id}``,
each for a while, up to a total size."""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ecglens.predict.beats import BeatPredictions
from ecglens.predict.tasks import Task
from ecglens.serve.errors import ClientError

RESULT_ID = r"^[A-Za-z0-9_-]{1,64}$"  # a result id (also a demo record's name)


@dataclass
class Result:
    """One prediction of ``model`` (its ``task``) on ``record``, with its response ``body``."""

    prediction: Any
    model: str
    task: Task
    record: str
    body: bytes  # the /predict response
    created: float = field(default_factory=time.monotonic)

    @property
    def nbytes(self) -> int:
        """About how much memory the result holds: its response and its arrays (bytes)."""
        return len(self.body) + _array_bytes(self.prediction)


def _array_bytes(obj: Any, depth: int = 0) -> int:
    """Bytes of the numpy arrays in ``obj`` (dataclasses, lists, tuples, dicts), 4 levels deep."""
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if depth > 4:
        return 0
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        items: Any = (getattr(obj, f.name, None) for f in dataclasses.fields(obj))
    elif isinstance(obj, dict):
        items = obj.values()
    elif isinstance(obj, (list, tuple)):
        items = obj
    else:
        return 0
    return sum(_array_bytes(item, depth + 1) for item in items)


class KeptResults:
    """Predictions kept for /explain and /results: the last ``keep`` (at most ``max_bytes`` in
    all, by :attr:`Result.nbytes`), for ``ttl_s`` seconds."""

    def __init__(self, keep: int, ttl_s: float, max_bytes: int = 512_000_000) -> None:
        self.keep, self.ttl_s, self.max_bytes = keep, ttl_s, max_bytes
        self._items: OrderedDict[str, Result] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    def _expire(self) -> None:
        now = time.monotonic()
        for rid in [r for r, item in self._items.items() if now - item.created > self.ttl_s]:
            del self._items[rid]
            self._sizes.pop(rid, None)

    def add(self, result: Result) -> str:
        """Keep ``result`` (the oldest go when over the count or the size); its new id. A
        result larger than the whole budget is refused (413)."""
        size = result.nbytes
        if size > self.max_bytes:
            raise ClientError(
                413, f"the prediction takes {size / 1e6:.0f} MB, more than the "
                f"{self.max_bytes / 1e6:.0f} MB the server keeps: ask without keep=true"
            )
        rid = secrets.token_urlsafe(12)
        with self._lock:
            self._expire()
            self._items[rid] = result
            self._sizes[rid] = size
            while len(self._items) > self.keep or sum(self._sizes.values()) > self.max_bytes:
                old, _ = self._items.popitem(last=False)
                self._sizes.pop(old, None)
        return rid

    def get(self, rid: str) -> Result:
        """The kept result ``rid``; 404 when expired or never kept."""
        with self._lock:
            self._expire()
            found = self._items.get(rid)
            if found is not None:
                self._items.move_to_end(rid)
        if found is None:
            raise ClientError(
                404, f"no result {rid!r}: the server keeps the last {self.keep} for "
                f"{self.ttl_s / 60:g} min; send the record again (with ?keep=true)"
            )
        return found


def beat_predictions(prediction: Any) -> BeatPredictions | None:
    """The beats of a beat-model prediction (an MI prediction's beats too), else None."""
    if isinstance(prediction, BeatPredictions):
        return prediction
    beats = getattr(prediction, "beats", None)
    return beats if isinstance(beats, BeatPredictions) else None
