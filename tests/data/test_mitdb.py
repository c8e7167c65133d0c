import numpy as np
import pytest

from ecglens.data.kaggle import read_kaggle_csv, write_kaggle_csv
from ecglens.data.mitdb import DS1, DS2, PACED, BeatConfig, annotated_record_beats, load_mitdb_beats
from ecglens.data.splits import make_split
from ecglens.errors import EcgLensError
from ecglens.signal.beats import (
    RR_FEATURE_NAMES,
    RR_RHYTHM_COLUMNS,
    kachuee_beats,
    rr_features,
    window_beats,
)


def test_record_lists_are_de_chazal():
    assert len(DS1) == len(DS2) == 22
    assert not set(DS1) & set(DS2)
    assert not set(PACED) & (set(DS1) | set(DS2))


def test_kachuee_beats_format():
    fs = 125.0
    signal = np.sin(np.linspace(0, 60 * np.pi, 2500))
    peaks = np.arange(50, 2400, 100)
    beats = kachuee_beats(signal, peaks, fs)
    assert beats.shape == (len(peaks), 187) and beats.dtype == np.float32
    assert beats.min() >= 0 and beats.max() <= 1
    # 1.2 x median RR of 100 samples = 120 samples, then zero padding
    assert np.all(beats[:, 120:] == 0)
    assert np.any(beats[:, :120] > 0)


def test_window_beats_and_rr_features():
    signal = np.arange(1000, dtype=float)
    peaks = np.array([100, 400, 700])
    beats = window_beats(signal, peaks, fs=100, before_s=0.5, after_s=0.5)
    assert beats.shape == (3, 100)
    rr = rr_features(peaks, fs=100)
    assert rr.shape == (3, len(RR_FEATURE_NAMES)) == (3, 13)
    np.testing.assert_allclose(rr[:, 0], [3, 3, 3])  # pre-RR in s
    np.testing.assert_allclose(rr[:, 3], 1.0)  # pre / local mean
    np.testing.assert_allclose(rr[:, RR_RHYTHM_COLUMNS], 1.0)  # a regular rhythm


def test_rhythm_ratios_mark_a_premature_beat_and_its_pause():
    # sinus at 1.0 s with one premature beat 0.6 s after its predecessor, then a 1.4-s pause
    intervals = [1.0] * 20 + [0.6, 1.4] + [1.0] * 20
    peaks = np.round(np.cumsum([0.5, *intervals]) * 250).astype(int)
    rr = rr_features(peaks, fs=250)
    names = dict(zip(RR_FEATURE_NAMES, range(len(RR_FEATURE_NAMES)), strict=True))
    early = 21  # the premature beat
    assert rr[early, names["pre_ratio_neighbours"]] == pytest.approx(0.6)
    assert rr[early, names["pre_ratio_record_median"]] == pytest.approx(0.6)
    assert rr[early, names["post_over_pre"]] == pytest.approx(1.4 / 0.6)
    assert rr[early, names["pre_over_previous_pre"]] == pytest.approx(0.6)
    assert rr[early + 1, names["pre_ratio_neighbours"]] == pytest.approx(1.4)
    normal = 10
    np.testing.assert_allclose(rr[normal, RR_RHYTHM_COLUMNS], 1.0, rtol=1e-6)
    # a short pre-RR does not drag down its own reference (the local mean includes it)
    assert rr[early, names["pre_ratio_neighbours"]] < rr[early, names["pre_ratio_local"]]


def test_demo_record_beats(demo_record):
    beats = annotated_record_beats(demo_record, BeatConfig())
    counts = beats.class_counts()
    assert counts["V"] == 220 and counts["F"] == 362  # PhysioNet's table for record 213
    assert beats.x.shape == (len(beats), 187)
    window = annotated_record_beats(demo_record, BeatConfig(representation="window"))
    assert window.x.shape == (len(beats), 252)


def test_kaggle_csv_round_trip(tmp_path, demo_record):
    beats = annotated_record_beats(demo_record, BeatConfig())
    path = write_kaggle_csv(tmp_path / "beats.csv", beats.x[:50], beats.y[:50])
    x, y = read_kaggle_csv(path)
    np.testing.assert_allclose(x, beats.x[:50], atol=1e-6)
    np.testing.assert_array_equal(y, beats.y[:50])


def test_kaggle_csv_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n")
    with pytest.raises(EcgLensError, match="expected 188 columns"):
        read_kaggle_csv(bad)
    with pytest.raises(EcgLensError, match="not found"):
        read_kaggle_csv(tmp_path / "missing.csv")


@pytest.mark.slow
def test_full_database_counts_and_splits(mitdb_dir, tmp_path):
    beats = load_mitdb_beats(mitdb_dir, DS1 + DS2, BeatConfig(), cache_dir=tmp_path, progress=False)
    split = make_split(beats, "inter-patient", seed=0)
    train_records = set(beats.record[np.concatenate([split.train, split.val])])
    test_records = set(beats.record[split.test])
    assert train_records == set(DS1) and test_records == set(DS2)
    # de Chazal 2004 Table: DS2 holds 44,259 N, 1,837 S, 3,221 V, 388 F, 7 Q beats
    test_counts = beats.subset(split.test).class_counts()
    assert test_counts == {"N": 44259, "S": 1837, "V": 3221, "F": 388, "Q": 7}
    intra = make_split(beats, "intra-patient", seed=0)
    assert intra.optimistic and not split.optimistic
    assert len(np.intersect1d(intra.train, intra.test)) == 0


def test_record_level_validation_holds_out_whole_ds1_records():
    from ecglens.data.mitdb import BeatSet
    from ecglens.data.splits import held_out_records

    records = np.repeat(np.array(DS1 + DS2, dtype=object), 10)
    n = len(records)
    beats = BeatSet(
        np.zeros((n, 4), np.float32),
        np.zeros((n, 7), np.float32),
        np.zeros(n, np.int64),
        records,
        np.arange(n),
    )
    split = make_split(beats, "inter-patient", seed=1, val_records=4)
    held = held_out_records(4, 1)
    assert set(records[split.val]) == set(held) and len(held) == 4
    assert not set(records[split.train]) & set(held)
    assert set(records[split.test]) == set(DS2)
    with pytest.raises(EcgLensError):
        held_out_records(0, 1)


def test_record_level_validation_sees_s_and_v_and_leaves_training_most_of_each_class():
    from ecglens.data.splits import TRAIN_KEEP_FRACTION, VAL_MIN_BEATS, held_out_records

    # a DS1 shaped like the real one: S spread over six records, nearly all F in 208
    counts = _ds1_like_counts()
    counts["208"]["F"], counts["223"]["F"] = 373, 14
    totals = {c: sum(v[c] for v in counts.values()) for c in "SVF"}
    for seed in range(5):
        held = held_out_records(5, seed, counts)
        assert len(held) == 5 and set(held) <= set(DS1)
        assert held == held_out_records(5, seed, counts)  # seeded
        for c in "SVF":
            in_val = sum(counts[r][c] for r in held)
            assert in_val <= (1 - TRAIN_KEEP_FRACTION) * totals[c]
            assert in_val >= VAL_MIN_BEATS.get(c, 0)
        assert "208" not in held and "209" not in held
    counts = {r: {"N": 2000, "S": 0, "V": 0, "F": 0, "Q": 0} for r in DS1}
    counts["209"]["S"] = 400  # one record holds every S beat: no valid draw
    with pytest.raises(EcgLensError, match="validation beats"):
        held_out_records(5, 0, counts)


def _ds1_like_counts():
    counts = {r: {"N": 2000, "S": 0, "V": 0, "F": 0, "Q": 0} for r in DS1}
    for r, s in {"209": 383, "201": 128, "207": 107, "118": 96, "220": 94, "223": 73}.items():
        counts[r]["S"] = s
    for r, v in {"106": 520, "119": 444, "203": 444, "208": 992, "223": 473, "201": 198}.items():
        counts[r]["V"] = v
    return counts


def test_cross_validation_folds_put_each_s_record_in_its_own_fold():
    from ecglens.data.splits import DS1_S_RECORDS, record_folds

    counts = _ds1_like_counts()
    for seed in range(3):
        folds = record_folds(counts, 6, seed=seed)
        assert len(folds) == 6
        assert sorted(r for f in folds for r in f) == sorted(DS1)  # a partition of DS1
        homes = [next(k for k, f in enumerate(folds) if r in f) for r in DS1_S_RECORDS]
        assert len(set(homes)) == len(DS1_S_RECORDS)
        # V beats spread: no fold without them once the S records are placed
        assert all(sum(counts[r]["V"] for r in f) > 0 for f in folds)
    assert record_folds(counts, 6, seed=0) == record_folds(counts, 6, seed=0)
    with pytest.raises(EcgLensError, match="folds"):
        record_folds(counts, 1)


def test_cross_validation_folds_on_the_real_ds1(mitdb_dir, tmp_path):
    from ecglens.data.splits import DS1_S_RECORDS, class_counts, record_folds

    beats = load_mitdb_beats(mitdb_dir, DS1, BeatConfig(), cache_dir=tmp_path, progress=False)
    folds = record_folds(class_counts(beats.record, beats.y, beats.classes))
    homes = [next(k for k, f in enumerate(folds) if r in f) for r in DS1_S_RECORDS]
    assert len(set(homes)) == 6
