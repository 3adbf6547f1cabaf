"""Reads the YAML rule cases (tests/rules/cases/*.yaml) and builds each case's document.

A case names a base document (tests/rules/bases/<name>.json, fully eligible) and changes it with
``set`` / ``remove`` / ``append`` on dotted paths such as ``rsc[0].hours``.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from endorse.rulebook import read_yaml

HERE = Path(__file__).parent
CASES_DIR = HERE / "cases"
BASES_DIR = HERE / "bases"
DEFAULT_AS_OF = date(2026, 11, 22)
_CASE_KEYS = {"name", "source", "base", "association", "as_of", "set", "remove", "append", "expect",
              "expect_eligible", "expect_warnings", "detail_contains"}
_STATUSES = {"met", "unmet", "pending", "not_applicable"}
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class RuleCase:
    file: str
    requirement: str
    name: str
    source: str
    document: dict
    as_of: date
    expect: dict[str, str]
    expect_eligible: bool | None
    expect_warnings: list[str] | None
    detail_contains: list[str]

    @property
    def test_id(self) -> str:
        return f"{self.requirement} · {self.name} · {self.source}"


def _steps(path: str) -> list[str | int]:
    return [int(i) if i else k for k, i in _STEP.findall(path)]


def _parent(doc: Any, path: str) -> tuple[Any, str | int]:
    steps = _steps(path)
    node = doc
    for step in steps[:-1]:
        node = node[step]
    return node, steps[-1]


def apply_changes(base: dict, case: dict) -> dict:
    doc = copy.deepcopy(base)
    for path, value in (case.get("set") or {}).items():
        node, last = _parent(doc, path)
        if isinstance(node, list) and last == len(node):
            node.append(copy.deepcopy(value))
        else:
            node[last] = copy.deepcopy(value)
    for path in case.get("remove") or []:
        node, last = _parent(doc, path)
        del node[last]
    for path, items in (case.get("append") or {}).items():
        node, last = _parent(doc, path)
        node.setdefault(last, []) if isinstance(node, dict) else None
        node[last].extend(copy.deepcopy(items))
    if case.get("association"):
        doc["association"] = case["association"]
    return doc


def load_cases() -> list[RuleCase]:
    bases = {p.stem: json.loads(p.read_text()) for p in sorted(BASES_DIR.glob("*.json"))}
    out = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        data = read_yaml(path)
        for i, case in enumerate(data["cases"]):
            unknown = set(case) - _CASE_KEYS
            assert not unknown, f"{path.name} case {i}: unknown keys {sorted(unknown)}"
            assert set(case["expect"].values()) <= _STATUSES, f"{path.name} case {i}: bad status"
            as_of = case.get("as_of") or DEFAULT_AS_OF
            out.append(RuleCase(
                file=path.name,
                requirement=data["requirement"],
                name=case["name"],
                source=case["source"],
                document=apply_changes(bases[case["base"]], case),
                as_of=date.fromisoformat(as_of) if isinstance(as_of, str) else as_of,
                expect=case["expect"],
                expect_eligible=case.get("expect_eligible"),
                expect_warnings=case.get("expect_warnings"),
                detail_contains=case.get("detail_contains") or [],
            ))
    return out
