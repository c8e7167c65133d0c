"""The import structure keeps data flowing one way (read from the source; nothing imported).

- no import cycle between ecglens modules (imports inside functions count);
- only ``ecglens.cli`` imports ``ecglens.cli``;
- inference (``ecglens.predict``, and every module that defines a ``classify*`` entry) and the
  explainers (``ecglens.explain``) never reach ``ecglens.train``, ``ecglens.evaluate`` or
  ``ecglens.cli``, directly or through other modules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ecglens"
UPPER = ("ecglens.train", "ecglens.evaluate", "ecglens.cli")
ENTRIES = ("classify", "classify_record", "classify_12lead", "classify_image")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The ecglens module that ``name`` (a module or a name inside one) belongs to."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {_owner(a.name, modules) for a in node.names if a.name.startswith("ecglens")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if base.startswith("ecglens"):
                found |= {_owner(f"{base}.{a.name}", modules) for a in node.names}
    found.discard(None)
    found.discard(name)
    return found  # type: ignore[return-value]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), leaving out a package
    ``__init__`` that re-exports its own submodules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            packages = {m for m in component if (PACKAGE.parent / m.replace(".", "/")).is_dir()}
            if len(set(component) - packages) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_walk_sees_the_package(graph):
    assert "ecglens.predict.beats" in graph and "ecglens.cli.main" in graph
    assert "ecglens.inputs.beats" in graph["ecglens.predict.beats"]


def test_the_checks_catch_a_cycle_and_a_reach():
    toy = {"ecglens.a": {"ecglens.b"}, "ecglens.b": {"ecglens.a"}, "ecglens.c": {"ecglens.b"}}
    assert _cycles(toy) == [["ecglens.a", "ecglens.b"]]
    assert _reach(toy, "ecglens.c") == {"ecglens.a", "ecglens.b"}


def test_no_import_cycles(graph):
    assert _cycles(graph) == []


def test_only_the_cli_imports_the_cli(graph):
    bad = sorted(
        f"{m} -> {d}"
        for m, deps in graph.items()
        if not m.startswith(("ecglens.cli", "ecglens.__main__"))
        for d in deps
        if d.startswith("ecglens.cli")
    )
    assert bad == []


def test_inference_and_explainers_never_reach_training_evaluation_or_cli(graph):
    modules = _modules()
    entry_modules = {
        m
        for m, path in modules.items()
        if not m.startswith(UPPER)
        and any(
            isinstance(node, ast.FunctionDef) and node.name in ENTRIES
            for node in ast.walk(ast.parse(path.read_text()))
        )
    }
    layered = {m for m in graph if m.startswith(("ecglens.predict", "ecglens.explain"))}
    checked = entry_modules | layered
    assert "ecglens.predict.tasks" in checked and "ecglens.explain.gradcam" in checked
    bad = {m: sorted(d for d in _reach(graph, m) if d.startswith(UPPER)) for m in sorted(checked)}
    assert {m: hit for m, hit in bad.items() if hit} == {}


def test_importing_inference_loads_no_training_evaluation_cli_or_scikit_learn():
    code = (
        "import sys, ecglens.predict, ecglens.explain; "
        "print(sorted(m for m in sys.modules if m.startswith("
        "('ecglens.train', 'ecglens.evaluate', 'ecglens.cli', 'sklearn'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
