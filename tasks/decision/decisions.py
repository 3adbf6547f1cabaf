"""The decision: recorded when the stage machine reaches a final stage (with the endorsement record and
the decision letter, in the same transaction), or requested early by the coordinator."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse.dates import add_years
from endorse.db import transaction
from endorse.rulebook import RulebookLibrary
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
    Support,
    decide,
    decision_supported,
)
from tasks.intake.people import audit_person_change
from tasks.mail.outbox import queue_email, render_for


def record_decision(s: Session, app: Application, ev: Evaluation, cfg: PipelineConfig, now: datetime,
                    review_outcome: str | None = None) -> Decision:
    outcome, reasons = decide(ev, review_outcome)
    if app.stage != outcome:  # the transition chose the outcome; they must agree
        raise RuntimeError(f"decision {outcome} disagrees with stage {app.stage}")
    decision = Decision(application_id=app.id, outcome=outcome, reasons=reasons, decided_by=cfg.actor,
                        decided_at=now, as_of=cfg.as_of, rulebook_digest=ev.rulebook_digest)
    s.add(decision)
    s.flush()
    ctx = letter_context(app, ev, outcome, cfg.library, cfg.as_of)
    if outcome == ENDORSED:
        number = endorsement_number(app, cfg.as_of)
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
    queue_email(s, role=f"decision.{outcome}", to_email=app.applicant.email, to_name=app.applicant_name,
                association=app.association_code, application_id=app.id, context=ctx,
                idempotency_key=f"decision:{decision.id}")
    record_audit(s, actor=cfg.actor, action="decision.recorded", entity_type="decision", entity_id=decision.id,
                 application_id=app.id, outcome=outcome, reasons=reasons, rulebook_digest=ev.rulebook_digest)
    return decision


def endorsement_number(app: Application, as_of) -> str:
    return f"{app.association_code}-{app.category}-{as_of.year}-{app.id}"


def letter_context(app: Application, ev: Evaluation, outcome: str, library: RulebookLibrary, as_of: date) -> dict:
    """What the decision letter says, for the letter itself and for the coordinator's preview of it."""
    info = library.category_info(app.category)
    ctx = {"applicant_name": app.applicant_name, "category_name": info["name"], "application_id": app.id,
           "decided_on": as_of.isoformat(), "missing": [_plain(r) for r in ev.missing()]}
    if outcome == ENDORSED:
        ctx.update(endorsement_number=endorsement_number(app, as_of), renewal_due_on=add_years(as_of, 1).isoformat())
    if outcome == NOT_ENDORSED:
        wait = int(library.category_rules(app.association_code, app.category, as_of).settings["exam_retake_wait_days"])
        ctx["retake_after"] = (as_of + timedelta(days=wait)).isoformat() if ev.status_of("exam") == UNMET else ""
    return ctx


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


# --- the coordinator's decision: preview, then confirm ---------------------------------------------------

@dataclass(frozen=True)
class DecisionPreview:
    """What "Record the decision" would do now: whether the checklist supports it, the outcome the rules
    give, the letter exactly as it would be queued, and a digest of all that for the confirmation."""
    application_id: str
    support: Support
    outcome: str | None
    reasons: list[str]
    subject: str
    text: str
    html: str
    digest: str


def checklist_now(s: Session, app: Application, library: RulebookLibrary, as_of: date):
    """The application's checklist and stage facts as the pipeline would read them now."""
    from tasks.intake.records import load_documents
    from tasks.eligibility.evaluation import evaluate
    from tasks.eligibility.facts import review_outcome_of, stage_facts

    doc = load_documents(s, [app.id])[app.id]
    ev = evaluate(doc, library, as_of)
    cfg = PipelineConfig(library=library, as_of=as_of, secret_key="")
    return ev, stage_facts(app, cfg, review_outcome_of(s, app, cfg))


def _preview(s: Session, app: Application, library: RulebookLibrary, as_of: date) -> DecisionPreview:
    ev, facts = checklist_now(s, app, library, as_of)
    support = decision_supported(ev, facts)
    outcome, reasons = decide(ev)
    subject = text = html = ""
    if support.ok:
        mail = render_for(s, f"decision.{outcome}", letter_context(app, ev, outcome, library, as_of),
                          app.association_code)
        subject, text, html = mail.subject, mail.text, mail.html
    seen = "\x1f".join([app.id, str(app.version_id), app.stage, str(support.ok), outcome, *reasons, subject, text])
    return DecisionPreview(app.id, support, outcome if support.ok else support.outcome, reasons, subject, text, html,
                           hashlib.sha256(seen.encode()).hexdigest())


def preview_decision(s: Session, application_id: str, library: RulebookLibrary, as_of: date) -> DecisionPreview:
    app = s.get(Application, application_id)
    if app is None:
        raise LookupError(f"no application {application_id!r}")
    return _preview(s, app, library, as_of)


class PreviewOutdated(ValueError):
    """The application changed between the preview and the confirmation."""


def confirm_decision(sessions: sessionmaker[Session], application_id: str, library: RulebookLibrary, as_of: date,
                     *, digest: str, actor: str) -> DecisionPreview:
    """Record the coordinator's request for the decision they previewed: refused when the checklist does
    not support it, or when anything the preview showed has changed since (the digest differs)."""
    with transaction(sessions) as s:
        app = s.get(Application, application_id)
        if app is None:
            raise LookupError(f"no application {application_id!r}")
        preview = _preview(s, app, library, as_of)
        if not preview.support.ok:
            raise ValueError(f"{application_id}: no decision now: {preview.support.reason}")
        if preview.digest != digest:
            raise PreviewOutdated(f"{application_id} changed since the preview: look at the new preview "
                                  "before confirming")
        app.decision_requested, app.needs_reconcile = True, True
        record_audit(s, actor=actor, action="decision.requested", entity_type="application", entity_id=app.id,
                     application_id=app.id, outcome=preview.outcome, preview_digest=digest)
    return preview


def action_support(s: Session, app: Application, library: RulebookLibrary, as_of: date) -> dict[str, Support]:
    """For the application page: whether the checklist supports each of the coordinator's two verbs now."""
    from tasks.eligibility.stages import exam_approval_supported

    ev, facts = checklist_now(s, app, library, as_of)
    return {"decision": decision_supported(ev, facts), "approve_exam": exam_approval_supported(ev, facts)}
