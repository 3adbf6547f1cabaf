"""Coordinator work on raters: check a proposed list at once, add or replace a rater, resend or
regenerate a link, and the phone vetting of non-endorsed raters. Each action is one transaction with
an audit entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from endorse import links
from endorse.db import transaction
from endorse.documents import Rater, Reference
from endorse.text import single_line
from models import Application, AuditLog, Person, RaterVetting, ReferenceRequest, record_audit
from tasks.config import PipelineConfig, _now_for
from tasks.eligibility.evaluation import MET, PENDING, evaluate
from tasks.eligibility.stages import DEFERRED, OPEN_STAGES
from tasks.intake.records import load_documents, person_for
from tasks.references.requests import issue_reference_links, queue_reference_email


@dataclass(frozen=True)
class ProposedRater:
    name: str
    email: str
    role: str
    endorsement: str | None = None
    waived_access: bool = False

    def __post_init__(self) -> None:
        # Typed into a form or on the command line, bound for an email header: checked here, for both.
        object.__setattr__(self, "name", single_line(self.name, "name"))
        email = single_line(self.email, "email", max_length=254)
        if email.count("@") != 1 or " " in email:
            raise ValueError("email: write one email address, like name@example.org")
        object.__setattr__(self, "email", email)


def check_rater_list(s: Session, application_id: str, proposed: list[ProposedRater], cfg: PipelineConfig) -> list[str]:
    """What is missing from a list of raters, in plain words (empty: the list can satisfy the rules).

    The rules are the evaluator's: the list is evaluated as if every rater had been asked, so a
    'pending' references/endorsed-rater result means the list is complete.
    """
    doc = load_documents(s, [application_id])[application_id]
    refs = tuple(Reference.model_construct(rater=Rater.model_construct(name=p.name, email=p.email,
                                                                         endorsement=p.endorsement, vetted_on=None),
                                           role=p.role, status="requested", submitted_on=None,
                                           insufficient_information_count=None, recommendation=None,
                                           waived_access=p.waived_access) for p in proposed)
    trial = type(doc)(**{**doc.__dict__, "references": refs})
    ev = evaluate(trial, cfg.library, cfg.as_of)
    problems = []
    for req_id in ("references", "endorsed_rater"):
        r = next(x for x in ev.requirements if x.id == req_id)
        if r.status not in (MET, PENDING):
            problems.append(r.detail)
    return problems


def add_rater(sessions: sessionmaker[Session], application_id: str, rater: ProposedRater, cfg: PipelineConfig,
              *, actor: str) -> int:
    """Ask one more rater (e.g. after a decline): a request, a link and an email, at once."""
    with transaction(sessions) as s:
        return _add_rater(s, application_id, rater, cfg, actor=actor)


def _add_rater(s: Session, application_id: str, rater: ProposedRater, cfg: PipelineConfig, *, actor: str) -> int:
    app = s.get(Application, application_id)
    if app is None:
        raise LookupError(f"no application {application_id!r}")
    # The name and endorsement typed here are this application's claim about the rater, not their record.
    person = person_for(s, rater.name, rater.email, association=None)
    if person.id == app.applicant_id:
        raise ValueError("the applicant cannot rate their own application")
    position = len(s.scalars(select(ReferenceRequest.id).where(ReferenceRequest.application_id == app.id)).all())
    req = ReferenceRequest(application_id=app.id, position=position, rater_id=person.id, role=rater.role,
                           rater_name=rater.name,
                           status="requested", waived_access=rater.waived_access,
                           rater_endorsement_claimed=rater.endorsement)
    s.add(req)
    s.flush()
    record_audit(s, actor=actor, action="reference.added", entity_type="reference_request", entity_id=req.id,
                 application_id=app.id, role=rater.role, rater=person.email_normalized)
    app.needs_reconcile = True
    if app.stage not in ("submitted", "transcripts"):
        issue_reference_links(s, app, cfg, _now_for(cfg.as_of))
    return req.id


def replace_rater(sessions: sessionmaker[Session], request_id: int, new: ProposedRater, cfg: PipelineConfig,
                  *, actor: str, reason: str) -> int:
    """Cancel a request (its link dies at once) and ask someone else in its place, in one transaction:
    a failure leaves the old request open."""
    with transaction(sessions) as s:
        old = s.get(ReferenceRequest, request_id)
        if old is None or old.status not in ("requested",):
            raise ValueError(f"reference request {request_id} is not open")
        old.status, old.cancelled_reason, old.token_hash = "cancelled", reason, None
        record_audit(s, actor=actor, action="reference.cancelled", entity_type="reference_request", entity_id=old.id,
                     application_id=old.application_id, reason=reason)
        s.flush()
        new_id = _add_rater(s, old.application_id, new, cfg, actor=actor)
        old.replaced_by_id = new_id
        return new_id


def resend_link(sessions: sessionmaker[Session], request_id: int, cfg: PipelineConfig, *, actor: str) -> None:
    """Send the same link again (it keeps working until it expires)."""
    with transaction(sessions) as s:
        req = _open_request(s, request_id)
        app = s.get(Application, req.application_id)
        if req.token_hash is None:
            raise ValueError("this link no longer works: regenerate it instead")
        # Each resend is its own email: number them by the resends already recorded.
        resends = s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "reference.link_resent", AuditLog.entity_id == str(req.id)))
        queue_reference_email(s, app, req, cfg, "reference.request", key_suffix=f":resend:{resends + 1}")
        record_audit(s, actor=actor, action="reference.link_resent", entity_type="reference_request", entity_id=req.id,
                     application_id=app.id)


def regenerate_link(sessions: sessionmaker[Session], request_id: int, cfg: PipelineConfig, *, actor: str) -> None:
    """A new link replaces the old one, which stops working at once."""
    with transaction(sessions) as s:
        req = _open_request(s, request_id)
        app = s.get(Application, req.application_id)
        settings = cfg.library.category_rules(app.association_code, app.category, cfg.as_of).settings
        now = _now_for(cfg.as_of)
        link = links.issue(cfg.secret_key, "rating")
        req.token_nonce, req.token_hash, req.token_generation = link.nonce, link.token_hash, req.token_generation + 1
        req.token_expires_at = now + timedelta(days=int(settings["reference_link_expiry_days"]))
        if req.due_on is None or req.due_on < cfg.as_of:
            req.due_on = (now + timedelta(days=int(settings["reference_due_days"]))).date()
        queue_reference_email(s, app, req, cfg, "reference.request")
        record_audit(s, actor=actor, action="reference.link_regenerated", entity_type="reference_request",
                     entity_id=req.id, application_id=app.id, generation=req.token_generation)


def _open_request(s: Session, request_id: int) -> ReferenceRequest:
    req = s.get(ReferenceRequest, request_id)
    if req is None or req.status != "requested":
        raise ValueError(f"reference request {request_id} is not open")
    return req


@dataclass(frozen=True)
class VettingItem:
    request_id: int
    application_id: str
    category: str
    association: str
    rater_name: str
    rater_email: str
    role: str


# Open, or deferred (it comes back when what was missing arrives): where a vetting can still change something.
VETTABLE_STAGES = OPEN_STAGES + (DEFERRED,)


def vetting_queue(s: Session, cfg: PipelineConfig) -> list[VettingItem]:
    """Raters who hold no endorsement of the category's set, where the rules allow vetting, not yet vetted,
    on applications still open (a decided application's rater can no longer be acted on)."""
    rows = s.execute(select(ReferenceRequest, Application, Person)
                     .join(Application, Application.id == ReferenceRequest.application_id)
                     .join(Person, Person.id == ReferenceRequest.rater_id)
                     .where(ReferenceRequest.status.in_(("requested", "submitted")), ReferenceRequest.vetting == None,  # noqa: E711
                            Application.stage.in_(VETTABLE_STAGES))
                     .order_by(Application.id, ReferenceRequest.position)).all()
    out = []
    for req, app, person in rows:
        rules = cfg.library.category_rules(app.association_code, app.category, cfg.as_of)
        rule = rules.rules.get("endorsed_rater")
        if rule is None or not rule.vetting_allowed:
            continue
        if req.rater_endorsement_claimed in rules.sets.get(rule.rater_set, frozenset()):
            continue
        out.append(VettingItem(req.id, app.id, app.category, app.association_code, req.rater_name, person.email, req.role))
    return out


def vet_rater(sessions: sessionmaker[Session], request_id: int, *, coordinator: str, vetted_on: date, accepted: bool,
              note: str | None) -> None:
    """Record the coordinator's phone call: who, when, the decision and a note."""
    with transaction(sessions) as s:
        req = s.get(ReferenceRequest, request_id)
        if req is None:
            raise LookupError(f"no reference request {request_id}")
        if req.vetting is not None:
            raise ValueError(f"reference request {request_id} was already vetted on {req.vetting.vetted_on}")
        stage = s.get(Application, req.application_id).stage
        if stage not in VETTABLE_STAGES:
            raise ValueError(f"{req.application_id} is decided ({stage.replace('_', ' ')}): its raters are not vetted now")
        s.add(RaterVetting(reference_request_id=req.id, coordinator=coordinator, vetted_on=vetted_on,
                           decision="accepted" if accepted else "rejected", note=note))
        s.get(Application, req.application_id).needs_reconcile = True
        record_audit(s, actor=f"coordinator:{coordinator}", action="rater.vetted", entity_type="reference_request",
                     entity_id=req.id, application_id=req.application_id, decision="accepted" if accepted else "rejected",
                     vetted_on=vetted_on.isoformat())
