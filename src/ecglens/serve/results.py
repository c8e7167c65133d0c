"""Predictions as the server keeps them: a :class:`Result` (the prediction and its /predict
response) and :class:`KeptResults`, the last few kept for ``/explain`` and ``/results/{id}``,
each for a while."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

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


class KeptResults:
    """Predictions kept for /explain and /results: the last ``keep``, for ``ttl_s`` seconds."""

    def __init__(self, keep: int, ttl_s: float) -> None:
        self.keep, self.ttl_s = keep, ttl_s
        self._items: OrderedDict[str, Result] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self) -> None:
        now = time.monotonic()
        for rid in [r for r, item in self._items.items() if now - item.created > self.ttl_s]:
            del self._items[rid]

    def add(self, result: Result) -> str:
        """Keep ``result``; its new id."""
        rid = secrets.token_urlsafe(12)
        with self._lock:
            self._expire()
            self._items[rid] = result
            while len(self._items) > self.keep:
                self._items.popitem(last=False)
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
