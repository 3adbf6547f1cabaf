"""`make demo` installs only what runs the product; the test tools come with `make test` (issue 20,
item 2). The product's code must therefore import nothing that only the `dev` extra brings."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions

from endorse.settings import PROJECT_ROOT

PRODUCT = ("endorse", "tasks", "flows", "web", "models")
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return re.split(r"[ ;<>=!\[~(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(names: list[str]) -> set[str]:
    """The distributions these need, with everything they need in turn (extras left out)."""
    seen: set[str] = set()
    todo = [_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        todo += [_name(r) for r in reqs if "extra ==" not in r]
    return seen


def _third_party_imports() -> set[str]:
    found: set[str] = set()
    for folder in PRODUCT:
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in PRODUCT}


def test_the_product_imports_only_what_its_own_dependencies_bring():
    runtime = _closure(PYPROJECT["project"]["dependencies"])
    owners = packages_distributions()
    missing = {m: owners.get(m) for m in _third_party_imports()
               if not any(d.lower().replace("_", "-") in runtime for d in owners.get(m, []))}
    assert missing == {}, f"imported by the product but only installed by the dev extra (or not at all): {missing}"


def test_test_tools_are_in_the_dev_extra_not_in_the_product():
    runtime = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    dev = {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    tools = {"pytest", "pytest-xdist", "hypothesis", "jsonschema", "playwright", "scipy", "ruff"}
    assert tools <= dev and not tools & runtime


def test_make_demo_installs_the_product_and_make_test_adds_the_dev_extra():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    rule = lambda target: re.search(rf"^{re.escape(target)}:([^\n]*)\n((?:\t[^\n]*\n)*)", makefile, re.M)  # noqa: E731
    assert "$(STAMP)" in rule("demo").group(1) and "$(STAMP)" in rule("serve").group(1)
    assert "$(DEV_STAMP)" in rule("test").group(1)
    assert "$(PIP) -e .\n" in rule("$(STAMP)").group(2)
    assert "$(PIP) -e '.[dev]'" in rule("$(DEV_STAMP)").group(2) and "$(STAMP)" in rule("$(DEV_STAMP)").group(1)
