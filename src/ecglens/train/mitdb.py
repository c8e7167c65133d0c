"""Train a beat classifier on MIT-BIH (one split) and write a shippable model.

The run directory gets ``model.safetensors`` + ``model.json`` (architecture, beat
representation, classes, train config, seed, data checksums, validation and test
metrics) + ``model.md`` (the model card), beside the trainer's checkpoints.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import ecglens
from ecglens._atomic import atomic_write_json
from ecglens.data.mitdb import BeatConfig, BeatSet, load_mitdb_beats
from ecglens.data.splits import BeatSplit, make_split, split_records
from ecglens.evaluate.mitdb import beat_model_inputs, evaluate_beats
from ecglens.models.registry import create_model, save_pretrained
from ecglens.train.trainer import ArrayDataset, TrainConfig, fit


@dataclass
class MitdbRunConfig:
    """A complete MIT-BIH training run; saved into the model's JSON."""

    split: str = "inter-patient"
    architecture: str = "kachuee"
    architecture_kwargs: dict[str, Any] = field(default_factory=dict)
    beats: BeatConfig = field(default_factory=BeatConfig)
    inputs: tuple[str, ...] = ("x",)  # "x" waveform, "rr" RR features
    train: TrainConfig = field(default_factory=TrainConfig)
    val_fraction: float = 0.1


def train_mitdb(
    data_dir: str | Path,
    out_dir: str | Path,
    run: MitdbRunConfig,
    name: str | None = None,
    command: str | None = None,
    resume: bool = False,
    progress: bool = True,
    cache_dir: str | Path | None = "runs/cache",
) -> dict[str, Any]:
    """Train on the split's training beats, select on its validation beats, score its test
    beats once at the end. Returns the model config (with metrics)."""
    out_dir = Path(out_dir)
    beats = load_mitdb_beats(data_dir, split_records(run.split), run.beats, cache_dir, progress)
    split = make_split(beats, run.split, seed=run.train.seed, val_fraction=run.val_fraction)
    classes = list(beats.classes)
    kwargs = {"n_classes": len(classes), **run.architecture_kwargs}
    if run.architecture == "kachuee":
        kwargs.setdefault("input_length", run.beats.input_length)
    torch.manual_seed(run.train.seed)
    model = create_model(run.architecture, **kwargs)
    train_set = _dataset(beats, split.train, run.inputs)
    val_set = _dataset(beats, split.val, run.inputs)
    result = fit(
        model,
        train_set,
        val_set,
        run.train,
        out_dir,
        resume=resume,
        progress=progress,
        n_classes=len(classes),
    )
    config = {
        "architecture": run.architecture,
        "architecture_kwargs": kwargs,
        "task": "beats",
        "classes": classes,
        "inputs": list(run.inputs),
        "beats": asdict(run.beats),
        "split": run.split,
        "optimistic": split.optimistic,
        "split_description": split.description,
        "train": asdict(run.train),
        "best_epoch": result.best_epoch,
        "history": result.history,
        "data": {
            "database": "MIT-BIH Arrhythmia Database 1.0.0",
            "checksums": beats.checksums,
            "n_train": int(len(split.train)),
            "n_val": int(len(split.val)),
            "n_test": int(len(split.test)),
        },
        "environment": {
            "ecglens": ecglens.__version__,
            "torch": torch.__version__,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "command": command or "",
    }
    device = next(result.model.parameters()).device
    config["val_metrics"] = evaluate_beats(result.model, beats.subset(split.val), config, device)
    config["metrics"] = evaluate_beats(result.model, beats.subset(split.test), config, device)
    result.model.cpu()
    name = name or out_dir.name
    save_pretrained(result.model, config, out_dir / "model", card=model_card(name, config, split))
    atomic_write_json(out_dir / "metrics.json", config["metrics"])
    return config


def _dataset(beats: BeatSet, index: np.ndarray, inputs: tuple[str, ...]) -> ArrayDataset:
    sub = beats.subset(index)
    return ArrayDataset(beat_model_inputs(sub, list(inputs)), sub.y)


def model_card(name: str, config: dict[str, Any], split: BeatSplit) -> str:
    """Markdown model card: data, split, seed, metrics and the reproducing command."""
    m = config["metrics"]
    rows = "\n".join(
        f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
        for c, v in m["per_class"].items()
    )
    warning = (
        "\n> **Optimistic split**: beats of the same patients are in training and test "
        "data; expect much lower scores on new patients.\n"
        if split.optimistic
        else ""
    )
    train = config["train"]
    return f"""# {name}

Beat classifier (AAMI classes {", ".join(config["classes"])}) trained with ecglens {
        config["environment"]["ecglens"]
    }.

- **Architecture**: `{config["architecture"]}` {config["architecture_kwargs"]}
- **Input**: {config["beats"]["representation"]} beats {config["inputs"]}, lead {
        config["beats"]["lead"] or "MLII"
    }
- **Data**: {config["data"]["database"]}; train {config["data"]["n_train"]} / validation {
        config["data"]["n_val"]
    } / test {config["data"]["n_test"]} beats
- **Split**: {config["split"]}: {split.description}
- **Training**: seed {train["seed"]}, loss {train["loss"]}, class-weighted {
        train["class_weighted"]
    }, sampler {train["sampler"]}, batch {train["batch_size"]}, lr {train["lr"]} ({
        train["lr_schedule"]
    }), early stopping on {train["monitor"]} (patience {train["patience"]}); best epoch {
        config["best_epoch"]
    }
{warning}
## Test metrics ({m["n"]} beats)

Accuracy {m["accuracy"]:.4f}, macro-F1 {m["macro_f1"]:.4f}
(over {", ".join(m["macro_f1_classes"])}).

| class | +P (precision) | Se (recall) | F1 | support |
|---|---|---|---|---|
{rows}

## Reproduce

```
{config["command"]}
```

Beat positions come from the reference annotations; data checksums (SHA-256 of each
record's .hea/.dat/.atr) are in the JSON config beside the weights.
Data: Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. IEEE EMB 20(3) 2001
(ODC-By 1.0), via PhysioNet.
"""
