"""The applicant's own portfolio on the web: a draft application (or renewal) kept in the database,
opened through an emailed secure link, and the short descriptions uploaded for a coordinator."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

PORTFOLIO_KINDS = ("application", "renewal")
PORTFOLIO_STATUSES = ("draft", "submitted")


class Portfolio(Base):
    """One applicant's draft, section by section (``body``: the application or renewal document as far
    as it is filled in). Submitted, it becomes the application ``application_id`` (or the renewal of
    ``endorsement_id``); a coordinator may reopen it, and it is a draft again until resubmitted."""

    __tablename__ = "portfolio"
    __table_args__ = (
        CheckConstraint("kind in ('application','renewal')", name="kind"),
        CheckConstraint("status in ('draft','submitted')", name="status"),
        Index("ix_portfolio_owner", "email_normalized", "association_code", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    association_code: Mapped[str] = mapped_column(ForeignKey("association.code"))
    # The address the link goes to. No person is made until submission: an address typed into the
    # start page is not yet anybody (and what the application says about them is a claim on it).
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    body: Mapped[dict] = mapped_column(default=dict)
    # Fixed at creation so that a resubmission after a reopen updates the same application.
    application_id: Mapped[str] = mapped_column(String(64), unique=True)
    endorsement_id: Mapped[int | None] = mapped_column(ForeignKey("endorsement.id", ondelete="SET NULL"))
    # Who keeps it: the applicant, or a coordinator filling in a paper application on their behalf.
    started_by: Mapped[str] = mapped_column(String(254))
    # The secure link, as for raters: a nonce and the hash of the token, never the token.
    token_nonce: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_generation: Mapped[int] = mapped_column(default=0)
    token_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]
    # Optimistic locking: two tabs saving at once cannot lose each other's section silently.
    version_id: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version_id}


class PortfolioUpload(Base):
    """A short description the applicant uploads for a question a coordinator decides (checked for size
    and type before it is stored)."""

    __tablename__ = "portfolio_upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolio.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(80))
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
