"""``make demo``'s acts on the web (issue 15: "make demo exercises the web actions it can"): against the
served app, through the routes a person uses and with their CSRF tokens, a coordinator asks another rater
where one declined and the rater answers from the emailed link; the coordinator emails the third reviewer
their console link again and the reviewer settles the essay from it. Checked on the database, on SQLite
and PostgreSQL (the demo's Prefect flows replaced by the same verbs run in process)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from endorse.db import transaction
from endorse.documents import load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from endorse_cli import demo
from endorse_cli.smtp_sink import SmtpSink, read_eml
from models import AuditLog, Essay, ExamAttempt, ReferenceRequest, ReviewAssignment
from tasks.coordination.accounts import set_coordinator
from tasks.exam import review as essay_review
from tasks.intake.records import save_document
from tasks.mail.outbox import SmtpConfig, deliver_due
from tasks.pipeline import reconcile as pipeline
from tests.exam.conftest import AS_OF, sitting  # noqa: F401  (fixture)

MI, PASSWORD = "mi.coordinator@example.org", "correct horse battery staple"
DECLINED = "mi-aimh-ifs-rater-declined.json"  # a rater declined: the application waits for another


def test_the_demo_acts_as_a_coordinator_a_rater_and_a_reviewer_over_http(sessions, sitting, tmp_path):  # noqa: F811
    secret, lib = demo.get_secret(), default_library()
    cfg = pipeline.PipelineConfig(library=lib, as_of=AS_OF, secret_key=secret)
    doc = load_document(PROJECT_ROOT / "cohort" / DECLINED)
    with transaction(sessions) as s:
        save_document(s, doc, actor="test")
    assert pipeline.reconcile_one(sessions, doc.id, cfg).stage == "references"
    set_coordinator(sessions, association="MI-AIMH", name="Mia Coordinator", email=MI, password=PASSWORD, actor="t")
    # The essays' first reviewers disagree on the IMHS essay: a third reviewer is assigned.
    essay_review.apply_sitting(sessions, sitting.id, lib, as_of=AS_OF, secret_key=secret, actor="t")
    with sessions() as s:
        pair = list(s.scalars(select(ReviewAssignment).join(Essay).join(ExamAttempt)
                              .where(ExamAttempt.candidate_code == sitting.codes["IMHS"]).order_by(ReviewAssignment.id)))
        criteria, _ = essay_review.rubric_for(lib, "MI-AIMH", "IMHS", AS_OF)
    for a, verdict in zip(pair, ("pass", "fail"), strict=True):
        essay_review.submit_review(sessions, essay_review.ReviewerScope(a.reviewer_id, None), a.id, lib, as_of=AS_OF,
                                   secret_key=secret, scores={c.key: "3" for c in criteria}, recommendation=verdict,
                                   comments="A careful essay.")
    with sessions() as s:
        third = s.scalars(select(ReviewAssignment).where(ReviewAssignment.round > 1)).one()

    with SmtpSink(tmp_path / "mail") as sink:
        def deliver():
            return asyncio.run(deliver_due(sessions, SmtpConfig("127.0.0.1", sink.port), secret_key=secret,
                                           base_url="http://127.0.0.1:8000"))

        def reconcile(app_id, as_of):
            return {"stage": pipeline.reconcile_one(sessions, app_id, cfg).stage}

        lines = demo._web_acts(sessions, lib, [("MI-AIMH", MI, PASSWORD)], sink, read_eml, deliver_outbox=deliver,
                               reconcile=reconcile)

    said = "\n".join(lines)
    assert f"POST /coordinator/applications/{doc.id}/raters → 200: Jordan Ellis was asked for a rating" in said
    assert "rater jordan.ellis@raters.example.org: opened the emailed link and submitted the rating (200)" in said
    assert f"POST /coordinator/exam/reviewers/{third.reviewer_id}/console-link → 200" in said
    assert "reviewed the essay as third reviewer (1 review); the essay is settled: pass" in said
    with sessions() as s:
        asked = s.scalars(select(ReferenceRequest).where(ReferenceRequest.application_id == doc.id,
                                                         ReferenceRequest.rater_name == "Jordan Ellis")).one()
        assert asked.status == "submitted"  # the rater's act, through the link their email carried
        # The coordinator's acts, signed in: audited under their name.
        assert s.scalars(select(AuditLog.actor).where(AuditLog.action == "exam.console_link_resent")).one() == \
            f"coordinator:{MI}"
        assert s.scalars(select(AuditLog).where(AuditLog.application_id == doc.id,
                                                AuditLog.actor == f"coordinator:{MI}")).first() is not None
        assert s.get(ReviewAssignment, third.id).status == "submitted"  # the reviewer's act
        attempt = s.scalars(select(ExamAttempt).where(ExamAttempt.candidate_code == sitting.codes["IMHS"])).one()
        assert attempt.essay_result == "pass"
