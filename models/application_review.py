"""Application reviewers (a volunteer pool per association), their assignments, links and reviews, the
outcome of a review round, and application advisors with the notes they leave the applicant."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

RECOMMENDATIONS = ("recommend", "recommend_with_conditions", "not_yet")
_recommendations = ",".join(f"'{r}'" for r in RECOMMENDATIONS)


class ApplicationReviewer(Base):
    """A volunteer in an association's pool of application reviewers (trained, available, a load cap)."""

    __tablename__ = "application_reviewer"
    __table_args__ = (UniqueConstraint("association_code", "person_id"),
                      CheckConstraint("max_load >= 0", name="max_load"))

    id: Mapped[int] = mapped_column(primary_key=True)
    association_code: Mapped[str] = mapped_column(ForeignKey("association.code"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    trained: Mapped[bool] = mapped_column(default=False)
    available: Mapped[bool] = mapped_column(default=True)
    max_load: Mapped[int] = mapped_column(default=4)


class ApplicationReviewAssignment(Base):
    __tablename__ = "application_review_assignment"
    __table_args__ = (
        UniqueConstraint("application_id", "reviewer_id", "round"),
        CheckConstraint("status in ('assigned','declined','submitted','expired','cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    round: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_on: Mapped[date | None]
    last_reminded_on: Mapped[date | None]
    ended_reason: Mapped[str | None] = mapped_column(Text)


class ApplicationReviewInvitation(Base):
    """A reviewer's secure link for their application reviews in one association (nonce + hash, never the token)."""

    __tablename__ = "application_review_invitation"
    __table_args__ = (UniqueConstraint("association_code", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    association_code: Mapped[str] = mapped_column(ForeignKey("association.code"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    token_nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_generation: Mapped[int] = mapped_column(default=1)
    token_expires_at: Mapped[datetime]


class ApplicationReview(Base):
    __tablename__ = "application_review"
    __table_args__ = (UniqueConstraint("assignment_id"),
                      CheckConstraint(f"recommendation in ({_recommendations})", name="recommendation"))

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("application_review_assignment.id", ondelete="CASCADE"))
    recommendation: Mapped[str] = mapped_column(String(32))
    conditions: Mapped[str | None] = mapped_column(Text)
    requirement_notes: Mapped[dict]  # requirement id -> the reviewer's note
    question_answers: Mapped[dict]  # determination question -> {"accepted": bool, "note": str}
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApplicationReviewOutcome(Base):
    """How a review round ended: settled by two agreeing reviewers, or by the coordinator after a disagreement."""

    __tablename__ = "application_review_outcome"
    __table_args__ = (UniqueConstraint("application_id", "round"),
                      CheckConstraint(f"outcome in ({_recommendations})", name="outcome"))

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(default=1)
    outcome: Mapped[str] = mapped_column(String(32))
    conditions: Mapped[str | None] = mapped_column(Text)
    settled_by: Mapped[str] = mapped_column(String(254))  # "reviewers" or the coordinator's actor
    note: Mapped[str | None] = mapped_column(Text)
    settled_on: Mapped[date]


class ApplicationReviewRound(Base):
    """A review round after the first, opened by the coordinator after a round's "not yet" (the applicant
    has changed the portfolio): the coordinator's recorded determination, with their reason. Round 1
    has no row; an application's current round is its highest here, else 1."""

    __tablename__ = "application_review_round"
    __table_args__ = (UniqueConstraint("application_id", "round"), CheckConstraint("round >= 2", name="round"))

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    round: Mapped[int]
    reviewers: Mapped[str] = mapped_column(String(16))  # the rulebook's choice then: "same" or "new" reviewers
    reason: Mapped[str] = mapped_column(Text)
    opened_by: Mapped[str] = mapped_column(String(254))
    opened_on: Mapped[date]


class AdvisorPairing(Base):
    """A coordinator paired an applicant's application with an advisor, who reads it through a secure link."""

    __tablename__ = "advisor_pairing"
    __table_args__ = (UniqueConstraint("application_id", "advisor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    advisor_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    active: Mapped[bool] = mapped_column(default=True)
    paired_by: Mapped[str] = mapped_column(String(254))
    paired_at: Mapped[datetime] = mapped_column(default=utcnow)
    token_nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime]
    # Ended by a coordinator (the advisor's link then opens nothing): when, by whom and why.
    ended_on: Mapped[date | None]
    ended_by: Mapped[str | None] = mapped_column(String(254))
    ended_reason: Mapped[str | None] = mapped_column(Text)


class AdvisorNote(Base):
    """A note an advisor leaves; the applicant sees it (the applicant portal reads this table)."""

    __tablename__ = "advisor_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    pairing_id: Mapped[int] = mapped_column(ForeignKey("advisor_pairing.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime] = mapped_column(default=utcnow)
