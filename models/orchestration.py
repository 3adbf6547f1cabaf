"""What the scheduled flows record about themselves, so the dashboard shows the pipeline is alive
without asking Prefect (whose server has no sign-in and may be down)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class ScheduledRun(Base):
    """The last completed run of each scheduled flow (sweep, deliver-outbox, renewal): one row a flow,
    replaced by each run as its last step. Operational, not a change of anyone's record: not audited."""

    __tablename__ = "scheduled_run"

    flow: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_completed_at: Mapped[datetime]
    # Prefect's id of that run (to find it in the Prefect dashboard); none when run without Prefect.
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[dict] = mapped_column(default=dict)  # the counts the run returned
