import pytest

from ecglens.errors import EcgLensError
from ecglens.inputs.leads import is_generic_lead_name, lead_order

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def test_names_in_any_order_and_case_are_matched():
    names = list(reversed([n.upper() for n in LEADS]))
    order, note = lead_order(names, LEADS, "rec")
    assert [names[i].lower() for i in order] == [n.lower() for n in LEADS] and note is None


def test_generic_names_are_taken_in_order_and_said():
    names = [f"lead_{i}" for i in range(12)]
    order, note = lead_order(names, LEADS)
    assert order == list(range(12)) and "standard order" in note
    assert is_generic_lead_name("ch 3") and is_generic_lead_name("7")
    assert not is_generic_lead_name("V1") and not is_generic_lead_name("MLII")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["MLII", "V5"], "2 leads"),
        (LEADS[:11] + ["V5"], "missing V6; duplicated V5"),
    ],
)
def test_mismatches_name_the_record_and_the_problem(names, message):
    with pytest.raises(EcgLensError, match=message) as info:
        lead_order(names, LEADS, "data/rec7")
    assert str(info.value).startswith("data/rec7")
