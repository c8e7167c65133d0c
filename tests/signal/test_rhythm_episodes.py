import numpy as np

from ecglens.signal.rhythm_episodes import (
    AF_SETTINGS_RR_ONLY,
    AfSettings,
    af_beats,
    allorhythmia_runs,
    label_runs,
    pauses,
    rr_irregularity,
    runs,
)


def _times(rr: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.5], 0.5 + np.cumsum(rr)])


def test_af_found_only_in_the_irregular_stretch():
    rng = np.random.default_rng(0)
    regular = np.full(200, 0.8) + rng.normal(0, 0.01, 200)
    irregular = rng.uniform(0.4, 1.0, 200)
    times = _times(np.concatenate([regular, irregular, regular]))
    labels = np.full(len(times), "N")
    flags = af_beats(times, labels, AF_SETTINGS_RR_ONLY)  # RR alone: no P-wave feature here
    assert flags[220:380].all()
    assert not flags[:180].any() and not flags[440:].any()


def test_ventricular_ectopics_do_not_make_af():
    rr = np.full(400, 0.8)
    labels = np.full(401, "N")
    labels[10::4] = "V"  # a premature V beat every 4 beats, compensatory pause after it
    rr[9::4] = 0.5
    rr[10::4] = 1.1
    times = _times(rr)
    assert not af_beats(times, labels, AF_SETTINGS_RR_ONLY).any()
    loose = AfSettings(irregularity_above=0.05, p_corr_below=1.0)
    assert af_beats(times, np.full(401, "N"), loose).any()


def test_unusable_beats_are_never_af():
    rng = np.random.default_rng(1)
    times = _times(rng.uniform(0.4, 1.0, 300))
    usable = np.ones(len(times), bool)
    usable[100:120] = False
    flags = af_beats(times, np.full(len(times), "N"), AF_SETTINGS_RR_ONLY, usable=usable)
    assert flags[:90].any() and not flags[100:120].any()


def test_irregularity_short_record_is_nan():
    assert np.isnan(rr_irregularity(np.array([0.0, 1.0]))).all()


def test_runs_and_label_runs():
    assert runs(np.array([0, 1, 1, 0, 1], bool)) == [(1, 3), (4, 5)]
    labels = list("NNSSSNVVNVVVV")
    assert label_runs(labels, "S") == [(2, 5)]
    assert label_runs(labels, "V") == [(9, 13)]


def test_bigeminy_and_trigeminy():
    labels = list("NNNVNVNVNVNNN")
    assert allorhythmia_runs(labels, 2) == [(2, 10)]
    labels = list("NNVNNVNNVNNN")
    assert allorhythmia_runs(labels, 3) == [(0, 9)]
    assert allorhythmia_runs(list("NVNVNN"), 2) == []  # two cycles only


def test_pauses_between_usable_beats():
    times = np.array([0.0, 1.0, 3.5, 4.3, 7.0])
    assert pauses(times) == [(1.0, 3.5), (4.3, 7.0)]
    assert pauses(times, np.array([1, 1, 1, 0, 1], bool)) == [(1.0, 3.5)]
