"""12-lead preprocessing and augmentation on arrays ``(..., leads, T)`` or ``(T,)``.

Time is always the last axis. Baseline removal (polynomial detrend as in Augustauskas et al.
2025, or a zero-phase Butterworth high-pass), per-lead standard scaling with statistics that can
be stored in a model's JSON config, and random augmentations driven by a
``numpy.random.Generator``. Functions return new arrays in the input's float dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal as sps

from ecglens.errors import EcgLensError

_CHUNK = 4096  # series per block in polynomial_trend, bounds memory on whole datasets


def _float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def polynomial_trend(x: np.ndarray, degree: int = 10) -> np.ndarray:
    """Least-squares polynomial of ``degree`` fitted along the last axis of each series.

    The fit uses a Legendre basis on t in [-1, 1], so degree 10 stays well conditioned.
    """
    x = _float(x)
    n = x.shape[-1]
    if n <= degree:
        raise EcgLensError(f"cannot fit a degree-{degree} trend to {n} samples")
    basis = np.polynomial.legendre.legvander(np.linspace(-1.0, 1.0, n), degree)
    q, _ = np.linalg.qr(basis)  # orthonormal columns spanning the polynomials: trend = Q Q^T y
    rows = x.reshape(-1, n)
    trend = np.empty(rows.shape, dtype=x.dtype)
    for start in range(0, rows.shape[0], _CHUNK):
        block = rows[start : start + _CHUNK].astype(np.float64)
        trend[start : start + _CHUNK] = (block @ q) @ q.T
    return trend.reshape(x.shape)


def detrend_polynomial(x: np.ndarray, degree: int = 10) -> np.ndarray:
    """Subtract a degree-``degree`` polynomial trend per lead (the paper's baseline removal).

    Over a 10-s record degree 10 removes wander below about 0.5 Hz (degree / (2 * duration)).
    """
    x = _float(x)
    return x - polynomial_trend(x, degree)


def highpass_baseline(
    x: np.ndarray, fs: float, cutoff_hz: float = 0.5, order: int = 2
) -> np.ndarray:
    """Zero-phase Butterworth high-pass (``sosfiltfilt``) along the last axis; fs, cutoff in Hz.

    Edges are padded by odd extension over three cutoff periods; expect some distortion in the
    first and last second of a record.
    """
    x = _float(x)
    if not 0 < cutoff_hz < fs / 2:
        raise EcgLensError(f"cutoff {cutoff_hz:g} Hz must lie in (0, {fs / 2:g}) Hz")
    sos = sps.butter(order, cutoff_hz, btype="highpass", fs=fs, output="sos")
    padlen = min(x.shape[-1] - 1, int(round(3.0 * fs / cutoff_hz)))  # ~3 cutoff periods
    return sps.sosfiltfilt(sos, x, axis=-1, padlen=padlen).astype(x.dtype)


def scale_per_record(x: np.ndarray) -> np.ndarray:
    """Per record and lead: subtract the median, divide by the largest absolute value -> [-1, 1].

    The scaling of Augustauskas et al.'s reference code; flat leads become zeros.
    """
    x = _float(x)
    centred = x - np.median(x, axis=-1, keepdims=True)
    peak = np.max(np.abs(centred), axis=-1, keepdims=True)
    return np.divide(centred, peak, out=np.zeros_like(centred), where=peak > 0)


@dataclass
class LeadScaler:
    """Per-lead standard scaling: ``(x - mean) / std`` with statistics from training data.

    mean, std: (leads,) in the input's units (mV). Store them with :meth:`to_dict` in a model's
    JSON config and rebuild with :meth:`from_dict`.
    """

    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    eps: float = 1e-6

    def fit(self, x_train: np.ndarray) -> LeadScaler:
        """Per-lead statistics over all records and samples of ``x_train`` (n, leads, T)."""
        x = _float(x_train)
        if x.ndim == 1:
            x = x[None, :]
        axes = tuple(i for i in range(x.ndim) if i != x.ndim - 2)
        self.mean = np.mean(x, axis=axes, dtype=np.float64)
        self.std = np.maximum(np.std(x, axis=axes, dtype=np.float64), self.eps)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        if self.mean is None or self.std is None:
            raise EcgLensError("LeadScaler used before fit()")
        x = _float(x)
        if x.ndim == 1:
            return ((x - self.mean[0]) / self.std[0]).astype(x.dtype)
        if x.shape[-2] != self.mean.shape[0]:
            raise EcgLensError(f"scaler fitted on {self.mean.shape[0]} leads, got {x.shape[-2]}")
        return ((x - self.mean[:, None]) / self.std[:, None]).astype(x.dtype)

    def fit_transform(self, x_train: np.ndarray) -> np.ndarray:
        return self.fit(x_train).transform(x_train)

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        if self.mean is None or self.std is None:
            raise EcgLensError("LeadScaler used before fit()")
        x = _float(x)
        if x.ndim == 1:
            return (x * self.std[0] + self.mean[0]).astype(x.dtype)
        return (x * self.std[:, None] + self.mean[:, None]).astype(x.dtype)

    def to_dict(self) -> dict[str, Any]:
        if self.mean is None or self.std is None:
            raise EcgLensError("LeadScaler used before fit()")
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "eps": self.eps}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LeadScaler:
        return cls(
            mean=np.asarray(d["mean"], dtype=np.float64),
            std=np.asarray(d["std"], dtype=np.float64),
            eps=float(d.get("eps", 1e-6)),
        )


def _record_shape(x: np.ndarray) -> tuple[int, ...]:
    """Shape for per-record random parameters broadcasting against ``x`` (..., leads, T)/(T,)."""
    if x.ndim == 1:
        return (1,)
    return (*x.shape[:-2], 1, 1)


def augment_gaussian_noise(
    x: np.ndarray, rng: np.random.Generator, std: float = 0.03
) -> np.ndarray:
    """Add white Gaussian noise of standard deviation ``std`` (input units)."""
    x = _float(x)
    return (x + rng.normal(0.0, std, size=x.shape)).astype(x.dtype)


def augment_amplitude_scale(
    x: np.ndarray, rng: np.random.Generator, max_change: float = 0.2, per_lead: bool = False
) -> np.ndarray:
    """Multiply each record (or lead) by a gain drawn from U(1 - max_change, 1 + max_change)."""
    x = _float(x)
    shape = x.shape[:-1] + (1,) if per_lead else _record_shape(x)
    gain = rng.uniform(1.0 - max_change, 1.0 + max_change, size=shape)
    return (x * gain).astype(x.dtype)


def _shift(series: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(series)
    if k > 0:
        out[..., k:] = series[..., :-k]
    elif k < 0:
        out[..., :k] = series[..., -k:]
    else:
        out[...] = series
    return out


def augment_time_shift(
    x: np.ndarray, rng: np.random.Generator, max_fraction: float = 0.03
) -> np.ndarray:
    """Shift each record in time by up to ``max_fraction`` of its length; vacated samples are 0.

    All leads of a record move together (they are simultaneous).
    """
    x = _float(x)
    n = x.shape[-1]
    max_k = int(round(max_fraction * n))
    lead_block = x.reshape(-1, n) if x.ndim == 1 else x.reshape(-1, *x.shape[-2:])
    shifts = rng.integers(-max_k, max_k + 1, size=lead_block.shape[0])
    out = np.stack([_shift(rec, int(k)) for rec, k in zip(lead_block, shifts, strict=True)])
    return out.reshape(x.shape)


def augment_baseline_wander(
    x: np.ndarray,
    rng: np.random.Generator,
    fs: float,
    max_amplitude: float = 0.2,
    freq_range_hz: tuple[float, float] = (0.05, 0.5),
    n_components: int = 2,
) -> np.ndarray:
    """Add synthetic baseline wander: a sum of ``n_components`` low-frequency sinusoids.

    Frequencies (Hz) and phases are drawn per record and shared by its leads (respiration
    moves all electrodes); amplitudes are drawn per lead from U(0, max_amplitude) (input units).
    """
    x = _float(x)
    n = x.shape[-1]
    t = np.arange(n) / fs
    rec_shape = _record_shape(x)
    amp_shape = x.shape[:-1] + (1,)
    wander = np.zeros(x.shape, dtype=np.float64)
    for _ in range(n_components):
        freq = rng.uniform(*freq_range_hz, size=rec_shape)
        phase = rng.uniform(0.0, 2 * np.pi, size=rec_shape)
        amp = rng.uniform(0.0, max_amplitude, size=amp_shape) / n_components
        wander += amp * np.sin(2 * np.pi * freq * t + phase)
    return (x + wander).astype(x.dtype)


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities (per record) and strengths of the augmentations; amplitudes in input units."""

    fs: float = 100.0
    p_noise: float = 0.5
    noise_std: float = 0.03
    p_scale: float = 0.5
    max_scale_change: float = 0.2
    p_shift: float = 0.5
    max_shift_fraction: float = 0.03
    p_wander: float = 0.5
    wander_amplitude: float = 0.2
    wander_freq_hz: tuple[float, float] = (0.05, 0.5)


def augment_batch(x: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Apply time shift, amplitude scaling, baseline wander and noise, each to a random subset.

    x: (n, leads, T) (or any (..., leads, T) / (T,)); each augmentation hits each record with its
    probability in ``config``, independently.
    """
    x = _float(x)
    steps = (
        (config.p_shift, lambda v: augment_time_shift(v, rng, config.max_shift_fraction)),
        (config.p_scale, lambda v: augment_amplitude_scale(v, rng, config.max_scale_change)),
        (
            config.p_wander,
            lambda v: augment_baseline_wander(
                v, rng, config.fs, config.wander_amplitude, config.wander_freq_hz
            ),
        ),
        (config.p_noise, lambda v: augment_gaussian_noise(v, rng, config.noise_std)),
    )
    out = x
    for p, step in steps:
        if p <= 0:
            continue
        hit = rng.random(size=_record_shape(x)) < p
        if np.any(hit):
            out = np.where(hit, step(out), out).astype(x.dtype)
    return out
