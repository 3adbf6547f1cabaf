"""``endorse outbox list|deliver|bounce``: every email goes through the outbox; here a coordinator sees
what failed or waits, sends what is due, and marks what bounced."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from endorse_cli.commands.common import By, Json, coordinator, prefect_for_this_command, refusals, sessions
from endorse_cli.output import EXIT_FAILURE, EXIT_OK

app = typer.Typer(no_args_is_help=True, help="The outbox: list emails by status, deliver what is due, record bounces.")


class Status(str, Enum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    bounced = "bounced"
    cancelled = "cancelled"


@app.command("list")
def list_messages(
    status: Annotated[Optional[list[Status]], typer.Option(
        "--status", help="the status to list; repeat it for several (default: failed and queued)")] = None,
    json: Json = False,
) -> int:
    """Emails by status, with the mail server's last answer.

    By default those that failed or wait for a retry. Look here when a rater says no email came.
    """
    from sqlalchemy import select

    from endorse_cli.display import print_json, print_table
    from endorse_cli.output import outbox_count_line
    from models import OutboxMessage

    wanted = [s.value for s in status] if status else ["failed", "queued"]
    with sessions()() as s:
        rows = [{"id": m.id, "status": m.status, "role": m.role, "to": m.recipient_email, "attempts": m.attempts,
                 "application": m.application_id, "last_error": m.last_error}
                for m in s.scalars(select(OutboxMessage).where(OutboxMessage.status.in_(wanted))
                                   .order_by(OutboxMessage.id))]
    if json:
        print_json(rows)
        return EXIT_OK
    print_table(("id", "status", "email", "to", "attempts", "server's answer"),
                ((m["id"], m["status"], m["role"], m["to"], m["attempts"], (m["last_error"] or "")[:80]) for m in rows))
    print(outbox_count_line(len(rows), wanted))
    return EXIT_OK


@app.command("deliver")
def deliver() -> int:
    """Send what is due in the outbox now (`endorse serve` does it every minute).

    Exits 1 when the mail server cannot be reached or a message failed: the line says what to do.
    """
    from sqlalchemy import func, select

    from endorse.settings import get_settings
    from endorse_cli.display import watched
    from endorse_cli.output import delivery_line
    from flows.deliver_outbox import deliver_outbox
    from models import OutboxMessage
    from tasks.mail.outbox import SmtpConfig

    factory = sessions()
    with prefect_for_this_command(), watched("delivering", lambda: _delivered(factory)):
        report = deliver_outbox()
    with factory() as s:
        waiting = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "queued"))
    line, ok = delivery_line(report, SmtpConfig.from_settings(get_settings()).where, waiting)
    print(line)
    return EXIT_OK if ok else EXIT_FAILURE


def _delivered(factory):
    """(messages due at the start that have been tried since, messages due at the start), for the bar."""
    from sqlalchemy import select

    from endorse.clock import utcnow
    from models import OutboxMessage

    with factory() as s:
        due = dict(s.execute(select(OutboxMessage.id, OutboxMessage.attempts).where(
            OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= utcnow())).all())

    def count() -> tuple[int, int]:
        with factory() as s:
            now = s.execute(select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts)
                            .where(OutboxMessage.id.in_(due))).all()
        done = sum(1 for i, status, attempts in now if status not in ("queued", "sending") or attempts > due[i])
        return done, len(due)
    return count


@app.command("bounce")
@refusals
def bounce(
    files: Annotated[list[str], typer.Argument(metavar="FILE.eml...", help="delivery status notifications")],
    by: By,
) -> int:
    """Mark emails bounced from the bounce notices your mailbox received.

    The notices are .eml files (saved by hand or piped from a mail filter): each is matched to its message,
    marked bounced with the reason and audited (endorse outbox list --status bounced shows them).
    """
    from pathlib import Path

    from tasks.mail.bounces import record_bounce

    factory = sessions()
    for f in files:
        print(record_bounce(factory, Path(f).read_bytes(), actor=coordinator(by)))
    return EXIT_OK
