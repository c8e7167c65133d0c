"""One self-contained HTML report: inline CSS, figures as base64 PNG, no external resources."""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ecglens import __version__
from ecglens._atomic import atomic_write_text
from ecglens.plot.style import close_figure, figure_to_base64_png

MISSING = "\u2013"
FIGURE_DPI = 110

CSS = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee5; --zebra: #f5f7fa;
        --head: #e9eef4; --accent: #2f5d8a; --warn-bg: #fff4e0; --warn-line: #e6a23c; }
* { box-sizing: border-box; }
body { margin: 0; background: #eef1f5; color: var(--ink);
       font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 24px auto; padding: 28px 36px; background: #fff;
       border: 1px solid var(--line); border-radius: 6px; }
h1 { font-size: 1.7em; margin: 0 0 4px; color: var(--accent); }
h2 { font-size: 1.25em; margin: 32px 0 12px; padding-bottom: 4px;
     border-bottom: 2px solid var(--head); }
.subtitle { color: var(--muted); margin: 0 0 20px; }
.warning { background: var(--warn-bg); border-left: 5px solid var(--warn-line);
           padding: 10px 14px; margin: 14px 0; border-radius: 3px; }
table { border-collapse: collapse; margin: 8px 0 20px; font-size: 0.93em; min-width: 40%; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 4px 0 6px; }
th, td { padding: 6px 12px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
th { background: var(--head); font-weight: 600; }
tbody tr:nth-child(even) { background: var(--zebra); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.meta th { width: 180px; background: transparent; color: var(--muted); font-weight: 500; }
table.meta tbody tr:nth-child(even) { background: transparent; }
tr.warn td, tr.warn th { background: var(--warn-bg); color: #8a4b00; font-weight: 600; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
       font-size: 0.9em; background: var(--zebra); padding: 1px 4px; border-radius: 3px;
       word-break: break-all; }
.table-wrap { overflow-x: auto; }
figure { margin: 12px 0 24px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 0.92em; margin-top: 6px; }
nav.toc ol { margin: 4px 0 0; padding-left: 22px; }
nav.toc a { color: var(--accent); text-decoration: none; }
footer { margin-top: 36px; padding-top: 10px; border-top: 1px solid var(--line);
         color: var(--muted); font-size: 0.85em; }
@media print { body { background: #fff; } main { border: none; margin: 0; max-width: none; }
               section, figure, table { break-inside: avoid; } }
"""

META_LABELS = {
    "model": "Model",
    "data": "Data",
    "split": "Split",
    "seed": "Seed",
    "command": "Command",
    "ecglens_version": "ecglens version",
    "timestamp": "Generated",
}


@dataclass
class ReportSection:
    """One titled section of a report.

    ``text`` is plain text (escaped; blank lines separate paragraphs). ``html`` is
    trusted markup inserted as is: it must not reference external resources.
    ``tables`` are ``(caption, rows)`` with rows as dicts (columns: union of keys in
    first-seen order); ``figures`` are ``(caption, Figure)`` embedded as PNG and then
    closed. Order in the page: text, html, tables, figures.
    """

    title: str
    html: str = ""
    figures: list[tuple[str, Figure]] = field(default_factory=list)
    tables: list[tuple[str, list[dict]]] = field(default_factory=list)
    text: str = ""


def format_value(value: Any) -> str:
    """Cell text (not escaped): ints with thousands separators, floats with 3 decimals below 10."""
    if value is None:
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return MISSING
        if math.isinf(v):
            return "\u221e" if v > 0 else "-\u221e"
        magnitude = abs(v)
        if magnitude >= 1000:
            return f"{v:,.1f}"
        if magnitude >= 10:
            return f"{v:.2f}"
        if magnitude >= 1e-3 or v == 0:
            return f"{v:.3f}"
        return f"{v:.2e}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _paragraphs(text: str) -> str:
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    return "".join(f"<p>{html.escape(b).replace(chr(10), '<br>')}</p>\n" for b in blocks)


def render_table(caption: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """An HTML table with an escaped caption, header and cells; numbers right-aligned."""
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    if not rows:
        empty = "<tbody><tr><td>No rows.</td></tr></tbody>"
        return f'<div class="table-wrap"><table>{cap}{empty}</table></div>\n'
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(str(k) for k in row))
    numeric = {
        c: all(_is_number(r.get(c)) or r.get(c) is None for r in rows)
        and any(_is_number(r.get(c)) for r in rows)
        for c in columns
    }
    align = {c: ' class="num"' if numeric[c] else "" for c in columns}
    head = "".join(f'<th{align[c]} scope="col">{html.escape(c)}</th>' for c in columns)
    body = []
    for row in rows:
        cells = {str(k): v for k, v in row.items()}
        tds = "".join(
            f"<td{align[c]}>{html.escape(format_value(cells.get(c)))}</td>" for c in columns
        )
        body.append(f"<tr>{tds}</tr>")
    return (
        f'<div class="table-wrap"><table>{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>\n"
    )


def render_figure(caption: str, fig: Figure, dpi: int = FIGURE_DPI) -> str:
    """A ``<figure>`` with the figure inlined as a base64 PNG; the figure is then closed."""
    try:
        data = figure_to_base64_png(fig, dpi=dpi)
    finally:
        close_figure(fig)
    alt = html.escape(caption or "figure")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">{cap}</figure>\n'


def metrics_table(metrics: Mapping[str, Any], include_macro: bool = True) -> list[dict]:
    """Rows (class, Se (recall), +P (precision), F1, support) from ``classification_metrics``.

    Se is left empty (None) for a class with no reference beats and +P for a class
    never predicted (from the confusion matrix, when present), since both are
    undefined there. With ``include_macro`` a last row averages the classes in
    ``macro_f1_classes`` (default: those with support), with F1 = ``macro_f1``.
    """
    classes = [str(c) for c in metrics.get("classes", metrics["per_class"].keys())]
    per_class = {str(k): v for k, v in metrics["per_class"].items()}
    cm = metrics.get("confusion_matrix")
    predicted = [sum(col) for col in zip(*cm, strict=True)] if cm else None
    rows = []
    for i, c in enumerate(classes):
        stats = per_class[c]
        support = int(stats["support"])
        never_predicted = predicted is not None and predicted[i] == 0
        rows.append(
            {
                "class": c,
                "Se (recall)": float(stats["recall"]) if support else None,
                "+P (precision)": None if never_predicted else float(stats["precision"]),
                "F1": float(stats["f1"]),
                "support": support,
            }
        )
    if include_macro:
        scored = metrics.get("macro_f1_classes")
        if scored is None:
            scored = [c for c in classes if int(per_class[c]["support"]) > 0]
        scored = [str(c) for c in scored]
        if scored:
            rows.append(
                {
                    "class": f"macro average ({', '.join(scored)})",
                    "Se (recall)": sum(float(per_class[c]["recall"]) for c in scored) / len(scored),
                    "+P (precision)": sum(float(per_class[c]["precision"]) for c in scored)
                    / len(scored),
                    "F1": float(metrics.get("macro_f1", math.nan)),
                    "support": sum(int(per_class[c]["support"]) for c in scored),
                }
            )
    return rows


def _is_optimistic(key: str, value: Any) -> bool:
    return "split" in key.lower() and "optimistic" in str(value).lower()


def _meta_value(key: str, value: Any) -> str:
    if key == "command":
        return f"<code>{html.escape(str(value))}</code>"
    if isinstance(value, Mapping):
        text = ", ".join(f"{k}={format_value(v)}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        text = ", ".join(format_value(v) for v in value)
    else:
        text = format_value(value)
    return html.escape(text)


def _with_defaults(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    meta = dict(metadata or {})
    meta.setdefault("ecglens_version", __version__)
    meta.setdefault("timestamp", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    return meta


def _render_metadata(meta: Mapping[str, Any]) -> tuple[str, str]:
    rows, warnings = [], []
    for key, value in meta.items():
        label = META_LABELS.get(str(key), str(key).replace("_", " ").capitalize())
        warn = _is_optimistic(str(key), value)
        prefix = "\u26a0 " if warn else ""
        row_class = ' class="warn"' if warn else ""
        rows.append(
            f'<tr{row_class}><th scope="row">{html.escape(label)}</th>'
            f"<td>{prefix}{_meta_value(str(key), value)}</td></tr>"
        )
        if warn:
            warnings.append(
                f'<div class="warning" role="alert"><strong>\u26a0 Optimistic evaluation:</strong> '
                f"the {html.escape(label.lower())} is labelled "
                f"&ldquo;{html.escape(str(value))}&rdquo;. Scores are likely higher than on "
                "unseen patients and should not be quoted as generalisation performance.</div>"
            )
    table = (
        '<section class="metadata"><h2>Run details</h2><div class="table-wrap">'
        f'<table class="meta"><tbody>{"".join(rows)}</tbody></table></div></section>\n'
    )
    return table, "".join(warnings)


def _render_section(index: int, section: ReportSection) -> str:
    parts = [f'<section id="section-{index}">\n<h2>{html.escape(section.title)}</h2>\n']
    if section.text:
        parts.append(_paragraphs(section.text))
    if section.html:
        parts.append(section.html + "\n")
    for caption, rows in section.tables:
        parts.append(render_table(caption, rows))
    for caption, fig in section.figures:
        parts.append(render_figure(caption, fig))
    parts.append("</section>\n")
    return "".join(parts)


def render_report(
    title: str, sections: Sequence[ReportSection], metadata: Mapping[str, Any] | None = None
) -> str:
    """The whole report as one HTML string with everything inline.

    ``metadata`` (model, data, split, seed, command, ...) is shown in a "Run details"
    block; the ecglens version and a UTC timestamp are added unless given. A split
    whose value mentions "optimistic" is highlighted with a warning. Figures in the
    sections are closed once embedded.
    """
    meta = _with_defaults(metadata)
    meta_html, warnings = _render_metadata(meta)
    toc = ""
    if len(sections) > 1:
        items = "".join(
            f'<li><a href="#section-{i}">{html.escape(s.title)}</a></li>'
            for i, s in enumerate(sections, start=1)
        )
        toc = f'<nav class="toc"><h2>Contents</h2><ol>{items}</ol></nav>\n'
    body = "".join(_render_section(i, s) for i, s in enumerate(sections, start=1))
    escaped_title = html.escape(title)
    subtitle = html.escape(f"Generated by ecglens {meta['ecglens_version']}, {meta['timestamp']}")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escaped_title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f'<header><h1>{escaped_title}</h1><p class="subtitle">{subtitle}</p></header>\n'
        f"{warnings}{meta_html}{toc}{body}"
        "<footer>Research software, not a medical device: every prediction and explanation "
        "must be reviewed by a qualified clinician.</footer>\n"
        "</main>\n</body>\n</html>\n"
    )


def write_report(
    path: str | Path,
    title: str,
    sections: Sequence[ReportSection],
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Render the report and write it atomically (UTF-8) to ``path``; returns the path."""
    return atomic_write_text(path, render_report(title, sections, metadata))


def add_history_and_card(
    section: ReportSection, history: Sequence[Mapping[str, Any]] | None, card: str
) -> None:
    """Append a model's training curves and its card (folded) to ``section``."""
    from ecglens.plot.metrics import plot_training_curves

    if history:
        section.figures.append(("Training curves", plot_training_curves(history)))
    if card:
        section.html += (
            f"<details><summary>Model card</summary><pre>{html.escape(card)}</pre></details>"
        )
