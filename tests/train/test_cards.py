"""Model cards (``ecglens.train.cards``): a card for every shipped model's config, and the
"Recommended explainer" line."""

import json
from pathlib import Path

import pytest

from ecglens.train import cards
from ecglens.train.cards import set_card_line

WEIGHTS = Path(cards.__file__).resolve().parents[1] / "models" / "weights"
CARD_OF_TASK = {
    "beats": lambda name, c: cards.mitdb_card(name, c, cards.split_info(c)),
    "ptbxl-binary": cards.ptbxl_card,
    "ptbxl-superclass": cards.ptbxl_card,
    "ptbxl-mi": cards.mi_card,
    "images": cards.images_card,
}


def test_card_line_is_replaced_or_added():
    entry = {"recommended": "grad-cam", "why": "wins " * 40}
    card = "# m\n\n- **Data**: x\n- **Recommended explainer**: old\n  continued\n\n## Test\n"
    out = set_card_line(card, entry)
    assert out.count("Recommended explainer") == 1 and "old" not in out
    assert "- **Recommended explainer**: grad-cam; it wins" in out and out.endswith("## Test\n")
    assert max(len(line) for line in out.splitlines()) <= 92  # wrapped, continuation indented
    assert out == set_card_line(out, entry)  # rewriting the wrapped line is stable
    fresh = set_card_line("# m\n\n- **Data**: x\n  more\n\n## Test\n- not this\n", entry)
    lines = fresh.splitlines()
    assert lines[4].startswith("- **Recommended explainer**: grad-cam") and lines[3] == "  more"
    none = set_card_line(card, {"recommended": None, "why": "w", "default": "grad-cam"})
    assert "none measured qualifies" in none and "default, grad-cam" in none



@pytest.mark.parametrize("config", sorted(WEIGHTS.glob("*.json")), ids=lambda p: p.stem)
def test_every_shipped_config_makes_a_card(config):
    saved = json.loads(config.read_text())
    if "task" not in saved:
        pytest.skip("not a model config")
    card = CARD_OF_TASK[saved["task"]](config.stem, saved)
    assert card.startswith(f"# {config.stem}\n") and "## Reproduce" in card
    assert "## Intended use and limits" in card
