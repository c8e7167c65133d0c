"""The import structure keeps data flowing one way (read from the source; nothing imported).

- every module sits in one layer of :data:`LAYERS` and imports only modules of its own layer or
  lower ones; in a layer of several packages, a package imports another only where
  :data:`PEERS` allows it (train and evaluate use inference; train uses evaluate);
- no import cycle between ecglens modules;
- only ``ecglens.cli`` imports ``ecglens.cli``;
- inference (``ecglens.predict``, and every module that defines a ``classify*`` entry) and the
  explainers (``ecglens.explain``) never reach ``ecglens.train``, ``ecglens.evaluate`` or
  ``ecglens.cli``, directly or through other modules.

An import is an ``import`` statement anywhere (inside functions too), an
``importlib.import_module("ecglens.x")`` call, or a string literal naming a module the code
resolves later (``"ecglens.pkg.module"`` or ``"ecglens.pkg.module:function"``).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ecglens"
UPPER = ("ecglens.train", "ecglens.evaluate", "ecglens.cli")
ENTRIES = ("classify", "classify_record", "classify_12lead", "classify_image")

# The layers, lowest first: a module may import its own layer and the layers below it.
# "ecglens" is the package's own __init__ only.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("ecglens", "ecglens.errors", "ecglens._atomic", "ecglens.progress"),
    ("ecglens.io",),
    ("ecglens.signal",),
    ("ecglens.inputs",),
    ("ecglens.data",),
    ("ecglens.models",),
    ("ecglens.predict", "ecglens.train", "ecglens.evaluate"),
    ("ecglens.explain",),
    ("ecglens.plot",),
    ("ecglens.report",),
    ("ecglens.tasks",),
    ("ecglens.studies", "ecglens.batch", "ecglens.serve"),
    ("ecglens.cli", "ecglens.__main__"),
)
# Packages that share a layer with others and may import only these peers of that layer.
PEERS: dict[str, frozenset[str]] = {
    "ecglens.predict": frozenset(),
    "ecglens.evaluate": frozenset({"ecglens.predict"}),
    "ecglens.train": frozenset({"ecglens.predict", "ecglens.evaluate"}),
    "ecglens.studies": frozenset(),
    "ecglens.batch": frozenset(),
    "ecglens.serve": frozenset(),
}
# Names in LAYERS that need not exist.
OPTIONAL: frozenset[str] = frozenset()

_DOTTED = re.compile(r"ecglens(\.[A-Za-z_][A-Za-z0-9_]*)+(:[A-Za-z_][A-Za-z0-9_.]*)?")
_IMPORT_CALLS = ("import_module", "__import__")
_NOT_IMPORT_CALLS = ("getLogger",)


@dataclass(frozen=True)
class Site:
    """One import: ``importer`` (module) names ``imported`` (module) at ``line`` of ``path``."""

    importer: str
    imported: str
    path: str
    line: int
    how: str  # "import", "import_module" or "string"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _owner(name: str, modules) -> str | None:
    """The ecglens module that ``name`` (a module or a name inside one) belongs to."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _not_names(tree: ast.AST) -> set[int]:
    """ids of the string constants that name no module to import: docstrings (and other bare
    expression statements) and logger names."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip.add(id(node.value))
        elif isinstance(node, ast.Call) and _called(node) in _NOT_IMPORT_CALLS:
            skip |= {id(arg) for arg in node.args}
    return skip


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _import_sites(
    name: str, source: str, modules, *, is_package: bool = False, path: str = "<toy>"
) -> list[Site]:
    """Every ecglens module that the module ``name`` (text ``source``) imports, with where."""
    tree = ast.parse(source, path)
    package = name if is_package else name.rpartition(".")[0]
    skip = _not_names(tree)
    found: list[tuple[str | None, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (_owner(a.name, modules), node.lineno, "import")
                for a in node.names
                if a.name.startswith("ecglens")
            ]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if base.startswith("ecglens"):
                found += [
                    (_owner(f"{base}.{a.name}", modules), node.lineno, "import") for a in node.names
                ]
        elif isinstance(node, ast.Call) and _called(node) in _IMPORT_CALLS and node.args:
            # a literal argument is seen below as a string; an f-string by its fixed start
            arg = node.args[0]
            if isinstance(arg, ast.JoinedStr) and arg.values:
                head = arg.values[0]
                if isinstance(head, ast.Constant) and str(head.value).startswith("ecglens."):
                    prefix = str(head.value).rpartition(".")[0]
                    found.append((_owner(prefix, modules), node.lineno, "import_module"))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and _DOTTED.fullmatch(node.value)
        ):
            found.append((_owner(node.value.partition(":")[0], modules), node.lineno, "string"))
    return sorted(
        {Site(name, m, path, line, how) for m, line, how in found if m and m != name},
        key=lambda s: (s.line, s.imported, s.how),
    )


def _layer_of(module: str) -> tuple[int, str] | None:
    """(layer index, package) of ``module`` in :data:`LAYERS`; None when it has no layer."""
    best: tuple[int, str] | None = None
    for index, layer in enumerate(LAYERS):
        for package in layer:
            inside = module == package or (
                package != "ecglens" and module.startswith(package + ".")
            )
            if inside and (best is None or len(package) > len(best[1])):
                best = (index, package)
    return best


def _layer_name(index: int) -> str:
    """The packages of layer ``index`` without the ``ecglens.`` prefix ("__init__": the
    package's own ``__init__``), joined by slashes."""
    return "/".join(
        "__init__" if p == "ecglens" else p.removeprefix("ecglens.") for p in LAYERS[index]
    )


def _order_violations(sites: list[Site]) -> list[str]:
    """One line per import that goes up a layer or to a peer that :data:`PEERS` forbids."""
    bad = []
    for s in sites:
        src, dst = _layer_of(s.importer), _layer_of(s.imported)
        if src is None or dst is None:
            continue  # reported by test_every_module_has_a_layer
        (i, src_pkg), (j, dst_pkg) = src, dst
        if j > i:
            why = "a higher layer"
        elif j == i and src_pkg != dst_pkg and dst_pkg not in PEERS.get(src_pkg, {dst_pkg}):
            why = "a peer it may not import"
        else:
            continue
        bad.append(
            f"{s.path}:{s.line} ({s.importer}, layer {_layer_name(i)}) imports {s.imported} "
            f"(layer {_layer_name(j)}) by {s.how}: {why}"
        )
    return bad


@pytest.fixture(scope="module")
def sites() -> list[Site]:
    """Every import of every ecglens module."""
    modules = _modules()
    return [
        site
        for name, path in sorted(modules.items())
        for site in _import_sites(
            name,
            path.read_text(),
            modules,
            is_package=path.name == "__init__.py",
            path=str(path.relative_to(PACKAGE.parents[1])),
        )  # fmt: skip
    ]


@pytest.fixture(scope="module")
def graph(sites) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {name: set() for name in _modules()}
    for s in sites:
        out[s.importer].add(s.imported)
    return out


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycles(graph: dict[str, set[str]], is_package=None) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), leaving out a package
    ``__init__`` that re-exports its own submodules."""
    if is_package is None:
        is_package = lambda m: (PACKAGE.parent / m.replace(".", "/")).is_dir()  # noqa: E731
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
            packages = {m for m in component if is_package(m)}
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
    # an f-string given to import_module counts by its fixed start
    assert "ecglens.cli" in graph["ecglens.cli.main"]


def test_the_checks_catch_a_cycle_a_reach_and_an_upward_import():
    toy = {"ecglens.a": {"ecglens.b"}, "ecglens.b": {"ecglens.a"}, "ecglens.c": {"ecglens.b"}}
    assert _cycles(toy, is_package=lambda m: False) == [["ecglens.a", "ecglens.b"]]
    assert _reach(toy, "ecglens.c") == {"ecglens.a", "ecglens.b"}

    modules = {
        "ecglens.io.reader": "",
        "ecglens.predict.run": "",
        "ecglens.train.loop": "",
        "ecglens.evaluate.scores": "",
        "ecglens.plot.figure": "",
        "ecglens.report.page": "",
        "ecglens.batch.jobs": "",
        "ecglens.serve": "",
        "ecglens.serve.routes": "",
    }
    source = '''
"""ecglens.plot.figure in a docstring is no import."""
import importlib
from ecglens.io import reader
from ..train import loop
log_name = "ecglens.predict"
FIGURE = "ecglens.plot.figure:draw"
PAGE = importlib.import_module("ecglens.report.page")
def later(kind):
    return importlib.import_module(f"ecglens.serve.{kind}")
MESSAGE = "module 'ecglens.batch' is not a name"
log = logging.getLogger("ecglens.serve.routes")
'''
    sites = _import_sites("ecglens.predict.run", source, modules)
    assert [(s.imported, s.line, s.how) for s in sites] == [
        ("ecglens.io.reader", 4, "import"),
        ("ecglens.train.loop", 5, "import"),
        ("ecglens.plot.figure", 7, "string"),
        ("ecglens.report.page", 8, "string"),
        ("ecglens.serve", 10, "import_module"),
    ]
    # "ecglens.predict" names the importer's own package: no module of it, so no site
    assert all(s.imported != "ecglens.predict" for s in sites)

    bad = _order_violations(sites)
    assert bad == [
        "<toy>:5 (ecglens.predict.run, layer predict/train/evaluate) imports ecglens.train.loop "
        "(layer predict/train/evaluate) by import: a peer it may not import",
        "<toy>:7 (ecglens.predict.run, layer predict/train/evaluate) imports "
        "ecglens.plot.figure (layer plot) by string: a higher layer",
        "<toy>:8 (ecglens.predict.run, layer predict/train/evaluate) imports "
        "ecglens.report.page (layer report) by string: a higher layer",
        "<toy>:10 (ecglens.predict.run, layer predict/train/evaluate) imports ecglens.serve "
        "(layer studies/batch/serve) by import_module: a higher layer",
    ]
    allowed = [
        Site("ecglens.train.loop", "ecglens.predict.run", "<toy>", 1, "import"),
        Site("ecglens.train.loop", "ecglens.evaluate.scores", "<toy>", 2, "import"),
        Site("ecglens.evaluate.scores", "ecglens.predict.run", "<toy>", 3, "import"),
        Site("ecglens.cli.main", "ecglens.serve.routes", "<toy>", 4, "import"),
        Site("ecglens.__main__", "ecglens.cli.main", "<toy>", 5, "import"),
        Site("ecglens.progress", "ecglens.errors", "<toy>", 6, "import"),
    ]
    assert _order_violations(allowed) == []
    forbidden = [
        Site("ecglens.evaluate.scores", "ecglens.train.loop", "<toy>", 1, "import"),
        Site("ecglens.batch.jobs", "ecglens.serve.routes", "<toy>", 2, "import"),
        Site("ecglens.errors", "ecglens.io.reader", "<toy>", 3, "import"),
    ]
    assert len(_order_violations(forbidden)) == 3
    assert _layer_of("ecglens.somewhere_new") is None
    assert _layer_of("ecglens") == (0, "ecglens")


def test_every_module_has_a_layer():
    assert sorted(m for m in _modules() if _layer_of(m) is None) == []


def test_the_layer_table_names_packages_that_exist():
    modules = _modules()
    missing = [
        p
        for layer in LAYERS
        for p in layer
        if p not in OPTIONAL and not any(m == p or m.startswith(p + ".") for m in modules)
    ]
    assert missing == []
    assert set(PEERS) <= {p for layer in LAYERS if len(layer) > 1 for p in layer}


def test_imports_follow_the_layer_order(sites):
    bad = _order_violations(sites)
    order = " < ".join(_layer_name(i) for i in range(len(LAYERS)))
    assert not bad, f"imports against the layer order ({order}):\n" + "\n".join(bad)


def test_no_import_cycles(graph):
    found = _cycles(graph)
    assert not found, "import cycles, one a line (the modules of each):\n" + "\n".join(
        map(", ".join, found)
    )


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
    assert "ecglens.explain.gradcam" in checked
    assert any(m.startswith("ecglens.predict") for m in checked)
    bad = {m: sorted(d for d in _reach(graph, m) if d.startswith(UPPER)) for m in sorted(checked)}
    hits = [f"{m} reaches {', '.join(hit)}" for m, hit in bad.items() if hit]
    assert not hits, "inference or explainers reach training, evaluation or the CLI:\n" + "\n".join(
        hits
    )


def test_importing_inference_loads_no_training_evaluation_cli_or_scikit_learn():
    code = (
        "import sys, ecglens.predict, ecglens.explain; "
        "print(sorted(m for m in sys.modules if m.startswith("
        "('ecglens.train', 'ecglens.evaluate', 'ecglens.cli', 'sklearn'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
