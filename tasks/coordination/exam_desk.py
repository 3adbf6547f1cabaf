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


@dataclass(frozen=True)
class ReviewerRow:
    person_id: int
    name: str
    to_review: int  # essays and applications of this association still waiting for them
    reviewed: int
    link_until: object  # when their console link stops working (None: never sent)


def reviewers_of(s: Session, association: str) -> list[ReviewerRow]:
    """The volunteers with an essay or an application of the association to review (or reviewed), with
    their console link's expiry: whom the coordinator may send a console link."""
    from models import Application, ApplicationReviewAssignment, Person, ReviewAssignment, ReviewerConsoleLink

    counts: dict[int, list[int]] = {}
    essays = (select(ReviewAssignment.reviewer_id, ReviewAssignment.status, func.count())
              .join(Essay, Essay.id == ReviewAssignment.essay_id).join(ExamAttempt, ExamAttempt.id == Essay.attempt_id)
              .join(ExamSitting, ExamSitting.id == ExamAttempt.sitting_id)
              .where(ExamSitting.association_code == association, ReviewAssignment.status.in_(("assigned", "submitted")))
              .group_by(ReviewAssignment.reviewer_id, ReviewAssignment.status))
    applications = (select(ApplicationReviewAssignment.reviewer_id, ApplicationReviewAssignment.status, func.count())
                    .join(Application, Application.id == ApplicationReviewAssignment.application_id)
                    .where(Application.association_code == association,
                           ApplicationReviewAssignment.status.in_(("assigned", "submitted")))
                    .group_by(ApplicationReviewAssignment.reviewer_id, ApplicationReviewAssignment.status))
    for query in (essays, applications):
        for reviewer_id, status, n in s.execute(query):
            counts.setdefault(reviewer_id, [0, 0])[status == "submitted"] += n
    if not counts:
        return []
    until = dict(s.execute(select(ReviewerConsoleLink.reviewer_id, ReviewerConsoleLink.token_expires_at)
                           .where(ReviewerConsoleLink.reviewer_id.in_(list(counts)))).all())
    people = s.execute(select(Person.id, Person.name).where(Person.id.in_(list(counts))).order_by(Person.name, Person.id))
    return [ReviewerRow(pid, name, *counts[pid], until.get(pid)) for pid, name in people]


def reviews_for(s: Session, person_id: int, association: str) -> bool:
    """Whether the person reviews (or reviewed) for the association: else they are not the coordinator's."""
    return any(r.person_id == person_id for r in reviewers_of(s, association))
