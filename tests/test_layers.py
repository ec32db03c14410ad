"""The house shows the pipeline: each stage imports only from itself and earlier stages,
no module imports itself back through others, and no room is too big to hold in one's head.

The stage order is written once, here (``STAGES``); ``docs/NOTES.md`` has the module map.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "tracker"

# tracker's packages and top-level modules, earliest first; a module may import from its own
# stage and from the stages before it, never from a later one
STAGES = [
    {"tracker.config", "tracker.i18n", "tracker.paths", "tracker"},
    {"tracker.sources"},
    {"tracker.parse"},
    {"tracker.store"},
    {"tracker.thread"},
    {"tracker.report"},
    {"tracker.web"},
    {"tracker.demo"},
    {"tracker.cli", "tracker.commands", "tracker.__main__"},
]
MAX_MODULE_LINES = 800
MAX_CLASS_LINES = 300


def module_name(path: Path) -> str:
    parts = ["tracker", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The tracker modules an ``import`` statement names (``from . import x`` names x)."""
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    found = []
    for alias in node.names:
        candidate = f"{target}.{alias.name}"
        found.append(candidate if candidate in MODULES else target)
    return found


def _walk(node: ast.AST):
    """Every node, less ``if TYPE_CHECKING:`` blocks (annotations only: never run)."""
    yield node
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
            yield from (n for c in child.orelse for n in _walk(c))
            continue
        yield from _walk(child)


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in _walk(tree):  # function-level imports count too: they are imports all the same
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "tracker"}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").split(".")[0] != "tracker":
                continue
            found |= set(resolve(module, path.name == "__init__.py", node))
    return {name for name in found if name in MODULES and name != module}


def stage_of(module: str) -> int:
    best = None
    for index, names in enumerate(STAGES):
        for name in names:
            if module == name or module.startswith(name + "."):
                if best is None or len(name) > len(best[1]):
                    best = (index, name)
    assert best is not None, f"{module} is in no stage: add it to STAGES"
    return best[0]


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_stage():
    for module in MODULES:
        stage_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_from_a_later_stage(module):
    later = sorted(name for name in GRAPH[module] if stage_of(name) > stage_of(module))
    assert not later, f"{module} (stage {stage_of(module)}) imports from later stages: {later}"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (a package's __init__ importing its own modules is not one)."""

    def edges(module: str) -> set[str]:
        # importing tracker.x.y runs tracker/x/__init__.py first, which is not an edge back
        return {t for t in graph[module] if not module.startswith(t + ".")}

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(edges(module)):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def test_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, " -> ".join(cycle)


def test_the_checks_can_fail():
    """The cycle finder and the stage order catch what they are meant to catch."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"tracker.x": {"tracker.x.y"}, "tracker.x.y": {"tracker.x"}}) is None
    assert stage_of("tracker.store.ingest") > stage_of("tracker.parse.evidence")
    assert stage_of("tracker.web.plugin") > stage_of("tracker.report.digest")
    node = ast.parse("from ..thread import thread_views").body[0]
    assert resolve("tracker.store.ingest", False, node) == ["tracker.thread"]
    node = ast.parse("from . import staged").body[0]
    assert resolve("tracker.store", True, node) == ["tracker.store.staged"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_room_too_big(module):
    text = MODULES[module].read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{module}: {text.count(chr(10))} lines; split it along a seam"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            lines = node.end_lineno - node.lineno + 1
            assert lines <= MAX_CLASS_LINES, f"{module}.{node.name}: {lines} lines"
