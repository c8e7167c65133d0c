"""The cluster vote: clusters read from the rr array, N calls of a V-majority cluster become V,
and it runs in the one inference path of a model that carries it."""

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.inputs.beats import N_CONTEXT_FEATURES, N_RR_COLUMNS
from ecglens.inputs.rhythm import CONTEXT_FEATURE_NAMES
from ecglens.models.config import ModelConfig
from ecglens.predict.clusters import (
    CLUSTER_KEY,
    ClusterVote,
    cluster_ids,
    voted_by_cluster,
    with_model_cluster_vote,
)

CLASSES = ("N", "S", "V", "F", "Q")


def _rr(cluster_of_beat: list[int]) -> np.ndarray:
    """An rr array whose cluster summary columns name each beat's cluster."""
    rr = np.ones((len(cluster_of_beat), N_RR_COLUMNS + N_CONTEXT_FEATURES), np.float32)
    for name in CLUSTER_KEY:
        col = N_RR_COLUMNS + CONTEXT_FEATURE_NAMES.index(name)
        rr[:, col] = [0.1 * (c + 1) for c in cluster_of_beat]
    return rr


def _scores(calls: str) -> np.ndarray:
    scores = np.zeros((len(calls), len(CLASSES)), np.float32)
    for i, c in enumerate(calls):
        scores[i, CLASSES.index(c)] = 1.0
    return scores


def test_cluster_ids_are_numbered_by_size():
    ids = cluster_ids(_rr([2, 0, 0, 2, 2, 1]))
    assert ids.tolist() == [0, 1, 1, 0, 0, 2]
    assert cluster_ids(np.ones((4, 6))) is None  # no record context features
    assert cluster_ids(_rr([])).shape == (0,)


def test_n_calls_of_a_v_majority_cluster_become_v():
    clusters = np.array([0] * 6 + [1] * 6)
    calls = "NNNNNN" + "VVVVNN"  # cluster 1: 4 of 6 called V
    out = voted_by_cluster(_scores(calls), clusters, CLASSES, ClusterVote(0.5, 5))
    assert out.tolist() == [False] * 10 + [True, True]
    none = voted_by_cluster(_scores(calls), clusters, CLASSES, ClusterVote(0.8, 5))
    assert not none.any()
    small = voted_by_cluster(_scores(calls), clusters, CLASSES, ClusterVote(0.5, 7))
    assert not small.any()  # clusters under min_beats are left alone


def test_clusters_are_per_record():
    clusters = np.zeros(10, dtype=np.int64)  # the same cluster number in two records
    groups = np.array(["a"] * 5 + ["b"] * 5)
    out = voted_by_cluster(
        _scores("VVVVN" + "NNNNN"), clusters, CLASSES, ClusterVote(0.5, 5), groups
    )
    assert out.tolist() == [False] * 4 + [True] + [False] * 5


def test_model_config_carries_the_vote_and_swaps_n_and_v():
    cfg = ModelConfig.from_dict(
        {
            "architecture": "kachuee",
            "classes": list(CLASSES),
            "cluster_vote": {"settings": {"v_share": 0.5, "min_beats": 3}},
        }
    )
    scores = _scores("VVN")
    scores[2] = [0.6, 0.0, 0.3, 0.05, 0.05]
    out, relabelled = with_model_cluster_vote(scores, cluster_ids(_rr([0, 0, 0])), CLASSES, cfg)
    assert relabelled.tolist() == [False, False, True]
    assert out[2].tolist() == pytest.approx([0.3, 0.0, 0.6, 0.05, 0.05])
    plain = ModelConfig.from_dict({"architecture": "kachuee", "classes": list(CLASSES)})
    same, none = with_model_cluster_vote(scores, cluster_ids(_rr([0, 0, 0])), CLASSES, plain)
    assert none is None and same is scores


def test_settings_are_checked():
    with pytest.raises(EcgLensError, match="v_share"):
        ClusterVote(0.0)
    with pytest.raises(EcgLensError, match="min_beats"):
        ClusterVote(0.5, 0)
    assert "50%" in ClusterVote().describe()
