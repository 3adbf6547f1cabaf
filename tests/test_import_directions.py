"""Imports only go down: the layers of ARCHITECTURE.md, checked on the source (parsed with ``ast``);
and a module over 500 lines says why in its docstring.

A module may import its own layer and the layers its row allows; inside tasks/ a stage package may
import only the stage packages of a lower tier. Imports inside functions count too (a lazy import
is still a dependency), and no module may reach itself again through its imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from endorse.settings import PROJECT_ROOT

# layer → the layers it may import (besides itself)
ALLOWED = {
    "endorse": set(),
    "models": {"endorse"},
    "tasks": {"endorse", "models"},
    "flows": {"endorse", "models", "tasks"},
    "web": {"endorse", "models", "tasks", "flows"},
    "endorse_cli": {"endorse", "models", "tasks", "flows", "web"},
}

# tasks/ by tier: a package may import the packages of the tiers above its own in this list, never its
# own tier's other packages nor a later tier.
TASK_TIERS = (
    ("config", "mail"),
    ("intake",),
    ("eligibility",),
    ("transcripts", "references", "decision", "renewal"),
    ("exam",),
    ("coordination", "portal", "application_review"),
    ("reviewer_console",),
    ("pipeline",),
)
TASK_TIER = {package: n for n, tier in enumerate(TASK_TIERS) for package in tier}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for layer in ALLOWED for p in sorted((PROJECT_ROOT / layer).rglob("*.py"))}


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules one module imports (``from a.b import c`` is ``a.b.c`` when c is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (write the module's full name)"
            targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                       for a in node.names]
        else:
            continue
        found.update(t for t in targets if t.split(".")[0] in ALLOWED)
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}

# The one import allowed to close a loop, each with why: the simulated year (run by `endorse simulate`)
# types coordinators' commands into the command line as a coordinator does, in its own process (a
# process per command cost ~1.5 s: hours for a year's 30,000 renewals). It is a client of the command
# line that the command line starts, not a layer reaching up.
CYCLE_EDGES_ALLOWED = {
    ("endorse_cli.simulate.actors", "endorse_cli.main"): "the simulator drives the command line as typed",
}
for _source, _target in CYCLE_EDGES_ALLOWED:
    GRAPH[_source].discard(_target)


def _task_package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "tasks" and len(parts) > 1 else None


def test_every_stage_package_has_a_tier():
    packages = {_task_package(m) for m in MODULES} - {None}
    assert packages == set(TASK_TIER), "add the package to TASK_TIERS (and to ARCHITECTURE.md)"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_go_down(module):
    layer = module.split(".")[0]
    upward = sorted(t for t in GRAPH[module] if t.split(".")[0] not in ALLOWED[layer] | {layer})
    assert not upward, f"{MODULES[module]} imports a layer above it: {upward}"
    own = _task_package(module)
    if own is None or own not in TASK_TIER:
        return
    sideways = sorted(t for t in GRAPH[module] if (pkg := _task_package(t)) is not None and pkg != own
                      and TASK_TIER[pkg] >= TASK_TIER[own])
    assert not sideways, f"{MODULES[module]} (tier {TASK_TIER[own]}) imports a stage of its tier or later: {sideways}"


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for t in sorted(GRAPH.get(m, ())):
            if state.get(t) == 1:
                return path[path.index(t):] + [t]
            if t not in state and (found := visit(t)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(GRAPH):
        if m not in state and (found := visit(m)):
            return found
    return None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_import_names_a_module_that_exists(module):
    missing = sorted(t for t in GRAPH[module] if t not in MODULES)
    assert not missing, f"{MODULES[module]} imports modules that do not exist (moved?): {missing}"


def test_each_allowed_cycle_edge_is_still_there():
    # An allowance left behind after its import went away would hide the next cycle through it.
    for source, target in CYCLE_EDGES_ALLOWED:
        assert target in _imports(source, MODULES[source]), f"{source} no longer imports {target}: drop the allowance"


def test_no_import_cycles():
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_the_checks_can_fail():
    """The table is not vacuous: an upward import and a cycle are caught when they exist."""
    assert "flows" not in ALLOWED["tasks"] and "web" not in ALLOWED["endorse"]
    GRAPH["endorse.settings"].add("endorse.db")  # endorse.db imports endorse.settings already
    try:
        assert _cycle() is not None
    finally:
        GRAPH["endorse.settings"].discard("endorse.db")


LONG_MODULE_LINES = 500


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_long_module_says_why_in_its_docstring(module):
    path = MODULES[module]
    text = path.read_text()
    if text.count("\n") <= LONG_MODULE_LINES:
        return
    doc = ast.get_docstring(ast.parse(text)) or ""
    assert "Why one module" in doc or "Over 500 lines" in doc, \
        f"{path} has {text.count(chr(10))} lines: split it, or say why not in its docstring"
