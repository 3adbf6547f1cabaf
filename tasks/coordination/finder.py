"""Finding any application of an association, and what is waiting on the coordinator today (issue 15,
item 2). Pure reading, scoped to one association; the route handlers only display what this returns.

Who an application waits on is read from its stage and its last checklist (the pipeline's own view):
the applicant (a transcript, a requirement they must still meet), its raters (ratings requested), the
coordinator (an exam approval, a rater to vet, a question only they can answer), the exam's reviewers,
or nobody (the pipeline is deciding, or it is decided).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from math import ceil

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from endorse.rulebook import RulebookLibrary
from models import Application, Person, ReferenceRequest
from tasks.eligibility.stages import (
    DECISION,
    DEFERRED,
    ELIGIBILITY_REVIEW,
    EXAM,
    OPEN_STAGES,
    REFERENCES,
    STAGES,
    SUBMITTED,
    TRANSCRIPTS,
)

WAITING_ON = ("applicant", "raters", "coordinator", "reviewers", "nobody")
SORTS = {"id": Application.id, "name": Application.applicant_name, "stage": Application.stage,
         "category": Application.category, "entered": Application.stage_entered_at}
PAGE_SIZES = (25, 50, 100)


class BadQuery(ValueError):
    """A search parameter that is not one of its choices; the message names it."""


def waiting_on(stage: str, checklist: list[dict] | None) -> str:
    """Whose move it is, from the stage and the checklist the pipeline stored."""
    if stage in (SUBMITTED, DECISION) or stage not in OPEN_STAGES + (DEFERRED,):
        return "nobody"
    if stage in (TRANSCRIPTS, DEFERRED):
        return "applicant"
    if stage == REFERENCES:
        return "raters"
    if stage == EXAM:
        return "reviewers"
    if stage == ELIGIBILITY_REVIEW:
        open_items = [r for r in checklist or [] if r.get("id") != "exam" and r.get("status") in ("unmet", "pending")]
        return "coordinator" if not open_items else "applicant"
    return "nobody"


@dataclass(frozen=True)
class Query:
    text: str = ""
    stage: str = ""
    category: str = ""
    waiting: str = ""
    overdue: bool = False
    sort: str = "id"
    descending: bool = False
    page: int = 1
    per_page: int = 25

    def check(self) -> "Query":
        if self.stage and self.stage not in STAGES:
            raise BadQuery(f"stage: {self.stage!r} is not a stage ({', '.join(STAGES)})")
        if self.waiting and self.waiting not in WAITING_ON:
            raise BadQuery(f"waiting on: {self.waiting!r} is not one of {', '.join(WAITING_ON)}")
        if self.sort not in SORTS:
            raise BadQuery(f"sort: {self.sort!r} is not one of {', '.join(SORTS)}")
        if self.per_page not in PAGE_SIZES:
            raise BadQuery(f"per page: choose {', '.join(map(str, PAGE_SIZES))}")
        if self.page < 1:
            raise BadQuery("page: pages start at 1")
        return self


@dataclass(frozen=True)
class Found:
    rows: list[dict]
    total: int
    page: int
    pages: int
    categories: list[str]


def find_applications(s: Session, association: str, q: Query, as_of: date) -> Found:
    """The association's applications matching the search (id, applicant's name or email), the filters
    and the sort, one page of them."""
    q.check()
    overdue_ratings = (select(func.count()).select_from(ReferenceRequest)
                       .where(ReferenceRequest.application_id == Application.id,
                              ReferenceRequest.status == "requested", ReferenceRequest.due_on < as_of)
                       .correlate(Application).scalar_subquery())
    stmt = (select(Application.id, Application.applicant_name, Person.email, Application.category, Application.stage,
                   Application.stage_entered_at, Application.last_checklist, overdue_ratings.label("overdue"))
            .join(Person, Person.id == Application.applicant_id)
            .where(Application.association_code == association))
    if q.text.strip():
        needle = f"%{q.text.strip().casefold()}%"
        stmt = stmt.where(or_(func.lower(Application.id).like(needle), func.lower(Application.applicant_name).like(needle),
                              func.lower(Person.email).like(needle)))
    if q.stage:
        stmt = stmt.where(Application.stage == q.stage)
    if q.category:
        stmt = stmt.where(Application.category == q.category)
    if q.overdue:
        stmt = stmt.where(overdue_ratings > 0)
    if q.waiting:  # narrowed in SQL by stage, then exactly by the checklist below
        stmt = stmt.where(Application.stage.in_([st for st in STAGES if _may_wait_on(st, q.waiting)]))
    order = SORTS[q.sort].desc() if q.descending else SORTS[q.sort].asc()
    stmt = stmt.order_by(order, Application.id)
    rows = []
    for app_id, name, email, category, stage, entered, checklist, overdue in s.execute(stmt):
        who = waiting_on(stage, checklist)
        if q.waiting and who != q.waiting:
            continue
        rows.append({"id": app_id, "applicant": name, "email": email, "category": category, "stage": stage,
                     "entered": entered, "days_in_stage": (as_of - entered.date()).days if entered else None,
                     "waiting_on": who, "overdue_ratings": int(overdue or 0)})
    total = len(rows)
    pages = max(1, ceil(total / q.per_page))
    page = min(q.page, pages)
    categories = sorted(s.scalars(select(Application.category).where(Application.association_code == association)
                                  .distinct()))
    return Found(rows[(page - 1) * q.per_page: page * q.per_page], total, page, pages, categories)


def _may_wait_on(stage: str, who: str) -> bool:
    if stage == ELIGIBILITY_REVIEW:
        return who in ("coordinator", "applicant")
    return waiting_on(stage, []) == who


# --- waiting on me -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Waiting:
    what: str       # the kind of thing, in the coordinator's words
    application_id: str | None
    detail: str
    href: str       # the page where it is done


def waiting_on_me(s: Session, association: str, library: RulebookLibrary, as_of: date) -> list[Waiting]:
    """Each thing that needs the coordinator today, each linking to the page where it is done."""
    from tasks.config import PipelineConfig
    from tasks.coordination.dashboard import essays_waiting, undelivered_emails
    from tasks.eligibility.determinations import awaited_determinations
    from tasks.references.raters import vetting_queue

    def app_href(app_id: str, anchor: str = "") -> str:
        return f"/coordinator/applications/{app_id}{anchor}"

    out: list[Waiting] = []
    cfg = PipelineConfig(library=library, as_of=as_of, secret_key="")
    for v in vetting_queue(s, cfg):
        if v.association == association:
            out.append(Waiting("vet a rater", v.application_id, f"{v.rater_name} ({v.role}): call and record the vetting",
                               app_href(v.application_id, "#references")))
    for d in awaited_determinations(s, library, as_of, association):
        out.append(Waiting("record a determination", d.application_id, d.question.replace("_", " "),
                           app_href(d.application_id, "#determinations")))
    ready = s.execute(select(Application.id, Application.last_checklist)
                      .where(Application.association_code == association, Application.stage == ELIGIBILITY_REVIEW,
                             Application.exam_approved_on.is_(None)).order_by(Application.id)).all()
    for app_id, checklist in ready:
        if waiting_on(ELIGIBILITY_REVIEW, checklist) == "coordinator":
            out.append(Waiting("approve to sit the exam", app_id, "every requirement but the exam is met",
                               app_href(app_id, "#actions")))
    replace = s.execute(select(ReferenceRequest.application_id, ReferenceRequest.rater_name, ReferenceRequest.status,
                               ReferenceRequest.due_on)
                        .join(Application, Application.id == ReferenceRequest.application_id)
                        .where(Application.association_code == association, Application.stage == REFERENCES,
                               or_(ReferenceRequest.status.in_(("declined", "expired")),
                                   (ReferenceRequest.status == "requested") & (ReferenceRequest.due_on < as_of)))
                        .order_by(ReferenceRequest.application_id, ReferenceRequest.position)).all()
    for app_id, rater, status, due in replace:
        if status == "requested":
            out.append(Waiting("chase an overdue rating", app_id, f"{rater}: due {due}, resend the link or replace them",
                               app_href(app_id, "#references")))
        elif not _replaced(s, app_id):
            out.append(Waiting("add a rater", app_id, f"{rater} {status}: ask another rater", app_href(app_id, "#add-rater")))
    for e in essays_waiting(s, association):
        if e["why"].startswith("held"):
            out.append(Waiting("release or redact an essay", None, f"{e['sitting']}, essay #{e['essay_id']}: {e['why']}",
                               "/coordinator/exam#held"))
    for m in undelivered_emails(s, association):
        out.append(Waiting("an email did not arrive", m["application_id"], f"{m['role']} to {m['to']}: {m['status']}",
                           app_href(m["application_id"], "#emails") if m["application_id"] else "/coordinator/#emails"))
    return out


def _replaced(s: Session, app_id: str) -> bool:
    # Three live requests (requested or submitted) mean a declined one was replaced already.
    live = s.scalar(select(func.count()).select_from(ReferenceRequest)
                    .where(ReferenceRequest.application_id == app_id,
                           ReferenceRequest.status.in_(("requested", "submitted"))))
    return live >= 3


__all__ = ["BadQuery", "Found", "Query", "WAITING_ON", "Waiting", "find_applications", "waiting_on", "waiting_on_me"]
