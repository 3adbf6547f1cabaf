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
    ApplicationReviewRound,
    Person,
)
from tasks.application_review.advisors import notes_for
from tasks.application_review.rounds import STAGE
from tasks.eligibility.facts import current_review_rounds, review_outcomes


@dataclass(frozen=True)
class ReviewSummary:
    in_review: bool
    reviews: tuple[dict, ...]  # one per assignment (every round), with the review when submitted
    outcome: dict | None  # how the latest settled round ended
    disagreement: bool
    advisors: tuple[dict, ...]
    advisor_notes: tuple[dict, ...]
    round: int = 1  # the current round
    rounds: tuple[dict, ...] = ()  # the rounds opened after a "not yet": number, reviewers, reason, by, on
    next_round_possible: bool = False  # the current round ended "not yet" and the application is deferred


def review_summary(s: Session, app: Application) -> ReviewSummary:
    rows = s.execute(select(ApplicationReviewAssignment, Person.name, ApplicationReview)
                     .join(Person, Person.id == ApplicationReviewAssignment.reviewer_id)
                     .outerjoin(ApplicationReview, ApplicationReview.assignment_id == ApplicationReviewAssignment.id)
                     .where(ApplicationReviewAssignment.application_id == app.id)
                     .order_by(ApplicationReviewAssignment.id)).all()
    reviews = tuple({"reviewer": name, "reviewer_id": a.reviewer_id, "round": a.round, "status": a.status,
                     "due_on": a.due_on, "ended_reason": a.ended_reason,
                     "recommendation": r.recommendation if r else None, "conditions": r.conditions if r else None,
                     "notes": r.requirement_notes if r else {}, "answers": r.question_answers if r else {}}
                    for a, name, r in rows)
    o = s.scalars(select(ApplicationReviewOutcome).where(ApplicationReviewOutcome.application_id == app.id)
                  .order_by(ApplicationReviewOutcome.round.desc())).first()
    outcome = None if o is None else {"outcome": o.outcome, "conditions": o.conditions, "settled_by": o.settled_by,
                                      "note": o.note, "settled_on": o.settled_on}
    current = current_review_rounds(s, [app.id])[app.id]
    if o is not None and o.round != current:
        outcome = None  # a later round is open: the earlier outcome is in the rounds' history
    submitted = {r["recommendation"] for r in reviews if r["recommendation"] and r["round"] == current}
    rounds = tuple({"round": r.round, "reviewers": r.reviewers, "reason": r.reason, "opened_by": r.opened_by,
                    "opened_on": r.opened_on}
                   for r in s.scalars(select(ApplicationReviewRound).where(ApplicationReviewRound.application_id == app.id)
                                      .order_by(ApplicationReviewRound.round)))
    advisors = tuple({"id": p.advisor_id, "name": name, "active": p.active, "paired_by": p.paired_by,
                      "ended_on": p.ended_on, "ended_by": p.ended_by, "ended_reason": p.ended_reason}
                     for p, name in s.execute(select(AdvisorPairing, Person.name)
                                              .join(Person, Person.id == AdvisorPairing.advisor_id)
                                              .where(AdvisorPairing.application_id == app.id)
                                              .order_by(AdvisorPairing.id)))
    return ReviewSummary(app.stage == STAGE, reviews, outcome, outcome is None and len(submitted) > 1, advisors,
                         notes_for(s, app.id), current, rounds,
                         app.stage == "deferred" and outcome is not None and outcome["outcome"] == "not_yet")


def applications_in_review(s: Session, association: str) -> list[dict]:
    """The association's applications in application review: how far each round is, and which wait for
    the coordinator (the reviewers disagree)."""
    from collections import defaultdict

    apps = list(s.scalars(select(Application).where(Application.association_code == association,
                                                    Application.stage == STAGE).order_by(Application.id)))
    counts: dict[str, dict] = defaultdict(lambda: {"assigned": 0, "submitted": 0, "recommendations": set()})
    rounds = current_review_rounds(s, [a.id for a in apps])
    for app_id, status, rec, rnd in s.execute(
            select(ApplicationReviewAssignment.application_id, ApplicationReviewAssignment.status,
                   ApplicationReview.recommendation, ApplicationReviewAssignment.round)
            .outerjoin(ApplicationReview, ApplicationReview.assignment_id == ApplicationReviewAssignment.id)
            .where(ApplicationReviewAssignment.application_id.in_([a.id for a in apps] or [""]))):
        if rnd != rounds[app_id]:
            continue  # an earlier round's reviews
        if status in ("assigned", "submitted"):
            counts[app_id][status] += 1
        if rec:
            counts[app_id]["recommendations"].add(rec)
    settled = set(review_outcomes(s, [a.id for a in apps]))
    return [{"id": a.id, "category": a.category, "round": rounds[a.id], "assigned": counts[a.id]["assigned"],
             "submitted": counts[a.id]["submitted"], "settled": a.id in settled,
             "disagreement": a.id not in settled and len(counts[a.id]["recommendations"]) > 1} for a in apps]
