"""The append-only audit log: who did what, when and why. The database refuses updates and deletes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, utcnow


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(254))  # 'coordinator:<email>', 'system', 'rater:<request id>'
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    # No foreign key: the log outlives what it speaks of.
    application_id: Mapped[str | None] = mapped_column(String(64), index=True)
    details: Mapped[dict] = mapped_column(default=dict)


# A list in ``session.info`` under this key collects entries as rows instead (the sweep's batches write
# them with one INSERT, in the same transaction; see tasks/pipeline/reconcile.py). None is returned then.
AUDIT_ROWS = "endorse.audit_rows"


def record_audit(session: Session, *, actor: str, action: str, entity_type: str, entity_id: Any,
                 application_id: str | None = None, **details: Any) -> AuditLog | None:
    """Add an audit entry to the caller's transaction (it commits with the change it records)."""
    rows = session.info.get(AUDIT_ROWS)
    if rows is not None:
        rows.append({"at": utcnow(), "actor": actor, "action": action, "entity_type": entity_type,
                     "entity_id": str(entity_id), "application_id": application_id, "details": details})
        return None
    entry = AuditLog(actor=actor, action=action, entity_type=entity_type, entity_id=str(entity_id),
                     application_id=application_id, details=details)
    session.add(entry)
    return entry


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditLog):
            raise PermissionError("the audit log is append-only")
