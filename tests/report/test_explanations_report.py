"""ecglens.report.explanations: the per-model "Explanations" section of the HTML report."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ecglens.errors import EcgLensError
from ecglens.report import render_report
from ecglens.report.explanations import curve_auc, explanations_section

FRACTION = np.linspace(0.0, 1.0, 11).tolist()


def _summary() -> dict:
    def curve(deletion_rate: float) -> dict:
        f = np.asarray(FRACTION)
        return {
            "fraction": FRACTION,
            "deletion": np.exp(-deletion_rate * f).tolist(),
            "insertion": (1 - np.exp(-deletion_rate * f)).tolist(),
        }

    return {
        "recommended": "integrated-gradients",
        "why": "passes the randomisation check; lowest deletion AUC",
        "curves": {"integrated-gradients": curve(6.0), "saliency": curve(2.0),
                   "random": curve(0.5)},
    }


def test_curve_auc_is_the_trapezoid_area():
    assert curve_auc([0.0, 0.5, 1.0], [1.0, 1.0, 1.0]) == pytest.approx(1.0)
    assert curve_auc([0.0, 1.0], [1.0, 0.0]) == pytest.approx(0.5)


def test_section_names_the_winner_and_draws_the_curves():
    section = explanations_section("ecglens-mitdb-inter", _summary())
    assert section is not None and "Recommended explainer: Integrated Gradients" in section.text
    assert "lowest deletion AUC" in section.text
    (_, rows), = section.tables
    assert [r["explainer"] for r in rows] == ["Integrated Gradients", "Saliency", "random"]
    assert [r["recommended"] for r in rows] == [True, False, False]
    assert rows[0]["deletion AUC"] < rows[1]["deletion AUC"] < rows[2]["deletion AUC"]
    (_, fig), = section.figures
    deletion, insertion = fig.axes
    widths = {line.get_label(): line.get_linewidth() for line in deletion.get_lines()}
    assert widths["Integrated Gradients (recommended)"] > widths["Saliency"]
    assert "Deletion" in deletion.get_title(loc="left") and "Insertion" in insertion.get_title(
        loc="left"
    )
    page = render_report("R", [section])
    assert "Explanations: ecglens-mitdb-inter" in page
    assert re.search(r'<img alt="Deletion and insertion curves[^"]*" src="data:image/png;base64,',
                     page)


def test_no_section_without_measurements(monkeypatch):
    import ecglens.report.explanations as module

    monkeypatch.setattr(module, "explainer_summary_of", lambda name: None)
    assert explanations_section("unmeasured-model") is None


def test_malformed_curves_are_refused():
    summary = _summary()
    summary["curves"]["saliency"]["deletion"] = [1.0, 0.5]
    with pytest.raises(EcgLensError, match="saliency deletion curve"):
        explanations_section("m", summary)
