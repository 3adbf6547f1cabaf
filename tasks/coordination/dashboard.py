"""What a coordinator's pages show, computed here so route handlers and templates only display it.

Every query is scoped to one association: a coordinator never reads another association's
applications, and asking for one is answered exactly like asking for one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from endorse.rulebook import RulebookLibrary
from models import (
    Application,
    AuditLog,
    Decision,
    EducationRecord,
    Essay,
    ExamAttempt,
    ExamSitting,
    OutboxMessage,
    Person,
    Portfolio,
    PortfolioUpload,
    ReferenceRequest,
    ReviewAssignment,
    ReviewerAvailability,
    Transcript,
    utcnow,
)
from tasks.coordination.reports import pipeline_frame, pipeline_summary
from tasks.coordination.runs import scheduled_runs_view
from tasks.exam.review import notes_to_coordinator
from tasks.eligibility.stages import OPEN_STAGES, STAGES

PROBLEM_EMAIL_STATUSES = ("failed", "bounced")


class NotYours(LookupError):
    """No such application, or not the coordinator's association: one answer for both."""


@dataclass(frozen=True)
class Dashboard:
    association: str
    as_of: date
    open_count: int
    by_stage: pd.DataFrame  # stage × category counts (rows: stages in pipeline order)
    summary: pd.DataFrame  # stage × category with time in stage and what is waiting
    overdue_ratings: list[dict]
    awaited_transcripts: list[dict]
    vetting_queue: list[dict]
    problem_emails: list[dict]
    reviewer_load: list[dict]
    essays_waiting: list[dict] = field(default_factory=list)
    scheduled_runs: list[dict] = field(default_factory=list)  # last completed sweep, outbox and renewal runs


def pipeline_for(s: Session, association: str, as_of: date) -> pd.DataFrame:
    frame = pipeline_frame(s, as_of)
    return frame[frame["association"] == association].reset_index(drop=True) if not frame.empty else frame


def dashboard(s: Session, association: str, library: RulebookLibrary, as_of: date) -> Dashboard:
    from tasks.config import PipelineConfig
    from tasks.references.raters import vetting_queue

    frame = pipeline_for(s, association, as_of)
    if frame.empty:
        by_stage = pd.DataFrame()
    else:
        by_stage = frame.pivot_table(index="stage", columns="category", values="id", aggfunc="count", fill_value=0)
        by_stage = by_stage.reindex([st for st in STAGES if st in by_stage.index])
        by_stage["total"] = by_stage.sum(axis=1)
    summary = pipeline_summary(frame)
    overdue = [{"application_id": a, "rater": n, "role": role, "due_on": d, "days_overdue": (as_of - d).days,
                "request_id": rid}
               for rid, a, n, role, d in s.execute(
                   select(ReferenceRequest.id, ReferenceRequest.application_id, ReferenceRequest.rater_name,
                          ReferenceRequest.role, ReferenceRequest.due_on)
                   .join(Application, Application.id == ReferenceRequest.application_id)
                   .where(Application.association_code == association, ReferenceRequest.status == "requested",
                          ReferenceRequest.due_on < as_of)
                   .order_by(ReferenceRequest.due_on))]
    awaited = [{"application_id": a, "institution": inst, "credential": cred, "stage": stage}
               for a, inst, cred, stage in s.execute(
                   select(EducationRecord.application_id, EducationRecord.institution, EducationRecord.credential,
                          Application.stage)
                   .join(Application, Application.id == EducationRecord.application_id)
                   .join(Transcript, Transcript.education_record_id == EducationRecord.id, isouter=True)
                   .where(Application.association_code == association, Application.stage.in_(OPEN_STAGES),
                          (Transcript.id.is_(None)) | (Transcript.received_on.is_(None)))
                   .order_by(EducationRecord.application_id))]
    cfg = PipelineConfig(library=library, as_of=as_of, secret_key="")
    vetting = [vars(v) for v in vetting_queue(s, cfg) if v.association == association]
    emails = undelivered_emails(s, association)
    return Dashboard(association, as_of, int(frame["stage"].isin(OPEN_STAGES).sum()) if not frame.empty else 0,
                     by_stage, summary, overdue, awaited, vetting, emails, reviewer_load(s, association),
                     essays_waiting(s, association), scheduled_runs_view(s))


def undelivered_emails(s: Session, association: str, now: datetime | None = None) -> list[dict]:
    """Emails that did not reach their recipient: failed or bounced, and those still waiting longer
    after their due time than the outbox ever lets a due message wait (it is not running, or the mail
    server is unreachable)."""
    from tasks.mail.outbox import OVERDUE_AFTER

    now = now or utcnow()
    late = now - OVERDUE_AFTER
    rows = s.execute(
        select(OutboxMessage.id, OutboxMessage.role, OutboxMessage.recipient_email, OutboxMessage.status,
               OutboxMessage.attempts, OutboxMessage.last_error, OutboxMessage.application_id,
               OutboxMessage.association_code, OutboxMessage.next_attempt_at, Application.association_code)
        .outerjoin(Application, Application.id == OutboxMessage.application_id)
        .where((OutboxMessage.association_code == association) | (Application.association_code == association)
               | (OutboxMessage.application_id.is_(None) & OutboxMessage.association_code.is_(None)),
               OutboxMessage.status.in_(PROBLEM_EMAIL_STATUSES)
               | (OutboxMessage.status.in_(("queued", "sending")) & (OutboxMessage.next_attempt_at < late)))
        .order_by(OutboxMessage.id.desc()).limit(500))
    out = []
    for i, role, to, st, n, err, app_id, msg_assoc, due, app_assoc in rows:
        if msg_assoc is None and app_assoc is None and not _is_association_mail(s, i, association):
            continue
        if st in ("queued", "sending"):
            waited = now - _aware(due)
            st = f"{st}, {_duration(waited)} past due"
            err = err or "not attempted yet: is the outbox running (endorse serve or endorse outbox deliver)?"
        out.append({"id": i, "role": role, "to": to, "status": st, "attempts": n, "error": err, "application_id": app_id})
    return out


def _aware(value: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they are stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _duration(delta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def _is_association_mail(s: Session, message_id: int, association: str) -> bool:
    # Mail queued before messages carried their association: the one whose coordinator is its reply-to.
    from models import Association

    assoc = s.get(Association, association)
    return s.scalar(select(OutboxMessage.reply_to).where(OutboxMessage.id == message_id)) == assoc.coordinator_email


def reviewer_load(s: Session, association: str) -> list[dict]:
    """Per reviewer and open sitting: essays to review, reviewed, and the maximum they offered."""
    counts: dict[tuple[int, int], dict[str, int]] = {}
    for sitting_id, reviewer_id, status, n in s.execute(
            select(ExamAttempt.sitting_id, ReviewAssignment.reviewer_id, ReviewAssignment.status, func.count())
            .join(Essay, Essay.id == ReviewAssignment.essay_id).join(ExamAttempt, ExamAttempt.id == Essay.attempt_id)
            .join(ExamSitting, ExamSitting.id == ExamAttempt.sitting_id)
            .where(ExamSitting.association_code == association)
            .group_by(ExamAttempt.sitting_id, ReviewAssignment.reviewer_id, ReviewAssignment.status)):
        counts.setdefault((sitting_id, reviewer_id), {})[status] = n
    rows = []
    for sitting_name, sitting_id, person_id, name, max_load in s.execute(
            select(ExamSitting.name, ExamSitting.id, Person.id, Person.name, ReviewerAvailability.max_load)
            .join(ReviewerAvailability, ReviewerAvailability.sitting_id == ExamSitting.id)
            .join(Person, Person.id == ReviewerAvailability.person_id)
            .where(ExamSitting.association_code == association).order_by(ExamSitting.id, Person.name)):
        c = counts.get((sitting_id, person_id), {})
        rows.append({"sitting": sitting_name, "reviewer": name, "to_review": c.get("assigned", 0),
                     "reviewed": c.get("submitted", 0), "gave_back": c.get("declined", 0) + c.get("expired", 0),
                     "max_load": max_load})
    return rows


def essays_waiting(s: Session, association: str) -> list[dict]:
    """Essays held for the coordinator (they may reveal their writer) or short of reviewers."""
    out = []
    for essay, code, sitting in s.execute(
            select(Essay, ExamAttempt.candidate_code, ExamSitting.name)
            .join(ExamAttempt, ExamAttempt.id == Essay.attempt_id).join(ExamSitting, ExamSitting.id == ExamAttempt.sitting_id)
            .where(ExamSitting.association_code == association, ExamAttempt.essay_result.is_(None))):
        open_reviews = s.scalar(select(func.count()).select_from(ReviewAssignment).where(
            ReviewAssignment.essay_id == essay.id, ReviewAssignment.status.in_(("assigned", "submitted"))))
        if essay.flagged_reason and not essay.flag_cleared_by:
            out.append({"essay_id": essay.id, "candidate_code": code, "sitting": sitting,
                        "why": f"held: {essay.flagged_reason}"})
        elif essay.text and open_reviews < essay.reviewers_needed:
            out.append({"essay_id": essay.id, "candidate_code": code, "sitting": sitting,
                        "why": f"{open_reviews} of {essay.reviewers_needed} reviewers"})
    return out


# --- one application ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationPage:
    app: Application
    applicant: Person
    checklist: list[dict]
    timeline: list[dict]
    emails: list[dict]
    references: list[dict]
    education: list[dict]
    exam: list[dict]
    decisions: list[dict]
    actions: dict[str, bool]  # which actions make sense now
    # What the applicant uploaded on the web for a question the coordinator decides (question, file,
    # size, when, the upload's id for its download link).
    descriptions: list[dict] = field(default_factory=list)


def application_page(s: Session, application_id: str, association: str) -> ApplicationPage:
    app = s.get(Application, application_id)
    if app is None or app.association_code != association:
        raise NotYours(application_id)
    timeline = [{"at": e.at, "actor": e.actor, "action": e.action, "what": _describe(e)}
                for e in s.scalars(select(AuditLog).where(AuditLog.application_id == app.id).order_by(AuditLog.id))]
    emails = [{"id": m.id, "role": m.role, "to": m.recipient_email, "subject": m.subject, "status": m.status,
               "sent_at": m.sent_at, "error": m.last_error}
              for m in s.scalars(select(OutboxMessage).where(OutboxMessage.application_id == app.id)
                                 .order_by(OutboxMessage.id))]
    references = []
    for req in s.scalars(select(ReferenceRequest).where(ReferenceRequest.application_id == app.id)
                         .order_by(ReferenceRequest.position, ReferenceRequest.id)):
        rating = req.rating
        submitted = rating is not None and rating.submitted_at is not None
        references.append({
            "id": req.id, "rater": req.rater_name, "email": req.rater.email, "role": req.role, "status": req.status,
            "endorsement": req.rater_endorsement_claimed, "due_on": req.due_on, "waived": req.waived_access,
            "vetting": None if req.vetting is None else f"{req.vetting.decision} on {req.vetting.vetted_on} "
                                                        f"by {req.vetting.coordinator}",
            # The coordinator reads ratings: that is how the decision is checked. (A waived rating is
            # hidden from the applicant, who has no page here.)
            "rating": None if not submitted else {
                "declined": rating.declined_reason, "recommendation": rating.recommendation,
                "insufficient": rating.insufficient_information_count, "comments": rating.comments,
                "known_for_months": rating.known_for_months, "relationship": rating.relationship_to_applicant,
                "scores": sorted(((a.domain_key, a.area_key, a.score) for a in rating.answers), key=lambda t: t[:2])},
            "imported": req.imported_submitted_on,
        })
    education = [{"id": e.id, "institution": e.institution, "credential": e.credential, "degree": e.degree,
                  "received_on": e.transcript.received_on if e.transcript else None,
                  "official": e.transcript.official if e.transcript else None}
                 for e in s.scalars(select(EducationRecord).where(EducationRecord.application_id == app.id)
                                    .order_by(EducationRecord.position))]
    exam = [{"attempt": a.attempt_number, "code": a.candidate_code, "sitting_id": a.sitting_id,
             "multiple_choice": None if a.multiple_choice_percent is None else float(a.multiple_choice_percent),
             "essay": a.essay_result, "notes": notes_to_coordinator(s, a.id)}
            for a in s.scalars(select(ExamAttempt).where(ExamAttempt.application_id == app.id)
                               .order_by(ExamAttempt.attempt_number))]
    decisions = [{"outcome": d.outcome, "at": d.decided_at, "by": d.decided_by, "reasons": d.reasons}
                 for d in s.scalars(select(Decision).where(Decision.application_id == app.id).order_by(Decision.id))]
    open_stage = app.stage in OPEN_STAGES or app.stage == "deferred"
    actions = {
        "record_transcript": open_stage and any(e["received_on"] is None for e in education),
        "approve_exam": app.stage == "eligibility_review",
        "request_decision": open_stage and app.stage != "decision" and not app.decision_requested,
        "references": open_stage,
    }
    descriptions = [{"id": u.id, "question": u.question, "filename": u.filename, "size": u.size,
                     "uploaded_at": u.uploaded_at}
                    for u in s.scalars(select(PortfolioUpload).join(Portfolio, Portfolio.id == PortfolioUpload.portfolio_id)
                                       .where(Portfolio.application_id == app.id,
                                              Portfolio.association_code == app.association_code)
                                       .order_by(PortfolioUpload.id))]
    return ApplicationPage(app, app.applicant, app.last_checklist or [], timeline, emails, references, education,
                           exam, decisions, actions, descriptions)


def _describe(e: AuditLog) -> str:
    d = e.details or {}
    if e.action == "stage.changed":
        return f"{d.get('from_stage')} → {d.get('to_stage')}: {d.get('reason')}"
    if e.action == "decision.recorded":
        return f"decision: {d.get('outcome')}"
    keep = {k: v for k, v in d.items() if k not in ("reasons",) and not isinstance(v, (dict, list))}
    return ", ".join(f"{k} {v}" for k, v in keep.items())


def decisions_frame(s: Session, association: str) -> pd.DataFrame:
    rows = s.execute(select(Decision.application_id, Application.category, Application.applicant_name, Decision.outcome,
                            Decision.decided_at, Decision.decided_by, Decision.reasons)
                     .join(Application, Application.id == Decision.application_id)
                     .where(Application.association_code == association).order_by(Decision.id)).all()
    frame = pd.DataFrame(rows, columns=["application_id", "category", "applicant", "outcome", "decided_at",
                                        "decided_by", "reasons"])
    frame["reasons"] = frame["reasons"].map(lambda r: "; ".join(r or []))
    frame["decided_at"] = frame["decided_at"].map(lambda t: t.strftime("%Y-%m-%d %H:%M") if t is not None else "")
    return frame


def pipeline_export_frame(s: Session, association: str, as_of: date) -> pd.DataFrame:
    frame = pipeline_for(s, association, as_of)
    if frame.empty:
        return frame
    names = dict(s.execute(select(Application.id, Application.applicant_name)
                           .where(Application.association_code == association)).all())
    frame = frame.assign(applicant=frame["id"].map(names))
    frame["stage_entered_at"] = frame["stage_entered_at"].map(lambda t: t.strftime("%Y-%m-%d") if t is not None else "")
    return frame[["id", "applicant", "category", "association", "stage", "stage_entered_at", "days_in_stage",
                  "overdue_ratings", "awaited_transcripts"]].rename(columns={"id": "application_id"})
