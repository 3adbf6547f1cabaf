"""Starting and resuming a portfolio by email: an applicant gives their address and association and is
sent a secure link (the rater links' machinery: a nonce and the hash of the token, never the token;
expiring; sent again on request). The page answers the same whatever the address, so it tells nobody
who applies where; only the mailbox learns more.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse import links
from endorse.clock import now_for
from endorse.db import transaction
from endorse.documents import _email
from endorse.rulebook import RulebookLibrary
from models import Application, Association, Endorsement, Person, Portfolio, record_audit
from tasks.mail.outbox import queue_email

LINK_PURPOSE = "portfolio"
# Asking again within this window sends nothing new: the email already sent carries the same link.
RESEND_WINDOW_MINUTES = 10
FINAL_STAGES = ("endorsed", "not_endorsed", "deferred")


class PortfolioNotFound(Exception):
    """Unknown, expired or replaced link (or a portfolio outside a coordinator's association): one answer."""


@dataclass(frozen=True)
class Access:
    """Who opens a portfolio: its applicant through the emailed link, or a coordinator of its association."""

    token: str | None = None
    portfolio_id: int | None = None
    association: str | None = None  # the coordinator's
    coordinator: str | None = None  # their email

    @property
    def actor(self) -> str:
        return f"coordinator:{self.coordinator}" if self.coordinator else "applicant"


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def locate(s: Session, access: Access, as_of: date, *, for_update: bool = False) -> Portfolio:
    """The portfolio behind a link or a coordinator's request, else PortfolioNotFound."""
    if access.coordinator is not None:
        query = select(Portfolio).where(Portfolio.id == (access.portfolio_id or 0),
                                        Portfolio.association_code == access.association)
    else:
        if not links.well_formed(access.token or ""):
            raise PortfolioNotFound
        query = select(Portfolio).where(Portfolio.token_hash == links.hash_token(access.token))
    if for_update:  # two saves of one portfolio queue on its row
        query = query.with_for_update()
    p = s.scalars(query).first()
    if p is None:
        raise PortfolioNotFound
    if access.coordinator is None:
        if not links.matches(access.token, p.token_hash) or p.token_expires_at is None \
                or _aware(p.token_expires_at) < now_for(as_of):
            raise PortfolioNotFound
    return p


def new_portfolio_id(s: Session, association: str, kind: str, as_of: date) -> str:
    """A fresh application (or renewal) id no application has: e.g. CT-AIMH-2026-W7K2Q9."""
    prefix = f"{association}-{as_of.year}-W" if kind == "application" else f"REN-{association}-{as_of.year}-W"
    while True:
        candidate = prefix + secrets.token_hex(3).upper()
        if s.get(Application, candidate) is None and \
                s.scalars(select(Portfolio.id).where(Portfolio.application_id == candidate)).first() is None:
            return candidate


def renewable_endorsement(s: Session, email: str, association: str) -> Endorsement | None:
    """The verified endorsement of this address that renews next with this association (active or lapsed)."""
    return s.scalars(select(Endorsement).join(Person, Person.id == Endorsement.person_id).where(
        Person.email_normalized == email.strip().casefold(), Endorsement.association_code == association,
        Endorsement.origin.in_(("granted", "recorded")), Endorsement.status.in_(("active", "lapsed")),
        Endorsement.renewal_due_on.is_not(None)).order_by(Endorsement.renewal_due_on)).first()


def _renewal_body(s: Session, e: Endorsement) -> dict:
    person = s.get(Person, e.person_id)
    return {"name": person.name, "category": e.category, "year": e.renewal_due_on.year,
            "endorsed_on": (e.granted_on or e.renewal_due_on.replace(year=e.renewal_due_on.year - 1)).isoformat(),
            "endorsement_number": e.number, "due_on": e.renewal_due_on.isoformat()}


def associations_taking_applications(s: Session, library: RulebookLibrary) -> dict[str, str]:
    """Code → name of the associations an applicant may choose: those with a profile (the baseline
    rulebook is no association of its own); on an installation with no profile yet, every rulebook's."""
    rows = {a.code: a for a in s.scalars(select(Association).where(Association.code.in_(library.associations)))}
    with_profile = {c: a.name for c, a in rows.items() if a.profile_digest is not None}
    return dict(sorted((with_profile or {c: (rows[c].name if c in rows else c) for c in library.associations}).items()))


def issue_link(s: Session, p: Portfolio, library: RulebookLibrary, as_of: date, secret_key: str) -> None:
    """A working link for ``p``: the same one while it works (resent), else a new one (the old dies)."""
    now = now_for(as_of)
    days = int(library.setting(p.association_code, "portfolio_link_expiry_days", as_of))
    if p.token_hash is None or p.token_expires_at is None or _aware(p.token_expires_at) < now:
        link = links.issue(secret_key, LINK_PURPOSE)
        p.token_nonce, p.token_hash, p.token_generation = link.nonce, link.token_hash, p.token_generation + 1
    p.token_expires_at = now + timedelta(days=days)


def request_link(sessions: sessionmaker[Session], library: RulebookLibrary, *, email: str, association: str,
                 kind: str, as_of: date, secret_key: str, started_by: str | None = None) -> int | None:
    """An applicant (or a coordinator for them) asks to start or resume: the link is emailed.

    Returns the portfolio's id (None when a renewal was asked for an address with no endorsement: that
    address is told so by email). Raises ValueError naming the field for a malformed request."""
    try:
        email = _email(email.strip())
    except ValueError:
        raise ValueError("email: write one email address, like name@example.org") from None
    if len(email) > 254:
        raise ValueError("email: too long")
    if kind not in ("application", "renewal"):
        raise ValueError("kind: application or renewal")
    bucket = int(now_for(as_of).timestamp() // (RESEND_WINDOW_MINUTES * 60))
    with transaction(sessions) as s:
        open_to = associations_taking_applications(s, library)
        if association not in open_to:
            raise ValueError(f"association: choose one of {', '.join(open_to)}")
        p = s.scalars(select(Portfolio).where(
            Portfolio.email_normalized == email.casefold(), Portfolio.association_code == association,
            Portfolio.kind == kind).order_by(Portfolio.id.desc()).with_for_update()).first()
        endorsement = renewable_endorsement(s, email, association) if kind == "renewal" else None
        if kind == "renewal" and (p is None or p.status == "submitted"):
            if endorsement is None:
                queue_email(s, role="portal.no_renewal", to_email=email, to_name=email, association=association,
                            idempotency_key=f"portal.no_renewal:{email.casefold()}:{association}:{bucket}",
                            context={"email": email})
                return None
            if p is not None and p.endorsement_id == endorsement.id and p.body.get("year") == endorsement.renewal_due_on.year:
                pass  # this year's renewal, already filed: the link shows where it stands
            else:
                p = None
        if kind == "application" and p is not None and p.status == "submitted":
            app = s.get(Application, p.application_id)
            if app is not None and app.stage in FINAL_STAGES:
                p = None  # decided: asking again starts a new application (a new category, or after a lapse)
        if p is None:
            p = Portfolio(kind=kind, association_code=association, email=email, email_normalized=email.casefold(),
                          application_id=new_portfolio_id(s, association, kind, as_of),
                          started_by=started_by or "applicant", status="draft",
                          body=_renewal_body(s, endorsement) if endorsement is not None else {},
                          endorsement_id=endorsement.id if endorsement is not None else None)
            s.add(p)
            s.flush()
            record_audit(s, actor=started_by or "applicant", action="portfolio.started", entity_type="portfolio",
                         entity_id=p.id, association=association, kind=kind)
        issue_link(s, p, library, as_of, secret_key)
        s.flush()
        queued = queue_email(s, role=f"portal.link_{kind}", to_email=email, to_name=p.body.get("name") or email,
                             association=association, link_kind=LINK_PURPOSE, link_ref_id=p.id,
                             idempotency_key=f"portal.link:{p.id}:{p.token_generation}:{bucket}",
                             context={"expires_on": p.token_expires_at.date().isoformat(),
                                      "by_coordinator": started_by is not None})
        if queued.new:
            record_audit(s, actor=started_by or "applicant", action="portfolio.link_sent", entity_type="portfolio",
                         entity_id=p.id, generation=p.token_generation)
        return p.id
