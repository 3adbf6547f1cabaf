"""What the coordinator sees of application review and advising on an application's page, and the
association's round to dry-run and apply."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    AdvisorPairing,
    Application,
    ApplicationReview,
    ApplicationReviewAssignment,
    ApplicationReviewOutcome,
    Person,
)
from tasks.application_review.advisors import notes_for
from tasks.application_review.rounds import STAGE


@dataclass(frozen=True)
class ReviewSummary:
    in_review: bool
    reviews: tuple[dict, ...]  # one per assignment, with the review when submitted
    outcome: dict | None
    disagreement: bool
    advisors: tuple[dict, ...]
    advisor_notes: tuple[dict, ...]


def review_summary(s: Session, app: Application) -> ReviewSummary:
    rows = s.execute(select(ApplicationReviewAssignment, Person.name, ApplicationReview)
                     .join(Person, Person.id == ApplicationReviewAssignment.reviewer_id)
                     .outerjoin(ApplicationReview, ApplicationReview.assignment_id == ApplicationReviewAssignment.id)
                     .where(ApplicationReviewAssignment.application_id == app.id)
                     .order_by(ApplicationReviewAssignment.id)).all()
    reviews = tuple({"reviewer": name, "status": a.status, "due_on": a.due_on, "ended_reason": a.ended_reason,
                     "recommendation": r.recommendation if r else None, "conditions": r.conditions if r else None,
                     "notes": r.requirement_notes if r else {}, "answers": r.question_answers if r else {}}
                    for a, name, r in rows)
    o = s.scalars(select(ApplicationReviewOutcome).where(ApplicationReviewOutcome.application_id == app.id)
                  .order_by(ApplicationReviewOutcome.round.desc())).first()
    outcome = None if o is None else {"outcome": o.outcome, "conditions": o.conditions, "settled_by": o.settled_by,
                                      "note": o.note, "settled_on": o.settled_on}
    submitted = {r["recommendation"] for r in reviews if r["recommendation"]}
    advisors = tuple({"name": name, "active": p.active, "paired_by": p.paired_by}
                     for p, name in s.execute(select(AdvisorPairing, Person.name)
                                              .join(Person, Person.id == AdvisorPairing.advisor_id)
                                              .where(AdvisorPairing.application_id == app.id)
                                              .order_by(AdvisorPairing.id)))
    return ReviewSummary(app.stage == STAGE, reviews, outcome, outcome is None and len(submitted) > 1, advisors,
                         notes_for(s, app.id))


def applications_in_review(s: Session, association: str) -> list[dict]:
    """The association's applications in application review: how far each round is, and which wait for
    the coordinator (the reviewers disagree)."""
    from collections import defaultdict

    apps = list(s.scalars(select(Application).where(Application.association_code == association,
                                                    Application.stage == STAGE).order_by(Application.id)))
    counts: dict[str, dict] = defaultdict(lambda: {"assigned": 0, "submitted": 0, "recommendations": set()})
    for app_id, status, rec in s.execute(
            select(ApplicationReviewAssignment.application_id, ApplicationReviewAssignment.status,
                   ApplicationReview.recommendation)
            .outerjoin(ApplicationReview, ApplicationReview.assignment_id == ApplicationReviewAssignment.id)
            .where(ApplicationReviewAssignment.application_id.in_([a.id for a in apps] or [""]))):
        if status in ("assigned", "submitted"):
            counts[app_id][status] += 1
        if rec:
            counts[app_id]["recommendations"].add(rec)
    settled = {o.application_id for o in s.scalars(select(ApplicationReviewOutcome).where(
        ApplicationReviewOutcome.application_id.in_([a.id for a in apps] or [""])))}
    return [{"id": a.id, "category": a.category, "assigned": counts[a.id]["assigned"],
             "submitted": counts[a.id]["submitted"], "settled": a.id in settled,
             "disagreement": a.id not in settled and len(counts[a.id]["recommendations"]) > 1} for a in apps]
