"""The package's shape (fast, no imports of hwkit): no import cycle among its modules, counting the
imports hidden in function bodies, and no module over 300 lines unless its docstring says why."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hwkit"
MAX_LINES = 300
SIZE_REASON = "Over 300 lines because"



def imports_of(path: Path) -> set[str]:
    """The hwkit modules `path` imports, at module level or in any function body (`from .x import y`,
    `from . import x`, `import hwkit.x`, `from hwkit.x import y`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.level == 0 and node.module and node.module.split(".")[0] == "hwkit":
                parts = node.module.split(".")
                found.update([parts[1]] if len(parts) > 1 else [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("hwkit."))
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    return (found & modules) - {path.stem}


def import_graph() -> dict[str, set[str]]:
    return {path.stem: imports_of(path) for path in sorted(PACKAGE.glob("*.py")) if path.stem != "__init__"}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    """The checker itself can fail: a function-level import that closes a loop is a cycle."""
    (tmp_path / "a.py").write_text("from .b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    from .a import y\n")
    (tmp_path / "c.py").write_text("import hwkit.a\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path
    try:
        graph = import_graph()
    finally:
        PACKAGE = saved
    assert graph == {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert cycles(graph) == [["a", "b"]]


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, f"import cycles among hwkit's modules (move the shared piece into a module of its own): {found}"


def test_modules_are_short_or_say_why() -> None:
    long = {}
    for path in sorted(PACKAGE.glob("*.py")):
        lines = len(path.read_text().splitlines())
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > MAX_LINES and SIZE_REASON not in docstring:
            long[path.name] = lines
    assert not long, (f"modules over {MAX_LINES} lines (split them, or say in the docstring "
                      f"'{SIZE_REASON} ...'): {long}")
