"""Reconcile and sweep on a real database: every transition audited, re-runs change nothing."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from endorse.db import transaction
from endorse.documents import load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from endorse.smtp_sink import SmtpSink
from models import Application, AuditLog, Decision, Endorsement, OutboxMessage, ReferenceRequest
from tasks import pipeline
from tasks.evaluation import evaluate
from tasks.outbox import SmtpConfig, deliver_due
from tasks.ratings import LinkNotFound, RatingInput, find_request, save_rating
from tasks.records import ensure_associations, load_documents, save_document

AS_OF = date(2026, 11, 22)
COHORT = PROJECT_ROOT / "cohort"
SECRET = "test-secret"


def cfg() -> pipeline.PipelineConfig:
    return pipeline.PipelineConfig(library=default_library(), as_of=AS_OF, secret_key=SECRET, actor="system:test")


def load(sessions, *files: str) -> list[str]:
    ids = []
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        for f in files:
            doc = load_document(COHORT / f)
            save_document(s, doc, actor="test")
            ids.append(doc.id)
    return ids


def test_an_eligible_ifs_application_is_endorsed_with_letter_and_record(sessions):
    (app_id,) = load(sessions, "ct-aimh-ifs-eligible-01.json")
    out = pipeline.reconcile_one(sessions, app_id, cfg())
    assert [t.to_stage for t in out.transitions] == ["transcripts", "references", "decision", "endorsed"]
    with transaction(sessions) as s:
        assert s.get(Application, app_id).stage == "endorsed"
        changes = s.scalars(select(AuditLog).where(AuditLog.action == "stage.changed")).all()
        assert [(a.details["from_stage"], a.details["to_stage"]) for a in changes] == [
            ("submitted", "transcripts"), ("transcripts", "references"), ("references", "decision"),
            ("decision", "endorsed")]
        assert all(a.actor == "system:test" and a.details["reason"] for a in changes)
        decision = s.scalars(select(Decision)).one()
        assert decision.outcome == "endorsed" and decision.rulebook_digest == default_library().digest
        e = s.scalars(select(Endorsement).where(Endorsement.origin == "granted")).one()
        assert e.category == "IFS" and e.renewal_due_on == date(2027, 11, 22)
        letter = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "decision.endorsed")).one()
        assert e.number in letter.body_text


def test_reconcile_is_idempotent(sessions):
    ids = load(sessions, "ct-aimh-ifs-eligible-01.json", "vaimh-imhs-rsc-short.json")
    for app_id in ids:
        pipeline.reconcile_one(sessions, app_id, cfg())
    with transaction(sessions) as s:
        before = (s.scalar(select(func.count()).select_from(AuditLog)), s.scalar(select(func.count()).select_from(OutboxMessage)),
                  s.scalar(select(func.count()).select_from(Decision)))
    for app_id in ids:
        assert pipeline.reconcile_one(sessions, app_id, cfg()).transitions == []
    with sessions() as s:
        after = (s.scalar(select(func.count()).select_from(AuditLog)), s.scalar(select(func.count()).select_from(OutboxMessage)),
                 s.scalar(select(func.count()).select_from(Decision)))
    assert before == after


def test_sweep_moves_a_batch_and_a_second_sweep_does_nothing(sessions):
    files = sorted(p.name for p in COHORT.glob("*.json"))[:15]
    load(sessions, *files)
    with sessions() as s:
        ids = pipeline.open_application_ids(s)
    first = pipeline.advance_batch(sessions, ids, cfg())
    assert first["evaluated"] == 15 and first["transitions"] >= 15
    with sessions() as s:
        ids = pipeline.open_application_ids(s)
    second = pipeline.advance_batch(sessions, ids, cfg())
    assert second["transitions"] == 0


def test_a_transcript_recorded_moves_the_application_on(sessions):
    (app_id,) = load(sessions, "ct-aimh-imhs-transcript-awaited.json")
    assert pipeline.reconcile_one(sessions, app_id, cfg()).stage == "transcripts"
    pipeline.record_transcript(sessions, app_id, institution="University of Michigan", official=True,
                               received_on=AS_OF, actor="coordinator:c@example.org")
    out = pipeline.reconcile_one(sessions, app_id, cfg())
    # Its exam result is already on file (imported), so it goes all the way.
    assert [t.to_stage for t in out.transitions] == ["references", "eligibility_review", "decision", "endorsed"]


def test_rating_requested_email_link_opens_the_form_and_the_rating_updates_the_checklist(sessions, tmp_path: Path):
    """The whole loop over a real SMTP server on loopback: email → link → rating → checklist."""
    (app_id,) = load(sessions, "ct-aimh-imhm-rf-rating-requested.json")
    out = pipeline.reconcile_one(sessions, app_id, cfg())
    assert out.stage == "references"
    with sessions() as s:
        msg = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "reference.request")).one()
        assert "/rate/" not in msg.body_text and "{{LINK}}" in msg.body_text  # no token in the database
    with SmtpSink(tmp_path / "mail") as sink:
        report = asyncio.run(deliver_due(sessions, SmtpConfig("127.0.0.1", sink.port), secret_key=SECRET,
                                         base_url="http://127.0.0.1:8000"))
        assert report.sent == 1
        (email,) = sink.messages()
    assert email["Reply-To"] and email["Message-ID"] and email["Date"]
    body = email.get_body(preferencelist=("plain",)).get_content()
    token = body.split("/rate/")[1].split()[0]
    assert email.get_body(preferencelist=("html",)).get_content().count(token) >= 1
    library = default_library()
    with sessions() as s:
        req = find_request(s, token, AS_OF)
        from tasks.ratings import form_spec

        spec = form_spec(s, req, library, AS_OF)
    answers = {a.key: "3" for d in spec.domains for a in d.areas}
    assert len(answers) == 57  # IMHM-R/F: the IMHM areas but Administration's (Policy only, seed 004)
    save_rating(sessions, token, RatingInput(answers=answers, known_for_months=24, relationship="student",
                                             recommendation="recommend", attested=True),
                library=library, as_of=AS_OF, submit=True)
    with sessions() as s:
        doc = load_documents(s, [app_id])[app_id]
    assert evaluate(doc, library, AS_OF).status_of("references") == "met"
    # After submission the link still finds the request, which now says "already submitted".
    with sessions() as s:
        assert form_spec(s, find_request(s, token, AS_OF), library, AS_OF).status == "submitted"
    try:
        with sessions() as s:
            find_request(s, token[:-1] + ("A" if token[-1] != "A" else "B"), AS_OF)
        raise AssertionError("a changed token must not open anything")
    except LinkNotFound:
        pass


def test_six_not_enough_information_answers_ask_for_another_rater_without_showing_the_rating(sessions):
    (app_id,) = load(sessions, "ct-aimh-imhm-rf-rating-requested.json")
    pipeline.reconcile_one(sessions, app_id, cfg())
    with sessions() as s:
        req = s.scalars(select(ReferenceRequest).where(ReferenceRequest.status == "requested")).one()
        from endorse import links

        token = links.token_for(req.token_nonce, SECRET, "rating")
        from tasks.ratings import form_spec

        spec = form_spec(s, req, default_library(), AS_OF)
    keys = [a.key for d in spec.domains for a in d.areas]
    answers = {k: ("na" if i < 6 else "4") for i, k in enumerate(keys)}
    save_rating(sessions, token, RatingInput(answers=answers, known_for_months=6, relationship="student",
                                             recommendation="recommend", comments="SECRET-COMMENT", attested=True),
                library=default_library(), as_of=AS_OF, submit=True)
    with sessions() as s:
        to_applicant = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "reference.add_rater")).one()
        assert "SECRET-COMMENT" not in to_applicant.body_text + to_applicant.body_html
        doc = load_documents(s, [app_id])[app_id]
    assert evaluate(doc, default_library(), AS_OF).status_of("references") == "unmet"


def test_one_reminder_per_rater_within_the_gap_even_for_several_applicants(sessions):
    from datetime import timedelta

    ids = load(sessions, "ct-aimh-imhm-rf-rating-requested.json")
    # A second application asks the same student to rate.
    with transaction(sessions) as s:
        doc = load_document(COHORT / "ct-aimh-imhm-rf-rating-requested.json").model_dump(mode="json")
        doc["id"], doc["applicant"]["email"] = "CT-2026-999", "other.applicant@example.org"
        from endorse.documents import ApplicationDocument
        import json as _json

        save_document(s, ApplicationDocument.model_validate_json(_json.dumps(doc)), actor="test")
    for app_id in [*ids, "CT-2026-999"]:
        pipeline.reconcile_one(sessions, app_id, cfg())
    with sessions() as s:
        due = s.scalars(select(ReferenceRequest.due_on).where(ReferenceRequest.status == "requested")).first()
    day = due - timedelta(days=7)
    later = pipeline.PipelineConfig(library=default_library(), as_of=day, secret_key=SECRET, actor="system:test")
    assert pipeline.send_due_reminders(sessions, later) == 1  # same rater, two requests: one reminder
