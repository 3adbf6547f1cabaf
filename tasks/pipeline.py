"""The pipeline's work on the database, without Prefect: reconcile, sweep steps, coordinator actions.

Every stage transition is its own transaction with an audit entry; side effects (links, emails,
decisions, endorsements) are written in the same transaction as the transition that causes them,
and each is idempotent, so any step can be re-run after a crash. Prefect flows (``flows/``) only
call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import String, bindparam, exists, func, literal, or_, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from endorse import links
from endorse.dates import add_years
from endorse.clock import now_for
from endorse.db import transaction
from endorse.rulebook import RulebookLibrary
from models import (
    Application,
    Decision,
    EducationRecord,
    Endorsement,
    OutboxMessage,
    Person,
    ReferenceRequest,
    RulebookVersion,
    Transcript,
    record_audit,
)
from tasks.evaluation import PENDING, UNMET, Evaluation, evaluate
from tasks.next_check import next_change_on
from tasks.records import load_documents
from tasks.outbox import QueuedEmail, queue_email
from tasks.people import audit_person_change
from tasks.stages import (
    DEFERRED,
    ELIGIBILITY_REVIEW,
    ENDORSED,
    FINAL_STAGES,
    NOT_ENDORSED,
    OPEN_STAGES,
    REFERENCES,
    TRANSCRIPTS,
    StageFacts,
    Transition,
    check_allowed,
    decide,
    next_transition,
)

MAX_STEPS = 10  # more than the number of stages: a reconcile always ends


@dataclass(frozen=True)
class PipelineConfig:
    library: RulebookLibrary
    as_of: date
    secret_key: str
    actor: str = "system"


@dataclass
class ReconcileOutcome:
    application_id: str
    stage: str
    transitions: list[Transition] = field(default_factory=list)
    eligible: bool = False


def _now_for(as_of: date) -> datetime:
    # Timestamps follow the as-of date so a re-run "as of" a day behaves like that day.
    return now_for(as_of)


def stage_facts(app: Application, cfg: PipelineConfig) -> StageFacts:
    rules = cfg.library.category_rules(app.association_code, app.category, cfg.as_of)
    return StageFacts(stage=app.stage, has_exam="exam" in rules.rules, exam_approved_on=app.exam_approved_on,
                      exam_approval_validity_days=int(rules.settings["exam_approval_validity_days"]),
                      decision_requested=app.decision_requested)


def reconcile_one(sessions: sessionmaker[Session], application_id: str, cfg: PipelineConfig,
                  evaluation: Evaluation | None = None, version: int | None = None,
                  document=None) -> ReconcileOutcome:
    """Evaluate one application and move it as far as its checklist allows, a transaction per step.

    The checklist is read once; each step then checks (optimistic lock) that nobody changed the
    application since, and starts over with a fresh read if someone did.
    """
    out = ReconcileOutcome(application_id, "")
    for _ in range(MAX_STEPS):
        if evaluation is None or version is None or document is None:
            document, evaluation, version = _read(sessions, application_id, cfg)
        try:
            with transaction(sessions) as s:
                step = _reconcile_step(s, application_id, cfg, document, evaluation, version)
        except (_Stale, StaleDataError):
            evaluation = version = document = None
            continue
        version = step.version
        out.stage, out.eligible = step.stage, step.eligible
        if step.transition is None:
            break
        out.transitions.append(step.transition)
    return out


class _Stale(Exception):
    """The application changed between the read and the write."""


def _read(sessions: sessionmaker[Session], application_id: str, cfg: PipelineConfig) -> tuple[object, Evaluation, int]:
    with sessions() as s:
        version = s.scalar(select(Application.version_id).where(Application.id == application_id))
        if version is None:
            raise LookupError(f"no application {application_id!r}")
        doc = load_documents(s, [application_id])[application_id]
    return doc, evaluate(doc, cfg.library, cfg.as_of), version


def next_check(doc, stage: str, exam_approved_on: date | None, ev: Evaluation, cfg: PipelineConfig) -> date | None:
    """The day the sweep must look at this application again if nothing happens to it meanwhile
    (None: in a final stage, only an event brings it back)."""
    if stage not in SWEPT_STAGES:
        return None
    # The stage machine also reads the exam approval, which lapses after a rulebook period.
    extra = (exam_approved_on,) if exam_approved_on is not None else ()
    return next_change_on(doc, cfg.library, cfg.as_of, ev, extra)


@dataclass
class _Step:
    stage: str
    eligible: bool
    transition: Transition | None
    version: int


def _reconcile_step(s: Session, application_id: str, cfg: PipelineConfig, doc, ev: Evaluation, version: int) -> _Step:
    app = s.get(Application, application_id)
    if app is None:
        raise LookupError(f"no application {application_id!r}")
    if app.version_id != version:
        raise _Stale
    now = _now_for(cfg.as_of)
    app.last_checklist = ev.to_dict()["requirements"]
    app.last_evaluated_at = now
    _stage_side_effects(s, app, ev, cfg)
    t = None
    if not (app.stage in FINAL_STAGES and app.stage != DEFERRED):
        t = next_transition(ev, stage_facts(app, cfg))
    if t is None:
        app.needs_reconcile = False
        app.next_check_on = next_check(doc, app.stage, app.exam_approved_on, ev, cfg)
        app.checked_as_of = cfg.as_of
    else:
        apply_transition(s, app, t, ev, cfg, now)
    s.flush()
    return _Step(app.stage, ev.eligible, t, app.version_id)


def apply_transition(s: Session, app: Application, t: Transition, ev: Evaluation, cfg: PipelineConfig,
                     now: datetime) -> None:
    check_allowed(app.stage, t.to_stage)
    app.stage = t.to_stage
    app.stage_entered_at = now
    app.decision_requested = False if t.to_stage in FINAL_STAGES else app.decision_requested
    record_audit(s, actor=cfg.actor, action="stage.changed", entity_type="application", entity_id=app.id,
                 application_id=app.id, from_stage=t.from_stage, to_stage=t.to_stage, reason=t.reason,
                 as_of=cfg.as_of.isoformat())
    if t.to_stage == REFERENCES:
        issue_reference_links(s, app, cfg, now)
    if t.to_stage in FINAL_STAGES:
        record_decision(s, app, ev, cfg, now)
    s.flush()


def _stage_side_effects(s: Session, app: Application, ev: Evaluation, cfg: PipelineConfig) -> None:
    """What being in a stage keeps doing (idempotent): links for new raters, transcript reminders."""
    if app.stage in (REFERENCES, ELIGIBILITY_REVIEW, DEFERRED):
        issue_reference_links(s, app, cfg, _now_for(cfg.as_of))


# --- references: links and emails ----------------------------------------------------------------------


def issue_reference_links(s: Session, app: Application, cfg: PipelineConfig, now: datetime) -> int:
    """A secure link and a request email for every requested rater who has none yet."""
    settings = cfg.library.category_rules(app.association_code, app.category, cfg.as_of).settings
    requests = s.scalars(select(ReferenceRequest).where(
        ReferenceRequest.application_id == app.id, ReferenceRequest.status == "requested",
        ReferenceRequest.token_hash.is_(None), ReferenceRequest.token_expires_at.is_(None))).all()
    issued = 0
    for req in requests:
        link = links.issue(cfg.secret_key, "rating")
        # Still without a link? A run alongside may have issued it since this session read the row.
        if s.execute(update(ReferenceRequest).where(
                ReferenceRequest.id == req.id, ReferenceRequest.token_hash.is_(None),
                ReferenceRequest.token_expires_at.is_(None))
                .values(token_nonce=link.nonce, token_hash=link.token_hash,
                        token_generation=ReferenceRequest.token_generation + 1,
                        token_expires_at=now + timedelta(days=int(settings["reference_link_expiry_days"])),
                        due_on=(now + timedelta(days=int(settings["reference_due_days"]))).date())
                .returning(ReferenceRequest.id)).first() is None:
            continue
        s.refresh(req)
        queue_reference_email(s, app, req, cfg, "reference.request")
        record_audit(s, actor=cfg.actor, action="reference.link_issued", entity_type="reference_request",
                     entity_id=req.id, application_id=app.id, generation=req.token_generation)
        issued += 1
    return issued


def queue_reference_email(s: Session, app: Application, req: ReferenceRequest, cfg: PipelineConfig, role: str,
                          key_suffix: str = "") -> QueuedEmail:
    rater = s.get(Person, req.rater_id)
    info = cfg.library.category_info(app.category)
    wording = cfg.library.category_rules(app.association_code, app.category, cfg.as_of).role_wording
    return queue_email(
        s, role=role, to_email=rater.email, to_name=req.rater_name, association=app.association_code,
        application_id=app.id, link_kind="rating", link_ref_id=req.id,
        idempotency_key=f"{role}:{req.id}:{req.token_generation}{key_suffix}",
        context={"rater_name": req.rater_name, "applicant_name": app.applicant_name, "category_name": info["name"],
                 "role_words": wording.get(req.role, req.role).replace("your ", "their ").replace("you", "them"),
                 "due_on": req.due_on.isoformat() if req.due_on else "",
                 "expires_on": req.token_expires_at.date().isoformat() if req.token_expires_at else "",
                 "waived": req.waived_access},
    )


# --- decision ------------------------------------------------------------------------------------------------


def record_decision(s: Session, app: Application, ev: Evaluation, cfg: PipelineConfig, now: datetime) -> Decision:
    outcome, reasons = decide(ev)
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


# --- sweep steps: set-based, one call per batch ------------------------------------------------------------


SWEPT_STAGES = OPEN_STAGES + (DEFERRED,)


def open_application_ids(s: Session) -> list[str]:
    """The full pass: open applications, and any other one an action marked for a reconcile that has not run yet."""
    return list(s.scalars(select(Application.id).where(or_(Application.stage.in_(SWEPT_STAGES),
                                                           Application.needs_reconcile.is_(True)))
                          .order_by(Application.id)))


def due_application_ids(s: Session, as_of: date) -> list[str]:
    """The incremental sweep: applications marked by an event, an import or an action, and open
    applications whose checklist can have changed by ``as_of`` through time alone (or whose next
    check was computed on a later day than ``as_of``: a re-run "as of" an earlier day)."""
    A = Application
    by_time = A.stage.in_(SWEPT_STAGES) & or_(A.next_check_on.is_(None), A.next_check_on <= as_of,
                                                A.checked_as_of > as_of)
    # Two index scans (mark, next check) rather than one scan of every application.
    marked = select(A.id).where(A.needs_reconcile.is_(True))
    timed = select(A.id).where(by_time)
    return sorted(set(s.scalars(marked)) | set(s.scalars(timed)))


def full_sweep_needed(s: Session, library: RulebookLibrary) -> bool:
    """A full pass when no sweep has yet re-evaluated everything under these rule files."""
    return s.scalar(select(RulebookVersion.full_sweep_at).where(RulebookVersion.digest == library.digest)) is None


def record_full_sweep(sessions: sessionmaker[Session], cfg: PipelineConfig) -> None:
    """After a full pass has gone through every batch: later sweeps can be incremental under these rules."""
    with transaction(sessions) as s:
        row = s.scalars(select(RulebookVersion).where(RulebookVersion.digest == cfg.library.digest)).one_or_none()
        if row is None:
            row = RulebookVersion(digest=cfg.library.digest)
            s.add(row)
        if row.full_sweep_at is None:
            row.full_sweep_at = _now_for(cfg.as_of)
            record_audit(s, actor=cfg.actor, action="sweep.full_pass", entity_type="rulebook_version",
                         entity_id=cfg.library.digest, as_of=cfg.as_of.isoformat())


def advance_batch(sessions: sessionmaker[Session], ids: list[str], cfg: PipelineConfig,
                  rules_changed: bool = False) -> dict[str, int]:
    """Evaluate a batch in one read, then move only the applications that have somewhere to go; the
    others keep the day they must be looked at again.

    A stored day stays right until it comes (nothing changes before it by time alone, and whatever
    else changes marks the application), unless the rules changed: then every day is computed again."""
    with sessions() as s:
        docs = load_documents(s, ids)
        # Only the columns the stage machine needs (not the stored checklist JSON of every row).
        apps = {a.id: a for a in s.execute(select(
            Application.id, Application.association_code, Application.category, Application.stage,
            Application.exam_approved_on, Application.decision_requested, Application.needs_reconcile,
            Application.version_id, Application.next_check_on, Application.checked_as_of)
            .where(Application.id.in_(ids)))}
        due, checks = [], []
        for app_id, doc in docs.items():
            app = apps[app_id]
            ev = evaluate(doc, cfg.library, cfg.as_of)
            if app.needs_reconcile or next_transition(ev, stage_facts(app, cfg)) is not None:
                due.append((app_id, ev, app.version_id, doc))
                continue
            still_right = (not rules_changed and app.next_check_on is not None and app.next_check_on > cfg.as_of
                           and app.checked_as_of is not None and app.checked_as_of <= cfg.as_of)
            if still_right:
                continue
            nxt = next_check(doc, app.stage, app.exam_approved_on, ev, cfg)
            if nxt != app.next_check_on or app.checked_as_of is None or app.checked_as_of > cfg.as_of:
                checks.append({"b_id": app_id, "b_version": app.version_id, "b_next": nxt, "b_on": cfg.as_of})
    if checks:
        _store_next_checks(sessions, checks)
    moved, again = _reconcile_together(sessions, due, cfg)
    for app_id in again:  # changed since the batch read it: on its own, from a fresh read
        moved += len(reconcile_one(sessions, app_id, cfg).transitions)
    return {"evaluated": len(docs), "reconciled": len(due), "transitions": moved, "rescheduled": len(checks)}


RECONCILES_PER_TRANSACTION = 100


def _reconcile_together(sessions: sessionmaker[Session], due: list, cfg: PipelineConfig) -> tuple[int, list[str]]:
    """Reconcile many applications to a transaction (on the first sweep after a bulk import a commit
    per transition cost more than the transitions). Each application moves inside its own savepoint:
    all its steps or none, each audited; one that changed since the batch read it is rolled back
    alone and returned to be reconciled on its own."""
    moved, again = 0, []
    for i in range(0, len(due), RECONCILES_PER_TRANSACTION):
        with transaction(sessions) as s:
            for app_id, ev, version, doc in due[i:i + RECONCILES_PER_TRANSACTION]:
                steps = 0
                try:
                    with s.begin_nested():
                        for _ in range(MAX_STEPS):
                            step = _reconcile_step(s, app_id, cfg, doc, ev, version)
                            version = step.version
                            if step.transition is None:
                                break
                            steps += 1
                except (_Stale, StaleDataError):
                    again.append(app_id)
                    continue
                moved += steps
    return moved, again


def _store_next_checks(sessions: sessionmaker[Session], checks: list[dict]) -> None:
    """One statement for the batch; bookkeeping, not a state change (no audit, no version bump).
    A row that changed since it was read keeps what its own reconcile wrote."""
    table = Application.__table__
    stmt = (table.update().where(table.c.id == bindparam("b_id"), table.c.version_id == bindparam("b_version"))
            .values(next_check_on=bindparam("b_next"), checked_as_of=bindparam("b_on")))
    with transaction(sessions) as s:
        s.connection().execute(stmt, checks)


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
        for rater_id, last in s.execute(select(ReferenceRequest.rater_id, func.max(ReferenceRequest.last_reminded_at))
                                        .group_by(ReferenceRequest.rater_id)):
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


def remind_missing_transcripts(sessions: sessionmaker[Session], cfg: PipelineConfig) -> int:
    """Applicants waiting on transcripts are reminded at most once a week."""
    week = cfg.as_of.isocalendar()
    count = 0
    key_tail = f":{week[0]}-W{week[1]}"
    # Applicants already reminded this week (their email's key is in the outbox) are not read again.
    reminded = exists().where(OutboxMessage.idempotency_key
                              == literal("transcript.missing:", String) + Application.id + literal(key_tail, String))
    with transaction(sessions) as s:
        apps = s.scalars(select(Application).where(Application.stage == TRANSCRIPTS, ~reminded)
                         .options(selectinload(Application.education).selectinload(EducationRecord.transcript),
                                  selectinload(Application.applicant))).all()
        for app in apps:
            missing = []
            for e in app.education:
                t = e.transcript
                if t is None or t.received_on is None or not t.official:
                    missing.append(f"{e.institution} ({e.degree or e.credential})")
            if not missing:
                continue
            info = cfg.library.category_info(app.category)
            queued = queue_email(s, role="transcript.missing", to_email=app.applicant.email, to_name=app.applicant_name,
                        association=app.association_code, application_id=app.id,
                        idempotency_key=f"transcript.missing:{app.id}{key_tail}",
                        context={"applicant_name": app.applicant_name, "category_name": info["name"],
                                 "application_id": app.id, "missing": missing})
            count += queued.new
    return count


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


# --- coordinator actions (CLI and web share these) ------------------------------------------------------------


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


def approve_for_exam(sessions: sessionmaker[Session], application_id: str, *, approved_on: date, actor: str) -> None:
    with transaction(sessions) as s:
        app = s.get(Application, application_id)
        if app is None:
            raise LookupError(f"no application {application_id!r}")
        if app.exam_approved_on == approved_on:
            return  # approved already (a retried command): nothing changes, nothing audited
        if app.stage != "eligibility_review":
            raise ValueError(f"{application_id} is in stage {app.stage}, not eligibility_review")
        app.exam_approved_on, app.exam_approved_by, app.needs_reconcile = approved_on, actor, True
        record_audit(s, actor=actor, action="exam.approved", entity_type="application", entity_id=app.id,
                     application_id=app.id, approved_on=approved_on.isoformat())


def record_exam_result(sessions: sessionmaker[Session], application_id: str, *, multiple_choice_percent: float | None,
                       essay_result: str | None, taken_on: date, actor: str) -> None:
    from decimal import Decimal

    from models import ExamAttempt

    with transaction(sessions) as s:
        app = s.get(Application, application_id)
        if app is None:
            raise LookupError(f"no application {application_id!r}")
        attempt = s.scalars(select(ExamAttempt).where(ExamAttempt.application_id == app.id)
                            .order_by(ExamAttempt.attempt_number.desc())).first()
        if attempt is None:
            import hashlib

            attempt = ExamAttempt(application_id=app.id, attempt_number=1, approved_on=app.exam_approved_on,
                                  candidate_code="C" + hashlib.sha256(app.id.encode()).hexdigest()[:8].upper())
            s.add(attempt)
        same = (attempt.taken_on == taken_on
                and (multiple_choice_percent is None or attempt.multiple_choice_percent == Decimal(str(multiple_choice_percent)))
                and (essay_result is None or attempt.essay_result == essay_result))
        if same and attempt.id is not None:
            return  # recorded already (a retried command): nothing changes, nothing audited
        if multiple_choice_percent is not None:
            attempt.multiple_choice_percent = Decimal(str(multiple_choice_percent))
        if essay_result is not None:
            attempt.essay_result = essay_result
        attempt.taken_on = taken_on
        app.needs_reconcile = True
        record_audit(s, actor=actor, action="exam.result_recorded", entity_type="application", entity_id=app.id,
                     application_id=app.id, multiple_choice_percent=multiple_choice_percent, essay_result=essay_result)


def request_decision(sessions: sessionmaker[Session], application_id: str, *, actor: str) -> None:
    with transaction(sessions) as s:
        app = s.get(Application, application_id)
        if app is None:
            raise LookupError(f"no application {application_id!r}")
        app.decision_requested, app.needs_reconcile = True, True
        record_audit(s, actor=actor, action="decision.requested", entity_type="application", entity_id=app.id,
                     application_id=app.id)


__all__ = ["PipelineConfig", "ReconcileOutcome", "advance_batch", "approve_for_exam", "due_application_ids",
           "escalate_overdue", "full_sweep_needed", "next_check", "record_full_sweep",
           "expire_stale_links", "issue_reference_links", "open_application_ids", "reconcile_one",
           "record_exam_result", "record_transcript", "remind_missing_transcripts", "request_decision",
           "send_due_reminders"]
