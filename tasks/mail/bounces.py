"""Bounces that arrive later by email (delivery status notifications, RFC 3464).

The coordinator's mailbox receives them; `endorse outbox bounce FILE.eml…` (by hand, or piped from a
mail filter) matches each to the outbox message it is about, by the returned Message-ID, marks it
bounced with the reason and audits it, so the coordinator sees it with the other failed emails.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse.db import transaction
from models import OutboxMessage, record_audit


@dataclass(frozen=True)
class Bounce:
    message_id: str | None
    recipient: str | None
    status: str | None
    diagnostic: str | None


def parse_bounce(raw: bytes) -> Bounce:
    msg = message_from_bytes(raw, policy=policy.compat32)
    recipient = status = diagnostic = message_id = None
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            # Each block of the report is parsed as a small message of its own.
            for block in part.get_payload() or []:
                recipient = recipient or _addr(block.get("Final-Recipient") or block.get("Original-Recipient"))
                status = status or block.get("Status")
                diagnostic = diagnostic or block.get("Diagnostic-Code")
        elif ctype in ("message/rfc822", "text/rfc822-headers"):
            inner = part.get_payload(0) if part.is_multipart() else message_from_bytes(
                part.get_payload(decode=True) or b"", policy=policy.compat32)
            if isinstance(inner, Message):
                message_id = message_id or inner.get("Message-ID")
    return Bounce(message_id.strip() if message_id else None, recipient, status, diagnostic)


def _addr(value: str | None) -> str | None:
    if not value:
        return None
    return value.split(";", 1)[-1].strip()


def record_bounce(sessions: sessionmaker[Session], raw: bytes, *, actor: str) -> str:
    """Mark the outbox message a bounce is about; returns a line for the coordinator."""
    b = parse_bounce(raw)
    if b.message_id is None:
        raise ValueError("not a delivery status notification about one of our messages (no Message-ID returned)")
    with transaction(sessions) as s:
        m = s.scalars(select(OutboxMessage).where(OutboxMessage.message_id == b.message_id)).first()
        if m is None:
            raise LookupError(f"no email of ours has Message-ID {b.message_id}")
        reason = "; ".join(x for x in (b.status, b.diagnostic) if x) or "bounced"
        m.status, m.last_error = "bounced", reason[:500]
        record_audit(s, actor=actor, action="email.bounced", entity_type="outbox_message", entity_id=m.id,
                     application_id=m.application_id, role=m.role, recipient=b.recipient or m.recipient_email,
                     reason=reason[:500])
        return f"{m.role} to {m.recipient_email} ({m.application_id or '-'}) bounced: {reason}"
