"""What coordinators read: the per-application checklist and timeline, and the whole pipeline (pandas)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Application, AuditLog, EducationRecord, ReferenceRequest, Transcript

_STATUS_MARK = {"met": "✅ met", "unmet": "❌ unmet", "pending": "⏳ pending", "not_applicable": "— n/a"}


def _md(text: str) -> str:
    # Markdown table cells: no pipes or newlines from user-supplied text.
    return str(text).replace("|", "\\|").replace("\n", " ")


def application_markdown(s: Session, application_id: str) -> str:
    """The application's artifact on the Prefect server: ids, stages and statuses only.

    The Prefect server has no sign-in of its own, so nothing here names a person: no checklist
    details (they quote raters, providers and institutions), no actor emails, no rater names. The
    coordinator's dashboard has the full page."""
    app = s.get(Application, application_id)
    lines = [f"# Application {app.id}", "",
             f"**{app.category}** · **{app.association_code}** · stage **{app.stage}** since "
             f"{app.stage_entered_at:%Y-%m-%d}", "", "| requirement | status | source |", "|---|---|---|"]
    for r in app.last_checklist or []:
        lines.append(f"| {_md(r['id'])} | {_STATUS_MARK[r['status']]} | {_md(r['source'])} |")
    lines += ["", "## References", "", "| request | role | status |", "|---|---|---|"]
    for req_id, role, status in s.execute(select(ReferenceRequest.id, ReferenceRequest.role, ReferenceRequest.status)
                                          .where(ReferenceRequest.application_id == app.id)
                                          .order_by(ReferenceRequest.position)):
        lines.append(f"| #{req_id} | {_md(role)} | {_md(status)} |")
    lines += ["", "## Timeline", "", "| when | who | what |", "|---|---|---|"]
    for e in s.scalars(select(AuditLog).where(AuditLog.application_id == app.id).order_by(AuditLog.id)):
        what = e.action
        if e.action == "stage.changed":
            what = f"{e.details.get('from_stage')} → {e.details.get('to_stage')}"
        elif e.action == "decision.recorded":
            what = f"decision: {e.details.get('outcome')}"
        lines.append(f"| {e.at:%Y-%m-%d %H:%M} | {_md(_actor_kind(e.actor))} | {_md(what)} #{_md(e.entity_id)} |")
    return "\n".join(lines) + "\n"


def _actor_kind(actor: str) -> str:
    """'coordinator:mia@…' → 'coordinator'; 'rater:17' keeps its request id; 'system:…' → 'system'."""
    kind, _, rest = actor.partition(":")
    return actor if kind == "rater" and rest.isdigit() else kind


def pipeline_frame(s: Session, as_of: date) -> pd.DataFrame:
    """One row per application with what the pipeline table needs (set-based queries only)."""
    # Plain tuples: pandas probes each SQLAlchemy Row as a record type (twice the time on 10,000 rows,
    # paid by every sweep's pipeline artifact).
    apps = pd.DataFrame([tuple(r) for r in s.execute(select(
        Application.id, Application.category, Application.association_code, Application.stage,
        Application.stage_entered_at))], columns=["id", "category", "association", "stage", "stage_entered_at"])
    if apps.empty:
        return apps.assign(days_in_stage=[], overdue_ratings=[], awaited_transcripts=[])
    now = datetime.combine(as_of, datetime.min.time(), tzinfo=timezone.utc)
    entered = pd.to_datetime(apps["stage_entered_at"], utc=True)
    apps["days_in_stage"] = ((now - entered).dt.total_seconds() / 86400).clip(lower=0).round(1)
    overdue = dict(s.execute(select(ReferenceRequest.application_id, func.count())
                             .where(ReferenceRequest.status == "requested", ReferenceRequest.due_on < as_of)
                             .group_by(ReferenceRequest.application_id)).all())
    awaited = dict(s.execute(select(EducationRecord.application_id, func.count())
                             .join(Transcript, Transcript.education_record_id == EducationRecord.id, isouter=True)
                             .where((Transcript.id.is_(None)) | (Transcript.received_on.is_(None)))
                             .group_by(EducationRecord.application_id)).all())
    apps["overdue_ratings"] = apps["id"].map(overdue).fillna(0).astype(int)
    apps["awaited_transcripts"] = apps["id"].map(awaited).fillna(0).astype(int)
    return apps


def pipeline_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts by stage × category × association, with time in stage and what is waiting."""
    if frame.empty:
        return pd.DataFrame(columns=["stage", "category", "association", "applications", "median_days_in_stage",
                                     "max_days_in_stage", "overdue_ratings", "awaited_transcripts"])
    g = frame.groupby(["stage", "category", "association"], as_index=False).agg(
        applications=("id", "count"), median_days_in_stage=("days_in_stage", "median"),
        max_days_in_stage=("days_in_stage", "max"), overdue_ratings=("overdue_ratings", "sum"),
        awaited_transcripts=("awaited_transcripts", "sum"))
    return g.sort_values(["stage", "category", "association"]).reset_index(drop=True)
