"""process_lead cleans once and gives what the three steps give on their own."""

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.io import read_record, select_lead
from ecglens.signal import ecg_clean, ecg_peaks, process_lead
from ecglens.signal.quality import assess_quality


def test_same_as_the_steps_alone(demo_record):
    record = read_record(demo_record)
    signal, _ = select_lead(record)
    signal, fs = signal[: int(120 * record.fs)], record.fs
    done = process_lead(signal, fs)
    np.testing.assert_array_equal(done.cleaned, ecg_clean(signal, fs))
    np.testing.assert_array_equal(done.peaks, ecg_peaks(signal, fs))
    alone = assess_quality(signal, fs, done.peaks)
    assert done.quality.to_dict() == alone.to_dict()
    np.testing.assert_array_equal(done.quality.score, alone.score)
    np.testing.assert_array_equal(done.quality.noise, alone.noise)


def test_given_peaks_are_kept(demo_record):
    record = read_record(demo_record)
    signal, _ = select_lead(record)
    peaks = np.arange(100, 20_000, 300)
    done = process_lead(signal[:21_600], record.fs, peaks)
    assert done.peaks is peaks


def test_refuses_several_leads():
    with pytest.raises(EcgLensError, match="process_lead needs a single lead"):
        process_lead(np.random.default_rng(0).normal(size=(1000, 2)), 250.0)
