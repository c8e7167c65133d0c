"""The recording summary as the first section of a report, one per record: heart rate, HRV,
AF burden, episodes, median-beat intervals and beats per class
(:mod:`ecglens.predict.summary`)."""

from __future__ import annotations

from typing import Any

from ecglens.report.console import summary_lines
from ecglens.report.html import ReportSection

MAX_EPISODES = 200  # rows of the episode table (the JSON has them all)


def summary_section(record: str, summary: dict[str, Any] | None) -> ReportSection | None:
    """A section ``Summary of <record>``; None without a summary."""
    if summary and "heart_rate" not in summary:  # a long record's totals hold the summary
        summary = summary.get("summary")
    if not summary:
        return None
    section = ReportSection(title=f"Summary of {record}")
    section.tables.append(
        (
            "Recording summary",
            [{"": what, "value": value} for what, value in summary_lines(summary)],
        )
    )
    episodes = summary["episodes"]
    if episodes:
        rows = [
            {"type": e["type"], "start (s)": e["start_s"], "end (s)": e["end_s"],
             "duration (s)": round(e["end_s"] - e["start_s"], 1)}
            for e in episodes[:MAX_EPISODES]
        ]  # fmt: skip
        caption = "Episodes" + (
            f" (first {MAX_EPISODES} of {len(episodes)})" if len(episodes) > MAX_EPISODES else ""
        )
        section.tables.append((caption, rows))
    return section


def summary_sections(predictions: list[Any]) -> list[ReportSection]:
    """The summary sections of the predictions that carry one (``.summary``)."""
    out = []
    for p in predictions:
        found = summary_section(str(getattr(p, "record", "")), getattr(p, "summary", None))
        if found is not None:
            out.append(found)
    return out
