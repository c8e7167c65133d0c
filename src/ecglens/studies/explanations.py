"""``ecglens benchmark explanations``: sanity, faithfulness, plausibility and stability of every
explainer on every shipped beat and 12-lead model (measures in
:mod:`ecglens.evaluate.explanations`), and each model's recommended explainer.

Examples (seeded): image models: ``image_examples`` (or ``beats`` when fewer) printouts of
the Mendeley set, one per
duplicate group, a quarter from each class (the shipped image models are committees of
5-fold models, so each image was in the training set of four of the five members: their
maps are measured on training images); deletion and insertion remove
:data:`IMAGE_PATCH` x :data:`IMAGE_PATCH`-pixel patches ranked by the map's mean over each
patch (the random and edge maps likewise); their explainers: :data:`IMAGE_METHODS`.
MIT-BIH beat models: ``beats`` annotated DS2 beats, a third each drawn
from the N, S and V beats (so that plausibility compares the three; rare classes are
over-represented on purpose); the MI beat model: ``beats`` lead-II beats of PTB-XL fold-10
records, at most one per record, half MI and half normal; 12-lead models: ``beats`` PTB-XL
fold-10 records. Every map explains the class the model predicts. Intervals resample
records. Beats and records: deletion and insertion remove single samples; with
``segment_ms`` > 0 they remove segments of that length ranked by the map's mean over each
(every map alike, the random and edge maps too), the 1-D form of the image patches.

**Recommendation rule** (fixed before measuring; the second version, after the first one, on
the zero baseline alone, let an edge map of |signal derivative| beat most explainers): an
explainer *qualifies* on a model when it passes the randomisation sanity check on |map| and on
the signed map (:func:`ecglens.evaluate.explanations.passes_sanity`) and *beats the random map*
on at least :data:`MIN_BASELINES` (2) removal baselines, ROAD among them: on a baseline, its
deletion AUC is below the random map's and its insertion AUC above it, each with a paired 95%
interval of the difference (records resampled) that excludes zero. Among those that qualify,
the one with the largest ROAD margin over random, (insertion AUC - deletion AUC) - (the
random map's), wins; margins within 0.01 count as ties, broken by speed. No explainer
qualifying: no recommendation (the task's default stays, and every figure of it says "not
shown faithful": :func:`ecglens.explain.recommended.trust_of`). The edge map is reported on
every baseline beside random, not part of the rule. *Speed budget*
(added after the first run recommended Shapley sampling for a beat model, which would take
minutes on a 30-minute record): a default must keep the whole job within its target, so beat
models (every beat of a record is explained) only take explainers at most
:data:`BEAT_SPEED_FACTOR` x Grad-CAM's time per beat measured in the same run (Grad-CAM
explains a 30-minute record within the target: ``bench/explain_speed.py``), and 12-lead models
(one record at a time) only those under :data:`RECORD_BUDGET_S` per record. Segments
(``--segment-ms``) were added to check whether smooth maps (CAM) lose to random only because
a random order of single samples removes scattered samples: on ``beat-cam`` 40-ms segments
did not change any verdict, so the rule keeps single samples.

Data-label randomisation (MIT-BIH beat models): a model of the same architecture and inputs,
trained briefly (``label_epochs`` epochs on ``label_beats`` DS1 beats) on shuffled labels;
its maps are compared with the shipped model's.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglens._atomic import atomic_write_json, atomic_write_text
from ecglens.errors import EcgLensError
from ecglens.evaluate import explanations as ev
from ecglens.explain.attribute import METHODS, attribute
from ecglens.explain.display import for_display
from ecglens.explain.explainers import get_explainer
from ecglens.explain.recommended import model_explainers
from ecglens.explain.twelve_lead import SignedBinary
from ecglens.models.measured import EXPLAINERS_FILE
from ecglens.models.registry import WEIGHTS_DIR, LoadedModel, create_model, list_pretrained
from ecglens.models.registry import load_model as _load_model
from ecglens.predict.forward import logits_of
from ecglens.predict.tasks import task_of
from ecglens.progress import console
from ecglens.train.cards import set_card_line

TIE = 0.01  # margins closer than this are ties, broken by speed
IMAGE_PATCH = 8  # pixels per side of the patches image deletion/insertion removes
SEGMENT_MS = 0.0  # ms per segment 1-D deletion/insertion removes (0: single samples)
IMAGE_METHODS = ("grad-cam", "saliency", "smoothgrad", "occlusion")  # benchmarked on images
MIN_BASELINES = 2  # an explainer must beat random on at least this many baselines ...
REQUIRED_BASELINE = "road"  # ... this one among them
RANKING_BASELINE = "road"  # the margin that ranks the explainers that qualify
RULE = (
    "passes the randomisation check (|map| and signed) and beats a random map on deletion and "
    f"insertion (95% intervals excluding zero) on at least {MIN_BASELINES} of the zero, blur "
    f"and ROAD baselines, {REQUIRED_BASELINE.upper()} among them"
)
BEAT_SPEED_FACTOR = 3.0  # beat models: a default at most this x Grad-CAM's time per beat
RECORD_BUDGET_S = 3.0  # 12-lead models: a default within this per record


@dataclass(frozen=True)
class ExplanationsBenchmarkConfig:
    """What is measured; saved beside the table."""

    models: tuple[str, ...] = ()  # empty: every shipped beat and 12-lead model
    methods: tuple[str, ...] = ()  # empty: every explainer of each model's task
    beats: int = 64
    image_examples: int = 32
    seed: int = 0
    n_boot: int = 1000
    label_randomization: bool = True
    label_beats: int = 8000
    label_epochs: int = 3
    sensitivity_examples: int = 8
    sensitivity_perturbations: int = 3
    baselines: tuple[str, ...] = ev.BASELINES
    # 1-D signals: deletion and insertion remove segments of this length, ranked by the map's
    # mean over each (every map alike, random and edge too); 0: single samples
    segment_ms: float = SEGMENT_MS
    # other trainings of the benchmarked model's recipe with other seeds (run folders or
    # weight files): each explainer's maps from them and the model are compared per example
    seed_models: tuple[str, ...] = ()
    fractions: tuple[float, ...] = field(default_factory=lambda: tuple(ev.FRACTIONS.tolist()))

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise EcgLensError(
                f"--method: unknown explainer {unknown[0]!r}; known: {', '.join(METHODS)}"
            )
        if self.beats < 4:
            raise EcgLensError(f"--beats must be at least 4, not {self.beats}")


def default_models() -> list[str]:
    """Every shipped model: beat, 12-lead, MI and image models."""
    return list(list_pretrained())


# ------------------------------------------------------------------------------ examples
@dataclass
class Examples:
    """What one model explains: inputs (waveform first), the explained class, groups
    (records) for the bootstrap, and what plausibility needs."""

    inputs: tuple[torch.Tensor, ...]
    target: np.ndarray
    groups: np.ndarray
    module: torch.nn.Module
    probability: Any  # (waveform batch as numpy) -> (n,) probability of the target
    reference: np.ndarray | None = None  # reference class per example (beats)
    classes: tuple[str, ...] = ()
    fs: float | None = None
    r_index: int | None = None
    kind: str = "beats"  # "beats", "mi", "12-lead" or "image"
    description: str = ""


def _probability_fn(module, rest, target, temperature: float, sigmoid: bool):
    target_t = torch.as_tensor(target, dtype=torch.long)

    def probability(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = module(torch.as_tensor(x), *rest)
            logits = out[0] if isinstance(out, tuple | list) else out
            z = logits.float() / temperature
            p = torch.sigmoid(z) if sigmoid else torch.softmax(z, dim=1)
            return p.gather(1, target_t[:, None])[:, 0].numpy().astype(np.float64)

    return probability


def _draw(rng: np.random.Generator, pools: list[np.ndarray], n: int) -> np.ndarray:
    """About n / len(pools) indices from each pool, seeded, more from others when one runs
    short."""
    want = [n // len(pools) + (i < n % len(pools)) for i in range(len(pools))]
    picked = [rng.permutation(p)[:w] for p, w in zip(pools, want, strict=True)]
    short = n - sum(len(p) for p in picked)
    if short > 0:
        rest = np.setdiff1d(np.concatenate(pools), np.concatenate(picked))
        picked.append(rng.permutation(rest)[:short])
    return np.sort(np.concatenate(picked)).astype(np.int64)


def _beat_examples(loaded: LoadedModel, data: Path, n: int, seed: int) -> Examples:
    from ecglens.data.mitdb import DS2, load_mitdb_beats

    bc = loaded.config.beats
    beats = load_mitdb_beats(data / "mitdb", DS2, bc, progress=False)
    rng = np.random.default_rng(seed)
    pools = [np.flatnonzero(beats.y == beats.classes.index(c)) for c in ("N", "S", "V")]
    idx = _draw(rng, pools, n)
    sub = beats.subset(idx)
    description = f"{n} DS2 beats (a third each N, S, V) of {len(set(sub.record))} records"
    return _examples_of(loaded, sub, bc, "beats", description)


def _examples_of(loaded: LoadedModel, sub: Any, bc: Any, kind: str, description: str) -> Examples:
    """The examples of beat set ``sub`` (its ``x``, ``rr``, ``record``, ``y``) for a beat model,
    each explained for the class the model predicts."""
    from ecglens.inputs.beats import model_input_arrays

    arrays = model_input_arrays(sub.x, sub.rr, loaded.config.inputs)
    inputs = tuple(torch.as_tensor(np.ascontiguousarray(a)) for a in arrays)
    module = loaded.module.eval()
    temperature = float(loaded.config.temperature)
    with torch.inference_mode():
        target = logits_of(module(*inputs)).argmax(1).numpy()
    return Examples(
        inputs=inputs,
        target=target,
        groups=np.asarray(sub.record, dtype=str),
        module=module,
        probability=_probability_fn(module, inputs[1:], target, temperature, sigmoid=False),
        reference=sub.y,
        classes=tuple(loaded.classes),
        fs=bc.beat_fs,
        r_index=bc.r_index,
        kind=kind,
        description=description,
    )


def _mi_examples(loaded: LoadedModel, data: Path, n: int, seed: int) -> Examples:
    from ecglens.data.ptbxl_mi import load_mi_beats

    bc = loaded.config.beats
    lead = loaded.config.lead
    mi = load_mi_beats(data / "ptb-xl", lead, folds=[10], cache_dir="runs/cache", config=bc)
    beats = mi.beats
    rng = np.random.default_rng(seed)
    first = {}
    for i in rng.permutation(len(beats)):  # one random beat per record
        first.setdefault(beats.record[i], i)
    one = np.array(sorted(first.values()), dtype=np.int64)
    pools = [one[beats.y[one] == k] for k in (1, 0)]
    idx = _draw(rng, pools, n)
    sub = beats.subset(idx)
    description = (
        f"{len(idx)} lead-{lead} beats of as many PTB-XL fold-10 records (half MI, half normal)"
    )
    return _examples_of(loaded, sub, bc, "mi", description)


def _record_examples(loaded: LoadedModel, data: Path, n: int, seed: int) -> Examples:
    from ecglens.data.ptbxl import load_ptbxl_metadata, ptbxl_dir
    from ecglens.inputs.twelve_lead import prepare_12lead
    from ecglens.io import read_record

    folder = ptbxl_dir(data / "ptb-xl")
    meta = load_ptbxl_metadata(folder)
    meta = meta[(meta["strat_fold"] == 10) & meta["binary"].notna() & meta["has_lr"]]
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.permutation(meta.index.to_numpy())[:n])
    xs = []
    for ecg_id in ids:
        record = read_record(folder / meta.loc[ecg_id, "filename_lr"])
        xs.append(prepare_12lead(record, loaded.config)[1])
    x = torch.as_tensor(np.stack(xs))
    outputs = loaded.config.outputs
    binary = loaded.task == "ptbxl-binary" or (outputs is not None and len(outputs) == 1)
    module = SignedBinary(loaded.module).eval() if binary else loaded.module.eval()
    with torch.inference_mode():
        logits = module(x)[0]
    if binary:
        threshold = float(0.5 if loaded.config.threshold is None else loaded.config.threshold)
        target = (torch.sigmoid(logits[:, 1]) >= threshold).long().numpy()
    else:
        target = logits.argmax(1).numpy()
    return Examples(
        inputs=(x,),
        target=target,
        groups=ids.astype(str),
        module=module,
        probability=_probability_fn(module, (), target, 1.0, sigmoid=True),
        fs=float(loaded.config.fs) if loaded.config.fs else None,
        kind="12-lead",
        description=f"{len(ids)} PTB-XL fold-10 records",
    )


def _image_examples(loaded: LoadedModel, data: Path, n: int, seed: int) -> Examples:
    from ecglens.data.images import load_image_set
    from ecglens.inputs.images import image_input
    from ecglens.predict.forward import logits_of
    from ecglens.predict.images import input_config

    images = load_image_set(data / "ecg-images")
    rng = np.random.default_rng(seed)
    first: dict[int, int] = {}
    for i in rng.permutation(len(images)):  # one image per duplicate group
        first.setdefault(int(images.groups[i]), int(i))
    one = np.array(sorted(first.values()), dtype=np.int64)
    pools = [one[images.labels[one] == k] for k in range(len(images.classes))]
    idx = _draw(rng, [p for p in pools if len(p)], n)
    config = input_config(loaded)
    x = torch.as_tensor(np.stack([image_input(images.paths[i], config) for i in idx]))
    module = loaded.module.eval()
    with torch.inference_mode():
        target = logits_of(module(x)).argmax(1).numpy()
    target_t = torch.as_tensor(target, dtype=torch.long)

    def probability(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            z = logits_of(module(torch.as_tensor(batch))).double()
            return torch.softmax(z, 1).gather(1, target_t[:, None])[:, 0].numpy()

    return Examples(
        inputs=(x,),
        target=target,
        groups=images.groups[idx].astype(str),
        module=module,
        probability=probability,
        reference=images.labels[idx],
        classes=tuple(images.classes),
        kind="image",
        description=(
            f"{len(idx)} Mendeley printouts, one per duplicate group, a quarter per class "
            "(training images of four of the five committee members)"
        ),
    )


def load_examples(
    loaded: LoadedModel, data: Path, n: int, seed: int, n_images: int | None = None
) -> Examples:
    """The examples a model is benchmarked on (module docstring); ``n_images`` for image
    models (default ``n``)."""
    family = task_of(loaded).family
    if family == "image":
        return _image_examples(loaded, data, n if n_images is None else n_images, seed)
    if family == "12-lead":
        return _record_examples(loaded, data, n, seed)
    if loaded.task == "ptbxl-mi":
        return _mi_examples(loaded, data, n, seed)
    if loaded.task == "beats" and tuple(loaded.classes) == ("N", "S", "V", "F", "Q"):
        return _beat_examples(loaded, data, n, seed)
    raise EcgLensError(f"model {loaded.name}: no benchmark examples for task {loaded.task!r}")


# ------------------------------------------------------------------------------ measures
def _maps(module, ex: Examples, method: str, seed: int) -> np.ndarray:
    """Raw maps shaped like the waveform input (grad-cam over context windows reshaped to
    (n, K, L)); over time only (n, L) for grad-cam/cam on 12-lead records; (n, H, W) for
    images (Grad-CAM as the figures draw it: :func:`ecglens.plot.images.image_relevance`)."""
    if ex.kind == "image" and method == "grad-cam":
        from ecglens.plot.images import image_relevance

        x = ex.inputs[0]
        return np.stack(
            [image_relevance(module, x[i : i + 1], int(ex.target[i])) for i in range(len(x))]
        ).astype(np.float32)
    maps = attribute(module, ex.inputs, ex.target, method, seed=seed)
    x = ex.inputs[0]
    if x.dim() == 3 and maps.shape[0] == x.shape[0] * x.shape[1]:
        maps = maps.reshape(x.shape)
    return maps


def _middle(a: np.ndarray) -> np.ndarray:
    """One-lead beat maps (n, L): the middle beat of (n, K, L) context windows."""
    return a[:, a.shape[1] // 2] if a.ndim == 3 else a


def _summary(values, groups, n_boot, seed, statistic=np.median) -> dict[str, Any]:
    keep = np.isfinite(values)
    return ev.interval(values[keep], groups[keep], statistic, n_boot, seed)


def segment_samples(ex: Examples, segment_ms: float) -> int:
    """Samples per removed segment of ``ex``'s 1-D signals (1: single samples)."""
    if ex.fs is None or segment_ms <= 0:
        return 1
    return max(1, int(round(segment_ms * ex.fs / 1000.0)))


def _curves(
    ex: Examples, scores: np.ndarray, baseline, fractions, seed: int = 0, segment_ms: float = 0.0
) -> tuple:
    x = ex.inputs[0].numpy()
    if ex.kind == "image":  # whole patches, ranked by their mean
        scores = ev.patch_scores(np.asarray(scores).reshape(len(x), *x.shape[-2:]), IMAGE_PATCH)
    else:  # whole segments, ranked by their mean
        scores = ev.segment_scores(scores, segment_samples(ex, segment_ms))
    return ev.deletion_insertion(
        ex.probability, x, scores, baseline, np.asarray(fractions), seed=seed
    )


def _plausibility(ex: Examples, relevance: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    if ex.fs is None or ex.r_index is None:
        return {}
    rel = _middle(relevance)
    windows = ev.MI_WINDOWS_MS if ex.kind == "mi" else ev.BEAT_WINDOWS_MS
    masks = ev.window_masks(rel.shape[-1], ex.fs, ex.r_index, windows)
    shares = ev.window_shares(rel, masks)
    out: dict[str, Any] = {"chance": {k: float(m.mean()) for k, m in masks.items()}}
    names = ("normal", "MI") if ex.kind == "mi" else ex.classes
    for k, name in enumerate(names):
        if ex.kind != "mi" and name not in ("N", "S", "V"):
            continue
        sel = correct & (ex.reference == k)
        out[name] = {
            "n": int(sel.sum()),
            **{
                w: (float(np.nanmedian(s[sel])) if sel.any() and masks[w].any() else None)
                for w, s in shares.items()
            },
        }
    return out


def _member_spearman(ex: Examples, method: str, seed: int) -> float | None:
    members = getattr(ex.module, "members", None)
    if members is None or not getattr(ex.module, "explain_by_members", False):
        return None
    pairs = _pairwise_spearman([_maps(m, ex, method, seed) for m in members])
    return float(np.mean([np.median(p) for p in pairs]))


def _pairwise_spearman(maps: list[np.ndarray], signed: bool = False) -> list[np.ndarray]:
    """Per-example Spearman (n,) of every pair of the same examples' maps by different
    networks (:func:`ecglens.evaluate.explanations.rank_correlation`)."""
    return [
        ev.rank_correlation(maps[i], maps[j], signed=signed)
        for i in range(len(maps))
        for j in range(i + 1, len(maps))
    ]


def seed_agreement(
    ex: Examples, modules: list[torch.nn.Module], method: str, cfg: ExplanationsBenchmarkConfig
) -> dict[str, Any]:
    """How alike ``method``'s maps are across trainings of one recipe (``ex.module`` and
    ``modules``, other seeds), each explaining the class ``ex.module`` predicts: per example,
    the mean Spearman over pairs of trainings (signed maps; |map| for explainers shown as
    magnitudes), then the median over examples with a record-bootstrap interval."""
    signed = get_explainer(method).display != "magnitude"
    maps = [_middle(_maps(m, ex, method, cfg.seed)) for m in (ex.module, *modules)]
    pairs = _pairwise_spearman(maps, signed)
    summary = _summary(np.mean(pairs, axis=0), ex.groups, cfg.n_boot, cfg.seed)
    return {"value": summary["value"], "ci": summary["ci"], "trainings": len(maps)}


def _sensitivity(ex: Examples, method: str, cfg: ExplanationsBenchmarkConfig) -> np.ndarray:
    k = min(cfg.sensitivity_examples, len(ex.target))
    inputs = tuple(t[:k] for t in ex.inputs)

    def explain(xs, target: torch.Tensor) -> tuple[torch.Tensor]:
        xs = xs if isinstance(xs, tuple) else (xs,)
        if ex.kind == "image":
            sub = Examples(inputs=xs, target=target.numpy(), groups=ex.groups, module=ex.module,
                           probability=None, kind="image")  # fmt: skip
            m = _maps(ex.module, sub, method, cfg.seed)
        else:
            m = attribute(ex.module, xs, target.numpy(), method, seed=cfg.seed)
        return (torch.as_tensor(m.reshape(len(xs[0]), -1)),)

    return ev.max_sensitivity(
        explain,
        inputs,
        n_perturb=cfg.sensitivity_perturbations,
        seed=cfg.seed,
        target=torch.as_tensor(ex.target[:k]),
    )


# ------------------------------------------------------------ data-label randomisation
def train_shuffled_label_model(
    loaded: LoadedModel, data: Path, cache: Path, cfg: ExplanationsBenchmarkConfig
) -> torch.nn.Module:
    """A model of ``loaded``'s architecture and inputs trained on DS1 beats whose labels
    are shuffled (seeded); cached as safetensors under ``cache``, keyed by the model's
    architecture, inputs and beat settings (a replaced model gets its own)."""
    from safetensors.torch import load_file, save_file

    from ecglens.data.mitdb import DS1, load_mitdb_beats
    from ecglens.inputs.beats import model_input_arrays

    module = create_model(loaded.config.architecture, **loaded.config.architecture_kwargs)
    saved = loaded.config.to_dict()  # the cache key hashes the JSON form
    spec = {k: saved.get(k) for k in ("architecture", "architecture_kwargs", "inputs", "beats")}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    key = f"{loaded.name}-{digest}-s{cfg.seed}-n{cfg.label_beats}-e{cfg.label_epochs}"
    path = cache / f"{key}.safetensors"
    if path.is_file():
        module.load_state_dict(load_file(str(path)))
        return module.eval()
    bc = loaded.config.beats
    beats = load_mitdb_beats(data / "mitdb", DS1, bc, progress=False)
    rng = np.random.default_rng(cfg.seed)
    idx = np.sort(rng.permutation(len(beats))[: cfg.label_beats])
    sub = beats.subset(idx)
    arrays = [
        torch.as_tensor(np.ascontiguousarray(a))
        for a in model_input_arrays(sub.x, sub.rr, loaded.config.inputs)
    ]
    y = torch.as_tensor(rng.permutation(sub.y))  # labels shuffled across beats
    torch.manual_seed(cfg.seed)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    module.train()
    for _ in range(cfg.label_epochs):
        order = torch.randperm(len(y))
        for start in range(0, len(y), 256):
            b = order[start : start + 256]
            optimizer.zero_grad()
            out = logits_of(module(*(a[b] for a in arrays)))
            loss = torch.nn.functional.cross_entropy(out, y[b])
            loss.backward()
            optimizer.step()
    cache.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    return module.eval()


# ---------------------------------------------------------------------------- one model
def benchmark_model(
    name: str, data: Path, out: Path, cfg: ExplanationsBenchmarkConfig
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows (one per explainer) and mean curves ``{method: {"deletion", "insertion"}}`` of one
    model."""
    torch.manual_seed(cfg.seed)
    loaded = _load_model(name)
    task = task_of(loaded)
    offered = model_explainers(loaded)
    if task.family == "image":
        offered = tuple(m for m in offered if m in IMAGE_METHODS)
    methods = [m for m in (cfg.methods or offered) if m in offered]
    ex = load_examples(loaded, data, cfg.beats, cfg.seed, min(cfg.beats, cfg.image_examples))
    console.print(f"{name}: {ex.description}; explainers {', '.join(methods)}")
    x = ex.inputs[0].numpy()
    n = len(x)
    correct = ex.target == ex.reference if ex.reference is not None else np.ones(n, bool)

    seed_modules = [_load_model(path).module.eval() for path in cfg.seed_models]
    shuffled = None
    if cfg.label_randomization and ex.kind == "beats":
        shuffled = train_shuffled_label_model(loaded, data, out / "label-random", cfg)

    references: dict[str, dict[str, np.ndarray]] = {}
    base_maps = {"random": ev.random_map(x.shape, cfg.seed), "edge": ev.edge_map(x)}
    baselines = {b: ev.baseline_signal(x, b) for b in cfg.baselines}
    curves_out: dict[str, Any] = {}
    for kind, scores in base_maps.items():
        references[kind] = {}
        for b, base in baselines.items():
            d, i = _curves(ex, scores, base, cfg.fractions, cfg.seed, cfg.segment_ms)
            references[kind][b] = (d, i)
        d, i = references[kind][cfg.baselines[0]]
        curves_out[kind] = {"deletion": _round(d.mean(0)), "insertion": _round(i.mean(0))}

    fractions = np.asarray(cfg.fractions)
    rows = []
    for method in methods:
        t0 = time.perf_counter()
        maps = _maps(ex.module, ex, method, cfg.seed)
        seconds = (time.perf_counter() - t0) / n

        def explain(m: torch.nn.Module, method=method) -> np.ndarray:
            return _maps(m, ex, method, cfg.seed)

        cascade = ev.cascading_randomization(ex.module, explain, maps, seed=cfg.seed)
        full = _summary(cascade[-1]["spearman"], ex.groups, cfg.n_boot, cfg.seed)
        signed = _summary(cascade[-1]["spearman_signed"], ex.groups, cfg.n_boot, cfg.seed)
        row: dict[str, Any] = {
            "model": name,
            "explainer": method,
            "examples": ex.description,
            "n_examples": n,
            "unit": {"12-lead": "record", "image": "image"}.get(ex.kind, "beat"),
            "removal_segment_samples": (
                None if ex.kind == "image" else segment_samples(ex, cfg.segment_ms)
            ),
            "seconds_per_example": seconds,
            "randomisation_spearman": full["value"],
            "randomisation_spearman_ci": full["ci"],
            "randomisation_spearman_signed": signed["value"],
            "randomisation_spearman_signed_ci": signed["ci"],
            "randomisation_cascade": [
                {
                    "layers": c["layers"],
                    "down_to": c["down_to"],
                    "median": float(np.median(c["spearman"])),
                    "median_signed": float(np.median(c["spearman_signed"])),
                }
                for c in cascade
            ],
            "passes_sanity_abs": ev.passes_sanity(full),
            "passes_sanity_signed": ev.passes_sanity(signed),
            "passes_sanity": ev.passes_sanity(full) and ev.passes_sanity(signed),
        }
        if shuffled is not None:
            lab = _summary(
                ev.rank_correlation(maps, explain(shuffled)), ex.groups, cfg.n_boot, cfg.seed
            )
            row["label_randomisation_spearman"] = lab["value"]
            row["label_randomisation_spearman_ci"] = lab["ci"]
        per_baseline = {}
        for b, base in baselines.items():
            d, i = _curves(ex, maps, base, cfg.fractions, cfg.seed, cfg.segment_ms)
            da, ia = ev.curve_auc(d, fractions), ev.curve_auc(i, fractions)
            entry = {}
            for ref in ("random", "edge"):
                rd, ri = references[ref][b]
                rda, ria = ev.curve_auc(rd, fractions), ev.curve_auc(ri, fractions)
                entry[ref] = {
                    "deletion_auc": _summary(rda, ex.groups, cfg.n_boot, cfg.seed, np.mean),
                    "insertion_auc": _summary(ria, ex.groups, cfg.n_boot, cfg.seed, np.mean),
                    "deletion_difference": _summary(
                        da - rda, ex.groups, cfg.n_boot, cfg.seed, np.mean
                    ),
                    "insertion_difference": _summary(
                        ia - ria, ex.groups, cfg.n_boot, cfg.seed, np.mean
                    ),
                    "margin": _summary(
                        (ia - da) - (ria - rda), ex.groups, cfg.n_boot, cfg.seed, np.mean
                    ),
                }
            entry["deletion_auc"] = _summary(da, ex.groups, cfg.n_boot, cfg.seed, np.mean)
            entry["insertion_auc"] = _summary(ia, ex.groups, cfg.n_boot, cfg.seed, np.mean)
            entry["beats_random"] = beats_reference(entry["random"])
            entry["beats_edge"] = beats_reference(entry["edge"])
            per_baseline[b] = entry
            if b == cfg.baselines[0]:
                curves_out[method] = {"deletion": _round(d.mean(0)), "insertion": _round(i.mean(0))}
        main = per_baseline[cfg.baselines[0]]
        row.update(
            {
                "baseline": cfg.baselines[0],
                "deletion_auc": main["deletion_auc"]["value"],
                "deletion_auc_ci": main["deletion_auc"]["ci"],
                "deletion_auc_random": main["random"]["deletion_auc"]["value"],
                "deletion_auc_random_ci": main["random"]["deletion_auc"]["ci"],
                "deletion_auc_edge": main["edge"]["deletion_auc"]["value"],
                "insertion_auc": main["insertion_auc"]["value"],
                "insertion_auc_ci": main["insertion_auc"]["ci"],
                "insertion_auc_random": main["random"]["insertion_auc"]["value"],
                "insertion_auc_random_ci": main["random"]["insertion_auc"]["ci"],
                "insertion_auc_edge": main["edge"]["insertion_auc"]["value"],
                "deletion_vs_random": main["random"]["deletion_difference"]["value"],
                "deletion_vs_random_ci": main["random"]["deletion_difference"]["ci"],
                "margin_vs_random": main["random"]["margin"]["value"],
                "margin_vs_random_ci": main["random"]["margin"]["ci"],
                "margin_vs_edge": main["edge"]["margin"]["value"],
                "margin_vs_edge_ci": main["edge"]["margin"]["ci"],
                "baselines": per_baseline,
                "baselines_beaten": [b for b, e in per_baseline.items() if e["beats_random"]],
                **flat_baseline_keys(per_baseline),
            }
        )
        display = for_display(maps, method)
        row["plausibility"] = _plausibility(ex, display, correct)
        sens = _sensitivity(ex, method, cfg)
        row["max_sensitivity"] = float(np.median(sens))
        row["ensemble_member_spearman"] = _member_spearman(ex, method, cfg.seed)
        if seed_modules:
            agree = seed_agreement(ex, seed_modules, method, cfg)
            row["seed_spearman"] = agree["value"]
            row["seed_spearman_ci"] = agree["ci"]
            row["seed_trainings"] = agree["trainings"]
        rows.append(row)
        console.print(
            f"  {method}: {seconds * 1000:.1f} ms/example, randomised Spearman "
            f"{full['value']:.2f} [{full['ci'][0]:.2f}, {full['ci'][1]:.2f}], deletion "
            f"{row['deletion_auc']:.3f} vs random {row['deletion_auc_random']:.3f}"
        )
    recommend(rows, offered)
    return rows, curves_out


def _round(a: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in a]


def beats_reference(entry: dict[str, Any]) -> bool:
    """On one baseline, against one reference map (its ``deletion_difference`` and
    ``insertion_difference`` summaries): deletion AUC lower and insertion AUC higher, each
    paired 95% interval excluding zero."""
    return bool(
        entry["deletion_difference"]["ci"][1] < 0 and entry["insertion_difference"]["ci"][0] > 0
    )


def flat_baseline_keys(per_baseline: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The row's per-baseline keys (``--json``): for each baseline ``b``,
    ``deletion_auc_<b>``, ``deletion_auc_random_<b>``, ``deletion_auc_edge_<b>``, the same for
    insertion, ``margin_vs_random_<b>`` (with ``_ci``), ``beats_random_<b>`` and
    ``beats_edge_<b>``."""
    out: dict[str, Any] = {}
    for b, e in per_baseline.items():
        out[f"deletion_auc_{b}"] = e["deletion_auc"]["value"]
        out[f"insertion_auc_{b}"] = e["insertion_auc"]["value"]
        for ref in ("random", "edge"):
            out[f"deletion_auc_{ref}_{b}"] = e[ref]["deletion_auc"]["value"]
            out[f"insertion_auc_{ref}_{b}"] = e[ref]["insertion_auc"]["value"]
        out[f"margin_vs_random_{b}"] = e["random"]["margin"]["value"]
        out[f"margin_vs_random_{b}_ci"] = e["random"]["margin"]["ci"]
        out[f"beats_random_{b}"] = e["beats_random"]
        out[f"beats_edge_{b}"] = e["beats_edge"]
    return out


def qualifies(row: dict[str, Any]) -> bool:
    """The rule of the module docstring: passes sanity (|map| and signed) and beats the random
    map on deletion and insertion on at least :data:`MIN_BASELINES` baselines, ROAD among
    them."""
    beaten = row.get("baselines_beaten", [])
    return bool(
        row["passes_sanity"] and len(beaten) >= MIN_BASELINES and REQUIRED_BASELINE in beaten
    )


def ranking_margin(row: dict[str, Any]) -> float:
    """The margin over random that ranks the explainers that qualify: ROAD's."""
    return float(row.get(f"margin_vs_random_{RANKING_BASELINE}", row["margin_vs_random"]))


def fast_enough(row: dict[str, Any], rows: list[dict[str, Any]]) -> bool:
    """Within the speed budget of a default (module docstring); beat models without a
    Grad-CAM row to compare with: every explainer."""
    if row.get("unit") in ("record", "image"):
        return row["seconds_per_example"] < RECORD_BUDGET_S
    grad = next((r for r in rows if r["explainer"] == "grad-cam"), None)
    if grad is None:
        return True
    return row["seconds_per_example"] <= BEAT_SPEED_FACTOR * grad["seconds_per_example"]


def recommend(rows: list[dict[str, Any]], allowed: tuple[str, ...]) -> str | None:
    """Set ``recommended`` (and ``fast_enough``) on every row (the rule in the module
    docstring); the winner."""
    for r in rows:
        r["fast_enough"] = fast_enough(r, rows)
    eligible = [r for r in rows if qualifies(r) and r["fast_enough"] and r["explainer"] in allowed]
    best = None
    if eligible:
        top = max(ranking_margin(r) for r in eligible)
        tied = [r for r in eligible if ranking_margin(r) >= top - TIE]
        best = min(tied, key=lambda r: r["seconds_per_example"])["explainer"]
    for r in rows:
        r["recommended"] = r["explainer"] == best
    return best


def ranking_agreement(rows: list[dict[str, Any]], baselines: tuple[str, ...]) -> float | None:
    """Spearman between the explainers' margins over random under the first baseline and
    :data:`RANKING_BASELINE` (else the second baseline): does the ranking hold across
    baselines? None with fewer than 3 explainers."""
    if len(rows) < 3 or len(baselines) < 2:
        return None
    other = RANKING_BASELINE if RANKING_BASELINE in baselines[1:] else baselines[1]
    a = np.array([r["baselines"][baselines[0]]["random"]["margin"]["value"] for r in rows])
    b = np.array([r["baselines"][other]["random"]["margin"]["value"] for r in rows])
    return float(ev.rank_correlation(a[None] - a.min(), b[None] - b.min(), signed=True)[0])


def why(rows: list[dict[str, Any]]) -> str:
    """One sentence: why the recommended explainer won (or why none did)."""
    best = next((r for r in rows if r["recommended"]), None)
    if best is None:
        sane = [r["explainer"] for r in rows if r["passes_sanity"]]
        beating = [r["explainer"] for r in rows
                   if REQUIRED_BASELINE in r.get("baselines_beaten", [])]  # fmt: skip
        return (
            "no explainer both passed the randomisation check (|map| and signed) and beat a "
            f"random map on deletion and insertion on {MIN_BASELINES} baselines, "
            f"{REQUIRED_BASELINE.upper()} among them (95% intervals excluding zero), within the "
            f"speed budget; sanity passed: {', '.join(sane) or 'none'}; beat random on "
            f"{REQUIRED_BASELINE.upper()}: {', '.join(beating) or 'none'}"
        )
    rivals = [r for r in rows if qualifies(r) and r["fast_enough"] and r is not best]
    slower = [r["explainer"] for r in rows if qualifies(r) and not r["fast_enough"]]
    road = RANKING_BASELINE
    text = (
        f"passes the randomisation check (median Spearman {best['randomisation_spearman']:.2f} "
        f"of |map|, {best.get('randomisation_spearman_signed', float('nan')):.2f} signed, with "
        f"every layer random) and beats a random map on {', '.join(best['baselines_beaten'])} "
    )
    if f"deletion_auc_{road}" in best:
        text += (
            f"({road.upper()}: deletion AUC {best[f'deletion_auc_{road}']:.3f} vs "
            f"{best[f'deletion_auc_random_{road}']:.3f}, insertion "
            f"{best[f'insertion_auc_{road}']:.3f} vs {best[f'insertion_auc_random_{road}']:.3f};"
            f" margin over random {ranking_margin(best):+.3f})"
        )
    if rivals:
        text += (
            f", the largest {road.upper()} margin of the {len(rivals) + 1} explainers that "
            "qualify"
        )
        if any(ranking_margin(r) > ranking_margin(best) for r in rivals):
            text += " (a tie within 0.01, the fastest)"
    elif slower:
        text += ", the only explainer that qualifies within the speed budget"
    else:
        text += ", the only explainer that qualifies"
    if slower:
        verb = "qualifies but is" if len(slower) == 1 else "qualify but are"
        text += f"; {', '.join(slower)} also {verb} too slow for a default"
    return text


# ----------------------------------------------------------------------------- outputs
def _ci(value: float, ci: list[float], digits: int = 2) -> str:
    return f"{value:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _verdict(row: dict[str, Any]) -> str:
    if row["recommended"]:
        return "**yes**"
    return "too slow" if qualifies(row) and not row.get("fast_enough", True) else ""


def markdown(rows: list[dict[str, Any]], agreement: dict[str, float | None]) -> str:
    """The table of the README."""
    lines = [
        "| model | explainer | rec. | sanity: randomised Spearman, abs [95% CI]; signed | "
        "label-rand. Spearman | baselines beating random | zero: deletion AUC (random; edge) "
        "| zero: insertion AUC (random; edge) | zero: margin vs random [95% CI] | ms/example |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        label = r.get("label_randomisation_spearman")
        signed = r.get("randomisation_spearman_signed")
        signed_text = "" if signed is None else f"; {signed:.2f}"
        lines.append(
            f"| {r['model']} | {r['explainer']} | {_verdict(r)} | "
            f"{_ci(r['randomisation_spearman'], r['randomisation_spearman_ci'])}{signed_text} "
            f"{'pass' if r['passes_sanity'] else 'FAIL'} | "
            f"{'' if label is None else f'{label:.2f}'} | "
            f"{', '.join(r.get('baselines_beaten', [])) or 'none'} | "
            f"{r['deletion_auc']:.3f} ({r['deletion_auc_random']:.3f}; "
            f"{r['deletion_auc_edge']:.3f}) | "
            f"{r['insertion_auc']:.3f} ({r['insertion_auc_random']:.3f}; "
            f"{r['insertion_auc_edge']:.3f}) | "
            f"{_ci(r['margin_vs_random'], r['margin_vs_random_ci'], 3)} | "
            f"{r['seconds_per_example'] * 1000:.1f} |"
        )
    others = [b for b in ev.BASELINES if any(b in r["baselines"] for r in rows)][1:]
    lines += [
        "",
        "The other baselines (blur: removed samples replaced by the signal blurred with a "
        "Gaussian of sigma L/32; ROAD: imputed by noisy linear interpolation from the kept "
        "samples, Rong et al. 2022), each against the random and the edge map:",
        "",
        "| model | explainer | baseline | deletion AUC (random; edge) | insertion AUC (random; "
        "edge) | margin vs random [95% CI] | beats random | beats edge |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for b in others:
            e = r["baselines"].get(b)
            if e is None:
                continue
            lines.append(
                f"| {r['model']} | {r['explainer']} | {b} | {e['deletion_auc']['value']:.3f} "
                f"({e['random']['deletion_auc']['value']:.3f}; "
                f"{e['edge']['deletion_auc']['value']:.3f}) | "
                f"{e['insertion_auc']['value']:.3f} ({e['random']['insertion_auc']['value']:.3f};"
                f" {e['edge']['insertion_auc']['value']:.3f}) | "
                f"{_ci(e['random']['margin']['value'], e['random']['margin']['ci'], 3)} | "
                f"{'yes' if e.get('beats_random') else 'no'} | "
                f"{'yes' if e.get('beats_edge') else 'no'} |"
            )
    lines += [
        "",
        "Stability (max-sensitivity: the largest relative change of the map under 2% noise, "
        "median; members: median Spearman between the maps of an ensemble's members; seeds: "
        "median over examples of the mean Spearman between trainings of the recipe with other "
        "seeds, `--seed-model`):",
        "",
        "| model | explainer | max-sensitivity | members' Spearman | seeds' Spearman [95% CI] |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        members = r.get("ensemble_member_spearman")
        seeds = r.get("seed_spearman")
        seeds_text = (
            "" if seeds is None
            else f"{_ci(seeds, r['seed_spearman_ci'])} ({r['seed_trainings']} trainings)"
        )  # fmt: skip
        lines.append(
            f"| {r['model']} | {r['explainer']} | {r['max_sensitivity']:.2f} | "
            f"{'' if members is None else f'{members:.2f}'} | {seeds_text} |"
        )
    lines += [
        "",
        "Plausibility (median share of the relevance per window, correctly classified beats; "
        "chance = the window's share of the input; n/a: the window lies outside the input):",
        "",
        "| model | explainer | class | n | P | QRS | ST-T | ST (MI) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for cls, v in (r.get("plausibility") or {}).items():
            cells = [v.get(w) for w in ("P", "QRS", "ST-T", "ST")]
            shown = " | ".join("n/a" if c is None else f"{c:.2f}" for c in cells)
            lines.append(
                f"| {r['model']} | {r['explainer']} | {cls} | {v.get('n', '')} | {shown} |"
            )
    held = ", ".join(f"{m} {'n/a' if a is None else f'{a:.2f}'}" for m, a in agreement.items())
    lines += [
        "",
        "Does the ranking hold across baselines? Spearman between the explainers' margins "
        f"over random with the zero and the ROAD baseline: {held}.",
    ]
    return "\n".join(lines) + "\n"


def compact_json(obj: Any) -> str:
    """JSON indented by key, with lists of numbers on one line (small, readable diffs)."""
    text = json.dumps(obj, indent=1)
    return (
        re.sub(
            r"\[\s+([^\[\]{}\"]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text
        )
        + "\n"
    )


def update_shipped(results: dict[str, dict[str, Any]]) -> None:
    """Merge ``results`` ({model: {"recommended", "why", "curves"}}) into the shipped
    ``explainers.json`` and put the "Recommended explainer" line in each model card."""
    path = WEIGHTS_DIR / EXPLAINERS_FILE
    table = json.loads(path.read_text()) if path.is_file() else {}
    table.update(results)
    atomic_write_text(path, compact_json(dict(sorted(table.items()))))
    for model, entry in results.items():
        card = WEIGHTS_DIR / f"{model}.md"
        if card.is_file():
            atomic_write_text(card, set_card_line(card.read_text(), entry))


def run_explanations_benchmark(
    data: Path,
    out: Path,
    cfg: ExplanationsBenchmarkConfig,
    update_models: bool = False,
    command: str = "",
) -> dict[str, Any]:
    """Benchmark every model of ``cfg``; writes ``benchmark.md``, ``benchmark.json`` ({"rows":
    [...]}), ``explainers.json`` and ``config.json`` in ``out``; ``update_models`` also
    merges the recommendations into the shipped ``explainers.json`` and the model cards."""
    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    models = list(cfg.models or default_models())
    rows: list[dict[str, Any]] = []
    results: dict[str, dict[str, Any]] = {}
    agreement: dict[str, float | None] = {}
    t0 = time.perf_counter()
    for name in models:
        model_rows, curves = benchmark_model(name, data, out, cfg)
        rows += model_rows
        best = next((r["explainer"] for r in model_rows if r["recommended"]), None)
        results[name] = {
            "recommended": best,
            "default": best or model_explainers(_load_model(name))[0],
            "why": why(model_rows),
            "qualified": [r["explainer"] for r in model_rows if qualifies(r)],
            "measured": [r["explainer"] for r in model_rows],
            "rule": RULE,
            "baseline": cfg.baselines[0],
            "curves": {
                m: {"fraction": [round(f, 4) for f in cfg.fractions], **c}
                for m, c in curves.items()
            },
        }
        agreement[name] = ranking_agreement(model_rows, cfg.baselines)
    atomic_write_json(out / "config.json", {**asdict(cfg), "command": command})
    atomic_write_json(
        out / "benchmark.json",
        {
            "rows": rows,
            "ranking_agreement": agreement,
            "command": command,
            "seconds": time.perf_counter() - t0,
        },
    )
    atomic_write_json(out / EXPLAINERS_FILE, results)
    atomic_write_text(out / "benchmark.md", markdown(rows, agreement))
    if update_models:
        update_shipped(results)
    return {"rows": rows, "explainers": results}
