"""The application reviewer's pages behind their link: their own applications only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from endorse.rulebook import RulebookLibrary
from models import Application, ApplicationReviewAssignment
from tasks.application_review.portfolio import Portfolio, portfolio
from tasks.application_review.rounds import OPEN, find_invitation, own_assignment, settings_for


@dataclass(frozen=True)
class ReviewListItem:
    assignment_id: int
    label: str  # the applicant's name, or the application id when read blind
    category: str
    due_on: date | None
    status: str


@dataclass(frozen=True)
class ApplicationReviewerHome:
    items: tuple[ReviewListItem, ...]


@dataclass(frozen=True)
class ApplicationReviewPage:
    assignment_id: int
    status: str
    due_on: date | None
    portfolio: Portfolio

    @property
    def requirement_ids(self) -> set[str]:
        return {r["id"] for r in self.portfolio.checklist}

    @property
    def question_ids(self) -> set[str]:
        return {q["key"] for q in self.portfolio.open_questions}


def reviewer_home(s: Session, token: str, library: RulebookLibrary, as_of: date) -> ApplicationReviewerHome:
    inv = find_invitation(s, token, as_of)
    rows = s.execute(select(ApplicationReviewAssignment, Application)
                     .join(Application, Application.id == ApplicationReviewAssignment.application_id)
                     .where(ApplicationReviewAssignment.reviewer_id == inv.reviewer_id,
                            ApplicationReviewAssignment.status.in_(OPEN),
                            Application.association_code == inv.association_code)
                     .order_by(ApplicationReviewAssignment.due_on, ApplicationReviewAssignment.id)).all()
    blind = bool(settings_for(library, inv.association_code, as_of)["blind"])
    return ApplicationReviewerHome(tuple(
        ReviewListItem(a.id, app.id if blind else f"{app.applicant_name} ({app.id})",
                       library.category_info(app.category)["name"], a.due_on, a.status) for a, app in rows))


def review_page(s: Session, token: str, assignment_id: int, library: RulebookLibrary, as_of: date) -> ApplicationReviewPage:
    inv = find_invitation(s, token, as_of)
    a = own_assignment(s, inv, assignment_id)
    app = s.get(Application, a.application_id)
    return ApplicationReviewPage(a.id, a.status, a.due_on, portfolio(s, app, library, as_of, with_ratings=True))
