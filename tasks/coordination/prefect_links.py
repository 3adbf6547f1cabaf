"""The application page's links into the Prefect UI (runs, artifact, events over its whole life)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from endorse.prefect_links import ui_artifact_url, ui_events_url, ui_runs_url
from models import Application, AuditLog


def application_prefect_links(s: Session, application_id: str, ui_base: str, now: datetime) -> dict[str, str]:
    """The application page's links into the Prefect UI: its runs, its artifact, and its events over
    its whole life (from a day before it was first recorded to a day after now)."""
    app = s.get(Application, application_id)
    if app is None:
        raise LookupError(f"no application {application_id!r}")
    first = s.scalar(select(func.min(AuditLog.at)).where(AuditLog.application_id == application_id))
    since = min(t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in (app.created_at, first or app.created_at))
    until = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    return {"runs": ui_runs_url(ui_base, application_id), "artifact": ui_artifact_url(ui_base, application_id),
            "events": ui_events_url(ui_base, application_id, since - timedelta(days=1), until + timedelta(days=1))}
