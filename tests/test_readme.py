"""The README's Python example runs as printed, its links reach the docs, and its headline
numbers are the ones on the results pages they link to."""

import re
import subprocess
import sys

from conftest import REPO

README = REPO / "README.md"
LINK = re.compile(r"\]\(((?:docs/)[^)#\s]+)(?:#([^)\s]+))?\)")
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _slug(heading: str) -> str:
    """The anchor MkDocs (toc's default slugify) gives a Markdown heading."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"[\s-]+", "-", text).strip("-")


def _anchors(path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def test_readme_python_example_runs():
    readme = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "README has no Python example"
    code = blocks[0] + "\nassert maps.shape == (3, 126) and raw.shape == (3, 126)\n"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_readme_links_reach_docs_pages_and_headings():
    links = LINK.findall(README.read_text())
    assert links, "README links to no docs page"
    for target, anchor in links:
        page = REPO / target
        assert page.is_file(), f"README links to {target}, which does not exist"
        if anchor:
            assert anchor in _anchors(page), f"README links to {target}#{anchor}: no such heading"


def test_readme_headline_numbers_are_on_the_linked_results_pages():
    section = README.read_text().split("## Results", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in section.splitlines() if r.startswith("| [")]
    assert len(rows) >= 5, "README's results table has too few rows"
    for row in rows:
        what, result = row.split("|")[1:3]
        page = REPO / LINK.search(what).group(1)
        text = page.read_text()
        for number in NUMBER.findall(result):
            assert number in text, f"README's {number} ({what.strip()}) is not on {page.name}"
