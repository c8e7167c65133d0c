"""Kept results: bounded by count, by total size, and by time."""

import numpy as np
import pytest

from ecglens.serve.errors import ClientError
from ecglens.serve.results import KeptResults, Result


def _result(n_samples: int) -> Result:
    prediction = {"signal": np.zeros(n_samples, dtype=np.float64)}
    return Result(prediction, "m", None, "r", b"{}")  # type: ignore[arg-type]


def test_the_oldest_go_when_the_total_size_is_over_the_budget():
    kept = KeptResults(keep=16, ttl_s=60, max_bytes=3_000_000)
    first = kept.add(_result(125_000))  # 1 MB each
    for _ in range(3):
        last = kept.add(_result(125_000))
    assert kept.total_bytes <= 3_000_000
    assert kept.get(last).record == "r"
    with pytest.raises(ClientError) as gone:
        kept.get(first)
    assert gone.value.status == 404


def test_a_result_larger_than_the_budget_is_refused():
    kept = KeptResults(keep=16, ttl_s=60, max_bytes=1_000_000)
    with pytest.raises(ClientError) as refused:
        kept.add(_result(1_000_000))
    assert refused.value.status == 413 and "keep=true" in str(refused.value)


def test_count_still_bounds():
    kept = KeptResults(keep=2, ttl_s=60)
    ids = [kept.add(_result(10)) for _ in range(3)]
    with pytest.raises(ClientError):
        kept.get(ids[0])
    assert kept.get(ids[2])
