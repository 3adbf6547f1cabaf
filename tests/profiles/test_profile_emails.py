"""Every email carries its association's profile: From, Reply-To, signature and where links point;
ENDORSE_ENV=production refuses placeholder links and associations without a profile (issue 20)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from endorse.db import make_engine, session_factory, transaction
from endorse.profiles import AssociationProfile, ProductionRefusal
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT, get_settings
from endorse.smtp_sink import SmtpSink
from models import Association, AuditLog, OutboxMessage, utcnow
from tasks.dashboard import undelivered_emails
from tasks.outbox import SmtpConfig, deliver_due, queue_email
from tasks.records import ensure_associations, refuse_production_start
from tests.profiles.helpers import rating_request

LIB = default_library()
MI = AssociationProfile.model_validate({
    "association": "MI-AIMH", "full_name": "Michigan Association for Infant Mental Health", "short_name": "MI-AIMH",
    "coordinator": {"name": "Mia Lopez", "email": "mlopez@mi-aimh.org"},
    "sender": {"name": "MI-AIMH Endorsement", "email": "endorsement@mi-aimh.org"},
    "signature": "Mia Lopez, Endorsement® coordinator\nMichigan Association for Infant Mental Health",
    "public_base_url": "https://endorse.mi-aimh.org", "time_zone": "America/Detroit", "phone": "(734) 785-7700",
    "website": "https://mi-aimh.org"})
REMINDER = {"rater_name": "Ray Rater", "applicant_name": "Ada Applicant", "category_name": "IMHS",
            "due_on": "2026-12-01"}


@pytest.fixture
def env(monkeypatch):
    """Switch ENDORSE_ENV for one test (the settings are cached)."""
    def set_env(value: str) -> None:
        monkeypatch.setenv("ENDORSE_ENV", value)
        get_settings.cache_clear()
    yield set_env
    monkeypatch.undo()
    get_settings.cache_clear()


def _queue(s, key: str = "k1", association: str = "MI-AIMH") -> OutboxMessage:
    queued = queue_email(s, role="reference.reminder", to_email="ray@rater.org", to_name="Ray Rater",
                         association=association, idempotency_key=key, context=REMINDER)
    return s.get(OutboxMessage, queued.id)


def _deliver(sessions, sink: SmtpSink):
    return asyncio.run(deliver_due(sessions, SmtpConfig("127.0.0.1", sink.port, mail_from="fallback@deploy.org"),
                                   secret_key="k", base_url="http://127.0.0.1:8000"))


def test_emails_carry_the_profiles_sender_reply_to_and_signature(sessions, tmp_path):
    with transaction(sessions) as s:
        ensure_associations(s, LIB, profiles={"MI-AIMH": MI})
        _queue(s)
    with SmtpSink(tmp_path / "mail") as sink:
        assert _deliver(sessions, sink).sent == 1
        (msg,) = sink.messages()
    assert msg["From"] == "MI-AIMH Endorsement <endorsement@mi-aimh.org>"
    assert msg["Reply-To"] == "mlopez@mi-aimh.org"
    assert msg["Message-ID"].endswith("@mi-aimh.org>")
    assert msg["Date"].datetime.utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))  # America/Detroit
    text = msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert text.rstrip().endswith("Mia Lopez, Endorsement® coordinator\nMichigan Association for Infant Mental Health")
    assert "Mia Lopez, Endorsement® coordinator<br>Michigan Association for Infant Mental Health" in html
    assert "(734) 785-7700" in html and '<a href="https://mi-aimh.org">' in html
    assert "example.org" not in msg.as_string()


def test_a_rating_link_points_at_the_profiles_public_address(sessions, tmp_path):
    with transaction(sessions) as s:
        ensure_associations(s, LIB, profiles={"MI-AIMH": MI})
        req_id = rating_request(s)
        queue_email(s, role="reference.reminder", to_email="ray@rater.org", to_name="Ray", association="MI-AIMH",
                    idempotency_key="link", context={**REMINDER, "link": "{{LINK}}"}, link_kind="rating",
                    link_ref_id=req_id)
    with SmtpSink(tmp_path / "mail") as sink:
        _deliver(sessions, sink)
        (msg,) = sink.messages()
    assert "https://endorse.mi-aimh.org/rate/" in msg.get_body(preferencelist=("plain",)).get_content()


def test_without_a_profile_the_deployments_sender_is_used_and_nothing_is_made_up(sessions, tmp_path):
    with transaction(sessions) as s:
        ensure_associations(s, LIB, profiles={})
        _queue(s)
        assoc = s.get(Association, "MI-AIMH")
        assert assoc.profile_digest is None and "example.org" not in assoc.coordinator_email
    with SmtpSink(tmp_path / "mail") as sink:
        _deliver(sessions, sink)
        (msg,) = sink.messages()
    assert msg["From"] == "fallback@deploy.org"


def test_a_changed_profile_is_applied_once_and_audited(sessions):
    for _ in range(2):
        with transaction(sessions) as s:
            ensure_associations(s, LIB, profiles={"MI-AIMH": MI})
    changed = MI.model_copy(update={"short_name": "MIAIMH"})
    with transaction(sessions) as s:
        ensure_associations(s, LIB, profiles={"MI-AIMH": changed})
    with sessions() as s:
        entries = s.scalars(select(AuditLog).where(AuditLog.action == "association.profile_applied")).all()
        assert [(e.entity_id, e.details["first"]) for e in entries] == [("MI-AIMH", True), ("MI-AIMH", False)]
        assert s.get(Association, "MI-AIMH").short_name == "MIAIMH"


# --- ENDORSE_ENV=production ---------------------------------------------------------------------------


def test_production_refuses_to_queue_for_an_association_without_a_profile(sessions, env):
    with transaction(sessions) as s:
        ensure_associations(s, LIB, profiles={})
    env("production")
    with pytest.raises(ProductionRefusal, match="MI-AIMH has no profile: run `endorse setup --association MI-AIMH`"):
        with transaction(sessions) as s:
            _queue(s)
    with sessions() as s:
        assert s.scalars(select(OutboxMessage)).all() == []  # nothing written


def test_production_refuses_a_loopback_link_in_an_email(sessions, env):
    with transaction(sessions) as s:
        ensure_associations(s, LIB, profiles={"MI-AIMH": MI.model_copy(update={"public_base_url": None})})
    env("production")  # ENDORSE_PUBLIC_BASE_URL stays its loopback default
    with pytest.raises(ProductionRefusal, match=r"its link would start with http://127\.0\.0\.1:8000"):
        with transaction(sessions) as s:
            queue_email(s, role="reference.reminder", to_email="r@rater.org", to_name="R", association="MI-AIMH",
                        idempotency_key="l", context=REMINDER, link_kind="rating", link_ref_id=rating_request(s))


def test_production_refuses_an_example_org_link_written_into_an_email(sessions, env):
    with transaction(sessions) as s:
        ensure_associations(s, LIB, profiles={"MI-AIMH": MI})
    env("production")
    with pytest.raises(ProductionRefusal, match="links to https://help.example.org/"):
        with transaction(sessions) as s:
            queue_email(s, role="reference.reminder", to_email="r@rater.org", to_name="R", association="MI-AIMH",
                        idempotency_key="x", context={**REMINDER, "applicant_name": "see https://help.example.org/"})


def test_production_queues_an_email_with_a_real_profile(sessions, env):
    with transaction(sessions) as s:
        ensure_associations(s, LIB, profiles={"MI-AIMH": MI})
    env("production")
    with transaction(sessions) as s:
        assert _queue(s).association_code == "MI-AIMH"


def test_production_refuses_to_start_with_the_sample_profiles_or_no_profile(sessions, env):
    with transaction(sessions) as s:
        ensure_associations(s, LIB)  # the shipped samples: example.org addresses
        rating_request(s, association="CT-AIMH")
    env("production")
    with sessions() as s, pytest.raises(ProductionRefusal) as err:
        refuse_production_start(s, LIB)
    assert "CT-AIMH's profile: sender no-reply@ct-aimh.example.org: ct-aimh.example.org is a placeholder" in str(err.value)
    with transaction(sessions) as s:
        s.execute(update(Association).values(profile_digest=None))
    with sessions() as s, pytest.raises(ProductionRefusal, match="CT-AIMH has applications but no profile"):
        refuse_production_start(s, LIB)


def test_development_starts_whatever_the_profiles_say(sessions, env):
    with transaction(sessions) as s:
        ensure_associations(s, LIB)
    env("development")
    with sessions() as s:
        refuse_production_start(s, LIB)


# --- the dashboard counts what is not delivered -------------------------------------------------------


def test_the_dashboard_counts_emails_waiting_past_their_retry_schedule(sessions):
    now = utcnow()
    with transaction(sessions) as s:
        ensure_associations(s, LIB, profiles={"MI-AIMH": MI})
        waiting = [_queue(s, key=f"w{i}") for i in range(3)]  # never attempted: the outbox is not running
        retrying = _queue(s, key="r")  # attempted once, retry due in the future
        failed = _queue(s, key="f")
        sent = _queue(s, key="s")
        other = _queue(s, key="o", association="CT-AIMH")
        s.flush()
        for m in (*waiting, other):
            m.next_attempt_at = now - timedelta(hours=3)
        retrying.attempts, retrying.next_attempt_at = 1, now + timedelta(minutes=2)
        failed.status, failed.attempts, failed.last_error = "failed", 6, "SMTPRecipientsRefused"
        sent.status, sent.next_attempt_at = "sent", now - timedelta(days=1)
    with sessions() as s:
        rows = undelivered_emails(s, "MI-AIMH", now)
    assert len(rows) == 4  # three waiting past due and the failed one; not the one on schedule, not CT-AIMH's
    assert sorted(r["status"] for r in rows) == ["failed"] + ["queued, 3 h past due"] * 3
    assert all("is the outbox running" in r["error"] for r in rows if r["status"] != "failed")


def test_an_email_just_queued_is_not_yet_counted(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, LIB, profiles={"MI-AIMH": MI})
        _queue(s)
    with sessions() as s:
        assert undelivered_emails(s, "MI-AIMH") == []


def test_endorse_serve_in_production_with_the_sample_profiles_exits_naming_what_to_fix(database_url, tmp_path):
    engine = make_engine(database_url)
    with transaction(session_factory(engine)) as s:
        ensure_associations(s, LIB)
        rating_request(s, association="VAIMH")
    engine.dispose()
    env = {**os.environ, "DATABASE_URL": database_url, "ENDORSE_ENV": "production",
           "ENDORSE_SECRET_KEY": "a-real-secret-for-this-test-only", "ENDORSE_PUBLIC_BASE_URL": "https://endorse.vaimh.org"}
    out = subprocess.run([str(Path(sys.executable).parent / "endorse"), "serve", "--web-only", "--port", "0"], env=env,
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.startswith("endorse: ENDORSE_ENV=production refuses to start: ")
    assert "VAIMH's profile: sender no-reply@vaimh.example.org: vaimh.example.org is a placeholder domain" in out.stderr
