"""Import contracts, read from the source (every import, at module level or inside a function):

- ``seld_live`` never imports ``training`` (the app installs and runs without the training package);
- only ``seld_live.gui`` imports Qt, pyqtgraph or OpenGL (the engine, the CLI and headless runs stay Qt-free),
  and the rest enters the window through one door (``seld_live.cli`` -> ``seld_live.gui.app``);
- ``seld_live`` has no import cycles, lazy imports included (each module can be read on its own, bottom up).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "seld_live"
GUI_ONLY = ("PySide6", "pyqtgraph", "OpenGL", "shiboken6")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute names, relative imports resolved."""
    tree = ast.parse(path.read_text(), str(path))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)  # "from pkg import module"
    return out


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {m: {i for i in imports_of(p) if i in MODULES and i != m} for m, p in MODULES.items()}


def test_the_contracts_see_the_package():
    assert {"seld_live.cli", "seld_live.launch", "seld_live.engine", "seld_live.gui.app"} <= set(MODULES)
    assert "seld_live.launch" in GRAPH["seld_live.cli"] and "seld_live.launch" in GRAPH["seld_live.gui.app"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_seld_live_never_imports_training(name):
    bad = sorted(i for i in imports_of(MODULES[name]) if i == "training" or i.startswith("training."))
    assert not bad, f"{name} imports {bad}"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if not m.startswith("seld_live.gui")))
def test_only_the_gui_imports_qt(name):
    bad = sorted(i for i in imports_of(MODULES[name]) if i.split(".")[0] in GUI_ONLY)
    # the window is entered through one door: the command line's lazy import of seld_live.gui.app
    door = {"seld_live.gui.app", "seld_live.gui.app.run_app"} if name == "seld_live.cli" else set()
    bad += sorted(i for i in imports_of(MODULES[name]) if i.startswith("seld_live.gui") and i not in door)
    assert not bad, f"{name} imports {bad}"


def test_no_import_cycles():
    # depth-first search for a back edge; the first cycle found is reported as a path
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH[m]):
            # importing a submodule runs its package's __init__ first, which is not a cycle of the submodule
            if m.startswith(n + "."):
                continue
            if state.get(n) == 1:
                return [*stack[stack.index(n):], n]
            if n not in state and (cycle := visit(n)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(GRAPH):
        if m not in state:
            cycle = visit(m)
            assert cycle is None, " -> ".join(cycle)
