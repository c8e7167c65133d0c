"""Signal processing on plain NumPy arrays: cleaning, resampling, R-peak detection, quality;
:func:`process_lead` cleans one lead once, detects its R peaks and assesses its quality."""

from ecglens.signal.filters import ecg_clean
from ecglens.signal.peaks import ecg_peaks
from ecglens.signal.process import LeadProcessing, process_lead
from ecglens.signal.resample import resample_indices, resample_signal

__all__ = [
    "LeadProcessing",
    "ecg_clean",
    "ecg_peaks",
    "process_lead",
    "resample_indices",
    "resample_signal",
]
