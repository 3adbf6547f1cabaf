"""Associations, people and the endorsements they hold."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class Association(Base):
    __tablename__ = "association"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    coordinator_name: Mapped[str] = mapped_column(String(200), default="Endorsement coordinator")
    coordinator_email: Mapped[str] = mapped_column(String(254), default="endorsement@localhost")
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    # From the association's profile (endorse/profiles.py); profile_digest is None while it has none.
    short_name: Mapped[str | None] = mapped_column(String(40))
    sender_name: Mapped[str | None] = mapped_column(String(200))
    sender_email: Mapped[str | None] = mapped_column(String(254))
    signature: Mapped[str | None] = mapped_column(Text)
    public_base_url: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(300))
    profile_digest: Mapped[str | None] = mapped_column(String(64))


class RulebookVersion(Base):
    """Which rulebook files (by digest) were in use: decisions record the digest they were made under."""

    __tablename__ = "rulebook_version"
    __table_args__ = (UniqueConstraint("digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When a sweep last re-evaluated every open application under these rules (None: never, so
    # the next sweep is a full pass).
    full_sweep_at: Mapped[datetime | None]


class Person(Base):
    """Anyone the system knows: applicants, raters, RS/C providers, reviewers, coordinators."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    # One person per address whatever its case: raters are matched by email.
    email_normalized: Mapped[str] = mapped_column(String(254), unique=True)
    employer: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    # The association whose coordinators may change this record (the one that first knew the person:
    # their applicant, coordinator or reviewer). What others say about the person stays a claim on their
    # application.
    home_association: Mapped[str | None] = mapped_column(ForeignKey("association.code"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    endorsements: Mapped[list["Endorsement"]] = relationship(back_populates="person")


class CoordinatorAccount(Base):
    __tablename__ = "coordinator_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), unique=True)
    association_code: Mapped[str] = mapped_column(ForeignKey("association.code"))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # Part of every session cookie: raising it (sign-out, password change, deactivation) ends them all at once.
    session_version: Mapped[int] = mapped_column(default=1)
    # Per-account lockout with backoff, next to the per-address rate limit.
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    # An association admin may add and close the association's coordinator accounts on the web.
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The emailed link that sets a password (a new account, or "forgot your password?"), as for
    # raters: a nonce and the hash of the token, never the token; cleared once used.
    token_nonce: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship()


VERIFIED_ORIGINS = ("granted", "recorded")


class Endorsement(Base):
    """A credential a person holds. Verified: 'granted' by one of our decisions, or 'recorded' by a
    coordinator of the person's own association. 'declared' rows predate claims (migration 0007 moved
    what it could onto applications); they never count."""

    __tablename__ = "endorsement"
    __table_args__ = (
        UniqueConstraint("person_id", "category", "origin"),
        CheckConstraint("status in ('active','lapsed','retired')", name="status"),
        CheckConstraint("origin in ('declared','granted','recorded')", name="origin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(16))
    association_code: Mapped[str | None] = mapped_column(ForeignKey("association.code"))
    # <association>-<category>-<year>-<application id>: up to 32 + 16 + 4 + 64 characters and 3 dashes.
    number: Mapped[str | None] = mapped_column(String(128), unique=True)
    granted_on: Mapped[date | None]
    renewal_due_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16), default="active")
    origin: Mapped[str] = mapped_column(String(16), default="declared")
    application_id: Mapped[str | None] = mapped_column(ForeignKey("application.id", ondelete="SET NULL"))
    recorded_by: Mapped[str | None] = mapped_column(String(254))  # the coordinator, for origin 'recorded'

    person: Mapped[Person] = relationship(back_populates="endorsements")
