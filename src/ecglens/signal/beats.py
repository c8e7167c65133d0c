"""Beat segmentation and RR-interval features.

Two representations of the beats of one lead:

* :func:`kachuee_beats`: Kachuee et al. 2018 (the format of the public Kaggle
  heartbeat CSVs): the signal at 125 Hz, each beat from its R peak for 1.2 times
  the median RR interval of its 10-s window, amplitude scaled to [0, 1] over that
  window, zero padded to 187 samples.
* :func:`window_beats`: a fixed window around each R peak at the signal's own
  rate, with :func:`rr_features` beside it.
"""

from __future__ import annotations

import numpy as np

KACHUEE_FS = 125.0
KACHUEE_LENGTH = 187
KACHUEE_WINDOW_S = 10.0


def kachuee_beats(signal: np.ndarray, peaks: np.ndarray, fs: float = KACHUEE_FS) -> np.ndarray:
    """Beats in the Kachuee format: (n_beats, 187) float32 in [0, 1].

    ``signal`` is one lead at ``fs`` (use 125 Hz; resample first), ``peaks`` the
    R-peak indices at that rate. Each beat starts at its R peak and lasts 1.2 x the
    median RR interval of its 10-s window (capped at 187 samples); the rest is zero.
    """
    signal = np.asarray(signal, dtype=np.float64)
    peaks = np.asarray(peaks, dtype=np.int64)
    n = len(peaks)
    out = np.zeros((n, KACHUEE_LENGTH), dtype=np.float32)
    if n == 0:
        return out
    window = int(round(KACHUEE_WINDOW_S * fs))
    n_windows = int(np.ceil(len(signal) / window))
    padded = np.pad(signal, (0, n_windows * window - len(signal)), mode="edge")
    blocks = padded.reshape(n_windows, window)
    low, high = blocks.min(axis=1), blocks.max(axis=1)
    span = np.where(high - low > 0, high - low, 1.0)
    beat_window = np.clip(peaks // window, 0, n_windows - 1)

    rr = np.diff(peaks)
    median_rr = np.empty(n_windows)
    fallback = np.median(rr) if len(rr) else fs
    rr_window = beat_window[1:] if len(rr) else np.array([], dtype=np.int64)
    for w in range(n_windows):
        in_window = rr[rr_window == w]
        median_rr[w] = np.median(in_window) if len(in_window) else fallback
    lengths = np.minimum(np.round(1.2 * median_rr[beat_window]).astype(np.int64), KACHUEE_LENGTH)

    offsets = np.arange(KACHUEE_LENGTH)
    index = peaks[:, None] + offsets[None, :]
    valid = (offsets[None, :] < lengths[:, None]) & (index < len(signal))
    values = signal[np.clip(index, 0, len(signal) - 1)]
    scaled = (values - low[beat_window, None]) / span[beat_window, None]
    out[valid] = np.clip(scaled[valid], 0.0, 1.0)
    return out


def window_beats(
    signal: np.ndarray, peaks: np.ndarray, fs: float, before_s: float = 0.25, after_s: float = 0.45
) -> np.ndarray:
    """Fixed windows around R peaks: (n_beats, round(before_s*fs) + round(after_s*fs)) float32.

    Samples outside the record repeat the edge value. Each beat has its median
    subtracted so baseline offsets do not leak into the features.
    """
    signal = np.asarray(signal, dtype=np.float64)
    peaks = np.asarray(peaks, dtype=np.int64)
    before, after = int(round(before_s * fs)), int(round(after_s * fs))
    offsets = np.arange(-before, after)
    index = np.clip(peaks[:, None] + offsets[None, :], 0, len(signal) - 1)
    beats = signal[index]
    beats -= np.median(beats, axis=1, keepdims=True)
    return beats.astype(np.float32)


RR_FEATURE_NAMES = (
    "pre_rr_s",
    "post_rr_s",
    "local_rr_s",
    "pre_ratio_local",
    "post_ratio_local",
    "pre_ratio_record",
    "post_ratio_record",
    # rhythm ratios: robust to pauses and to runs of premature beats
    "pre_ratio_record_median",
    "post_ratio_record_median",
    "pre_ratio_neighbours",
    "post_ratio_neighbours",
    "post_over_pre",
    "pre_over_previous_pre",
)
RR_RATIO_COLUMNS = slice(3, 7)  # the four ratios to the local and record mean
RR_RHYTHM_COLUMNS = slice(7, 13)  # the six rhythm ratios


def rr_features(peaks: np.ndarray, fs: float, local_beats: int = 10) -> np.ndarray:
    """RR-interval features per beat: (n_beats, 13) float32.

    Columns (see :data:`RR_FEATURE_NAMES`): pre-RR and post-RR (s), local mean RR
    over the ``local_beats`` preceding intervals (s), pre/post-RR divided by the local
    mean and by the record's mean RR, then the rhythm ratios: pre/post-RR over the
    record's median RR, over the median of the ``local_beats`` pre-RR intervals on each
    side of the beat (the beat's own excluded), post-RR over pre-RR (compensatory
    pause) and pre-RR over the previous beat's pre-RR. Ratios are per record, so a
    patient's own heart rate does not leak into the model. The first beat's pre-RR and
    the last beat's post-RR copy their neighbour.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    n = len(peaks)
    if n < 2:
        return np.ones((n, len(RR_FEATURE_NAMES)), dtype=np.float32)
    rr = np.diff(peaks) / fs
    pre = np.concatenate([[rr[0]], rr])
    post = np.concatenate([rr, [rr[-1]]])
    cumulative = np.concatenate([[0.0], np.cumsum(pre)])
    idx = np.arange(n)
    start = np.maximum(idx - local_beats + 1, 0)
    local = (cumulative[idx + 1] - cumulative[start]) / (idx + 1 - start)
    record_mean = float(np.mean(rr))
    record_median = float(np.median(rr))
    neighbours = _neighbour_median(pre, local_beats)
    previous_pre = np.concatenate([[pre[0]], pre[:-1]])
    feats = np.stack(
        [
            pre, post, local, pre / local, post / local, pre / record_mean, post / record_mean,
            pre / record_median, post / record_median, pre / neighbours, post / neighbours,
            post / pre, pre / previous_pre,
        ],
        axis=1,
    )  # fmt: skip
    return feats.astype(np.float32)


def _neighbour_median(values: np.ndarray, k: int) -> np.ndarray:
    """Median of the ``k`` values on each side of every element, the element excluded."""
    if len(values) < 2:
        return values.astype(float)
    padded = np.concatenate([np.full(k, np.nan), values, np.full(k, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1)
    windows = np.delete(windows, k, axis=1)
    return np.nanmedian(windows, axis=1)


def beat_context(beats: np.ndarray, k: int) -> np.ndarray:
    """Each beat with its neighbours: (n, L) -> (n, k, L), beat i at position k // 2.

    Beats at the record's edges repeat the first or last beat in place of the
    missing neighbours.
    """
    n = len(beats)
    offsets = np.arange(k) - k // 2
    index = np.clip(np.arange(n)[:, None] + offsets[None, :], 0, max(n - 1, 0))
    return beats[index]
