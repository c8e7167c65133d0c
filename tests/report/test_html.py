"""ecglens.report: one self-contained, escaped HTML file."""

from __future__ import annotations

import base64
import re

import numpy as np
from matplotlib.figure import Figure

import ecglens
from ecglens.evaluate.metrics import classification_metrics
from ecglens.report import ReportSection, format_value, metrics_table, render_report, write_report


def _small_figure() -> Figure:
    fig = Figure(figsize=(2, 1.5))
    fig.add_subplot().plot([0, 1], [0, 1])
    return fig


def _metrics() -> dict:
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 0, 2, 2, 0])
    return classification_metrics(y_true, y_pred, ["N", "S", "V", "F"])


def test_report_is_self_contained_with_embedded_png():
    fig = _small_figure()
    section = ReportSection("Figures", figures=[("A line", fig)])
    page = render_report("Report", [section], {"model": "beat-cnn", "seed": 0})
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page
    assert 'src="/' not in page and "<script" not in page and "<link" not in page
    match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert match is not None
    assert base64.b64decode(match.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<figcaption>A line</figcaption>" in page
    assert not fig.axes  # closed (cleared) once embedded
    assert "beat-cnn" in page and ecglens.__version__ in page


def test_titles_text_tables_and_metadata_are_escaped():
    rows = [{"name": "<b>bold</b>", "value": 1234567, "ratio": 0.91234, "note": None}]
    section = ReportSection(
        "<script>alert(1)</script>", text="a < b & c", tables=[("T <caption>", rows)]
    )
    page = render_report("Title <i>x</i>", [section], {"data": "<img src=x>"})
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>Title &lt;i&gt;x&lt;/i&gt;</title>" in page
    assert "a &lt; b &amp; c" in page
    assert "<caption>T &lt;caption&gt;</caption>" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "&lt;img src=x&gt;" in page and "<img src=x>" not in page
    assert '<td class="num">1,234,567</td>' in page
    assert '<td class="num">0.912</td>' in page
    assert "<td>\u2013</td>" in page


def test_optimistic_split_is_flagged():
    page = render_report("R", [], {"split": "intra-patient (optimistic)"})
    assert 'class="warning"' in page and 'class="warn"' in page
    assert 'class="warning"' not in render_report("R", [], {"split": "inter-patient (DS1/DS2)"})


def test_metrics_table_rows():
    metrics = _metrics()
    rows = metrics_table(metrics)
    assert [r["class"] for r in rows[:4]] == ["N", "S", "V", "F"]
    n = rows[0]
    assert n["Se (recall)"] == metrics["per_class"]["N"]["recall"]
    assert n["+P (precision)"] == metrics["per_class"]["N"]["precision"]
    assert n["support"] == 3
    f = rows[3]
    assert f["Se (recall)"] is None and f["+P (precision)"] is None  # undefined, shown as -
    macro = rows[-1]
    assert macro["class"].startswith("macro average")
    assert macro["F1"] == metrics["macro_f1"]
    assert macro["support"] == 8
    assert len(metrics_table(metrics, include_macro=False)) == 4


def test_format_value():
    assert format_value(None) == "\u2013"
    assert format_value(float("nan")) == "\u2013"
    assert format_value(True) == "yes"
    assert format_value(np.int64(12345)) == "12,345"
    assert format_value(0.0) == "0.000"
    assert format_value(1.0) == "1.000"
    assert format_value(95.25) == "95.25"
    assert format_value(1e-4) == "1.00e-04"
    assert format_value("x") == "x"


def test_write_report_is_atomic(tmp_path):
    section = ReportSection("Metrics", tables=[("Per class", metrics_table(_metrics()))])
    out = write_report(tmp_path / "out" / "report.html", "Evaluation", [section])
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]
