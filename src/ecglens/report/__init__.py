"""ecglens.report: self-contained HTML reports (inline CSS, figures as base64 PNG), and the
text tables of predictions (:mod:`ecglens.report.console`).

The HTML names below are imported on first use, so that printing a table does not load
matplotlib."""

from typing import Any

__all__ = [
    "ReportSection",
    "format_value",
    "metrics_table",
    "render_report",
    "render_table",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ecglens.report import html

        return getattr(html, name)
    raise AttributeError(f"module 'ecglens.report' has no attribute {name!r}")
