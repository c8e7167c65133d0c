"""Readers: WFDB records and annotations, plain CSV/NumPy sample files."""

from ecglens.io.records import (
    Annotations,
    Record,
    read_annotations,
    read_array_record,
    read_record,
    read_wfdb_record,
    select_lead,
)

__all__ = [
    "Annotations",
    "Record",
    "read_annotations",
    "read_array_record",
    "read_record",
    "read_wfdb_record",
    "select_lead",
]
