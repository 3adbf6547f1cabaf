"""Final decisions and annual renewals."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class Decision(Base):
    __tablename__ = "decision"
    __table_args__ = (CheckConstraint("outcome in ('endorsed','not_endorsed','deferred')", name="outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list]
    decided_by: Mapped[str] = mapped_column(String(254))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    as_of: Mapped[date]
    rulebook_digest: Mapped[str] = mapped_column(String(64))


class Renewal(Base):
    __tablename__ = "renewal"
    __table_args__ = (
        UniqueConstraint("endorsement_id", "year"),
        CheckConstraint("status in ('due','submitted','met','unmet','lapsed','reinstated')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endorsement_id: Mapped[int] = mapped_column(ForeignKey("endorsement.id", ondelete="CASCADE"))
    year: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="due")
    training_hours: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    rsc_training_hours: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    dei_training_hours: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    rsc_hours: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    membership_expires_on: Mapped[date | None]
    ethics_signed_on: Mapped[date | None]
    submitted_on: Mapped[date | None]
    evaluated_at: Mapped[datetime | None]
    details: Mapped[dict | None]
    last_notice_at: Mapped[datetime | None]
