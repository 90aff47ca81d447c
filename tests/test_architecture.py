"""The layout holds: no import cycles, lazy imports say why, layers point one way.

Read from the source with ``ast`` (nothing is imported), so a test names the file and
line that broke the rule.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# folder -> import name, as pyproject.toml's package-dir maps them
LAYERS = {"launcher": "agentic_flow", "core": "agentic_flow.core", "tui": "agentic_flow.tui"}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, package in LAYERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = [package, *path.relative_to(ROOT / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import outside ``if TYPE_CHECKING:``, with whether it is inside a function."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append((child, in_function))
            walk(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    walk(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import statement loads (``from a import b`` loads ``a.b`` when that is one)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert node.level == 0, "relative imports are spelled out as agentic_flow.… here"
    base = node.module or ""
    return [base, *(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)]


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for node, _ in _imports(path):
            graph[name].update(t for t in _targets(node) if t in MODULES and t != name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_no_import_cycles_counting_function_level_imports():
    cycle = find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_every_function_level_import_says_why_it_is_lazy():
    """Function-level imports only buy start-up time; each says which (``# lazy: …``)."""
    missing = []
    for path in MODULES.values():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node, in_function in _imports(path):
            if not in_function:
                continue
            row = node.lineno - 1
            # the comment sits on the line, or above the run of imports this one belongs to
            while row > 0 and lines[row - 1].strip().startswith(("from ", "import ")):
                row -= 1
            if "# lazy:" not in lines[node.lineno - 1] and not lines[row - 1].strip().startswith("# lazy:"):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert missing == []


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("agentic_flow.core", ("agentic_flow.tui", "agentic_flow.main", "textual")),
        ("agentic_flow.tui", ("agentic_flow.main", "agentic_flow.core.providers", "agentic_flow.core.http")),
    ],
)
def test_layers_import_one_way(layer, forbidden):
    """core never reaches up; the TUI reaches the engine through Runtime, not providers."""
    wrong = []
    for name, path in MODULES.items():
        if not (name == layer or name.startswith(layer + ".")):
            continue
        for node, _ in _imports(path):
            for target in _targets(node):
                if target.startswith(forbidden):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {target}")
    assert wrong == []


def test_pyproject_lists_every_package():
    """The package list is explicit (nothing else ships); a new subpackage must be added."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    on_disk |= {"agentic_flow.agents", "agentic_flow.themes"}
    assert on_disk == listed
    assert config["package-dir"] == {
        "agentic_flow": "launcher",
        "agentic_flow.core": "core",
        "agentic_flow.tui": "tui",
        "agentic_flow.agents": "agents",
        "agentic_flow.themes": "themes",
    }
