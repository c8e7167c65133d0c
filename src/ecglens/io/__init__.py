"""Readers: WFDB records and annotations, EDF/BDF files, plain CSV/NumPy sample files."""

from ecglens.io.edf import read_edf_record
from ecglens.io.records import (
    Annotations,
    Record,
    ecg_channel,
    read_annotations,
    read_array_record,
    read_record,
    read_wfdb_record,
    select_lead,
    to_millivolts,
)

__all__ = [
    "Annotations",
    "Record",
    "ecg_channel",
    "read_annotations",
    "read_array_record",
    "read_edf_record",
    "read_record",
    "read_wfdb_record",
    "select_lead",
    "to_millivolts",
]
