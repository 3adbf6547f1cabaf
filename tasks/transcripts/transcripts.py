"""Transcripts: the coordinator records one received; applicants still waiting on one are reminded
weekly. The degree itself is checked against the category by the next reconcile."""

from __future__ import annotations

from datetime import date

from sqlalchemy import String, exists, literal, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from endorse.db import transaction
from models import (
    Application,
    EducationRecord,
    OutboxMessage,
    Transcript,
    record_audit,
)
from tasks.config import PipelineConfig
from tasks.eligibility.stages import (
    TRANSCRIPTS,
)
from tasks.mail.outbox import OUTBOX_ROWS, insert_all_if_absent, queue_email


def record_transcript(sessions: sessionmaker[Session], application_id: str, *, institution: str, official: bool,
                      received_on: date, credential: str | None = None, actor: str) -> str:
    """Record a transcript received; the degree is checked against the category by the next reconcile."""
    with transaction(sessions) as s:
        app = s.get(Application, application_id)
        if app is None:
            raise LookupError(f"no application {application_id!r}")
        rows = [e for e in s.scalars(select(EducationRecord).where(EducationRecord.application_id == app.id))
                if e.institution.casefold() == institution.casefold() and (credential is None or e.credential == credential)]
        if not rows:
            known = ", ".join(e.institution for e in s.scalars(select(EducationRecord).where(
                EducationRecord.application_id == app.id))) or "none"
            raise LookupError(f"{application_id} claims no education at {institution!r} (claimed: {known})")
        edu = rows[0]
        if edu.transcript is not None and (edu.transcript.official, edu.transcript.received_on) == (official, received_on):
            return edu.institution  # recorded already (a retried command): nothing changes, nothing audited
        if edu.transcript is None:
            edu.transcript = Transcript()
        edu.transcript.official, edu.transcript.received_on, edu.transcript.recorded_by = official, received_on, actor
        app.needs_reconcile = True
        record_audit(s, actor=actor, action="transcript.recorded", entity_type="education_record", entity_id=edu.id,
                     application_id=app.id, institution=edu.institution, official=official,
                     received_on=received_on.isoformat())
        return edu.institution


def remind_missing_transcripts(sessions: sessionmaker[Session], cfg: PipelineConfig) -> int:
    """Applicants waiting on transcripts are reminded at most once a week."""
    week = cfg.as_of.isocalendar()
    key_tail = f":{week[0]}-W{week[1]}"
    # Applicants already reminded this week (their email's key is in the outbox) are not read again.
    reminded = exists().where(OutboxMessage.idempotency_key
                              == literal("transcript.missing:", String) + Application.id + literal(key_tail, String))
    with transaction(sessions) as s:
        apps = s.scalars(select(Application).where(Application.stage == TRANSCRIPTS, ~reminded)
                         .options(selectinload(Application.education).selectinload(EducationRecord.transcript),
                                  selectinload(Application.applicant))).all()
        # Rendered one by one, written by one INSERT (a key queued meanwhile by another run is skipped
        # and not counted).
        s.info[OUTBOX_ROWS] = []
        try:
            for app in apps:
                missing = [f"{e.institution} ({e.degree or e.credential})" for e in app.education
                           if e.transcript is None or e.transcript.received_on is None or not e.transcript.official]
                if not missing:
                    continue
                info = cfg.library.category_info(app.category)
                queue_email(s, role="transcript.missing", to_email=app.applicant.email, to_name=app.applicant_name,
                            association=app.association_code, application_id=app.id,
                            idempotency_key=f"transcript.missing:{app.id}{key_tail}",
                            context={"applicant_name": app.applicant_name, "category_name": info["name"],
                                     "application_id": app.id, "missing": missing})
            rows = s.info[OUTBOX_ROWS]
        finally:
            s.info.pop(OUTBOX_ROWS)
        return insert_all_if_absent(s, rows, count=True)
