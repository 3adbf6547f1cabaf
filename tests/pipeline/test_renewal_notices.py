"""Renewal, pipeline side: notices before the due date, a lapse after the grace period, never silently."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from endorse.db import transaction
from endorse.rulebook import default_library
from models import AuditLog, Endorsement, OutboxMessage, Person, Renewal
from tasks.pipeline import PipelineConfig
from tasks.records import ensure_associations
from tasks.renewal import lapse_unrenewed, send_renewal_notices

DUE = date(2027, 3, 1)


def cfg(as_of: date) -> PipelineConfig:
    return PipelineConfig(library=default_library(), as_of=as_of, secret_key="k", actor="system:test")


def endorsed(sessions) -> int:
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        p = Person(name="Eve Endorsed", email="eve@example.org", email_normalized="eve@example.org")
        s.add(p)
        s.flush()
        e = Endorsement(person_id=p.id, category="IMHS", association_code="MI-AIMH", number="MI-AIMH-IMHS-2026-X",
                        granted_on=date(2026, 3, 1), renewal_due_on=DUE, origin="granted", status="active")
        s.add(e)
        s.flush()
        return e.id


def test_renewal_notice_days_before_the_due_date_once_each(sessions):
    endorsed(sessions)
    assert send_renewal_notices(sessions, cfg(DUE - timedelta(days=60))) == 1
    assert send_renewal_notices(sessions, cfg(DUE - timedelta(days=60))) == 0  # re-run: queues nothing new
    assert send_renewal_notices(sessions, cfg(DUE - timedelta(days=59))) == 0
    assert send_renewal_notices(sessions, cfg(DUE - timedelta(days=7))) == 1
    with sessions() as s:
        assert len(s.scalars(select(OutboxMessage).where(OutboxMessage.role == "renewal.notice")).all()) == 2



def test_the_renewal_notice_says_what_the_rules_ask_for_the_renewal_year(sessions):
    """The notice is rendered from the rules in force (no hours written in the template): IMHS in MI-AIMH,
    the baseline's 15 h, 3 h about RS/C for those who provide it, 12 h of RS/C, membership on the due date."""
    endorsed(sessions)
    send_renewal_notices(sessions, cfg(DUE - timedelta(days=30)))
    with sessions() as s:
        m = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "renewal.notice")).one()
    for text in (m.body_text, m.body_html):
        assert "renewal year 2026-03-02 to 2027-03-01" in text
        assert "at least 15 hours of relationship-based training" in text
        assert "at least 3 hours of training about RS/C if you provide" in text
        assert "at least 12 hours of reflective supervision/consultation received" in text
        assert "current on the due date" in text and "diversity" not in text


def test_a_vaimh_policy_mentor_is_told_of_the_dei_hour_and_vaimh_membership(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        p = Person(name="Val Policy", email="val@example.org", email_normalized="val@example.org")
        s.add(p)
        s.flush()
        s.add(Endorsement(person_id=p.id, category="IMHM-P", association_code="VAIMH", number="VAIMH-IMHM-P-1",
                          granted_on=date(2024, 3, 1), renewal_due_on=DUE, origin="granted", status="active"))
    send_renewal_notices(sessions, cfg(DUE - timedelta(days=30)))
    with sessions() as s:
        m = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "renewal.notice")).one()
    assert "at least 1 hour of diversity, equity and inclusion training" in m.body_text
    assert "membership in VAIMH" in m.body_text and "reflective supervision/consultation received" not in m.body_text

def test_lapse_after_the_grace_period_is_audited_and_emailed(sessions):
    e_id = endorsed(sessions)
    assert lapse_unrenewed(sessions, cfg(DUE + timedelta(days=60))) == 0  # still within the 60-day grace
    assert lapse_unrenewed(sessions, cfg(DUE + timedelta(days=61))) == 1
    with sessions() as s:
        assert s.get(Endorsement, e_id).status == "lapsed"
        assert s.scalars(select(AuditLog.action).where(AuditLog.action == "endorsement.lapsed")).one()
        assert s.scalars(select(OutboxMessage).where(OutboxMessage.role == "renewal.lapsed")).one()


def test_an_accepted_renewal_prevents_the_lapse(sessions):
    e_id = endorsed(sessions)
    with transaction(sessions) as s:
        s.add(Renewal(endorsement_id=e_id, year=DUE.year, status="met"))
    assert lapse_unrenewed(sessions, cfg(DUE + timedelta(days=90))) == 0
