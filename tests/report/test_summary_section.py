import numpy as np

from ecglens.predict.summary import beat_summary
from ecglens.report.console import print_summary, summary_lines
from ecglens.report.summary import summary_section, summary_sections


def _summary():
    times = np.arange(0, 300, 0.8)
    labels = np.full(len(times), "N")
    labels[50:53] = "V"
    return beat_summary(times, labels, ["N", "S", "V"], 300.0, noise=[(100.0, 106.0)])


def test_summary_lines_name_rate_hrv_burden_episodes_and_counts():
    lines = dict(summary_lines(_summary()))
    assert "mean 75" in lines["heart rate"]
    assert lines["AF burden"].startswith("0.0%")
    assert "VT 1" in lines["episodes"] and "noise 1" in lines["episodes"]
    assert lines["beats per class"].startswith("N ")


def test_summary_section_and_the_printed_table(capsys):
    section = summary_section("r1", _summary())
    assert section.title == "Summary of r1"
    (caption, rows), (ep_caption, episodes) = section.tables
    assert caption == "Recording summary" and rows[0][""] == "heart rate"
    assert {e["type"] for e in episodes} == {"VT", "noise"}
    assert summary_section("r1", None) is None

    class Pred:
        record = "r2"
        summary = {"summary": _summary()}  # a long record's totals

    assert [s.title for s in summary_sections([Pred(), object()])] == ["Summary of r2"]
    print_summary(_summary(), "r1")
    assert "summary: r1" in capsys.readouterr().out
