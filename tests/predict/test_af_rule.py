import numpy as np

from ecglens.predict.rhythm import with_af_rule

CLASSES = ["N", "S", "V", "F", "Q"]


def _scores(labels):
    scores = np.full((len(labels), 5), 0.01)
    scores[np.arange(len(labels)), [CLASSES.index(c) for c in labels]] = 0.96
    return scores


def test_s_inside_af_becomes_n_with_the_same_confidence():
    rng = np.random.default_rng(0)
    rr = np.concatenate([np.full(150, 0.8), rng.uniform(0.4, 1.0, 300), np.full(150, 0.8)])
    times = np.concatenate([[0.5], 0.5 + np.cumsum(rr)])
    labels = np.full(len(times), "N")
    labels[[20, 200, 300, 580]] = "S"  # two in the sinus stretches, two inside the AF
    scores, in_af = with_af_rule(_scores(labels), times, CLASSES)  # RR only: no P waves given
    called = np.asarray(CLASSES)[scores.argmax(1)]
    assert in_af[200] and in_af[300] and not in_af[20] and not in_af[580]
    assert list(called[[20, 200, 300, 580]]) == ["S", "N", "N", "S"]
    assert scores[200].max() == 0.96
    # P waves that repeat from beat to beat: not AF, whatever the RR
    _, in_af = with_af_rule(_scores(labels), times, CLASSES, p_corr=np.full(len(times), 0.9))
    assert not in_af.any()
    _, in_af = with_af_rule(_scores(labels), times, CLASSES, p_corr=np.zeros(len(times)))
    assert in_af[200]


def test_models_without_n_and_s_are_left_alone():
    scores = np.eye(2)[[0, 1, 0]]
    out, in_af = with_af_rule(scores, np.arange(3.0), ["normal", "MI"])
    assert out is scores and not in_af.any()
