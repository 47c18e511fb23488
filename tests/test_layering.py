"""The package's shape is checked, not only described: layers import downwards only, storage is the
one place that talks SQL, there are no import cycles, functions stay short enough to read at
once, and the package list in pyproject.toml is the tree on disk."""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

from helpers.paths import REPO

PACKAGE = REPO / "monitor"

# What each part of the package may import from the monitor (besides itself). ARCHITECTURE.md
# draws the same graph; a new edge is a design decision, made here and there together.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "text": set(),
    "watch": {"errors", "text"},
    "dedupe": {"errors", "text"},
    "config": {"errors", "watch"},
    "sources": {"errors", "text", "config", "watch"},
    "store": {"errors", "text", "config", "watch", "dedupe", "sources"},
    "pipeline": {"errors", "text", "config", "watch", "dedupe", "sources", "store", "parent"},
    "signing": set(),
    "logs": set(),
    "parent": set(),
    "i18n": set(),
    "mail": {"errors", "text", "config", "watch", "store", "signing", "i18n"},
    "web": {"errors", "text", "config", "watch", "store", "pipeline", "mail", "signing", "i18n"},
    "daemon": {"errors", "config", "store", "pipeline", "mail", "web", "logs", "parent"},
    "cli": {"errors", "text", "config", "watch", "dedupe", "sources", "store", "pipeline", "mail", "daemon", "web",
            "i18n", "signing", "logs", "parent"},
}
TOP = {"__init__", "__main__", "__version__"}  # the package root: its entry points, and what every layer may read (the version)
MAX_FUNCTION_LINES = 60


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(path: Path, name: str) -> set[str]:
    """Absolute names of everything a module imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
    return found


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_layers_import_downwards_only():
    wrong = []
    for name, path in modules().items():
        own = layer(name)
        if own in TOP:
            continue
        for imported in imports(path, name):
            if not imported.startswith("monitor."):
                continue
            target = layer(imported)
            if target != own and target not in ALLOWED[own] and target not in TOP:
                wrong.append(f"{name} imports {imported} ({own} -> {target})")
    assert not wrong, "\n".join(sorted(wrong))


def test_only_the_store_talks_sql():
    outside = sorted(name for name, path in modules().items()
                     if layer(name) != "store" and any(i.split(".")[0] == "sqlalchemy" for i in imports(path, name)))
    assert outside == []


def test_no_import_cycles():
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        for imported in imports(path, name):
            # "from .x import y" names monitor.pkg.x.y: the module is the longest known prefix
            parts = imported.split(".")
            for n in range(len(parts), 0, -1):
                candidate = ".".join(parts[:n])
                if candidate in known and candidate != name:
                    graph[name].add(candidate)
                    break
    # Packages re-export from their own modules; a cycle through an __init__ is only one when
    # modules of two packages need each other, which the layer test already forbids.
    graph = {n: {t for t in ts if not (known[t].name == "__init__.py" and n.startswith(t + "."))}
             for n, ts in graph.items()}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]) if nxt in stack else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    sys.setrecursionlimit(10_000)
    for name in sorted(known):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_functions_are_short_enough_to_read_at_once():
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {length} lines")
    assert long == []


def test_packaged_list_is_the_tree():
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in PACKAGE.rglob("__init__.py")}
    on_disk |= {"monitor.migrations", "monitor.migrations.versions"}
    assert listed == on_disk
