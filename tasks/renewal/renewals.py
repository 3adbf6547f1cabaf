"""Annual renewal, the pipeline side: notices before the due date, and lapse after the grace period.

Which hours a renewal needs (training, RS/C, DEI) is evaluated per renewal submission; here the
pipeline only makes sure no endorsement lapses silently: every endorsed professional is told before
the deadline, and an endorsement with no accepted renewal after the grace period is marked lapsed,
audited and the professional told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from endorse.dates import add_years
from endorse.db import transaction
from models import Endorsement, Person, Renewal, record_audit
from tasks.config import PipelineConfig, _now_for
from tasks.mail.outbox import queue_email
from tasks.renewal.evaluation import renewal_asks, renewal_year, years_held


def _settings(cfg: PipelineConfig, association: str | None) -> dict:
    code = association or cfg.library.baseline.data["association"]
    return cfg.library.category_rules(code, cfg.library.categories[0], cfg.as_of).settings


def _renewed(s: Session, endorsement: Endorsement) -> bool:
    year = endorsement.renewal_due_on.year
    return s.scalars(select(Renewal.id).where(Renewal.endorsement_id == endorsement.id, Renewal.year == year,
                                              Renewal.status.in_(("met", "reinstated")))).first() is not None


def send_renewal_notices(sessions: sessionmaker[Session], cfg: PipelineConfig) -> int:
    """A notice N days before the renewal is due (association setting), once per endorsement and N."""
    sent = 0
    with transaction(sessions) as s:
        rows = s.execute(select(Endorsement, Person).join(Person, Person.id == Endorsement.person_id).where(
            Endorsement.origin == "granted", Endorsement.status == "active",
            Endorsement.renewal_due_on.is_not(None), Endorsement.renewal_due_on >= cfg.as_of)).all()
        for e, person in rows:
            days = (e.renewal_due_on - cfg.as_of).days
            if days not in _settings(cfg, e.association_code)["renewal_notice_days_before"] or _renewed(s, e):
                continue
            # What renewing asks, from the rules in force on the due date (no figure in the template).
            code = e.association_code or cfg.library.baseline.data["association"]
            rules = cfg.library.category_rules(code, e.category, e.renewal_due_on)
            held = years_held(e.granted_on, e.renewal_due_on) if e.granted_on else 0
            start, _ = renewal_year(e.renewal_due_on)
            queued = queue_email(s, role="renewal.notice", to_email=person.email, to_name=person.name,
                        association=e.association_code, application_id=None,
                        idempotency_key=f"renewal.notice:{e.id}:{e.renewal_due_on.isoformat()}:{days}",
                        context={"person_name": person.name, "category_name": cfg.library.category_info(e.category)["name"],
                                 "endorsement_number": e.number, "due_on": e.renewal_due_on.isoformat(),
                                 "days": days, "year_from": start.isoformat(), "asks": renewal_asks(rules, held)})
            sent += queued.new  # a renewal run alongside may have queued it first
    return sent


def lapse_unrenewed(sessions: sessionmaker[Session], cfg: PipelineConfig) -> int:
    """Endorsements past due plus the grace period without an accepted renewal become lapsed."""
    lapsed = 0
    now = _now_for(cfg.as_of)
    with transaction(sessions) as s:
        rows = s.execute(select(Endorsement, Person).join(Person, Person.id == Endorsement.person_id).where(
            Endorsement.origin == "granted", Endorsement.status == "active",
            Endorsement.renewal_due_on < cfg.as_of)).all()
        for e, person in rows:
            grace = int(_settings(cfg, e.association_code)["renewal_grace_days"])
            if cfg.as_of <= e.renewal_due_on + timedelta(days=grace) or _renewed(s, e):
                continue
            # Still active? Only the run whose UPDATE changed the row audits and emails.
            if s.execute(update(Endorsement).where(Endorsement.id == e.id, Endorsement.status == "active")
                         .values(status="lapsed").returning(Endorsement.id)).first() is None:
                continue
            record_audit(s, actor=cfg.actor, action="endorsement.lapsed", entity_type="endorsement", entity_id=e.id,
                         application_id=e.application_id, due_on=e.renewal_due_on.isoformat(), grace_days=grace,
                         at=now.isoformat())
            queue_email(s, role="renewal.lapsed", to_email=person.email, to_name=person.name,
                        association=e.association_code, application_id=None,
                        idempotency_key=f"renewal.lapsed:{e.id}:{e.renewal_due_on.isoformat()}",
                        context={"person_name": person.name, "category_name": cfg.library.category_info(e.category)["name"],
                                 "endorsement_number": e.number, "due_on": e.renewal_due_on.isoformat()})
            lapsed += 1
    return lapsed


# --- a renewal submitted ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenewalOutcome:
    endorsement_number: str
    year: int
    status: str  # met | unmet | reinstated
    renewal_due_on: str
    unmet: list[str]


def record_renewal(sessions: sessionmaker[Session], doc, library, *, as_of: date, actor: str,
                   association: str | None = None) -> RenewalOutcome:
    """Evaluate a renewal document and record it against the endorsement, in one transaction.

    Met: the endorsement's next renewal moves a year on. Unmet: recorded with what is missing, the
    endorsement unchanged (the grace period still runs). A lapsed endorsement is reinstated when the
    missed year's requirements are met within the association's reinstatement window (rulebook:
    ``reinstatement``); after that the professional applies again. With ``association`` (the web),
    only that association's endorsements."""
    with transaction(sessions) as s:
        return record_renewal_in(s, doc, library, as_of=as_of, actor=actor, association=association)


def record_renewal_in(s: Session, doc, library, *, as_of: date, actor: str,
                      association: str | None = None) -> RenewalOutcome:
    """``record_renewal`` in the caller's transaction (the web portfolio records it with its own change)."""
    from tasks.renewal.evaluation import evaluate_renewal, renewal_to_dict

    if not doc.endorsement_number:
        raise ValueError(f"{doc.id}: endorsement_number is needed to record a renewal")
    e = s.scalars(select(Endorsement).where(Endorsement.number == doc.endorsement_number)).first()
    # A coordinator records renewals of their own association's endorsements only; another's is
    # answered like one that does not exist.
    if e is None or (association is not None and e.association_code != association):
        raise LookupError(f"{doc.id}: endorsement_number {doc.endorsement_number!r} is not an endorsement we granted")
    if e.category != doc.category:
        raise ValueError(f"{doc.id}: category {doc.category} but endorsement {e.number} is {e.category}")
    if e.renewal_due_on is None or e.renewal_due_on.year != doc.year:
        raise ValueError(f"{doc.id}: year {doc.year}, but endorsement {e.number} renews next in "
                         f"{e.renewal_due_on.year if e.renewal_due_on else 'no year'}")
    # The renewal year ends on the endorsement's own due date (the database is the source of truth).
    ev = evaluate_renewal(doc.model_copy(update={"due_on": e.renewal_due_on}), library, doc.year)
    unmet = [f"{r.id}: {r.detail}" for r in ev.requirements if r.status not in ("met", "not_applicable")]
    renewal = s.scalars(select(Renewal).where(Renewal.endorsement_id == e.id, Renewal.year == doc.year)).first()
    if renewal is None:
        renewal = Renewal(endorsement_id=e.id, year=doc.year)
        s.add(renewal)
    renewal.submitted_on, renewal.evaluated_at = as_of, _now_for(as_of)
    renewal.details = renewal_to_dict(ev, doc.year)
    status = "met" if not unmet else "unmet"
    if not unmet and e.status == "lapsed":
        policy = library.setting(e.association_code or doc.association, "reinstatement", as_of)
        grace = int(library.setting(e.association_code or doc.association, "renewal_grace_days", as_of))
        lapsed_on = e.renewal_due_on + timedelta(days=grace)
        if not policy["allowed"] or as_of > lapsed_on + timedelta(days=int(policy["window_days_after_lapse"])):
            raise ValueError(f"{e.number} lapsed on {lapsed_on.isoformat()}, more than "
                             f"{policy['window_days_after_lapse']} days ago: the rules ask for a new application")
        status = "reinstated"
        e.status = "active"
    elif e.status != "active":
        raise ValueError(f"endorsement {e.number} is {e.status}")
    renewal.status = status
    if status in ("met", "reinstated"):
        e.renewal_due_on = add_years(e.renewal_due_on, 1)
    s.flush()
    record_audit(s, actor=actor, action=f"renewal.{status}", entity_type="endorsement", entity_id=e.id,
                 application_id=e.application_id, year=doc.year, unmet=unmet,
                 renewal_due_on=e.renewal_due_on.isoformat())
    person = s.get(Person, e.person_id)
    queue_email(s, role=f"renewal.{status}", to_email=person.email, to_name=person.name,
                association=e.association_code, application_id=None,
                idempotency_key=f"renewal.{status}:{e.id}:{doc.year}:{len(unmet)}:{as_of.isoformat()}",
                context={"person_name": person.name, "category_name": library.category_info(e.category)["name"],
                         "endorsement_number": e.number, "year": doc.year, "unmet": unmet,
                         "due_on": e.renewal_due_on.isoformat()})
    return RenewalOutcome(e.number, doc.year, status, e.renewal_due_on.isoformat(), unmet)


def reopen_recorded_renewal(s: Session, endorsement_id: int, year: int, *, actor: str, reason: str) -> str:
    """Undo a renewal recorded by mistake, in the caller's transaction (a coordinator reopens the renewal
    to be filed again): the year's renewal is due again, the endorsement's next renewal goes back a year,
    and a reinstatement is undone. The coordinator's reason is kept in the audit log. Returns the status
    the renewal had; ValueError when a later renewal has been recorded since."""
    e = s.get(Endorsement, endorsement_id)
    renewal = s.scalars(select(Renewal).where(Renewal.endorsement_id == endorsement_id, Renewal.year == year)
                        .with_for_update()).first()
    if e is None or renewal is None or renewal.status not in ("met", "reinstated"):
        raise ValueError(f"no recorded renewal of {year} to reopen")
    back = add_years(e.renewal_due_on, -1)
    if back.year != year:
        raise ValueError(f"endorsement {e.number}: the renewal of {e.renewal_due_on.year - 1} was recorded after "
                         f"{year}'s; reopen that one first")
    was = renewal.status
    renewal.status = "due"
    e.renewal_due_on = back
    if was == "reinstated":
        e.status = "lapsed"  # as it was before the reinstatement was recorded
    s.flush()
    record_audit(s, actor=actor, action="renewal.reopened", entity_type="endorsement", entity_id=e.id,
                 application_id=e.application_id, year=year, was=was, reason=reason,
                 renewal_due_on=e.renewal_due_on.isoformat())
    return was
