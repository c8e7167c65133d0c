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
