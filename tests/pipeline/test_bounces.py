"""A bounce arriving later by email marks the outbox message bounced, audited, visible to the coordinator."""

from __future__ import annotations

from sqlalchemy import select

from endorse.db import transaction
from endorse.rulebook import default_library
from models import AuditLog, OutboxMessage
from tasks.bounces import parse_bounce, record_bounce
from tasks.outbox import queue_email
from tasks.records import ensure_associations

DSN = """From: MAILER-DAEMON@mx.example.org
To: endorsement@mi-aimh.example.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

This is the mail system. Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; gone@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected

--b1
Content-Type: text/rfc822-headers

Message-ID: {mid}
Subject: Reference rating requested

--b1--
"""


def test_a_delivery_status_notification_marks_the_email_bounced(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        m = queue_email(s, role="reference.reminder", to_email="gone@example.org", to_name="Gone", association="MI-AIMH",
                        idempotency_key="t:1", context={"rater_name": "Gone", "applicant_name": "A",
                                                         "category_name": "IMHS", "due_on": "2026-12-01"})
        mid = m.message_id
    raw = DSN.format(mid=mid).encode()
    assert parse_bounce(raw).status == "5.1.1"
    line = record_bounce(sessions, raw, actor="coordinator:c@example.org")
    assert "bounced" in line and "5.1.1" in line
    with sessions() as s:
        assert s.scalars(select(OutboxMessage.status)).one() == "bounced"
        assert s.scalars(select(AuditLog.action).where(AuditLog.entity_type == "outbox_message")).all() == ["email.bounced"]
