"""The coordinator's exam steps outside a sitting: approval to sit the exam, and a result recorded by hand."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse.db import transaction
from endorse.rulebook import RulebookLibrary, default_library
from models import (
    Application,
    record_audit,
)
from tasks.eligibility.stages import exam_approval_supported


def approve_for_exam(sessions: sessionmaker[Session], application_id: str, *, approved_on: date, actor: str,
                     library: RulebookLibrary | None = None) -> None:
    """Approve an applicant to sit the exam: refused, with the reason, unless the checklist supports it
    (every requirement but the exam met, at eligibility review), since the approval would not move it."""
    from tasks.decision.decisions import checklist_now

    library = library or default_library()
    with transaction(sessions) as s:
        app = s.get(Application, application_id)
        if app is None:
            raise LookupError(f"no application {application_id!r}")
        if app.exam_approved_on == approved_on:
            return  # approved already (a retried command): nothing changes, nothing audited
        support = exam_approval_supported(*checklist_now(s, app, library, approved_on))
        if not support.ok:
            raise ValueError(f"{application_id} cannot be approved to sit the exam: {support.reason}")
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
