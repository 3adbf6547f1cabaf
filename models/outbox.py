"""The outbox: every email is a row first, delivered later (and exactly once) by the outbox flow."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "bounced", "cancelled")


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint("status in ('queued','sending','sent','failed','bounced','cancelled')", name="status"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(64))  # e.g. reference.request, decision.endorsed
    application_id: Mapped[str | None] = mapped_column(ForeignKey("application.id", ondelete="SET NULL"), index=True)
    recipient_email: Mapped[str] = mapped_column(String(254))
    recipient_name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    reply_to: Mapped[str | None] = mapped_column(String(254))
    # Whose email it is: delivery takes the sender and the links' address from that association's profile.
    association_code: Mapped[str | None] = mapped_column(ForeignKey("association.code"))
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    # The same logical email queued twice (a re-run, a crash) collapses onto one row.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # A secure link to put in at delivery time: what kind and which row; never the token.
    link_kind: Mapped[str | None] = mapped_column(String(16))
    link_ref_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
