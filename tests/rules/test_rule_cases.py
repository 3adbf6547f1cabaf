"""Every rule case in tests/rules/cases/: named after its rule and the source that states it."""

from __future__ import annotations

import json

import pytest

from endorse.documents import parse_document
from tasks.eligibility.evaluation import evaluate

from .casefiles import BASES_DIR, load_cases

CASES = load_cases()


def test_there_is_a_case_file_for_every_requirement(library):
    ids = {d.id for d in library.requirement_defs}
    covered = {c.requirement for c in CASES}
    assert ids <= covered, f"requirements without rule cases: {sorted(ids - covered)}"


@pytest.mark.parametrize("base", sorted(p.stem for p in BASES_DIR.glob("*.json")))
def test_every_base_document_is_eligible_as_written(library, base):
    doc = parse_document((BASES_DIR / f"{base}.json").read_bytes(), f"{base}.json")
    from datetime import date

    result = evaluate(doc, library, date(2026, 11, 22))
    problems = [(r.id, r.status, r.detail) for r in result.requirements if r.status not in ("met", "not_applicable")]
    assert not problems
    assert not result.warnings


@pytest.mark.parametrize("case", CASES, ids=[c.test_id for c in CASES])
def test_rule_case(library, case):
    doc = parse_document(json.dumps(case.document), case.file)
    result = evaluate(doc, library, case.as_of)
    got = {r.id: r for r in result.requirements}
    for req_id, status in case.expect.items():
        assert got[req_id].status == status, f"{req_id}: {got[req_id].detail}"
    if case.expect_eligible is not None:
        assert result.eligible is case.expect_eligible, [(r.id, r.status, r.detail) for r in result.missing()]
    if case.expect_warnings is not None:
        assert sorted(w.id for w in result.warnings) == sorted(case.expect_warnings)
    for text in case.detail_contains:
        assert any(text in got[r].detail for r in case.expect), f"{text!r} not in the detail"
