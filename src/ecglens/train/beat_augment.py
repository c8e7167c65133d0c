"""Training-time changes to MIT-BIH window beats that other recorders make: ``recorder``.

MIT-BIH was recorded at 360 Hz with a wide band; a Holter at 128 Hz, a patch or a phone
passes less of the QRS's high frequencies, adds more noise and places its electrodes
elsewhere. Each training beat (the model's waveform input, (B, L): the record's median beat
subtracted, divided by the record's median beat range) is, independently and seeded by the
trainer's generator:

- low-passed with probability 0.5 by a Gaussian of sigma 0.3-1.5 samples (at 180 Hz, a -3 dB
  point from about 80 down to about 16 Hz, the band limits of 128-500 Hz recorders);
- scaled by 0.8-1.25 (electrode placement, gain);
- given white noise of sd 0-0.03 and a linear baseline tilt of +-0.05 across the window (in
  units of the record's median beat range).

The RR and context features (the other inputs) are left as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

P_LOWPASS = 0.5
SIGMA = (0.3, 1.5)  # samples
GAIN = (0.8, 1.25)
NOISE_SD = 0.03
TILT = 0.05
HALF_WIDTH = 5  # samples each side of the Gaussian kernel (> 3 sigma)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def recorder_augment(
    inputs: tuple[torch.Tensor, ...], generator: torch.Generator
) -> tuple[torch.Tensor, ...]:
    """The trainer's ``augment``: the first input (B, L) or (B, 1, L) changed as the module
    docstring says, the others returned unchanged."""
    x, *rest = inputs
    shape = x.shape
    beats = x.reshape(shape[0], -1).float()
    n, length = beats.shape
    offsets = torch.arange(-HALF_WIDTH, HALF_WIDTH + 1, dtype=torch.float32)
    sigma = _uniform(n, *SIGMA, generator)
    kernels = torch.exp(-0.5 * (offsets[None, :] / sigma[:, None]) ** 2)
    kernels = kernels / kernels.sum(1, keepdim=True)
    identity = (offsets == 0).float().expand(n, -1)
    blur = torch.rand(n, generator=generator) < P_LOWPASS
    kernels = torch.where(blur[:, None], kernels, identity)
    padded = F.pad(beats[None], (HALF_WIDTH, HALF_WIDTH), mode="replicate")
    out = F.conv1d(padded, kernels[:, None, :], groups=n)[0]
    out = out * _uniform(n, *GAIN, generator)[:, None]
    noise = (
        torch.randn(n, length, generator=generator) * _uniform(n, 0.0, NOISE_SD, generator)[:, None]
    )
    ramp = torch.linspace(-1.0, 1.0, length)[None, :] * _uniform(n, -TILT, TILT, generator)[:, None]
    out = out + noise + ramp
    return (out.reshape(shape).to(x.dtype), *rest)
