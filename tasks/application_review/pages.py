"""The application reviewer's pages behind their link: their own applications only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from endorse.rulebook import RulebookLibrary
from models import Application, ApplicationReviewAssignment
from tasks.application_review.portfolio import Portfolio, portfolio
from tasks.application_review.rounds import OPEN, ReviewerScope, find_scope, own_assignment, settings_for


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


def _assignments(s: Session, scope: ReviewerScope):
    q = (select(ApplicationReviewAssignment, Application)
         .join(Application, Application.id == ApplicationReviewAssignment.application_id)
         .where(ApplicationReviewAssignment.reviewer_id == scope.reviewer_id,
                ApplicationReviewAssignment.status.in_(OPEN))
         .order_by(ApplicationReviewAssignment.due_on, ApplicationReviewAssignment.id))
    if scope.association is not None:
        q = q.where(Application.association_code == scope.association)
    return s.execute(q).all()


def _label(library: RulebookLibrary, app: Application, as_of: date) -> str:
    blind = bool(settings_for(library, app.association_code, as_of)["blind"])
    return app.id if blind else f"{app.applicant_name} ({app.id})"


def reviewer_home(s: Session, token: str, library: RulebookLibrary, as_of: date) -> ApplicationReviewerHome:
    rows = _assignments(s, find_scope(s, token, as_of))
    return ApplicationReviewerHome(tuple(
        ReviewListItem(a.id, _label(library, app, as_of), library.category_info(app.category)["name"], a.due_on,
                       a.status) for a, app in rows))


def console_rows(s: Session, reviewer_id: int, sitting_id: int | None, library: RulebookLibrary, as_of: date) -> list:
    """The reviewer console's rows for application reviews (none on an essay sitting's link)."""
    from models import Association
    from tasks.exam.review import ConsoleRow

    if sitting_id is not None:
        return []
    rows = []
    for a, app in _assignments(s, ReviewerScope(reviewer_id, None)):
        assoc = s.get(Association, app.association_code)
        rows.append(ConsoleRow("application", f"Application {_label(library, app, as_of)}",
                               library.category_info(app.category)["name"], assoc.short_name or assoc.code, a.due_on,
                               "reviewed" if a.status == "submitted" else "to_review", f"application/{a.id}"))
    return rows


def review_page(s: Session, token: str, assignment_id: int, library: RulebookLibrary, as_of: date) -> ApplicationReviewPage:
    a = own_assignment(s, find_scope(s, token, as_of), assignment_id)
    app = s.get(Application, a.application_id)
    return ApplicationReviewPage(a.id, a.status, a.due_on, portfolio(s, app, library, as_of, with_ratings=True))
