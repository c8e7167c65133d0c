"""Signal processing on plain NumPy arrays: cleaning, resampling, R-peak detection."""

from ecglens.signal.filters import ecg_clean
from ecglens.signal.peaks import ecg_peaks
from ecglens.signal.resample import resample_indices, resample_signal

__all__ = [
    "ecg_clean",
    "ecg_peaks",
    "resample_indices",
    "resample_signal",
]
