"""The sample cohort gets what cohort/EXPECTED.yaml says (written by hand, not by the evaluator)."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from endorse.documents import load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from tasks.eligibility.evaluation import evaluate

EXPECTED = yaml.safe_load((PROJECT_ROOT / "cohort" / "EXPECTED.yaml").read_text())
AS_OF = date.fromisoformat(str(EXPECTED["as_of"]))
# A second cohort, written by hand independently of the first and of the evaluator.
INDEPENDENT_DIR = PROJECT_ROOT / "tests" / "fixtures" / "cohort_independent"
INDEPENDENT = yaml.safe_load((INDEPENDENT_DIR / "EXPECTED.yaml").read_text())
ALL_CASES = [(PROJECT_ROOT / "cohort", c) for c in EXPECTED["applications"]] + \
            [(INDEPENDENT_DIR, c) for c in INDEPENDENT["applications"]]


@pytest.mark.parametrize("folder,expected", [(PROJECT_ROOT / "cohort", EXPECTED), (INDEPENDENT_DIR, INDEPENDENT)],
                         ids=["cohort", "independent cohort"])
def test_every_cohort_file_has_an_expectation(folder, expected):
    files = {p.name for p in folder.glob("*.json")}
    assert files == {e["file"] for e in expected["applications"]}


def test_the_cohort_has_eligible_applicants_and_gaps_in_every_category():
    apps = EXPECTED["applications"]
    for cat in ("IFA", "IFS", "IMHS", "IMHM-C", "IMHM-P", "IMHM-RF"):
        assert any(a["category"] == cat and a["eligible"] for a in apps), cat
    assert sum(not a["eligible"] for a in apps) >= 20


@pytest.mark.parametrize("folder,case", ALL_CASES, ids=[f"{f.name}/{a['file']} · {a['gap']}" for f, a in ALL_CASES])
def test_cohort_application_gets_its_expected_checklist(folder, case):
    doc = load_document(folder / case["file"])
    result = evaluate(doc, default_library(), AS_OF)
    got = {r.id: r for r in result.requirements}
    for req_id, status in (case["statuses"] or {}).items():
        assert got[req_id].status == status, f"{req_id}: {got[req_id].detail}"
    others = [(r.id, r.status, r.detail) for r in result.requirements
              if r.status in ("unmet", "pending") and r.id not in (case["statuses"] or {})]
    assert others == [], "only the deliberate gap may be open"
    assert result.eligible is case["eligible"]
    assert sorted(w.id for w in result.warnings) == sorted(case["warnings"] or [])
