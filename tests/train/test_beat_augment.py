"""Recorder augmentation of MIT-BIH window beats: seeded, the other inputs untouched, and it
changes what other recorders change."""

import torch

from ecglens.train.beat_augment import GAIN, recorder_augment
from ecglens.train.mitdb import MitdbRunConfig, augment_of


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return torch.randn(64, 126), torch.randn(64, 32)


def test_seeded_and_only_the_waveform_changes():
    x, rr = _batch()
    a, a_rr = recorder_augment((x, rr), torch.Generator().manual_seed(3))
    b, _ = recorder_augment((x, rr), torch.Generator().manual_seed(3))
    c, _ = recorder_augment((x, rr), torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a_rr is rr
    three_d, _ = recorder_augment((x[:, None], rr), torch.Generator().manual_seed(3))
    assert three_d.shape == (64, 1, 126)


def test_low_pass_gain_and_noise_stay_in_their_ranges():
    spikes = torch.zeros(64, 126)
    spikes[:, 63] = 1.0  # an impulse: blurring spreads it, gain scales it
    out, _ = recorder_augment((spikes, torch.zeros(64, 1)), torch.Generator().manual_seed(0))
    peak = out[:, 63]
    assert (peak < 1.0 * GAIN[1] + 0.2).all() and (peak > 0.05).all()
    blurred = (out[:, 62] > 0.1).float().mean()
    assert 0.2 < blurred < 0.8  # about half the beats are low-passed


def test_the_run_option_chooses_it():
    assert augment_of(MitdbRunConfig()) is None
    assert augment_of(MitdbRunConfig(augment="recorder")) is recorder_augment
