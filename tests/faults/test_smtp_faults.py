"""SMTP down, refusing or slow: the outbox retries with backoff, loses nothing and sends nothing twice."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from endorse.db import transaction
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from endorse_cli.smtp_sink import SaveToFolder
from models import AuditLog, OutboxMessage, utcnow
from tasks.intake.records import ensure_associations
from tasks.mail.outbox import SmtpConfig, deliver_due, queue_email

N = 12


def _queue(sessions, n: int = N, to: str = "rater{i}@example.org") -> None:
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        for i in range(n):
            queue_email(s, role="reference.reminder", to_email=to.format(i=i), to_name=f"Rater {i}", association="MI-AIMH",
                        idempotency_key=f"fault:{i}", context={"rater_name": f"Rater {i}", "applicant_name": "A",
                                                                "category_name": "IMHS", "due_on": "2026-12-01"})


def _deliver(sessions, port: int, timeout: float = 5.0, max_attempts: int = 6):
    return asyncio.run(deliver_due(sessions, SmtpConfig("127.0.0.1", port, timeout=timeout), secret_key="k",
                                   base_url="http://x", concurrency=4, max_attempts=max_attempts))


def _make_due_now(sessions) -> None:
    with transaction(sessions) as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.status == "queued").values(next_attempt_at=utcnow()))


def _statuses(sessions) -> list[str]:
    with sessions() as s:
        return sorted(s.scalars(select(OutboxMessage.status)))


class Refusing(SaveToFolder):
    def __init__(self, folder, code: str):
        super().__init__(folder)
        self.code = code

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.code
        return await super().handle_DATA(server, session, envelope)


class Slow(SaveToFolder):
    def __init__(self, folder, delay: float):
        super().__init__(folder)
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def slow_sink(folder: Path, delay: float) -> Iterator[Controller]:
    """An SMTP server on loopback that keeps each message in ``folder`` after ``delay`` seconds."""
    controller = Controller(Slow(folder, delay), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def delivery_process(script: str, database_url: str, port: int, concurrency: int, **popen) -> subprocess.Popen:
    """``script`` (an outbox delivery) in a process of its own, on this checkout, against ``port``."""
    return subprocess.Popen([sys.executable, "-c", script, database_url, str(port), str(concurrency)],
                            cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, **popen)


def test_smtp_down_then_up_delivers_every_message_exactly_once(sessions, tmp_path: Path):
    _queue(sessions)
    port = _free_port()  # nothing listens yet
    report = _deliver(sessions, port)
    assert (report.sent, report.retried) == (0, N)
    with sessions() as s:
        msgs = s.scalars(select(OutboxMessage)).all()
        # SQLite hands back naive UTC datetimes.
        assert all(m.attempts == 1 and m.last_error and m.next_attempt_at.replace(tzinfo=None) > utcnow().replace(tzinfo=None)
                   for m in msgs)  # backoff
    assert _deliver(sessions, port).claimed == 0  # not due yet: backoff respected
    handler = SaveToFolder(tmp_path / "mail")
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        _make_due_now(sessions)
        assert _deliver(sessions, port).sent == N
        _make_due_now(sessions)
        assert _deliver(sessions, port).claimed == 0  # a re-run sends nothing again
    finally:
        controller.stop()
    assert handler.received == N
    assert _statuses(sessions) == ["sent"] * N


def test_backoff_grows_exponentially(sessions, tmp_path: Path):
    _queue(sessions, n=1)
    port = _free_port()
    delays = []
    for _ in range(3):
        before = utcnow()
        _deliver(sessions, port)
        with sessions() as s:
            m = s.scalars(select(OutboxMessage)).one()
            delays.append((m.next_attempt_at.replace(tzinfo=before.tzinfo) - before).total_seconds())
        _make_due_now(sessions)
    assert delays[0] < delays[1] < delays[2] and delays[2] > 3 * delays[0]


def test_a_server_saying_try_later_gets_a_retry_and_a_hard_refusal_fails_visibly(sessions, tmp_path: Path):
    _queue(sessions, n=2)
    handler = Refusing(tmp_path / "mail", "451 4.3.0 try again later")
    handler.refuse = True
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        report = _deliver(sessions, controller.port)
        assert (report.retried, report.failed) == (2, 0)
        handler.code = "550 5.1.1 no such user"
        _make_due_now(sessions)
        report = _deliver(sessions, controller.port)
        assert report.failed == 2
    finally:
        controller.stop()
    assert handler.received == 0
    with sessions() as s:
        assert _statuses(sessions) == ["failed", "failed"]
        assert len(s.scalars(select(AuditLog).where(AuditLog.action == "email.failed")).all()) == 2


def test_a_slow_server_times_out_and_the_message_is_retried_not_lost(sessions, tmp_path: Path):
    _queue(sessions, n=1)
    handler = Slow(tmp_path / "mail", delay=3.0)
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        report = _deliver(sessions, controller.port, timeout=0.5)
        assert report.retried == 1
        handler.delay = 0
        _make_due_now(sessions)
        assert _deliver(sessions, controller.port).sent == 1
    finally:
        controller.stop()
    assert _statuses(sessions) == ["sent"]


def test_a_message_left_sending_by_a_dead_process_is_picked_up_again(sessions, tmp_path: Path):
    _queue(sessions, n=3)
    with transaction(sessions) as s:  # what a process killed after claiming leaves behind
        s.execute(update(OutboxMessage).values(status="sending", next_attempt_at=utcnow() - timedelta(minutes=11)))
    handler = SaveToFolder(tmp_path / "mail")
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        assert _deliver(sessions, controller.port).sent == 3
    finally:
        controller.stop()
    assert handler.received == 3
