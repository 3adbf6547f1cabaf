"""Two outbox runs at the same time (a scheduled run still going when the next starts, or two workers):
each due message is claimed by one run only, so every message reaches the server exactly once
(SQLite and PostgreSQL). Counted at the SMTP sink."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from endorse.db import make_engine, session_factory
from endorse_cli.smtp_sink import read_eml
from models import OutboxMessage
from tests.faults.test_smtp_faults import _queue, delivery_process, slow_sink

N, RUNS, CONCURRENCY = 300, 3, 4
# Each run claims a small batch at a time (limit), so the runs really interleave their claims.
DELIVER = """
import asyncio, sys
from endorse.db import make_engine, session_factory
from tasks.mail.outbox import SmtpConfig, deliver_due
sessions = session_factory(make_engine(sys.argv[1]))
sys.stdin.readline()  # all runs start together
total = 0
while True:
    report = asyncio.run(deliver_due(sessions, SmtpConfig("127.0.0.1", int(sys.argv[2])), secret_key="k",
                                     base_url="http://x", concurrency=int(sys.argv[3]), limit=25))
    if not report.claimed:
        break
    total += report.sent
print(total)
"""


def test_overlapping_outbox_runs_send_each_message_once(database_url, tmp_path: Path):
    sessions = session_factory(make_engine(database_url))
    _queue(sessions, N)
    folder = tmp_path / "sink"
    with slow_sink(folder, 0.002) as controller:
        runs = [delivery_process(DELIVER, database_url, controller.port, CONCURRENCY, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(RUNS)]
        for p in runs:
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [p.communicate(timeout=240) for p in runs]
    assert all(p.returncode == 0 for p in runs), [err for _, err in results]
    sent_by_run = [int(out) for out, _ in results]
    assert sum(sent_by_run) == N
    assert sum(1 for n in sent_by_run if n) >= 2, sent_by_run  # the runs really overlapped
    with sessions() as s:
        rows = s.execute(select(OutboxMessage.message_id, OutboxMessage.status, OutboxMessage.attempts)).all()
    assert {st for _, st, _ in rows} == {"sent"} and {a for _, _, a in rows} == {1}
    at_sink = Counter(str(read_eml(p)["Message-ID"]).strip() for p in folder.glob("*.eml"))
    assert set(at_sink) == {m for m, _, _ in rows} and set(at_sink.values()) == {1}
