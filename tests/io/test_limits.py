"""The physical ranges checked at every front end's boundary."""

import pytest

from ecglens.errors import EcgLensError
from ecglens.io.limits import MAX_FS, MIN_FS, check_fs


def test_rates_of_ecg_recordings_pass():
    for fs in (MIN_FS, 128, 360, 500.0, MAX_FS):
        assert check_fs(fs) == float(fs)


@pytest.mark.parametrize("fs", [0.01, 0, -360, 49.9, 10_001, float("inf"), float("nan")])
def test_other_rates_are_refused_naming_the_option_and_the_file(fs):
    with pytest.raises(EcgLensError, match="--fs") as info:
        check_fs(fs, "x.csv", "--fs")
    assert "x.csv" in str(info.value)


def test_sample_and_signal_counts_are_bounded():
    from ecglens.io.limits import MAX_SAMPLES, MAX_SIGNALS, check_samples, check_signals

    assert check_samples(MAX_SAMPLES) == MAX_SAMPLES
    assert check_signals(12) == 12
    with pytest.raises(EcgLensError, match="declares 50,000,001 samples"):
        check_samples(MAX_SAMPLES + 1, "r.hea", "declares")
    for n in (0, MAX_SIGNALS + 1):
        with pytest.raises(EcgLensError, match="signals"):
            check_signals(n)
