"""ecglens.report: self-contained HTML reports (inline CSS, figures as base64 PNG)."""

from ecglens.report.html import (
    ReportSection,
    format_value,
    metrics_table,
    render_report,
    render_table,
    write_report,
)

__all__ = [
    "ReportSection",
    "format_value",
    "metrics_table",
    "render_report",
    "render_table",
    "write_report",
]
