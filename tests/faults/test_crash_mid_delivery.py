"""The delivery process killed with SIGKILL mid-batch (SQLite and PostgreSQL): the re-run delivers
every message, and none twice except — at most — the few that were on the wire at the instant of the
kill (SMTP has no way to ask "did you get it?"; those keep their Message-ID, so mail clients show one).
Counted at the SMTP sink."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select, update

from endorse.db import make_engine, session_factory
from endorse_cli.smtp_sink import read_eml
from models import OutboxMessage, utcnow
from tasks.mail.outbox import STALE_SENDING, SmtpConfig, deliver_due
from tests.faults.test_smtp_faults import _queue, delivery_process, slow_sink

N, CONCURRENCY = 200, 4
DELIVER = """
import asyncio, sys
from endorse.db import make_engine, session_factory
from tasks.mail.outbox import SmtpConfig, deliver_due
sessions = session_factory(make_engine(sys.argv[1]))
print("started", flush=True)
asyncio.run(deliver_due(sessions, SmtpConfig("127.0.0.1", int(sys.argv[2])), secret_key="k", base_url="http://x",
                        concurrency=int(sys.argv[3])))
"""


def test_delivery_killed_mid_batch_then_rerun_loses_nothing(database_url, tmp_path: Path):
    sessions = session_factory(make_engine(database_url))
    _queue(sessions, N)
    folder = tmp_path / "sink"
    with slow_sink(folder, 0.01) as controller:
        proc = delivery_process(DELIVER, database_url, controller.port, CONCURRENCY, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while len(list(folder.glob("*.eml"))) < N // 4 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert proc.poll() is None, "the delivery finished before it could be killed: " + proc.stdout.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        with sessions() as s:
            in_flight = set(s.scalars(select(OutboxMessage.message_id).where(OutboxMessage.status == "sending")))
            sent_before = s.scalar(select(OutboxMessage.id).where(OutboxMessage.status == "sent").limit(1))
        assert in_flight and sent_before is not None  # really killed half-way
        # Time passes: the dead process's claim runs out and the next run takes those messages again.
        with sessions.begin() as s:
            s.execute(update(OutboxMessage).where(OutboxMessage.status == "sending")
                      .values(next_attempt_at=utcnow() - STALE_SENDING - STALE_SENDING))
        for _ in range(3):
            asyncio.run(deliver_due(sessions, SmtpConfig("127.0.0.1", controller.port), secret_key="k",
                                    base_url="http://x", concurrency=CONCURRENCY))
    with sessions() as s:
        rows = s.execute(select(OutboxMessage.message_id, OutboxMessage.status)).all()
    assert {st for _, st in rows} == {"sent"}
    at_sink = Counter(str(read_eml(p)["Message-ID"]).strip() for p in folder.glob("*.eml"))
    assert set(at_sink) == {m for m, _ in rows}  # nothing lost
    twice = {m for m, n in at_sink.items() if n > 1}
    assert twice <= in_flight and len(twice) <= CONCURRENCY  # only what was on the wire at the kill
    assert max(at_sink.values()) <= 2
