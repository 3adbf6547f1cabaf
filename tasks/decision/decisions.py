"""The decision: recorded when the stage machine reaches a final stage (with the endorsement record and
the decision letter, in the same transaction), or requested early by the coordinator."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse.dates import add_years
from endorse.db import transaction
from models import (
    Application,
    Decision,
    Endorsement,
    record_audit,
)
from tasks.config import PipelineConfig
from tasks.eligibility.evaluation import PENDING, UNMET, Evaluation
from tasks.eligibility.stages import (
    ENDORSED,
    NOT_ENDORSED,
    decide,
)
from tasks.intake.people import audit_person_change
from tasks.mail.outbox import queue_email


def record_decision(s: Session, app: Application, ev: Evaluation, cfg: PipelineConfig, now: datetime,
                    review_outcome: str | None = None) -> Decision:
    outcome, reasons = decide(ev, review_outcome)
    if app.stage != outcome:  # the transition chose the outcome; they must agree
        raise RuntimeError(f"decision {outcome} disagrees with stage {app.stage}")
    decision = Decision(application_id=app.id, outcome=outcome, reasons=reasons, decided_by=cfg.actor,
                        decided_at=now, as_of=cfg.as_of, rulebook_digest=ev.rulebook_digest)
    s.add(decision)
    s.flush()
    info = cfg.library.category_info(app.category)
    ctx = {"applicant_name": app.applicant_name, "category_name": info["name"], "application_id": app.id,
           "decided_on": cfg.as_of.isoformat(), "missing": [_plain(r) for r in ev.missing()]}
    if outcome == ENDORSED:
        number = f"{app.association_code}-{app.category}-{cfg.as_of.year}-{app.id}"
        renewal_due = add_years(cfg.as_of, 1)
        endorsement = s.scalars(select(Endorsement).where(Endorsement.application_id == app.id,
                                                          Endorsement.origin == "granted")).first()
        earlier = None if endorsement is not None else s.scalars(select(Endorsement).where(
            Endorsement.person_id == app.applicant_id, Endorsement.category == app.category,
            Endorsement.origin == "granted")).first()
        if earlier is not None:
            # Granted again on a new application (applying again after a lapse past the reinstatement
            # window, say): the person holds one credential per category, so the record is granted
            # anew from this application; what it was stays in the audit log.
            previous = {"number": earlier.number, "granted_on": earlier.granted_on.isoformat() if earlier.granted_on
                        else None, "status": earlier.status, "application_id": earlier.application_id}
            earlier.number, earlier.granted_on, earlier.renewal_due_on = number, cfg.as_of, renewal_due
            earlier.status, earlier.application_id, earlier.association_code = "active", app.id, app.association_code
            s.flush()
            endorsement = earlier
            audit_person_change(s, app.applicant, actor=cfg.actor, action="person.endorsement_granted",
                                by_association=app.association_code, category=app.category, number=number,
                                previous=previous)
        if endorsement is None:
            endorsement = Endorsement(person_id=app.applicant_id, category=app.category,
                                      association_code=app.association_code, number=number, granted_on=cfg.as_of,
                                      renewal_due_on=renewal_due, status="active", origin="granted",
                                      application_id=app.id)
            s.add(endorsement)
            s.flush()
            # The person's record gained a verified endorsement: every association that sees them is told.
            audit_person_change(s, app.applicant, actor=cfg.actor, action="person.endorsement_granted",
                                by_association=app.association_code, category=app.category, number=number)
        ctx.update(endorsement_number=endorsement.number, renewal_due_on=endorsement.renewal_due_on.isoformat())
    if outcome == NOT_ENDORSED:
        wait = int(cfg.library.category_rules(app.association_code, app.category, cfg.as_of)
                   .settings["exam_retake_wait_days"])
        ctx["retake_after"] = (cfg.as_of + timedelta(days=wait)).isoformat() if ev.status_of("exam") == UNMET else ""
    queue_email(s, role=f"decision.{outcome}", to_email=app.applicant.email, to_name=app.applicant_name,
                association=app.association_code, application_id=app.id, context=ctx,
                idempotency_key=f"decision:{decision.id}")
    record_audit(s, actor=cfg.actor, action="decision.recorded", entity_type="decision", entity_id=decision.id,
                 application_id=app.id, outcome=outcome, reasons=reasons, rulebook_digest=ev.rulebook_digest)
    return decision


def _plain(r) -> str:
    return f"{r.detail} ({r.id.replace('_', ' ')}{', awaited' if r.status == PENDING else ''})"


def request_decision(sessions: sessionmaker[Session], application_id: str, *, actor: str) -> None:
    with transaction(sessions) as s:
        app = s.get(Application, application_id)
        if app is None:
            raise LookupError(f"no application {application_id!r}")
        app.decision_requested, app.needs_reconcile = True, True
        record_audit(s, actor=actor, action="decision.requested", entity_type="application", entity_id=app.id,
                     application_id=app.id)
