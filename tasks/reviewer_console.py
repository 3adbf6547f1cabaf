"""The reviewer's console: one link per reviewer that lists everything assigned to them, across
sittings and associations, with their progress ("3 of 12 reviewed").

The console link (``ReviewerConsoleLink``) follows every link's rules: a random nonce and the hash of
the token are stored, the token is HMAC(secret key, "reviewer:" + nonce), so the outbox rebuilds it at
send time; it expires, can be sent again as it is, and a new nonce kills the old one.

The list is built from row sources, so another kind of assignment joins the console by one function:

    def application_review_rows(s: Session, scope: ReviewerScope, library: RulebookLibrary,
                                as_of: date) -> list[ConsoleRow]: ...
    ROW_SOURCES = (essay_rows, application_review_rows)

A source returns one ``ConsoleRow`` per assignment within ``scope`` (``scope.reviewer_id``; a sitting
link narrows ``scope.sitting_id`` to one sitting, which only essays have: other kinds return nothing
for a sitting link). ``path`` is relative to the link (``essay/17``), so the row opens under the same
token; its page is the source's own router. ``status`` is one of "to_review", "draft", "reviewed".
Rows never carry a candidate's or applicant's identity unless the kind of review is not blind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from endorse.clock import now_for
from endorse.db import transaction
from endorse.rulebook import RulebookLibrary
from models import AuditLog, Person, record_audit
from tasks.exam.review import ConsoleRow, ReviewerScope, console_link_for, essays_in_scope, find_reviewer
from tasks.mail.outbox import queue_email

LINK_PURPOSE = "reviewer"


@dataclass(frozen=True)
class Console:
    reviewer_name: str  # the reviewer's own name, for the greeting
    scope: ReviewerScope
    rows: tuple[ConsoleRow, ...]

    @property
    def reviewed(self) -> int:
        return sum(1 for r in self.rows if r.status == "reviewed")

    @property
    def next_path(self) -> str | None:
        return next((r.path for r in self.rows if r.status != "reviewed"), None)


def essay_rows(s: Session, scope: ReviewerScope, library: RulebookLibrary, as_of: date) -> list[ConsoleRow]:
    from models import Association

    rows = []
    for a, track, code, sitting in essays_in_scope(s, scope):
        status = "reviewed" if a.status == "submitted" else ("draft" if a.draft else "to_review")
        rows.append(ConsoleRow("essay", f"Essay {code}", f"{library.category_info(track)['name']} track",
                               f"{s.get(Association, sitting.association_code).short_name or sitting.association_code}"
                               f" · {sitting.name}", a.due_on, status, f"essay/{a.id}"))
    return rows


def application_review_rows(s: Session, scope: ReviewerScope, library: RulebookLibrary, as_of: date) -> list[ConsoleRow]:
    from tasks.application_review.pages import console_rows

    return console_rows(s, scope.reviewer_id, scope.sitting_id, library, as_of)


RowSource = Callable[[Session, ReviewerScope, RulebookLibrary, date], list[ConsoleRow]]
ROW_SOURCES: tuple[RowSource, ...] = (essay_rows, application_review_rows)


def console(s: Session, token: str, library: RulebookLibrary, as_of: date) -> Console:
    """What a reviewer's link shows: every row of every source, to do first, then by due date."""
    scope = find_reviewer(s, token, as_of)
    rows = [row for source in ROW_SOURCES for row in source(s, scope, library, as_of)]
    rows.sort(key=lambda r: (r.status == "reviewed", r.due_on or date.max))
    return Console(s.get(Person, scope.reviewer_id).name, scope, tuple(rows))


def _application_review_associations(s: Session, reviewer_id: int) -> set[str]:
    from models import Application, ApplicationReviewAssignment

    return set(s.scalars(select(Application.association_code).join(
        ApplicationReviewAssignment, ApplicationReviewAssignment.application_id == Application.id)
        .where(ApplicationReviewAssignment.reviewer_id == reviewer_id)))


def _expiry_days(library: RulebookLibrary, associations: set[str], as_of: date) -> int:
    # The longest of the reviewer's associations' link lifetimes (rules: review_link_expiry_days).
    return max(int(library.setting(code, "review_link_expiry_days", as_of)) for code in associations)


def send_console_link(sessions: sessionmaker[Session], reviewer_id: int, library: RulebookLibrary, *, as_of: date,
                      secret_key: str, actor: str, regenerate: bool = False) -> str:
    """Email a reviewer their console link: issued the first time, the same link again (its expiry
    moved on), or with ``regenerate`` a new one (the old stops working). One transaction, audited.
    Returns "issued" (the first link), "replaced" (a new one, the old dead) or "resent"."""
    from models import Essay, ExamAttempt, ExamSitting, ReviewAssignment

    with transaction(sessions) as s:
        reviewer = s.get(Person, reviewer_id)
        if reviewer is None:
            raise LookupError(f"no person with id {reviewer_id}")
        associations = set(s.scalars(
            select(ExamSitting.association_code).join(ExamAttempt, ExamAttempt.sitting_id == ExamSitting.id)
            .join(Essay, Essay.attempt_id == ExamAttempt.id).join(ReviewAssignment, ReviewAssignment.essay_id == Essay.id)
            .where(ReviewAssignment.reviewer_id == reviewer_id)))
        associations |= _application_review_associations(s, reviewer_id)
        if not associations:
            raise LookupError(f"{reviewer.name} has no review assignments: there is nothing to show on a console")
        until = now_for(as_of) + timedelta(days=_expiry_days(library, associations, as_of))
        row, kept = console_link_for(s, reviewer_id, secret_key, until, actor, regenerate=regenerate)
        outcome = "resent" if kept == "kept" else kept
        if outcome == "resent":
            row.token_expires_at = until  # a resend is a fresh start for the same link
            record_audit(s, actor=actor, action="exam.console_link_resent", entity_type="reviewer_console_link",
                         entity_id=row.id, reviewer_id=reviewer_id, generation=row.token_generation)
        s.flush()
        scope = ReviewerScope(reviewer_id, None)
        # Each send the coordinator asks for is one email (a resend is a new request, not a retry): the
        # count of resends, this one included, keys it.
        sends = s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.entity_type == "reviewer_console_link", AuditLog.entity_id == str(row.id),
            AuditLog.action == "exam.console_link_resent")) if outcome == "resent" else 0
        waiting = sum(1 for a, *_ in essays_in_scope(s, scope) if a.status == "assigned")
        queue_email(s, role="review.console", to_email=reviewer.email, to_name=reviewer.name,
                    association=min(associations), link_kind="reviewer", link_ref_id=row.id,
                    idempotency_key=f"review.console:{row.id}:{row.token_generation}:{sends}",
                    context={"reviewer_name": reviewer.name, "count": waiting, "replaced": outcome == "replaced",
                             "expires_on": until.date().isoformat()})
        return outcome
