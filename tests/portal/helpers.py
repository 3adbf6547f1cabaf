"""Opening a portfolio and filling it the way an applicant does, row by row, from a cohort document."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select

from endorse import links
from endorse.db import transaction
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import Portfolio
from tasks import portal
from tasks.intake.records import ensure_associations
from tasks.portal.fields import APPLICATION_SECTIONS, row_text

AS_OF = date(2026, 11, 22)
SECRET = "portal-test-secret"
LIBRARY = default_library()


def open_portfolio(sessions, email: str = "ada@example.org", association: str = "CT-AIMH",
                   kind: str = "application") -> tuple[portal.Access, str]:
    """The applicant asks for a link; the token is what their email carries."""
    with transaction(sessions) as s:
        ensure_associations(s, LIBRARY)
    pid = portal.request_link(sessions, LIBRARY, email=email, association=association, kind=kind, as_of=AS_OF,
                              secret_key=SECRET)
    with sessions() as s:
        p = s.get(Portfolio, pid)
        token = links.token_for(p.token_nonce, SECRET, "portfolio")
    return portal.Access(token=token), token


def endorsed_person(sessions, email: str, *, category: str, association: str, number: str, granted_on: date,
                    renewal_due_on: date, name: str = "Dana Whitfield") -> None:
    """Someone this system endorsed, whose renewal falls due on ``renewal_due_on``."""
    from models import Endorsement, Person

    with sessions.begin() as s:
        person = Person(name=name, email=email, email_normalized=email.casefold())
        s.add(person)
        s.flush()
        s.add(Endorsement(person_id=person.id, category=category, association_code=association, number=number,
                          granted_on=granted_on, renewal_due_on=renewal_due_on, status="active", origin="granted"))


def cohort(name: str) -> dict:
    return json.loads((PROJECT_ROOT / "cohort" / name).read_text())


def fill_from(sessions, access: portal.Access, doc: dict, *, agreements: bool = True) -> None:
    """Type a cohort document into the portfolio: details, every row of every section, the signatures.
    Transcripts are asked for, not received; raters are named, not yet asked."""
    portal.save_details(sessions, access, {
        "name": doc["applicant"]["name"], "category": doc["category"],
        "is_supervisor": "yes" if doc["applicant"].get("is_supervisor") else "",
        "no_supervisor_or_rsc_provider_available":
            "yes" if doc["applicant"].get("no_supervisor_or_rsc_provider_available") else ""},
        library=LIBRARY, as_of=AS_OF)
    for key, section in APPLICATION_SECTIONS.items():
        for row in doc.get(key, []):
            portal.add_row(sessions, access, key, row_text(section, row), library=LIBRARY, as_of=AS_OF)
    if agreements:
        portal.sign_agreements(sessions, access, {"code_of_ethics_signed_on": True,
                                                  "endorsement_agreement_signed_on": True}, as_of=AS_OF)


def portfolio_row(sessions, access: portal.Access) -> Portfolio:
    with sessions() as s:
        return portal.locate(s, access, AS_OF)


def only(sessions, model, *where):
    with sessions() as s:
        return s.scalars(select(model).where(*where)).all()


__all__ = ["AS_OF", "LIBRARY", "SECRET", "cohort", "endorsed_person", "fill_from", "only", "open_portfolio", "portfolio_row"]
