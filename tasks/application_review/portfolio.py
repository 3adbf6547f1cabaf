"""What a volunteer reads of an application: the portfolio, the live checklist with sources, the
internship described for reviewers (004 IMHS, 002) and the questions still open to the coordinator.

Application reviewers also see the summary of a rating whose applicant waived access to it, never a
rater's comments; advisors never see ratings. Where the association reads applications blind
(``application_review.blind``), the applicant's name, email and employers, and the raters' and RS/C
providers' names, are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from endorse.rulebook import RulebookLibrary
from models import Application, ReferenceRequest
from tasks.application_review.rounds import settings_for
from tasks.eligibility.determinations import application_questions

WITHHELD = "(withheld: read blind)"


@dataclass(frozen=True)
class Portfolio:
    application_id: str
    category: str
    category_name: str
    applicant: str  # the name, or the application id when read blind
    blind: bool
    checklist: list[dict]
    education: list[dict]
    training: list[dict]
    work: list[dict]
    internships: list[dict]
    leadership: list[dict]
    rsc: list[dict]
    open_questions: list[dict]
    ratings: list[dict] = field(default_factory=list)


def portfolio(s: Session, app: Application, library: RulebookLibrary, as_of: date, *, with_ratings: bool) -> Portfolio:
    blind = bool(settings_for(library, app.association_code, as_of)["blind"])

    def who(name: str | None) -> str:
        return WITHHELD if blind else (name or "")

    work = [{"employer": who(w.employer), "role": w.role or "", "kind": w.kind.replace("_", " "), "start_on": w.start_on,
             "end_on": w.end_on, "paid": w.paid, "supervisor_endorsement": w.supervisor_endorsement}
            for w in app.work]
    ratings = []
    if with_ratings:
        for req in s.scalars(select(ReferenceRequest).where(ReferenceRequest.application_id == app.id)
                             .order_by(ReferenceRequest.position, ReferenceRequest.id)):
            rating = req.rating
            submitted = rating is not None and rating.submitted_at is not None and not rating.declined_reason
            row = {"role": req.role.replace("_", " "), "status": req.status, "waived": req.waived_access}
            # The summary only where the applicant waived access to it; comments never.
            if req.waived_access and submitted:
                scores = [a.score for a in rating.answers if a.score is not None]
                row.update(recommendation=rating.recommendation,
                           mean_score=round(sum(scores) / len(scores), 2) if scores else None,
                           insufficient=rating.insufficient_information_count)
            ratings.append(row)
    questions = [{"key": q.key, "question": q.question, "requirement": q.requirement, "source": q.source}
                 for q in application_questions(s, library, app, as_of) if q.latest is None]
    checklist = list(app.last_checklist or [])
    if blind:  # a checklist detail can name an employer or the applicant
        names = [n for n in [app.applicant_name, app.applicant.email, app.applicant.employer,
                             *(w.employer for w in app.work), *(r.provider_name for r in app.rsc)] if n]
        checklist = [{**r, "detail": _scrub(str(r.get("detail", "")), names)} for r in checklist]
    return Portfolio(
        application_id=app.id, category=app.category, category_name=library.category_info(app.category)["name"],
        applicant=app.id if blind else app.applicant_name, blind=blind, checklist=checklist,
        education=[{"institution": e.institution, "credential": e.credential, "degree": e.degree or "",
                    "conferred_on": e.conferred_on,
                    "transcript": "received" if e.transcript and e.transcript.received_on else "awaited"}
                   for e in app.education],
        training=[{"title": t.title, "hours": float(t.hours), "completed_on": t.completed_on} for t in app.training],
        work=[w for w in work if w["kind"] != "graduate internship"],
        internships=[w for w in work if w["kind"] == "graduate internship"],
        leadership=[{"description": a.description, "level": a.level, "start_on": a.start_on, "end_on": a.end_on}
                    for a in app.leadership],
        rsc=[{"provider": who(r.provider_name), "provider_endorsement": r.provider_endorsement or "",
              "hours": float(r.hours), "start_on": r.start_on, "end_on": r.end_on, "format": r.format or ""}
             for r in app.rsc],
        open_questions=questions, ratings=ratings)


def _scrub(text: str, names: list[str]) -> str:
    for n in sorted(set(names), key=len, reverse=True):
        text = text.replace(n, WITHHELD)
    return text
