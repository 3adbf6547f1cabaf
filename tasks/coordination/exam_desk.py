"""What the coordinator's exam page shows: the association's sittings, their candidates, essays and
results, and the essays held for the coordinator (reading only; the verbs are in tasks/exam/)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Essay, ExamAttempt, ExamSitting


@dataclass(frozen=True)
class SittingRow:
    id: int
    name: str
    opens_on: object
    closes_on: object
    candidates: int
    essays: int
    multiple_choice: int
    held: list[dict]


def sittings_of(s: Session, association: str) -> list[SittingRow]:
    rows = []
    for sitting in s.scalars(select(ExamSitting).where(ExamSitting.association_code == association)
                             .order_by(ExamSitting.opens_on.desc(), ExamSitting.id.desc())):
        attempts = select(ExamAttempt.id).where(ExamAttempt.sitting_id == sitting.id)
        candidates = s.scalar(select(func.count()).select_from(attempts.subquery()))
        essays = s.scalar(select(func.count()).select_from(Essay).where(Essay.attempt_id.in_(attempts), Essay.text != ""))
        mc = s.scalar(select(func.count()).select_from(ExamAttempt).where(
            ExamAttempt.sitting_id == sitting.id, ExamAttempt.multiple_choice_percent.is_not(None)))
        held = [{"essay_id": e.id, "candidate_code": code, "reason": e.flagged_reason, "text": e.text}
                for e, code in s.execute(select(Essay, ExamAttempt.candidate_code)
                                         .join(ExamAttempt, ExamAttempt.id == Essay.attempt_id)
                                         .where(ExamAttempt.sitting_id == sitting.id, Essay.flagged_reason.is_not(None),
                                                Essay.flag_cleared_by.is_(None)).order_by(Essay.id))]
        rows.append(SittingRow(sitting.id, sitting.name, sitting.opens_on, sitting.closes_on, candidates, essays, mc,
                               held))
    return rows


def sitting_association(s: Session, sitting_id: int) -> str | None:
    return s.scalar(select(ExamSitting.association_code).where(ExamSitting.id == sitting_id))


def essay_association(s: Session, essay_id: int) -> str | None:
    return s.scalar(select(ExamSitting.association_code).join(ExamAttempt, ExamAttempt.sitting_id == ExamSitting.id)
                    .join(Essay, Essay.attempt_id == ExamAttempt.id).where(Essay.id == essay_id))
