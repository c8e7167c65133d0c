import numpy as np

from ecglens.data.labels import AAMI_CLASSES, aami_class, aami_labels


def test_aami_mapping_follows_ec57():
    expected = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
    for cls, symbols in expected.items():
        for s in symbols:
            assert aami_class(s) == cls
    for non_beat in ["+", "~", "|", "x", "!", "[", "]", '"']:
        assert aami_class(non_beat) is None


def test_aami_labels_drops_non_beats():
    keep, labels = aami_labels(np.array(["+", "N", "A", "~", "V", "/"], dtype=object))
    assert keep.tolist() == [False, True, True, False, True, True]
    assert [AAMI_CLASSES[i] for i in labels] == ["N", "S", "V", "Q"]
