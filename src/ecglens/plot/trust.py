"""How far a map can be trusted, written on the figure that draws it (the sentence comes from
:func:`ecglens.explain.recommended.trust_of`; this module only draws it)."""

from __future__ import annotations

import textwrap

from matplotlib.figure import Figure

from ecglens.explain.recommended import Trust

FAITHFUL_COLOUR = "#1a6e1a"
CAVEAT_COLOUR = "#b00020"
WRAP = 130  # characters per line
STRIP_IN = 0.2  # inches per line added under a figure without a layout


def trust_colour(trust: Trust) -> str:
    """Green when the explainer was shown faithful for the model, red otherwise."""
    return FAITHFUL_COLOUR if trust.shown_faithful else CAVEAT_COLOUR


def mark_trust(fig: Figure, trust: Trust | None) -> Figure:
    """Write ``trust.text`` at the bottom of ``fig``, red when the explainer is not shown
    faithful; ``fig`` returned. A constrained layout makes room for it (a figure label);
    a figure without a layout (the ECG paper) grows by a strip at the bottom, its axes and
    texts moved up. ``trust`` None: nothing is written."""
    if trust is None:
        return fig
    style = {"color": trust_colour(trust), "fontsize": 9, "fontweight": "bold"}
    if fig.get_layout_engine() is not None:
        fig.supxlabel("\n".join(textwrap.wrap(trust.text, WRAP)), **style)
        return fig
    lines = textwrap.wrap(trust.text, WRAP)
    width, height = fig.get_size_inches()
    strip = STRIP_IN * len(lines) + 0.1
    new_height = height + strip
    fig.set_size_inches(width, new_height)
    for ax in fig.axes:
        pos = ax.get_position()
        ax.set_position(
            (pos.x0, (pos.y0 * height + strip) / new_height, pos.width,
             pos.height * height / new_height)
        )  # fmt: skip
    for text in fig.texts:
        x, y = text.get_position()
        text.set_position((x, (y * height + strip) / new_height))
    fig.text(0.01, 0.05 / new_height, "\n".join(lines), ha="left", va="bottom", **style)
    return fig
