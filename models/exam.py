"""Exam sittings, attempts, essays, the reviewer pool, conflicts, assignments and reviews."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.people import Person


class ExamSitting(Base):
    __tablename__ = "exam_sitting"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_code: Mapped[str] = mapped_column(ForeignKey("association.code"))
    name: Mapped[str] = mapped_column(String(200))
    opens_on: Mapped[date]
    closes_on: Mapped[date]
    pass_mark_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=80)
    # The vignette each track's candidates answered (track code -> text): reviewers read it beside the essay.
    essay_prompts: Mapped[dict | None]


class ExamAttempt(Base):
    __tablename__ = "exam_attempt"
    __table_args__ = (
        UniqueConstraint("sitting_id", "candidate_code"),
        CheckConstraint("essay_result is null or essay_result in ('pass','fail','pending')", name="essay_result"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    sitting_id: Mapped[int | None] = mapped_column(ForeignKey("exam_sitting.id"))
    candidate_code: Mapped[str] = mapped_column(String(32))
    attempt_number: Mapped[int] = mapped_column(default=1)
    approved_on: Mapped[date | None]
    multiple_choice_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    essay_result: Mapped[str | None] = mapped_column(String(16))
    taken_on: Mapped[date | None]


class Essay(Base):
    __tablename__ = "essay"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("exam_attempt.id", ondelete="CASCADE"), unique=True)
    track: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the text may reveal who wrote it (the candidate's name or employer); such an essay is
    # held back from reviewers until a coordinator clears it (after redacting, if need be).
    flagged_reason: Mapped[str | None] = mapped_column(Text)
    flag_cleared_by: Mapped[str | None] = mapped_column(String(254))
    # Two by default; three once the first two disagree.
    reviewers_needed: Mapped[int] = mapped_column(default=2)


class ReviewerProfile(Base):
    __tablename__ = "reviewer_profile"
    __table_args__ = (CheckConstraint("min_load >= 0 and min_load <= max_load", name="min_load"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), unique=True)
    trained: Mapped[bool] = mapped_column(default=False)
    max_load: Mapped[int] = mapped_column(default=10)
    # Essays the volunteer should get at least (0: no minimum); met when a round allows, else reported.
    min_load: Mapped[int] = mapped_column(default=0, server_default="0")
    active: Mapped[bool] = mapped_column(default=True)

    person: Mapped[Person] = relationship()


class ReviewerAvailability(Base):
    __tablename__ = "reviewer_availability"
    __table_args__ = (
        UniqueConstraint("sitting_id", "person_id"),
        CheckConstraint("min_load >= 0 and min_load <= max_load", name="min_load"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("exam_sitting.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    max_load: Mapped[int]
    min_load: Mapped[int] = mapped_column(default=0, server_default="0")  # see ReviewerProfile.min_load


class ConflictDeclaration(Base):
    """A conflict a reviewer declared (with a candidate, a person or an employer): a hard exclusion."""

    __tablename__ = "conflict_declaration"

    id: Mapped[int] = mapped_column(primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[str | None] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    employer: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


class ReviewAssignment(Base):
    __tablename__ = "review_assignment"
    __table_args__ = (
        UniqueConstraint("essay_id", "reviewer_id"),
        CheckConstraint("status in ('assigned','declined','submitted','expired','cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    essay_id: Mapped[int] = mapped_column(ForeignKey("essay.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    round: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_on: Mapped[date | None]
    ended_reason: Mapped[str | None] = mapped_column(Text)  # why a reviewer came off the essay
    # What the reviewer has saved but not submitted (scores, recommendation, comments): a draft is
    # not a review, so it never counts towards settling the essay.
    draft: Mapped[dict | None]
    draft_saved_at: Mapped[datetime | None]


class ReviewInvitation(Base):
    """A reviewer's secure link for one sitting: the page behind it lists only their own essays.
    Same token rules as rating links (nonce + hash stored, never the token)."""

    __tablename__ = "review_invitation"
    __table_args__ = (UniqueConstraint("sitting_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("exam_sitting.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    token_nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_generation: Mapped[int] = mapped_column(default=1)
    token_expires_at: Mapped[datetime]


class Review(Base):
    __tablename__ = "review"
    __table_args__ = (
        UniqueConstraint("assignment_id"),
        CheckConstraint("recommendation in ('pass','fail')", name="recommendation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("review_assignment.id", ondelete="CASCADE"))
    scores: Mapped[dict]
    recommendation: Mapped[str] = mapped_column(String(8))
    comments: Mapped[str | None] = mapped_column(Text)  # quoted to the candidate as "Reviewer N"
    confidential_comment: Mapped[str | None] = mapped_column(Text)  # to the coordinator only, never the candidate
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]  # the last change before the due date, after submission


class ReviewerConsoleLink(Base):
    """A reviewer's one link to everything assigned to them, across sittings and associations (the
    reviewer console). Same token rules as every link: nonce + hash stored, never the token; a new
    nonce kills the old link."""

    __tablename__ = "reviewer_console_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), unique=True)
    token_nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_generation: Mapped[int] = mapped_column(default=1)
    token_expires_at: Mapped[datetime]
