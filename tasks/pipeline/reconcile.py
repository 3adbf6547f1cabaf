"""The reconcile, without Prefect: move one application, or a batch, as far as its checklist allows.

The sweep's other steps and the coordinator's actions live with their stage (references/requests.py,
transcripts/, exam/results.py, decision/); this module calls the side effects a transition causes.

Every stage transition is its own transaction with an audit entry; side effects (links, emails,
decisions, endorsements) are written in the same transaction as the transition that causes them,
and each is idempotent, so any step can be re-run after a crash. Prefect flows (``flows/``) only
call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from endorse.collector import cycle_collector_paused
from endorse.db import transaction
from endorse.rulebook import RulebookLibrary
from models import (
    Application,
    Association,
    AuditLog,
    ReferenceRequest,
    RulebookVersion,
    record_audit,
)
from models.audit import AUDIT_ROWS
from tasks.config import PipelineConfig, _now_for
from tasks.decision.decisions import record_decision
from tasks.eligibility.evaluation import Evaluation, evaluate
from tasks.eligibility.facts import review_outcome_of, review_outcomes, stage_facts
from tasks.eligibility.next_check import next_change_on
from tasks.eligibility.stages import (
    DEFERRED,
    ELIGIBILITY_REVIEW,
    FINAL_STAGES,
    OPEN_STAGES,
    REFERENCES,
    Transition,
    check_allowed,
    next_transition,
)
from tasks.intake.records import load_documents
from tasks.mail.outbox import OUTBOX_ROWS, insert_all_if_absent
from tasks.references.requests import issue_reference_links

MAX_STEPS = 10  # more than the number of stages: a reconcile always ends




@dataclass
class ReconcileOutcome:
    application_id: str
    stage: str
    transitions: list[Transition] = field(default_factory=list)
    eligible: bool = False




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


def _reconcile_step(s: Session, application_id: str, cfg: PipelineConfig, doc, ev: Evaluation, version: int,
                    pending: list[ReferenceRequest] | None = None, flush: bool = True) -> _Step:
    """One step. ``pending`` and ``flush``: see ``_reconcile_together``."""
    app = s.get(Application, application_id)
    if app is None:
        raise LookupError(f"no application {application_id!r}")
    if app.version_id != version:
        raise _Stale
    now = _now_for(cfg.as_of)
    checklist = ev.to_dict()["requirements"]
    # What the artifact shows changed: the checklist, the stage (below), or whatever marked it (an
    # event, an import, an action: its timeline has a new entry).
    if app.needs_reconcile or checklist != app.last_checklist:
        app.artifact_due = True
    app.last_checklist = checklist
    app.last_evaluated_at = now
    _stage_side_effects(s, app, ev, cfg, pending)
    t = None
    if not (app.stage in FINAL_STAGES and app.stage != DEFERRED):
        t = next_transition(ev, stage_facts(app, cfg, review_outcome_of(s, app, cfg)))
    if t is None:
        app.needs_reconcile = False
        app.next_check_on = next_check(doc, app.stage, app.exam_approved_on, ev, cfg)
        app.checked_as_of = cfg.as_of
    else:
        apply_transition(s, app, t, ev, cfg, now, pending, flush=flush)
    if flush:
        s.flush()
    return _Step(app.stage, ev.eligible, t, app.version_id)


def apply_transition(s: Session, app: Application, t: Transition, ev: Evaluation, cfg: PipelineConfig,
                     now: datetime, pending: list[ReferenceRequest] | None = None, flush: bool = True) -> None:
    check_allowed(app.stage, t.to_stage)
    app.stage = t.to_stage
    app.artifact_due = True
    app.stage_entered_at = now
    app.decision_requested = False if t.to_stage in FINAL_STAGES else app.decision_requested
    record_audit(s, actor=cfg.actor, action="stage.changed", entity_type="application", entity_id=app.id,
                 application_id=app.id, from_stage=t.from_stage, to_stage=t.to_stage, reason=t.reason,
                 as_of=cfg.as_of.isoformat())
    if t.to_stage == REFERENCES:
        issue_reference_links(s, app, cfg, now, pending)
    if t.to_stage in FINAL_STAGES:
        record_decision(s, app, ev, cfg, now, review_outcome_of(s, app, cfg))
    if flush:
        s.flush()


def _stage_side_effects(s: Session, app: Application, ev: Evaluation, cfg: PipelineConfig,
                        pending: list[ReferenceRequest] | None = None) -> None:
    """What being in a stage keeps doing (idempotent): links for new raters, transcript reminders."""
    if app.stage in (REFERENCES, ELIGIBILITY_REVIEW, DEFERRED) and pending != []:
        issue_reference_links(s, app, cfg, _now_for(cfg.as_of), pending)


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
                  rules_changed: bool = False, reconciled: list[ReconcileOutcome] | None = None) -> dict[str, int]:
    """Evaluate a batch in one read, then move only the applications that have somewhere to go; the
    others keep the day they must be looked at again.

    A stored day stays right until it comes (nothing changes before it by time alone, and whatever
    else changes marks the application), unless the rules changed: then every day is computed again.
    ``reconciled`` receives the outcome of each application reconciled, once its transaction has
    committed (what the Prefect task reports as events and artifacts)."""
    with cycle_collector_paused():
        return _advance_batch(sessions, ids, cfg, rules_changed, reconciled)


def _advance_batch(sessions: sessionmaker[Session], ids: list[str], cfg: PipelineConfig,
                   rules_changed: bool, reconciled: list[ReconcileOutcome] | None) -> dict[str, int]:
    with sessions() as s:
        docs = load_documents(s, ids)
        # Only the columns the stage machine needs (not the stored checklist JSON of every row).
        apps = {a.id: a for a in s.execute(select(
            Application.id, Application.association_code, Application.category, Application.stage,
            Application.exam_approved_on, Application.decision_requested, Application.needs_reconcile,
            Application.version_id, Application.next_check_on, Application.checked_as_of)
            .where(Application.id.in_(ids)))}
        due, checks = [], []
        outcomes = review_outcomes(s, list(docs))
        for app_id, doc in docs.items():
            app = apps[app_id]
            ev = evaluate(doc, cfg.library, cfg.as_of)
            if app.needs_reconcile or next_transition(ev, stage_facts(app, cfg, outcomes.get(app_id))) is not None:
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
    done: list[ReconcileOutcome] = [] if reconciled is None else reconciled
    again = _reconcile_together(sessions, due, cfg, done)
    for app_id in again:  # changed since the batch read it: on its own, from a fresh read
        done.append(reconcile_one(sessions, app_id, cfg))
    moved = sum(len(o.transitions) for o in done)
    return {"evaluated": len(docs), "reconciled": len(due), "transitions": moved, "rescheduled": len(checks)}


RECONCILES_PER_TRANSACTION = 100


def _reconcile_together(sessions: sessionmaker[Session], due: list, cfg: PipelineConfig,
                        done: list[ReconcileOutcome]) -> list[str]:
    """Reconcile many applications to a transaction (on the first sweep after a bulk import a commit
    per transition cost more than the transitions), each application all its steps or none, each
    audited: the transaction commits every application of its chunk or none. One that changed since
    the batch read it is left out of the chunk and returned, to be reconciled on its own; should
    another run change one between this read and the flush (the version check fails), the whole
    chunk is rolled back and returned, each then reconciled on its own. The outcomes go to ``done``
    after the commit.

    What the steps need is read once for the whole transaction, not once per step: the applications
    (held here: the session keeps only weak references, and a step would read its application again),
    their applicants, the requests still waiting for a link with their raters, and the associations.
    The steps of the whole chunk are written by one flush at its end (its versions checked then), the
    audit entries and emails by one INSERT each (a savepoint and a flush per application cost more
    than its steps)."""
    again = []
    for i in range(0, len(due), RECONCILES_PER_TRANSACTION):
        chunk = due[i:i + RECONCILES_PER_TRANSACTION]
        committed: list[ReconcileOutcome] = []
        changed: list[str] = []
        try:
            with transaction(sessions) as s:
                held = _read_for_steps(s, [app_id for app_id, *_ in chunk])
                versions = {app.id: app.version_id for app in held["apps"]}
                pending = held["pending"]
                s.info[AUDIT_ROWS], s.info[OUTBOX_ROWS] = [], []
                for app_id, ev, version, doc in chunk:
                    if versions.get(app_id) != version:  # changed since the batch read it
                        changed.append(app_id)
                        continue
                    out = ReconcileOutcome(app_id, "")
                    for _ in range(MAX_STEPS):
                        step = _reconcile_step(s, app_id, cfg, doc, ev, version, pending.setdefault(app_id, []),
                                               flush=False)
                        version, out.stage, out.eligible = step.version, step.stage, step.eligible
                        if step.transition is None:
                            break
                        out.transitions.append(step.transition)
                    committed.append(out)
                s.flush()
                audit_rows, outbox_rows = s.info.pop(AUDIT_ROWS), s.info.pop(OUTBOX_ROWS)
                if audit_rows:
                    s.connection().execute(AuditLog.__table__.insert(), audit_rows)
                insert_all_if_absent(s, outbox_rows)
        except (_Stale, StaleDataError):  # all of the chunk rolled back: each on its own
            again += [app_id for app_id, *_ in chunk]
            continue
        again += changed
        done.extend(committed)
    return again


def _read_for_steps(s: Session, ids: list[str]) -> dict:
    apps = list(s.scalars(select(Application).where(Application.id.in_(ids))
                          .options(selectinload(Application.applicant))))
    pending: dict[str, list[ReferenceRequest]] = {}
    R = ReferenceRequest
    for req in s.scalars(select(R).where(R.application_id.in_(ids), R.status == "requested", R.token_hash.is_(None),
                                         R.token_expires_at.is_(None))
                         .options(selectinload(R.rater)).order_by(R.id)):
        pending.setdefault(req.application_id, []).append(req)
    return {"apps": apps, "associations": list(s.scalars(select(Association))), "pending": pending}


def _store_next_checks(sessions: sessionmaker[Session], checks: list[dict]) -> None:
    """One statement for the batch; bookkeeping, not a state change (no audit, no version bump).
    A row that changed since it was read keeps what its own reconcile wrote."""
    table = Application.__table__
    stmt = (table.update().where(table.c.id == bindparam("b_id"), table.c.version_id == bindparam("b_version"))
            .values(next_check_on=bindparam("b_next"), checked_as_of=bindparam("b_on")))
    with transaction(sessions) as s:
        s.connection().execute(stmt, checks)
