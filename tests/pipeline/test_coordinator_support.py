"""What the checklist supports when a coordinator records a decision or approves an applicant to sit the
exam (issue 15, item 1): pure rules, case by case, each named after the rule it checks."""

from __future__ import annotations

from datetime import date

import pytest

from tasks.eligibility.stages import decision_supported, exam_approval_supported, next_transition
from tests.pipeline.test_stage_machine import ev, facts

TRAINING_SHORT = {"training": [{"title": "x", "hours": 10, "completed_on": "2025-01-01"}]}

DECISION_CASES = [
    # (rule, base, change, stage, has_exam, supported, outcome the rules give)
    ("a deferral while a rating is still requested is the coordinator's call", "IFS",
     {"set": {"references[2].status": "requested"}}, "references", False, True, "deferred"),
    ("an exam-eligible applicant is not deferred: approve them to sit the exam", "IMHS", {"remove": ["exam"]},
     "eligibility_review", True, False, "deferred"),
    ("eligibility review with a requirement unmet may be deferred", "IMHS",
     {"remove": ["exam"], "set": TRAINING_SHORT}, "eligibility_review", True, True, "deferred"),
    ("IFS with every requirement met is endorsed", "IFS", {}, "references", False, True, "endorsed"),
    ("a final stage is decided already", "IFS", {}, "endorsed", False, False, None),
    ("the exam stage waits for the result", "IMHM-C", {}, "exam", True, False, None),
    ("before references there is nothing to decide", "IMHS", {}, "transcripts", True, False, None),
]


@pytest.mark.parametrize("rule,base,change,stage,has_exam,ok,outcome", DECISION_CASES, ids=[c[0] for c in DECISION_CASES])
def test_what_a_decision_needs(rule, base, change, stage, has_exam, ok, outcome):
    support = decision_supported(ev(base, **change), facts(stage, has_exam))
    assert support.ok is ok and support.reason
    if outcome is not None:
        assert support.outcome == outcome


APPROVAL_CASES = [
    ("every requirement but the exam met: approvable", "IMHS", {"remove": ["exam"]}, "eligibility_review", True, True),
    ("a requirement unmet: not approvable, and it says which", "IMHS", {"remove": ["exam"], "set": TRAINING_SHORT},
     "eligibility_review", True, False),
    ("not at eligibility review: not approvable", "IMHS", {"remove": ["exam"]}, "references", True, False),
    ("a category without an exam is never approved for one", "IFS", {}, "eligibility_review", False, False),
]


@pytest.mark.parametrize("rule,base,change,stage,has_exam,ok", APPROVAL_CASES, ids=[c[0] for c in APPROVAL_CASES])
def test_what_an_exam_approval_needs(rule, base, change, stage, has_exam, ok):
    support = exam_approval_supported(ev(base, **change), facts(stage, has_exam))
    assert support.ok is ok and support.reason


def test_the_unmet_requirement_is_named_in_the_refusal():
    support = exam_approval_supported(ev("IMHS", remove=["exam"], set=TRAINING_SHORT), facts("eligibility_review", True))
    assert "training" in support.reason


def test_a_stale_decision_request_does_not_defer_an_applicant_who_became_exam_eligible():
    # The request was made at references; the last rating arrived since. The defect: the flag
    # then sent a deferral letter from eligibility review.
    t = next_transition(ev("IMHS", remove=["exam"]), facts("eligibility_review", True, decision_requested=True))
    assert t is None
    approved = next_transition(ev("IMHS", remove=["exam"]),
                               facts("eligibility_review", True, date(2026, 11, 1), decision_requested=True))
    assert approved.to_stage == "exam"
