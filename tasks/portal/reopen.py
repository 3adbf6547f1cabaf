"""A coordinator reopens a submitted portfolio for changes: an application (resubmitting updates the same
application) or a renewal recorded by mistake (undone until it is filed again, the coordinator's reason
kept as their determination)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse.db import transaction
from endorse.text import single_line
from models import Portfolio, record_audit


def reopen(sessions: sessionmaker[Session], application_id: str, *, association: str, actor: str, reason: str) -> str:
    """A coordinator reopens a submitted portfolio for changes; resubmitting updates the same application
    (its evidence replaced, as a re-import does). A renewal recorded by mistake is reopened the same way,
    with the coordinator's reason as their determination: the renewal it recorded is undone
    (``reopen_recorded_renewal``), to be filed again. One transaction, audited. Returns the kind."""
    from tasks.renewal.renewals import reopen_recorded_renewal

    reason = single_line(reason, "reason", max_length=500)
    with transaction(sessions) as s:
        p = s.scalars(select(Portfolio).where(Portfolio.application_id == application_id,
                                              Portfolio.association_code == association).with_for_update()).first()
        if p is None:
            raise LookupError(f"application {application_id}: no web portfolio of {association} has this id")
        if p.status != "submitted":
            raise ValueError(f"application {application_id}: the portfolio is not submitted (it is still a draft)")
        details = {}
        if p.kind == "renewal":
            if not reason:
                raise ValueError("reason: say why the renewal is reopened (it is kept as your determination)")
            year = int(p.body.get("year") or 0)
            details = {"renewal_year": year, "renewal_was": reopen_recorded_renewal(
                s, p.endorsement_id, year, actor=actor, reason=reason)}
        p.status = "draft"
        record_audit(s, actor=actor, action="portfolio.reopened", entity_type="portfolio", entity_id=p.id,
                     application_id=application_id, reason=reason or "reopened for changes", kind=p.kind, **details)
        return p.kind
