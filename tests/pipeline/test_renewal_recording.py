"""Recording a renewal (issue #6 · 3): met moves the next renewal a year on; unmet is recorded with
what is missing; a lapsed endorsement is reinstated within the rulebook's window (``reinstatement``),
and refused after it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from endorse.db import transaction
from endorse.renewals import load_renewal
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import AuditLog, Endorsement, OutboxMessage, Person, Renewal
from tasks.intake.records import ensure_associations
from tasks.renewal.renewals import record_renewal

LIB = default_library()
RENEWED = PROJECT_ROOT / "cohort" / "renewals" / "mi-aimh-imhm-c-renewed.json"
SHORT = PROJECT_ROOT / "cohort" / "renewals" / "mi-aimh-imhm-c-first-years-rsc-short.json"


def _endorsement(sessions, doc, *, status: str = "active") -> int:
    with transaction(sessions) as s:
        ensure_associations(s, LIB)
        p = Person(name=doc.person.name, email=doc.person.email, email_normalized=doc.person.email.lower())
        s.add(p)
        s.flush()
        e = Endorsement(person_id=p.id, category=doc.category, association_code=doc.association,
                        number=doc.endorsement_number, granted_on=doc.endorsed_on,
                        renewal_due_on=date(doc.year, 12, 31), origin="granted", status=status)
        s.add(e)
        s.flush()
        return e.id


def test_a_met_renewal_moves_the_next_due_date_a_year_on(sessions):
    doc = load_renewal(RENEWED)
    e_id = _endorsement(sessions, doc)
    out = record_renewal(sessions, doc, LIB, as_of=date(2027, 12, 1), actor="coordinator:test")
    assert out.status == "met" and out.unmet == []
    with sessions() as s:
        assert s.get(Endorsement, e_id).renewal_due_on == date(doc.year + 1, 12, 31)
        assert s.scalars(select(Renewal.status).where(Renewal.endorsement_id == e_id)).one() == "met"
        assert s.scalars(select(OutboxMessage.role)).all() == ["renewal.met"]
        assert s.scalars(select(AuditLog.action)).all()[-1] == "renewal.met"


def test_an_unmet_renewal_is_recorded_with_what_is_missing_and_the_date_stays(sessions):
    doc = load_renewal(SHORT)
    e_id = _endorsement(sessions, doc)
    out = record_renewal(sessions, doc, LIB, as_of=date(doc.year, 12, 1), actor="coordinator:test")
    assert out.status == "unmet" and any(u.startswith("renewal_rsc_hours") for u in out.unmet)
    with sessions() as s:
        assert s.get(Endorsement, e_id).renewal_due_on == date(doc.year, 12, 31)
        mail = s.scalars(select(OutboxMessage)).one()
        assert mail.role == "renewal.unmet" and "renewal_rsc_hours" in mail.body_text


def test_a_lapsed_endorsement_is_reinstated_within_the_window(sessions):
    doc = load_renewal(RENEWED)
    e_id = _endorsement(sessions, doc, status="lapsed")
    grace = LIB.setting("MI-AIMH", "renewal_grace_days", date(doc.year, 1, 1))
    window = LIB.setting("MI-AIMH", "reinstatement", date(doc.year, 1, 1))["window_days_after_lapse"]
    last_day = date(doc.year, 12, 31) + timedelta(days=grace + window)
    out = record_renewal(sessions, doc, LIB, as_of=last_day, actor="coordinator:test")
    assert out.status == "reinstated"
    with sessions() as s:
        e = s.get(Endorsement, e_id)
        assert e.status == "active" and e.renewal_due_on == date(doc.year + 1, 12, 31)


def test_after_the_window_a_lapsed_endorsement_needs_a_new_application(sessions):
    doc = load_renewal(RENEWED)
    e_id = _endorsement(sessions, doc, status="lapsed")
    too_late = date(doc.year, 12, 31) + timedelta(days=60 + 365 + 1)
    with pytest.raises(ValueError, match="the rules ask for a new application"):
        record_renewal(sessions, doc, LIB, as_of=too_late, actor="coordinator:test")
    with sessions() as s:
        assert s.get(Endorsement, e_id).status == "lapsed"
        assert s.scalars(select(Renewal)).first() is None  # nothing half-written


def test_a_renewal_for_an_unknown_endorsement_names_the_field(sessions):
    doc = load_renewal(RENEWED).model_copy(update={"endorsement_number": "NOPE-1"})
    with transaction(sessions) as s:
        ensure_associations(s, LIB)
    with pytest.raises(LookupError, match="endorsement_number 'NOPE-1'"):
        record_renewal(sessions, doc, LIB, as_of=date(2027, 12, 1), actor="coordinator:test")
