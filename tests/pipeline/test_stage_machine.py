"""The stage machine: which transition a checklist allows, case by case (pure, no database)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from endorse.documents import parse_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from tasks.eligibility.evaluation import evaluate
from tasks.eligibility.stages import ALLOWED, StageFacts, check_allowed, decide, next_transition

from tests.rules.casefiles import apply_changes

AS_OF = date(2026, 11, 22)
BASES = PROJECT_ROOT / "tests" / "rules" / "bases"


def ev(base: str, **change):
    doc = apply_changes(json.loads((BASES / f"{base}.json").read_text()), change)
    return evaluate(parse_document(json.dumps(doc)), default_library(), AS_OF)


def facts(stage: str, has_exam: bool, approved: date | None = None, decision_requested: bool = False) -> StageFacts:
    return StageFacts(stage, has_exam, approved, 365, decision_requested)


CASES = [
    # (rule, base, change, stage, has_exam, approved_on, expected next stage or None)
    ("a new application goes to transcripts", "IFA", {}, "submitted", False, None, "transcripts"),
    ("transcripts wait while one is awaited", "IMHS", {"set": {"education[0].transcript.received_on": None}},
     "transcripts", True, None, None),
    ("transcripts in: on to references", "IMHS", {}, "transcripts", True, None, "references"),
    ("references wait for a requested rating", "IFS", {"set": {"references[2].status": "requested"}},
     "references", False, None, None),
    ("IFA/IFS skip the exam: references done → decision", "IFS", {}, "references", False, None, "decision"),
    ("IMHS: references done → eligibility review", "IMHS", {"remove": ["exam"]}, "references", True, None,
     "eligibility_review"),
    ("eligibility review waits for the coordinator's approval", "IMHS", {"remove": ["exam"]}, "eligibility_review",
     True, None, None),
    ("approved within a year → exam", "IMHS", {"remove": ["exam"]}, "eligibility_review", True, date(2026, 6, 1), "exam"),
    ("an approval older than a year has lapsed", "IMHS", {"remove": ["exam"]}, "eligibility_review", True,
     date(2025, 11, 1), None),
    ("not approvable while another requirement is open", "IMHS",
     {"remove": ["exam"], "set": {"training": [{"title": "x", "hours": 10, "completed_on": "2025-01-01"}]}},
     "eligibility_review", True, date(2026, 6, 1), None),
    ("exam waits for both parts", "IMHM-C", {"set": {"exam.essay_result": "pending"}}, "exam", True,
     date(2026, 6, 1), None),
    ("exam settled → decision", "IMHM-C", {}, "exam", True, date(2026, 6, 1), "decision"),
    ("decision: everything met → endorsed", "IMHM-P", {}, "decision", True, None, "endorsed"),
    ("decision: exam failed → not endorsed", "IMHS", {"set": {"exam.multiple_choice_percent": 70}}, "decision",
     True, None, "not_endorsed"),
    ("decision: something else missing → deferred", "IFS", {"set": {"memberships": []}}, "decision", False, None,
     "deferred"),
    ("deferred stays deferred until what was missing arrives", "IFS", {"set": {"memberships": []}}, "deferred",
     False, None, None),
    ("deferred comes back when it arrived", "IFS", {}, "deferred", False, None, "decision"),
]


@pytest.mark.parametrize("rule,base,change,stage,has_exam,approved,expected", CASES, ids=[c[0] for c in CASES])
def test_stage_machine(rule, base, change, stage, has_exam, approved, expected):
    t = next_transition(ev(base, **change), facts(stage, has_exam, approved))
    assert (t.to_stage if t else None) == expected
    if t is not None:
        check_allowed(t.from_stage, t.to_stage)  # only allowed moves are ever proposed
        assert t.reason


def test_a_coordinator_can_ask_for_a_decision_from_references():
    t = next_transition(ev("IFS", set={"references[2].status": "requested"}),
                        facts("references", False, decision_requested=True))
    assert t.to_stage == "decision"
    assert decide(ev("IFS", set={"references[2].status": "requested"}))[0] == "deferred"


def test_final_stages_have_no_way_out_but_deferred_and_a_retake():
    # A failed exam may be retaken: the coordinator reopens not_endorsed → exam (tasks.exam.intake.start_retake).
    assert ALLOWED["endorsed"] == set() and ALLOWED["not_endorsed"] == {"exam"}
    with pytest.raises(ValueError):
        check_allowed("submitted", "endorsed")
