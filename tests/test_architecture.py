"""The shape of the code base (docs/development.md): no import cycles, small modules.

The layering itself is checked by import-linter (``make lint``, contracts in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

DJAG = Path(__file__).resolve().parents[1] / "djag"

#: No module is longer than this (migrations aside): one job per module.
MAX_LINES = 450


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("djag", cache_dir=None)


def strongly_connected(graph: grimp.ImportGraph, modules: set[str]) -> list[set[str]]:
    """Tarjan's algorithm over the imports between ``modules``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module) & modules:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            found.append(component)

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_back(graph: grimp.ImportGraph) -> None:
    # A package's __init__ that lists its submodules is not a cycle: leave packages out.
    modules = {m for m in graph.modules if not (DJAG.parent / m.replace(".", "/")).is_dir()}
    cycles = [sorted(c) for c in strongly_connected(graph, modules) if len(c) > 1]
    assert cycles == []


def test_the_checker_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="a")
    graph.add_import(importer="b", imported="c")
    assert sorted(map(sorted, strongly_connected(graph, {"a", "b", "c"}))) == [["a", "b"], ["c"]]


def test_no_module_is_too_long() -> None:
    long = {
        str(path.relative_to(DJAG.parent)): lines
        for path in DJAG.rglob("*.py")
        if "migrations" not in path.parts
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
