"""Sanity, faithfulness, plausibility and stability measures of explanations."""

import numpy as np
import pytest
import torch

from ecglens.evaluate import explanations as ev
from ecglens.explain import attribute
from ecglens.models import create_model


class Window(torch.nn.Module):
    """Class-1 logit = 4 x the sum of samples 40..59 of a (B, 100) input."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Linear(1, 1)
        with torch.no_grad():
            self.scale.weight.fill_(4.0)
            self.scale.bias.fill_(-2.0)

    def forward(self, x):
        z = self.scale(x[:, 40:60].mean(dim=1, keepdim=True))
        return torch.cat([torch.zeros_like(z), z], dim=1)


def test_rank_correlation_of_magnitudes():
    a = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert ev.rank_correlation(a, a)[0] == pytest.approx(1.0)
    assert ev.rank_correlation(a, a[:, ::-1])[0] == pytest.approx(-1.0)
    assert ev.rank_correlation(a, -a)[0] == pytest.approx(1.0)  # |map| is compared
    assert ev.rank_correlation(a, np.zeros_like(a))[0] == 0.0  # a flat map ranks nothing
    signed = np.array([[-3.0, -1.0, 1.0, 3.0]])
    assert ev.rank_correlation(signed, np.abs(signed))[0] == pytest.approx(1.0)
    assert ev.rank_correlation(signed, np.abs(signed), signed=True)[0] < 0.5
    assert ev.rank_correlation(signed, signed, signed=True)[0] == pytest.approx(1.0)
    assert ev.rank_correlation(signed, -signed, signed=True)[0] == pytest.approx(-1.0)


def test_pass_rule_needs_median_and_upper_bound_below_threshold():
    assert ev.passes_sanity({"value": 0.2, "ci": [0.1, 0.4]})
    assert not ev.passes_sanity({"value": 0.2, "ci": [0.1, 0.6]})
    assert not ev.passes_sanity({"value": 0.7, "ci": [0.6, 0.8]})


def test_interval_resamples_groups():
    values = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    out = ev.interval(values, groups=np.array(list("aabbcc")), n_boot=200, seed=0)
    assert out["value"] == pytest.approx(0.35)
    assert out["ci"][0] <= 0.35 <= out["ci"][1]


def test_layers_are_listed_output_first_and_ensembles_grouped():
    layers = ev.parameter_layers(create_model("kachuee"))
    assert layers[0] == ["head.5"] and layers[-1] == ["stem"]
    ensemble = create_model(
        "ensemble", members=[{"architecture": "kachuee"}, {"architecture": "kachuee"}]
    )
    top = ev.parameter_layers(ensemble)[0]
    assert top == ["members.0.head.5", "members.1.head.5"]


def test_randomize_layers_resets_only_the_top_layers_of_a_copy():
    torch.manual_seed(0)
    model = create_model("kachuee").eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    top = ev.randomize_layers(model, 1, seed=0)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])  # the original is untouched
    changed = {k for k, v in top.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"head.5.weight", "head.5.bias"}
    again = ev.randomize_layers(model, 1, seed=0)
    assert torch.equal(again.head[5].weight, top.head[5].weight)  # seeded


def test_cascading_randomization_decorrelates_grad_cam():
    torch.manual_seed(0)
    model = create_model("kachuee").eval()
    x = torch.rand(6, 187)
    target = np.zeros(6, dtype=int)
    stages = ev.cascading_randomization(
        model, lambda m: attribute(m, x, target, "grad-cam"), seed=0
    )
    assert [s["layers"] for s in stages] == ev.cascade_stages(len(ev.parameter_layers(model)))
    assert stages[0]["down_to"] == "head.5" and stages[-1]["down_to"] == "stem"
    assert all(s["spearman"].shape == (6,) for s in stages)
    assert np.all(np.abs(stages[-1]["spearman"]) <= 1)
    assert all(s["spearman_signed"].shape == (6,) for s in stages)


def test_deletion_beats_random_when_the_map_is_right():
    torch.manual_seed(0)
    model = Window().eval()
    x = np.random.default_rng(0).random((8, 100)).astype(np.float32) + 0.5

    def probability(batch):
        with torch.no_grad():
            return torch.softmax(model(torch.as_tensor(batch)), 1)[:, 1].numpy()

    truth = attribute(model, torch.as_tensor(x), 1, "integrated-gradients")
    base = ev.baseline_signal(x, "zero")
    d, i = ev.deletion_insertion(probability, x, truth, base)
    rd, ri = ev.deletion_insertion(probability, x, ev.random_map(x.shape, 0), base)
    assert d.shape == (8, len(ev.FRACTIONS))
    assert np.allclose(d[:, 0], probability(x)) and np.allclose(i[:, -1], probability(x))
    assert (ev.curve_auc(d) < ev.curve_auc(rd)).all()
    assert (ev.curve_auc(i) > ev.curve_auc(ri)).all()


def test_road_imputes_removed_samples_linearly_with_a_little_seeded_noise():
    x = np.tile(np.arange(10, dtype=np.float32), (2, 3, 1))  # (n, leads, L) ramps
    x[1] *= 0.0
    keep = np.ones_like(x, dtype=bool)
    keep[..., 3:7] = False
    keep[..., 0] = False
    out = ev.road_impute(x, keep, seed=1)
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.array_equal(out[keep], x[keep])  # kept samples untouched
    noise = x.std(axis=-1).max() * ev.ROAD_NOISE
    assert np.abs(out[0, :, 3:7] - x[0, :, 3:7]).max() < 5 * noise  # the ramp, plus noise
    assert np.abs(out[0, :, 0] - 1.0).max() < 5 * noise  # past the end: the nearest kept
    assert np.array_equal(out, ev.road_impute(x, keep, seed=1))  # seeded
    assert not ev.road_impute(x, np.zeros_like(keep)).any()  # nothing kept: zero
    assert ev.baseline_signal(x, "road") == "road"


def test_road_removal_leaves_a_smooth_signal_unchanged_where_zero_removal_does_not():
    """On a smooth signal a model that reacts to any step sees ROAD removals hardly at all,
    whatever the map; zero removal makes steps it reacts to (what ROAD guards against)."""
    x = np.tile(np.linspace(1.0, 2.0, 100, dtype=np.float32), (4, 1))

    def smooth(batch):  # probability of "smooth": falls with the largest step
        steps = np.abs(np.diff(batch, axis=1)).max(axis=1)
        return np.exp(-10.0 * steps)

    edge = ev.edge_map(x) + ev.random_map(x.shape, 3)
    road_d, road_i = ev.deletion_insertion(smooth, x, edge, "road")
    zero_d, _ = ev.deletion_insertion(smooth, x, edge, ev.baseline_signal(x, "zero"))
    assert np.ptp(road_d[:, 1:-1]) < 0.35 and zero_d[:, 1:-1].max() < 0.01
    with pytest.raises(ValueError, match="unknown baseline"):
        ev.deletion_insertion(smooth, x, edge, "noise")


def test_road_deletion_still_beats_random_when_the_map_is_right():
    """A bump the model reads (samples 40..59) cannot be imputed from its neighbours: the map
    that ranks it first removes the evidence, a random map mostly does not."""
    model = Window().eval()
    rng = np.random.default_rng(0)
    x = np.full((8, 100), 0.2, dtype=np.float32)
    x[:, 40:60] += rng.uniform(0.8, 1.2, (8, 1)).astype(np.float32)

    def probability(batch):
        with torch.no_grad():
            return torch.softmax(model(torch.as_tensor(batch)), 1)[:, 1].numpy()

    truth = np.zeros_like(x)
    truth[:, 40:60] = 1.0 + rng.random((8, 20))  # the window the model reads
    d, i = ev.deletion_insertion(probability, x, truth, "road", seed=0)
    rd, ri = ev.deletion_insertion(probability, x, ev.random_map(x.shape, 0), "road", seed=0)
    assert (ev.curve_auc(d) < ev.curve_auc(rd)).all()
    assert (ev.curve_auc(i) > ev.curve_auc(ri)).all()


def test_baselines_and_edge_map():
    x = np.tile(np.r_[np.zeros(50), np.ones(50)], (2, 1)).astype(np.float32)
    assert not ev.baseline_signal(x, "zero").any()
    blur = ev.baseline_signal(x, "blur")
    assert blur.shape == x.shape and 0 < blur[0, 50] < 1
    edge = ev.edge_map(x)
    assert edge[0].argmax() in (49, 50) and edge[0, :40].max() == 0
    with pytest.raises(ValueError, match="unknown baseline"):
        ev.baseline_signal(x, "noise")


def test_time_maps_are_shared_by_every_lead():
    x = np.random.default_rng(0).random((2, 12, 50)).astype(np.float32)
    scores = np.tile(np.arange(50.0), (2, 1))  # over time only

    def first_lead_tail(batch):  # probability = mean of lead 0's last 10 samples
        return batch[:, 0, -10:].mean(axis=1)

    d, _ = ev.deletion_insertion(first_lead_tail, x, scores, np.zeros_like(x), np.r_[0, 0.2])
    assert np.allclose(d[:, 1], 0)  # the top 20% = the last 10 samples of every lead


def test_window_shares():
    masks = ev.window_masks(126, 180.0, 45, ev.BEAT_WINDOWS_MS)
    assert masks["QRS"][45] and not masks["QRS"][0] and masks["P"][5]
    relevance = np.zeros((2, 126))
    relevance[0, 45] = 1.0
    shares = ev.window_shares(relevance, masks)
    assert shares["QRS"][0] == 1.0 and shares["P"][0] == 0.0 and np.isnan(shares["QRS"][1])


def test_max_sensitivity_is_small_for_a_linear_model():
    torch.manual_seed(0)
    model = Window().eval()
    x = torch.rand(4, 100) + 0.5

    def explain(xs, target):
        xs = xs if isinstance(xs, tuple) else (xs,)
        return (torch.as_tensor(attribute(model, xs, target.numpy(), "saliency")),)

    sens = ev.max_sensitivity(explain, (x,), n_perturb=3, target=torch.ones(4, dtype=torch.long))
    assert sens.shape == (4,) and np.all(sens >= 0) and np.all(sens < 1e-4)  # constant gradient


def test_patch_scores_rank_whole_patches():
    maps = np.zeros((1, 4, 6), dtype=np.float32)
    maps[0, 0, 0] = 4.0  # one hot pixel: its 2 x 2 patch gets the mean
    out = ev.patch_scores(maps, 2)
    assert np.allclose(out[0, :2, :2], 1.0) and not out[0, 2:].any() and not out[0, :, 2:].any()
    order = np.argsort(-out.reshape(1, -1), axis=1, kind="stable")[0, :4]
    assert set(order) == {0, 1, 6, 7}  # the four pixels of the patch come first
    edge = ev.patch_scores(np.ones((1, 5, 5), dtype=np.float32), 2)  # smaller edge patches
    assert np.allclose(edge, 1.0)


def test_segment_scores_rank_whole_segments():
    maps = np.zeros((2, 3, 10), dtype=np.float32)  # (examples, leads, samples)
    maps[0, 1, 4] = 3.0  # one hot sample: its segment of 3 (samples 3-5) gets the mean
    out = ev.segment_scores(maps, 3)
    assert np.allclose(out[0, 1, 3:6], 1.0) and out[0, 1, :3].sum() == 0 and not out[1].any()
    last = ev.segment_scores(np.arange(10, dtype=np.float32)[None], 4)  # shorter last segment
    assert np.allclose(last[0, 8:], 8.5) and np.allclose(last[0, :4], 1.5)
    assert ev.segment_scores(maps, 1) is not None and np.array_equal(
        ev.segment_scores(maps, 1), maps
    )
