"""Per-record adaptation by morphology cluster: a beat follows the V majority of its cluster.

A record's beats are clustered by QRS and P-wave shape without labels
(:func:`ecglens.inputs.rhythm.morphology_clusters`, part of the record context features of
models trained with ``--rr context``). Where the network calls at least ``v_share`` of a
cluster's beats V, the cluster is an ectopic focus of this patient, and the beats of it the
network called N are V too: a per-record decision made from the unlabelled record under
test, as Teijeiro et al. (2018) read a record's beats by morphology cluster. Applied after
the rhythm rule (:mod:`ecglens.predict.rhythm`), before the AF rule.

Clusters are read from the rr array the model already takes: the cluster summary columns
(share, median pre-RR, post/pre RR and P-wave correlation of the beat's cluster) are the same
for every beat of a cluster, so equal rows are one cluster; no second clustering is run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ecglens.errors import EcgLensError
from ecglens.inputs.beats import N_CONTEXT_FEATURES, N_RR_COLUMNS
from ecglens.inputs.rhythm import CONTEXT_FEATURE_NAMES
from ecglens.models.config import ModelConfig
from ecglens.predict.rhythm import swap_classes

# context features shared by every beat of one cluster: together they name the cluster
CLUSTER_KEY = (
    "cluster_share",
    "cluster_pre_over_record_mean",
    "cluster_post_over_pre",
    "cluster_p_corr",
)


@dataclass(frozen=True)
class ClusterVote:
    """When a beat called N is V by its cluster.

    v_share: share of a cluster's beats the network calls V at or above which the cluster's
        N calls become V; min_beats: clusters with fewer beats are left as they are.
    """

    v_share: float = 0.5
    min_beats: int = 5

    def __post_init__(self) -> None:
        if not 0.0 < self.v_share <= 1.0:
            raise EcgLensError(f"v_share must be in (0, 1], got {self.v_share}")
        if self.min_beats < 1:
            raise EcgLensError(f"min_beats must be >= 1, got {self.min_beats}")

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> ClusterVote:
        return cls(**settings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"a beat called N becomes V when at least {self.v_share:.0%} of the beats of its "
            f"morphology cluster (>= {self.min_beats} beats) are called V"
        )


def cluster_ids(rr: np.ndarray) -> np.ndarray | None:
    """(n,) int cluster of each beat, numbered by size (0: the largest), from the rr array of
    a model with record context features; None for other rr arrays."""
    rr = np.asarray(rr)
    if rr.ndim != 2 or rr.shape[1] < N_RR_COLUMNS + N_CONTEXT_FEATURES:
        return None
    if len(rr) == 0:
        return np.zeros(0, dtype=np.int64)
    columns = [N_RR_COLUMNS + CONTEXT_FEATURE_NAMES.index(name) for name in CLUSTER_KEY]
    _, first_ids, counts = np.unique(
        rr[:, columns], axis=0, return_inverse=True, return_counts=True
    )
    first_ids = first_ids.reshape(-1)
    by_size = np.argsort(-counts, kind="stable")
    rank = np.empty_like(by_size)
    rank[by_size] = np.arange(len(by_size))
    return rank[first_ids].astype(np.int64)


def voted_by_cluster(
    scores: np.ndarray,
    clusters: np.ndarray,
    classes: list[str] | tuple[str, ...],
    vote: ClusterVote,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """(n,) bool: beats called N (argmax of ``scores`` (n, k)) in a cluster of at least
    ``vote.min_beats`` beats where at least ``vote.v_share`` are called V. ``groups``: the
    record of each beat when ``scores`` hold several records (clusters are per record)."""
    n_col, v_col = list(classes).index("N"), list(classes).index("V")
    called = np.asarray(scores).argmax(1)
    groups = np.zeros(len(called), dtype=np.int64) if groups is None else np.asarray(groups)
    out = np.zeros(len(called), dtype=bool)
    for g in np.unique(groups):
        in_group = groups == g
        for c in np.unique(clusters[in_group]):
            member = in_group & (clusters == c)
            if member.sum() >= vote.min_beats and np.mean(called[member] == v_col) >= vote.v_share:
                out |= member & (called == n_col)
    return out


def model_cluster_vote(config: ModelConfig) -> ClusterVote | None:
    """The cluster vote a model config carries (``cluster_vote``), or None."""
    saved = config.cluster_vote
    return ClusterVote.from_dict(saved["settings"]) if saved else None


def with_model_cluster_vote(
    scores: np.ndarray,
    clusters: np.ndarray | None,
    classes: list[str] | tuple[str, ...],
    config: ModelConfig,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(scores, relabelled)`` after the model's cluster vote, relabelled the (n,) bool beats
    it made V (their N and V scores swapped); ``(scores, None)`` for a model without one or
    without clusters (``clusters``: :func:`cluster_ids` of the beats' rr array, None for
    models without record context features). ``groups``: each beat's record when ``scores``
    hold several."""
    vote = model_cluster_vote(config)
    if vote is None or clusters is None:
        return scores, None
    relabel = voted_by_cluster(scores, clusters, classes, vote, groups)
    return swap_classes(scores, relabel, classes, "N", "V"), relabel
