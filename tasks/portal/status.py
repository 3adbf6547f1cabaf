"""After submission: where the application stands, as its applicant may see it. The stage, which
transcripts are in, which ratings are in (never what a rater wrote or chose), exam dates and the
decision; and, when the references need it, adding or replacing a rater."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Application, Decision, EducationRecord, ExamAttempt, ExamSitting, ReferenceRequest
from tasks.config import PipelineConfig
from tasks.eligibility.evaluation import UNMET
from tasks.portal.access import FINAL_STAGES, Access, PortfolioNotFound, locate
from tasks.references.raters import ProposedRater, add_rater, replace_rater


@dataclass(frozen=True)
class RaterLine:
    request_id: int
    name: str
    role: str
    state: str  # awaiting | received | declined | replaced | closed


@dataclass(frozen=True)
class ApplicationStatus:
    application_id: str
    category: str
    stage: str
    transcripts: list[tuple[str, str | None]]  # (institution, received on or None)
    raters: list[RaterLine]
    exams: list[tuple[str, str, str | None]]  # (sitting or "not yet scheduled", dates, taken on)
    decision: tuple[str, date] | None
    # The references need another rater (a decline, a rating that cannot count). Why exactly stays with
    # the coordinator: the checklist's detail can speak of a rating's answers.
    may_change_raters: bool


def _rater_state(req: ReferenceRequest) -> str:
    # Only whether a rating is in: its answers, recommendation and counts stay with the coordinator.
    if req.status == "cancelled":
        return "replaced" if req.replaced_by_id else "closed"
    if req.status == "expired":
        return "closed"
    if req.rating is not None and req.rating.submitted_at is not None:
        return "declined" if req.rating.declined_reason else "received"
    return {"submitted": "received", "declined": "declined"}.get(req.status, "awaiting")


def application_status(s: Session, access: Access, as_of: date) -> ApplicationStatus:
    p = locate(s, access, as_of)
    app = s.get(Application, p.application_id) if p.kind == "application" else None
    if app is None:
        raise PortfolioNotFound
    transcripts = [(e.institution, e.transcript.received_on.isoformat() if e.transcript and e.transcript.received_on
                    else None) for e in s.scalars(select(EducationRecord).where(EducationRecord.application_id == app.id)
                                                  .order_by(EducationRecord.position))]
    raters = [RaterLine(r.id, r.rater_name, r.role, _rater_state(r)) for r in s.scalars(
        select(ReferenceRequest).where(ReferenceRequest.application_id == app.id).order_by(ReferenceRequest.position,
                                                                                            ReferenceRequest.id))]
    exams = []
    for attempt, sitting in s.execute(select(ExamAttempt, ExamSitting).join(
            ExamSitting, ExamSitting.id == ExamAttempt.sitting_id, isouter=True)
            .where(ExamAttempt.application_id == app.id).order_by(ExamAttempt.attempt_number)):
        dates = f"{sitting.opens_on.isoformat()} to {sitting.closes_on.isoformat()}" if sitting else ""
        exams.append((sitting.name if sitting else "not yet scheduled", dates,
                      attempt.taken_on.isoformat() if attempt.taken_on else None))
    decision = s.scalars(select(Decision).where(Decision.application_id == app.id)
                        .order_by(Decision.decided_at.desc())).first()
    refs = {r["id"]: r for r in (app.last_checklist or [])}
    needs = [refs[k] for k in ("references", "endorsed_rater") if refs.get(k, {}).get("status") == UNMET]
    return ApplicationStatus(
        application_id=app.id, category=app.category, stage=app.stage, transcripts=transcripts, raters=raters,
        exams=exams, decision=(decision.outcome, decision.as_of) if decision else None,
        may_change_raters=bool(needs) and app.stage not in FINAL_STAGES)


def _asked(sessions: sessionmaker[Session], access: Access, as_of: date) -> tuple[str, str]:
    with sessions() as s:
        status = application_status(s, access, as_of)
        email = locate(s, access, as_of).email_normalized
    if not status.may_change_raters:
        raise ValueError("raters: the references need no change now; the coordinator will write if they do")
    return status.application_id, email


def applicant_adds_rater(sessions: sessionmaker[Session], access: Access, rater: ProposedRater, cfg: PipelineConfig) -> int:
    """The applicant names another rater when the references need one (a decline, a rating that does not
    count): a request, a link and an email at once, as when a coordinator adds one."""
    application_id, email = _asked(sessions, access, cfg.as_of)
    return add_rater(sessions, application_id, rater, cfg, actor=access.actor if access.coordinator else f"applicant:{email}")


def applicant_replaces_rater(sessions: sessionmaker[Session], access: Access, request_id: int, rater: ProposedRater,
                             cfg: PipelineConfig) -> int:
    application_id, email = _asked(sessions, access, cfg.as_of)
    with sessions() as s:  # only a rater of their own application, still awaited
        req = s.get(ReferenceRequest, request_id)
        if req is None or req.application_id != application_id or req.status != "requested":
            raise ValueError("raters: that rater is not awaited on your application")
    return replace_rater(sessions, request_id, rater, cfg, reason="replaced by the applicant",
                         actor=access.actor if access.coordinator else f"applicant:{email}")
