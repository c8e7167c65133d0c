"""How beats are cut from a record (:class:`BeatConfig`), apart from the code that cuts them
(:mod:`ecglens.inputs.beats`) so that a model config can hold one without loading SciPy."""

from __future__ import annotations

from dataclasses import dataclass

from ecglens.errors import EcgLensError


@dataclass(frozen=True)
class BeatConfig:
    """How beats are cut from a record.

    representation: "kachuee" (125 Hz, 187 samples from the R peak, [0, 1]) or
    "window" (``before_s``/``after_s`` around the R peak, resampled to ``window_fs`` Hz).
    lead: name or index; None = MLII when present, else the first signal.
    context: beats per example (odd): 1 = the beat alone, (n, L); K > 1 = the beat
    with its (K - 1) / 2 neighbours on each side, (n, K, L), the beat in the middle.
    normalize: for window beats, "record" divides every beat by the median peak-to-peak
    range of the record's beats, so a patient's overall amplitude does not leak in;
    "median-beat" also subtracts the record's median beat, so the model sees how each
    beat departs from that patient's typical (mostly normal) beat.
    record_features: also compute the per-record context features of
    :mod:`ecglens.inputs.rhythm` (rhythm, P wave, morphology clusters), appended to the RR
    features (the ``context`` RR option needs them).
    """

    representation: str = "kachuee"
    lead: str | int | None = None
    window_fs: float = 360.0
    before_s: float = 0.25
    after_s: float = 0.45
    context: int = 1
    normalize: str = "none"  # window beats: "record" divides by the record's median beat range
    record_features: bool = False  # append ecglens.inputs.rhythm's context features to rr

    def __post_init__(self) -> None:
        if self.representation not in {"kachuee", "window"}:
            raise EcgLensError(f"unknown beat representation {self.representation!r}")
        if self.normalize not in {"none", "record", "median-beat"}:
            raise EcgLensError(f"unknown beat normalisation {self.normalize!r}")
        if self.context < 1 or self.context % 2 == 0:
            raise EcgLensError(f"beat context must be an odd number >= 1, got {self.context}")

    @property
    def beat_fs(self) -> float:
        """Sampling rate (Hz) of the beat waveforms."""
        from ecglens.signal.beats import KACHUEE_FS  # here: ecglens.signal loads SciPy

        return KACHUEE_FS if self.representation == "kachuee" else self.window_fs

    @property
    def r_index(self) -> int:
        """Sample of the R peak within a beat."""
        return 0 if self.representation == "kachuee" else int(round(self.before_s * self.window_fs))

    @property
    def amplitude_label(self) -> str:
        if self.representation == "kachuee":
            return "Amplitude (scaled to [0, 1])"
        return {
            "record": "Amplitude (record-scaled)",
            "median-beat": "Beat minus median beat (scaled)",
        }.get(self.normalize, "Amplitude (mV)")

    @property
    def input_length(self) -> int:
        if self.representation == "kachuee":
            return 187
        return int(round(self.before_s * self.window_fs)) + int(
            round(self.after_s * self.window_fs)
        )
