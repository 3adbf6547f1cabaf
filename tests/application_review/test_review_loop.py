"""Application review (issue 19): a complete application (complete apart from the exam for IMHS) goes
to two application reviewers before the decision or exam approval; two agreeing reviewers settle it, a
disagreement goes to the coordinator, a decline or a missed due date reassigns only that application,
"not yet" defers it; associations whose rulebook leaves the stage off move exactly as before."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from endorse.rulebook import default_library
from models import (
    Application,
    ApplicationReviewAssignment,
    ApplicationReviewOutcome,
    AuditLog,
    Decision,
    OutboxMessage,
)
from tasks.application_review import rounds
from tasks.exam.results import approve_for_exam
from tasks.pipeline import reconcile as pipeline
from tests.application_review.conftest import AS_OF, ASSOCIATION, SECRET, build, reviewer_token, review_rules


def _apply(sessions, review, as_of=AS_OF):
    return rounds.apply_association(sessions, ASSOCIATION, review.library, as_of=as_of, secret_key=SECRET,
                                    actor="coordinator:test")


def _open(sessions, app_id):
    with sessions() as s:
        return list(s.scalars(select(ApplicationReviewAssignment).where(
            ApplicationReviewAssignment.application_id == app_id, ApplicationReviewAssignment.status == "assigned")
            .order_by(ApplicationReviewAssignment.id)))


def _submit(sessions, review, a, recommendation, conditions=""):
    token = reviewer_token(sessions, a.reviewer_id)
    with sessions() as s:
        ids = {r["id"] for r in s.get(Application, a.application_id).last_checklist}
    return rounds.submit_review(sessions, token, a.id, review.library, as_of=AS_OF, recommendation=recommendation,
                                conditions=conditions, notes={"education": "transcript matches the degree"}, answers={},
                                requirement_ids=ids, question_ids=set())


def _stage(sessions, app_id):
    with sessions() as s:
        return s.get(Application, app_id).stage


def test_a_complete_application_waits_for_application_review_before_the_decision(sessions, review):
    """004 · Glossary (EASy coordinates application reviews): IFA complete → application review, not decision."""
    assert _stage(sessions, review.apps["IFA"]) == "application_review"
    # IMHS: complete apart from the exam → application review before exam approval (004 · IMHS).
    assert _stage(sessions, review.apps["IMHS"]) == "application_review"


def test_two_agreeing_reviewers_settle_it_and_reconcile_moves_it_on(sessions, review):
    rnd = _apply(sessions, review)
    assert all(len(v) == 2 for v in rnd.plan.assignments.values()) and len(rnd.plan.assignments) == 2
    ifa = review.apps["IFA"]
    first, second = _open(sessions, ifa)
    assert _submit(sessions, review, first, "recommend") == ("waiting", ifa)
    assert _submit(sessions, review, second, "recommend") == ("recommend", ifa)
    out = pipeline.reconcile_one(sessions, ifa, review.cfg())
    assert [t.to_stage for t in out.transitions] == ["decision", "endorsed"]
    with sessions() as s:
        actions = [a for (a,) in s.execute(select(AuditLog.action).where(AuditLog.application_id == ifa))]
        assert actions.count("appreview.submitted") == 2 and "appreview.settled" in actions
        outcome = s.scalars(select(ApplicationReviewOutcome).where(ApplicationReviewOutcome.application_id == ifa)).one()
        assert (outcome.outcome, outcome.settled_by) == ("recommend", "reviewers")


def test_imhs_recommended_goes_back_to_eligibility_review_for_exam_approval(sessions, review):
    imhs = review.apps["IMHS"]
    with pytest.raises(ValueError, match="application.review"):  # no exam approval before the review
        approve_for_exam(sessions, imhs, approved_on=AS_OF, actor="coordinator:test")
    _apply(sessions, review)
    for a in _open(sessions, imhs):
        _submit(sessions, review, a, "recommend_with_conditions", conditions="RS/C log signed by the provider")
    out = pipeline.reconcile_one(sessions, imhs, review.cfg())
    assert [t.to_stage for t in out.transitions] == ["eligibility_review"]
    approve_for_exam(sessions, imhs, approved_on=AS_OF, actor="coordinator:test")
    out = pipeline.reconcile_one(sessions, imhs, review.cfg())
    assert [t.to_stage for t in out.transitions] == ["exam"]


def test_a_disagreement_goes_to_the_coordinator_who_records_the_outcome(sessions, review):
    ifa = review.apps["IFA"]
    _apply(sessions, review)
    first, second = _open(sessions, ifa)
    _submit(sessions, review, first, "recommend")
    assert _submit(sessions, review, second, "not_yet") == ("disagreement", ifa)
    pipeline.reconcile_one(sessions, ifa, review.cfg())
    assert _stage(sessions, ifa) == "application_review"  # waits for the coordinator
    with sessions() as s:
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "coordinator.appreview_disagreement")).one()
        assert ifa in mail.subject
    with pytest.raises(ValueError, match="note"):
        rounds.record_coordinator_outcome(sessions, ifa, outcome="not_yet", note=" ", on=AS_OF, actor="coordinator:test")
    rounds.record_coordinator_outcome(sessions, ifa, outcome="not_yet", note="volunteer hours not yet documented",
                                      on=AS_OF, actor="coordinator:mlopez@example.org")
    out = pipeline.reconcile_one(sessions, ifa, review.cfg())
    assert [t.to_stage for t in out.transitions] == ["deferred"]
    with sessions() as s:
        decision = s.scalars(select(Decision).where(Decision.application_id == ifa)).one()
        assert decision.outcome == "deferred" and any("not yet" in r for r in decision.reasons)
        settled = s.scalars(select(AuditLog).where(AuditLog.application_id == ifa,
                                                   AuditLog.action == "appreview.settled")).one()
        assert settled.actor == "coordinator:mlopez@example.org"
    # Deferred by the reviewers' "not yet": a later reconcile does not send it round again.
    assert pipeline.reconcile_one(sessions, ifa, review.cfg(AS_OF + timedelta(days=1))).transitions == []


def test_a_decline_reassigns_only_that_application(sessions, review):
    ifa, imhs = review.apps["IFA"], review.apps["IMHS"]
    _apply(sessions, review)
    before_imhs = {a.reviewer_id for a in _open(sessions, imhs)}
    leaving = _open(sessions, ifa)[0]
    rounds.decline_review(sessions, reviewer_token(sessions, leaving.reviewer_id), leaving.id, review.library,
                          as_of=AS_OF, secret_key=SECRET, reason="I supervised her internship")
    now_on = {a.reviewer_id for a in _open(sessions, ifa)}
    assert leaving.reviewer_id not in now_on and len(now_on) == 2
    assert {a.reviewer_id for a in _open(sessions, imhs)} == before_imhs


def test_a_missed_due_date_reassigns_and_reminders_go_out_once(sessions, review):
    _apply(sessions, review)
    due = _open(sessions, review.apps["IFA"])[0].due_on
    assert rounds.remind_reviewers(sessions, review.library, as_of=due - timedelta(days=7)) >= 1
    assert rounds.remind_reviewers(sessions, review.library, as_of=due - timedelta(days=7)) == 0
    expired = rounds.expire_overdue_reviews(sessions, review.library, as_of=due + timedelta(days=1), secret_key=SECRET)
    assert expired == 4
    with sessions() as s:
        # Three volunteers, each came off one: the pool is short now and the plan says so.
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "appreview.expired")) == 4


def test_hard_conflicts_keep_raters_and_colleagues_off(sessions, tmp_path):
    """Same hard conflicts as essays: the applicant's raters and anyone at the same employer."""
    lib = review_rules(tmp_path)
    r = build(sessions, lib, files=("mi-aimh-ifa-eligible-01.json",),
              pool=[("Rita Reviewer", "IMHS"), ("Ravi Reviewer", "IFS")])
    from tests.application_review.conftest import add_application_reviewer
    from endorse.db import transaction
    with transaction(sessions) as s:
        colleague = add_application_reviewer(s, "Cora Colleague", "IMHS", employer="Detroit Family Partners")
    rnd = rounds.apply_association(sessions, ASSOCIATION, lib, as_of=AS_OF, secret_key=SECRET, actor="test")
    assert colleague not in rnd.plan.assignments[r.apps["IFA"]]


def test_an_association_without_the_setting_moves_as_before(sessions, tmp_path):
    """The shipped rulebooks leave application review off: IFA complete → decision → endorsed."""
    r = build(sessions, default_library(), files=("mi-aimh-ifa-eligible-01.json",))
    assert _stage(sessions, r.apps["IFA"]) == "endorsed"


def test_an_exam_result_on_file_still_waits_for_the_review_before_the_decision(sessions, tmp_path):
    """Review comes before the decision even when the exam result came in with the document."""
    r = build(sessions, review_rules(tmp_path), files=("mi-aimh-imhs-eligible-01.json",), keep_exam=True)
    imhs = r.apps["IMHS"]
    assert _stage(sessions, imhs) == "application_review"
    _apply(sessions, r)
    for a in _open(sessions, imhs):
        _submit(sessions, r, a, "recommend")
    out = pipeline.reconcile_one(sessions, imhs, r.cfg())
    assert [t.to_stage for t in out.transitions] == ["eligibility_review", "decision", "endorsed"]
