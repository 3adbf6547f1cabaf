"""Reference requests, the secure link behind each, vetting of non-endorsed raters, and ratings."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.people import Person

REQUEST_STATUSES = ("requested", "submitted", "declined", "cancelled", "expired")


class ReferenceRequest(Base):
    __tablename__ = "reference_request"
    __table_args__ = (
        CheckConstraint("status in ('requested','submitted','declined','cancelled','expired')", name="status"),
        Index("ix_reference_request_open", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    rater_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    # The rater as this application names them (document or coordinator): a claim, never the person's record.
    rater_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    waived_access: Mapped[bool] = mapped_column(default=False)
    rater_endorsement_claimed: Mapped[str | None] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_on: Mapped[date | None]
    # The secure link: a random nonce and the hash of the token; the token itself is never stored.
    token_nonce: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_generation: Mapped[int] = mapped_column(default=0)
    token_expires_at: Mapped[datetime | None]
    last_reminded_at: Mapped[datetime | None]
    reminders_sent: Mapped[int] = mapped_column(default=0)
    escalated_at: Mapped[datetime | None]
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("reference_request.id"))
    cancelled_reason: Mapped[str | None] = mapped_column(Text)
    # Imported documents carry the rating's outcome without its answers.
    imported_submitted_on: Mapped[date | None]
    imported_insufficient_count: Mapped[int | None]
    imported_recommendation: Mapped[str | None] = mapped_column(String(40))

    rater: Mapped[Person] = relationship()
    rating: Mapped["Rating | None"] = relationship(back_populates="request", uselist=False, cascade="all, delete-orphan")
    vetting: Mapped["RaterVetting | None"] = relationship(uselist=False, cascade="all, delete-orphan")


class RaterVetting(Base):
    """A coordinator's phone call with a proposed rater who holds no endorsement."""

    __tablename__ = "rater_vetting"
    __table_args__ = (CheckConstraint("decision in ('accepted','rejected')", name="decision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference_request_id: Mapped[int] = mapped_column(ForeignKey("reference_request.id", ondelete="CASCADE"), unique=True)
    coordinator: Mapped[str] = mapped_column(String(254))
    vetted_on: Mapped[date]
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rating(Base):
    """One rating per request (the unique key makes a double submission impossible); a draft until submitted."""

    __tablename__ = "rating"
    __table_args__ = (UniqueConstraint("reference_request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference_request_id: Mapped[int] = mapped_column(ForeignKey("reference_request.id", ondelete="CASCADE"))
    submitted_at: Mapped[datetime | None]
    draft_saved_at: Mapped[datetime | None]
    known_for_months: Mapped[int | None]
    relationship_to_applicant: Mapped[str | None] = mapped_column(String(200))
    recommendation: Mapped[str | None] = mapped_column(String(40))
    comments: Mapped[str | None] = mapped_column(Text)
    attested: Mapped[bool] = mapped_column(default=False)
    declined_reason: Mapped[str | None] = mapped_column(Text)
    insufficient_information_count: Mapped[int] = mapped_column(default=0)

    request: Mapped[ReferenceRequest] = relationship(back_populates="rating")
    answers: Mapped[list["RatingAnswer"]] = relationship(cascade="all, delete-orphan")


class RatingAnswer(Base):
    __tablename__ = "rating_answer"
    __table_args__ = (UniqueConstraint("rating_id", "domain_key", "area_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("rating.id", ondelete="CASCADE"))
    domain_key: Mapped[str] = mapped_column(String(80))
    area_key: Mapped[str] = mapped_column(String(120))
    score: Mapped[int | None]  # NULL: "not enough information to rate"
