"""Reference requests after the rater is named: the secure link and request email, reminders before
the due date, expiry of stale links, and escalation of overdue ratings to the coordinator."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from endorse import links
from endorse.db import transaction
from models import (
    Application,
    Person,
    ReferenceRequest,
    record_audit,
)
from tasks.config import PipelineConfig, _now_for
from tasks.mail.outbox import QueuedEmail, queue_email


# Still without a link? A run alongside may have issued it since this session read the row. (A Core
# statement: it needs no flush of the session first, and gives back what it wrote.) Built once: the
# first sweep after an import issues thousands, and building and keying it each time cost more than
# running it.
_R = ReferenceRequest.__table__
_ISSUE_LINK = (_R.update().where(_R.c.id == bindparam("b_id"), _R.c.token_hash.is_(None),
                                 _R.c.token_expires_at.is_(None))
               .values(token_nonce=bindparam("b_nonce"), token_hash=bindparam("b_hash"),
                       token_generation=_R.c.token_generation + 1, token_expires_at=bindparam("b_expires"),
                       due_on=bindparam("b_due"))
               .returning(_R.c.token_nonce, _R.c.token_hash, _R.c.token_generation, _R.c.token_expires_at,
                          _R.c.due_on))


def issue_reference_links(s: Session, app: Application, cfg: PipelineConfig, now: datetime,
                          pending: list[ReferenceRequest] | None = None) -> int:
    """A secure link and a request email for every requested rater who has none yet.

    ``pending``: those requests, already read by the caller for a whole batch of applications (the
    sweep); the requests this call issues are taken off the list."""
    settings = cfg.library.category_rules(app.association_code, app.category, cfg.as_of).settings
    if pending is None:
        pending = list(s.scalars(select(ReferenceRequest).where(
            ReferenceRequest.application_id == app.id, ReferenceRequest.status == "requested",
            ReferenceRequest.token_hash.is_(None), ReferenceRequest.token_expires_at.is_(None))))
    issued = 0
    expiry, due = timedelta(days=int(settings["reference_link_expiry_days"])), timedelta(days=int(settings["reference_due_days"]))
    for req in list(pending):
        pending.remove(req)
        link = links.issue(cfg.secret_key, "rating")
        written = s.connection().execute(_ISSUE_LINK, {"b_id": req.id, "b_nonce": link.nonce, "b_hash": link.token_hash,
                                                       "b_expires": now + expiry, "b_due": (now + due).date()}).first()
        if written is None:
            continue
        for key, value in written._mapping.items():  # what the row now holds, without reading it again
            set_committed_value(req, key, value)
        queue_reference_email(s, app, req, cfg, "reference.request")
        record_audit(s, actor=cfg.actor, action="reference.link_issued", entity_type="reference_request",
                     entity_id=req.id, application_id=app.id, generation=req.token_generation)
        issued += 1
    return issued


def queue_reference_email(s: Session, app: Application, req: ReferenceRequest, cfg: PipelineConfig, role: str,
                          key_suffix: str = "") -> QueuedEmail:
    rater = s.get(Person, req.rater_id)
    info = cfg.library.category_info(app.category)
    rules = cfg.library.category_rules(app.association_code, app.category, cfg.as_of)
    wording = rules.role_wording
    return queue_email(
        s, role=role, to_email=rater.email, to_name=req.rater_name, association=app.association_code,
        application_id=app.id, link_kind="rating", link_ref_id=req.id,
        idempotency_key=f"{role}:{req.id}:{req.token_generation}{key_suffix}",
        context={"rater_name": req.rater_name, "applicant_name": app.applicant_name, "category_name": info["name"],
                 "role_words": wording.get(req.role, req.role).replace("your ", "their ").replace("you", "them"),
                 "due_on": req.due_on.isoformat() if req.due_on else "",
                 "expires_on": req.token_expires_at.date().isoformat() if req.token_expires_at else "",
                 "waived": req.waived_access,
                 # The email states the limit the form applies (rulebook: max_insufficient_information).
                 "max_not_enough_information": int(rules.settings["max_insufficient_information"])},
    )


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def send_due_reminders(sessions: sessionmaker[Session], cfg: PipelineConfig) -> int:
    """Rating reminders N days before the due date; never two to one rater within the minimum gap,
    however many applicants they were asked to rate."""
    now = _now_for(cfg.as_of)
    sent = 0
    # Only requests due on a reminder day of some rulebook (the index on status, due_on finds them),
    # not every open request on every sweep.
    reminder_days = {cfg.as_of + timedelta(days=int(d)) for assoc in cfg.library.associations
                     for cat in cfg.library.categories
                     for d in cfg.library.category_rules(assoc, cat, cfg.as_of).settings["reminder_days_before_due"]}
    with transaction(sessions) as s:
        rows = s.execute(
            select(ReferenceRequest, Application).join(Application, Application.id == ReferenceRequest.application_id)
            .where(ReferenceRequest.status == "requested", ReferenceRequest.token_hash.is_not(None),
                   ReferenceRequest.due_on.in_(sorted(reminder_days)), ReferenceRequest.rating == None)  # noqa: E711
            .order_by(ReferenceRequest.due_on, ReferenceRequest.id)
        ).all()
        last_by_rater: dict[int, datetime] = {}
        # Only the raters of today's candidates (not a scan of every request ever made, each sweep).
        raters = sorted({req.rater_id for req, _ in rows})
        for rater_id, last in [] if not raters else s.execute(
                select(ReferenceRequest.rater_id, func.max(ReferenceRequest.last_reminded_at))
                .where(ReferenceRequest.rater_id.in_(raters)).group_by(ReferenceRequest.rater_id)):
            if last is not None:
                last_by_rater[rater_id] = _aware(last)
        for req, app in rows:
            settings = cfg.library.category_rules(app.association_code, app.category, cfg.as_of).settings
            days_left = (req.due_on - cfg.as_of).days
            gap = timedelta(days=int(settings["reminder_min_gap_days"]))
            if days_left not in settings["reminder_days_before_due"]:
                continue
            last = last_by_rater.get(req.rater_id)
            if last is not None and now - last < gap:
                continue
            last_by_rater[req.rater_id] = now
            # Another sweep may have queued this reminder meanwhile: then it also counted it.
            if not queue_reference_email(s, app, req, cfg, "reference.reminder", key_suffix=f":d{days_left}").new:
                continue
            s.execute(update(ReferenceRequest).where(ReferenceRequest.id == req.id)
                      .values(last_reminded_at=now, reminders_sent=ReferenceRequest.reminders_sent + 1))
            sent += 1
    return sent


def expire_stale_links(sessions: sessionmaker[Session], cfg: PipelineConfig) -> int:
    """Links past their expiry stop working; the request stays open for the coordinator to regenerate."""
    now = _now_for(cfg.as_of)
    with transaction(sessions) as s:
        # Only the rows this statement changed are audited: a sweep running alongside gets the others.
        stale = s.execute(update(ReferenceRequest).where(
            ReferenceRequest.token_hash.is_not(None), ReferenceRequest.token_expires_at < now)
            .values(token_hash=None).returning(ReferenceRequest.id, ReferenceRequest.application_id)).all()
        for req_id, application_id in stale:
            record_audit(s, actor=cfg.actor, action="reference.link_expired", entity_type="reference_request",
                         entity_id=req_id, application_id=application_id)
    return len(stale)


def escalate_overdue(sessions: sessionmaker[Session], cfg: PipelineConfig) -> int:
    """Ratings past their due date surface to the coordinator once (audit entry + flag for the dashboard)."""
    now = _now_for(cfg.as_of)
    with transaction(sessions) as s:
        overdue = s.execute(update(ReferenceRequest).where(
            ReferenceRequest.status == "requested", ReferenceRequest.due_on < cfg.as_of,
            ReferenceRequest.escalated_at.is_(None)).values(escalated_at=now)
            .returning(ReferenceRequest.id, ReferenceRequest.application_id, ReferenceRequest.due_on)).all()
        for req_id, application_id, due_on in overdue:
            record_audit(s, actor=cfg.actor, action="reference.overdue", entity_type="reference_request",
                         entity_id=req_id, application_id=application_id, due_on=due_on.isoformat())
    return len(overdue)
