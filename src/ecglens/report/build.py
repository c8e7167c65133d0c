"""One HTML report from predictions already made: the model, its measured explainers, extra
evaluations, then a section per record (or the record's one-line error)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from ecglens.errors import EcgLensError
from ecglens.models.registry import LoadedModel
from ecglens.report.explanations import explanations_section
from ecglens.report.html import ReportSection, write_report
from ecglens.report.summary import summary_sections


@dataclass(frozen=True)
class Failed:
    """An input that could not be classified: its name and one-line error."""

    name: str
    error: str


class ReportKind(Protocol):
    """The sections one task's report is made of (a module of ``ecglens.report``)."""

    TITLE: str

    def model_section(self, loaded: LoadedModel) -> ReportSection: ...

    def evaluation_section(self, metrics: dict[str, Any]) -> ReportSection: ...

    def record_section(
        self, prediction: Any, loaded: LoadedModel, device: str | torch.device
    ) -> ReportSection: ...

    def report_metadata(self, loaded: LoadedModel) -> dict[str, Any]: ...


def build_report(
    predictions: Sequence[Any],
    loaded: LoadedModel,
    out: str | Path,
    kind: ReportKind,
    device: str | torch.device = "cpu",
    record_section: Callable[[Any, LoadedModel, Any], ReportSection] | None = None,
    metrics: Sequence[dict[str, Any]] = (),
    progress: bool = True,
    command: str = "",
    errors: list[str] | None = None,
) -> Path:
    """Write one self-contained HTML report of ``predictions`` (the task's prediction objects,
    or :class:`Failed`) made with ``loaded``: the model's sections from ``kind``, then
    ``metrics`` (evaluations), then one section per prediction from ``record_section``
    (default: ``kind.record_section``); the recording summaries of the predictions that
    carry one come first (:mod:`ecglens.report.summary`).

    A record whose section fails with an :class:`EcgLensError` gets a section holding its
    one-line error, appended to ``errors``; without ``errors`` the error is raised."""
    from ecglens.progress import track

    sections = summary_sections(list(predictions))  # what a reader of the records wants first
    sections.append(kind.model_section(loaded))
    sections += [s for s in [explanations_section(loaded.name)] if s is not None]
    sections += [kind.evaluation_section(m) for m in metrics]
    for item in track(list(predictions), "Report: records", enabled=progress):
        try:
            if isinstance(item, Failed):
                raise EcgLensError(item.error)
            sections.append((record_section or kind.record_section)(item, loaded, device))
        except EcgLensError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
            name = item.name if isinstance(item, Failed) else getattr(item, "record", "")
            sections.append(ReportSection(title=f"Record {name}: not read", text=f"error: {exc}"))
    metadata = {**kind.report_metadata(loaded), "command": command}
    return write_report(out, f"{kind.TITLE}: {loaded.name}", sections, metadata)
