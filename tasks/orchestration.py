"""The scheduled flows' own record of their last completed run (for the dashboard and /readyz)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse.clock import utcnow
from endorse.db import dialect_insert, transaction
from models import ScheduledRun

SCHEDULED_FLOWS = ("sweep", "deliver-outbox", "renewal")
# How often each is scheduled (prefect.yaml); a run older than twice this is late.
SCHEDULED_EVERY_SECONDS = {"sweep": 15 * 60, "deliver-outbox": 60, "renewal": 24 * 3600}


def record_completed_run(sessions: sessionmaker[Session], flow: str, summary: dict, *, flow_run_id: str | None = None,
                         at: datetime | None = None) -> None:
    """Replace the flow's row in one upsert (two runs finishing together cannot collide)."""
    at = at or utcnow()
    with transaction(sessions) as s:
        insert = dialect_insert(s)
        values = {"last_completed_at": at, "flow_run_id": flow_run_id, "summary": _plain(summary)}
        s.execute(insert(ScheduledRun).values(flow=flow, **values)
                  .on_conflict_do_update(index_elements=["flow"], set_=values))


def last_completed_runs(s: Session) -> dict[str, ScheduledRun]:
    return {r.flow: r for r in s.scalars(select(ScheduledRun))}


def scheduled_runs_view(s: Session, now: datetime | None = None) -> list[dict]:
    """Each scheduled flow's last completed run for the dashboard: when, how long ago, late or not."""
    now, runs = now or utcnow(), last_completed_runs(s)
    out = []
    for flow in SCHEDULED_FLOWS:
        run = runs.get(flow)
        at = None if run is None else (run.last_completed_at if run.last_completed_at.tzinfo
                                       else run.last_completed_at.replace(tzinfo=now.tzinfo))
        age = None if at is None else max(0, int((now - at).total_seconds()))
        out.append({"flow": flow, "completed_at": at, "minutes_ago": None if age is None else age // 60,
                    "late": age is None or age > 2 * SCHEDULED_EVERY_SECONDS[flow],
                    "summary": ", ".join(f"{k} {v}" for k, v in (run.summary if run else {}).items()),
                    "flow_run_id": run.flow_run_id if run else None})
    return out


def _plain(summary: dict) -> dict:
    # Only counts and short words: a summary is shown on the dashboard as it is.
    return {str(k): v for k, v in summary.items() if isinstance(v, (int, float, str, bool)) or v is None}
