"""Coordinator determinations: the judgments the seeds leave to a coordinator (rules/: determination_questions).

A determination (question, who, when, accepted or not, note) is recorded in one transaction with an audit
entry and marks the application for a reconcile, so that a requirement waiting on it moves. The
evaluator reads them from the application document (``determinations``); here they are written and listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse.db import transaction
from endorse.rulebook import RulebookLibrary, asked_questions
from models import Application, CoordinatorDetermination, record_audit


@dataclass(frozen=True)
class QuestionView:
    """One question on an application's checklist, with its source and the determinations recorded."""

    key: str
    question: str
    requirement: str
    source: str
    recorded: tuple[dict, ...]  # oldest first; the latest answers the question

    @property
    def latest(self) -> dict | None:
        return self.recorded[-1] if self.recorded else None


def record_determination(sessions: sessionmaker[Session], library: RulebookLibrary, application_id: str, *,
                         question: str, decided_by: str, decided_on: date, accepted: bool, note: str | None,
                         actor: str) -> str:
    """Record a coordinator's determination; refuses a question the application's rules do not ask."""
    with transaction(sessions) as s:
        app = s.get(Application, application_id)
        if app is None:
            raise LookupError(f"no application {application_id!r}")
        rules = library.category_rules(app.association_code, app.category, decided_on)
        asked = asked_questions(rules)
        if question not in asked:
            raise ValueError(f"question: {question!r} is not a question the {app.association_code} rules ask of "
                             f"{app.category} (they ask: {', '.join(asked) or 'none'})")
        C = CoordinatorDetermination
        if s.scalars(select(C.id).where(C.application_id == app.id, C.question == question, C.decided_on == decided_on,
                                        C.decided_by == decided_by)).first() is not None:
            raise ValueError(f"{decided_by} already recorded a determination of {question} on {decided_on.isoformat()}")
        s.add(C(application_id=app.id, question=question, decided_by=decided_by, decided_on=decided_on,
                accepted=accepted, note=note, recorded_by=actor))
        app.needs_reconcile = True
        record_audit(s, actor=actor, action="determination.recorded", entity_type="application", entity_id=app.id,
                     application_id=app.id, question=question, accepted=accepted, decided_by=decided_by,
                     decided_on=decided_on.isoformat(), requirement=rules.questions[question].requirement)
        return rules.questions[question].question


def application_questions(s: Session, library: RulebookLibrary, app: Application, as_of: date) -> list[QuestionView]:
    """The questions the application's rules ask, each with its source and what was recorded."""
    rules = library.category_rules(app.association_code, app.category, as_of)
    C = CoordinatorDetermination
    rows = s.scalars(select(C).where(C.application_id == app.id).order_by(C.decided_on, C.id)).all()
    out = []
    for key in asked_questions(rules):
        q = rules.questions[key]
        recorded = tuple({"by": r.decided_by, "on": r.decided_on, "accepted": r.accepted, "note": r.note}
                         for r in rows if r.question == key)
        out.append(QuestionView(key, q.question, q.requirement, q.source, recorded))
    return out


@dataclass(frozen=True)
class AwaitedDetermination:
    application_id: str
    association: str
    category: str
    question: str
    requirement: str


def awaited_determinations(s: Session, library: RulebookLibrary, as_of: date,
                           association: str | None = None) -> list[AwaitedDetermination]:
    """Open applications whose checklist has a requirement pending on a question nobody has answered yet
    (the coordinator's queue, like the vetting queue)."""
    from tasks.stages import OPEN_STAGES

    q = select(Application).where(Application.stage.in_(OPEN_STAGES))
    if association is not None:
        q = q.where(Application.association_code == association)
    answered = {(a, k) for a, k in s.execute(select(CoordinatorDetermination.application_id,
                                                     CoordinatorDetermination.question)
                                              .where(CoordinatorDetermination.decided_on <= as_of))}
    out = []
    for app in s.scalars(q.order_by(Application.id)):
        pending = {r["id"] for r in app.last_checklist or [] if r.get("status") == "pending"}
        rules = library.category_rules(app.association_code, app.category, as_of)
        for key in asked_questions(rules):
            req = rules.questions[key].requirement
            if req in pending and (app.id, key) not in answered:
                out.append(AwaitedDetermination(app.id, app.association_code, app.category, key, req))
    return out
