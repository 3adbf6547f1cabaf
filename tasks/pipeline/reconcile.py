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
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from endorse.db import transaction
from models import (
    Application,
    record_audit,
)
from tasks.config import PipelineConfig, _now_for
from tasks.decision.decisions import record_decision
from tasks.eligibility.evaluation import Evaluation, evaluate
from tasks.eligibility.stages import (
    DEFERRED,
    ELIGIBILITY_REVIEW,
    FINAL_STAGES,
    OPEN_STAGES,
    REFERENCES,
    StageFacts,
    Transition,
    check_allowed,
    next_transition,
)
from tasks.intake.records import load_documents
from tasks.references.requests import issue_reference_links

MAX_STEPS = 10  # more than the number of stages: a reconcile always ends




@dataclass
class ReconcileOutcome:
    application_id: str
    stage: str
    transitions: list[Transition] = field(default_factory=list)
    eligible: bool = False




def stage_facts(app: Application, cfg: PipelineConfig) -> StageFacts:
    rules = cfg.library.category_rules(app.association_code, app.category, cfg.as_of)
    return StageFacts(stage=app.stage, has_exam="exam" in rules.rules, exam_approved_on=app.exam_approved_on,
                      exam_approval_validity_days=int(rules.settings["exam_approval_validity_days"]),
                      decision_requested=app.decision_requested)


def reconcile_one(sessions: sessionmaker[Session], application_id: str, cfg: PipelineConfig,
                  evaluation: Evaluation | None = None, version: int | None = None) -> ReconcileOutcome:
    """Evaluate one application and move it as far as its checklist allows, a transaction per step.

    The checklist is read once; each step then checks (optimistic lock) that nobody changed the
    application since, and starts over with a fresh read if someone did.
    """
    out = ReconcileOutcome(application_id, "")
    for _ in range(MAX_STEPS):
        if evaluation is None or version is None:
            evaluation, version = _read(sessions, application_id, cfg)
        try:
            with transaction(sessions) as s:
                step = _reconcile_step(s, application_id, cfg, evaluation, version)
        except (_Stale, StaleDataError):
            evaluation = version = None
            continue
        version = step.version
        out.stage, out.eligible = step.stage, step.eligible
        if step.transition is None:
            break
        out.transitions.append(step.transition)
    return out


class _Stale(Exception):
    """The application changed between the read and the write."""


def _read(sessions: sessionmaker[Session], application_id: str, cfg: PipelineConfig) -> tuple[Evaluation, int]:
    with sessions() as s:
        version = s.scalar(select(Application.version_id).where(Application.id == application_id))
        if version is None:
            raise LookupError(f"no application {application_id!r}")
        doc = load_documents(s, [application_id])[application_id]
    return evaluate(doc, cfg.library, cfg.as_of), version


@dataclass
class _Step:
    stage: str
    eligible: bool
    transition: Transition | None
    version: int


def _reconcile_step(s: Session, application_id: str, cfg: PipelineConfig, ev: Evaluation, version: int) -> _Step:
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


# --- sweep steps: set-based, one call per batch ------------------------------------------------------------


def open_application_ids(s: Session) -> list[str]:
    """Open applications, and any other one an action marked for a reconcile that has not run yet."""
    return list(s.scalars(select(Application.id).where(or_(Application.stage.in_(OPEN_STAGES + (DEFERRED,)),
                                                           Application.needs_reconcile.is_(True)))
                          .order_by(Application.id)))


def advance_batch(sessions: sessionmaker[Session], ids: list[str], cfg: PipelineConfig) -> dict[str, int]:
    """Evaluate a batch in one read, then move only the applications that have somewhere to go."""
    with sessions() as s:
        docs = load_documents(s, ids)
        # Only the columns the stage machine needs (not the stored checklist JSON of every row).
        apps = {a.id: a for a in s.execute(select(
            Application.id, Application.association_code, Application.category, Application.stage,
            Application.exam_approved_on, Application.decision_requested, Application.needs_reconcile,
            Application.version_id).where(Application.id.in_(ids)))}
        due = []
        for app_id, doc in docs.items():
            app = apps[app_id]
            ev = evaluate(doc, cfg.library, cfg.as_of)
            if app.needs_reconcile or next_transition(ev, stage_facts(app, cfg)) is not None:
                due.append((app_id, ev, app.version_id))
    moved = 0
    for app_id, ev, version in due:
        moved += len(reconcile_one(sessions, app_id, cfg, ev, version).transitions)
    return {"evaluated": len(docs), "reconciled": len(due), "transitions": moved}
