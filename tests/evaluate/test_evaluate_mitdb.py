"""Per-record S/V Se and +P in the MIT-BIH evaluation."""

import numpy as np
import torch

from ecglens.data.mitdb import BeatSet
from ecglens.evaluate.mitdb import evaluate_beats, metrics_without, per_record_metrics

CLASSES = ["N", "S", "V", "F", "Q"]


def test_per_record_se_and_ppv():
    y = np.array([0, 1, 1, 2, 0, 1, 0, 0])
    p = np.array([0, 1, 0, 2, 1, 1, 0, 0])
    rec = np.array(["a", "a", "a", "a", "b", "b", "c", "c"])
    out = per_record_metrics(y, p, rec, CLASSES)
    assert out["a"]["n"] == 4
    assert out["a"]["S"] == {"support": 2, "predicted": 1, "Se": 0.5, "+P": 1.0}
    assert out["a"]["V"]["Se"] == 1.0 and out["a"]["V"]["+P"] == 1.0
    assert out["b"]["S"] == {"support": 1, "predicted": 2, "Se": 1.0, "+P": 0.5}
    assert out["c"]["S"]["Se"] is None and out["c"]["S"]["+P"] is None


class _Fixed(torch.nn.Module):
    """Logits that call the first half of the beats N and the rest S."""

    def forward(self, x):
        logits = torch.zeros(len(x), 5)
        logits[: len(x) // 2, 0] = 1
        logits[len(x) // 2 :, 1] = 1
        return logits


def test_evaluate_beats_reports_per_record_and_without_a_record():
    n = 8
    beats = BeatSet(
        np.zeros((n, 4), np.float32),
        np.zeros((n, 13), np.float32),
        np.array([0, 0, 0, 0, 1, 1, 1, 0]),
        np.array(["232"] * 4 + ["100"] * 4, dtype=object),
        np.arange(n),
    )
    config = {"architecture": "kachuee", "inputs": ["x"], "classes": CLASSES}
    m = evaluate_beats(_Fixed(), beats, config)
    assert set(m["per_record"]) == {"100", "232"}
    assert m["per_record"]["100"]["S"] == {"support": 3, "predicted": 4, "Se": 1.0, "+P": 0.75}
    predicted = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    without = metrics_without(beats, predicted, CLASSES, ("232",))
    assert without["n"] == 4 and without["per_class"]["S"]["recall"] == 1.0
