"""Batch inference: every record under a folder to per-beat (or per-record) rows in Parquet,
on Dask distributed (a local cluster, or an existing one through its scheduler address).

Needs the ``ecglens[batch]`` extra (dask[distributed], pyarrow); importing this package does not
import them, so that the command line can say which extra to install
(:func:`require_batch_extra`). This layer sits on inference: it imports io, models, predict and
errors, never the command line.
"""

from ecglens.batch.run import (
    BATCH_EXTRA,
    ERRORS_FILE,
    BatchConfig,
    BatchSummary,
    find_records,
    read_committed,
    read_errors,
    require_batch_extra,
    run_batch,
)

__all__ = [
    "BATCH_EXTRA",
    "ERRORS_FILE",
    "BatchConfig",
    "BatchSummary",
    "find_records",
    "read_committed",
    "read_errors",
    "require_batch_extra",
    "run_batch",
]
