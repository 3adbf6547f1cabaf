"""Outbox delivery: 1,000 messages to a local aiosmtpd, bounded concurrency beside one at a time."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _fill(sessions, n: int, tag: str) -> None:
    from endorse.db import transaction
    from endorse.rulebook import default_library
    from tasks.intake.records import ensure_associations
    from tasks.mail.outbox import queue_email

    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        for i in range(n):
            queue_email(s, role="reference.reminder", to_email=f"rater{i}@example.org", to_name=f"Rater {i}",
                        association="MI-AIMH", idempotency_key=f"bench:{tag}:{i}",
                        context={"rater_name": f"Rater {i}", "applicant_name": "A. Applicant",
                                 "category_name": "Infant Mental Health Specialist", "due_on": "2026-12-01"})


def run(n: int = 1000) -> list[dict]:
    from endorse.db import make_engine, session_factory, upgrade_database
    from tasks.mail.outbox import SmtpConfig, deliver_due

    tmp = Path(tempfile.mkdtemp(prefix="endorse-bench-outbox-"))
    url = f"sqlite:///{tmp / 'outbox.sqlite3'}"
    upgrade_database(url)
    sessions = session_factory(make_engine(url))
    rows = []
    # The SMTP server runs in its own process, as a real one would: it must not share our CPU time.
    port = _free_port()
    sink = subprocess.Popen([sys.executable, "-m", "endorse_cli.smtp_sink", "--port", str(port), "--folder",
                             str(tmp / "mail")], stdout=subprocess.PIPE, text=True)
    try:
        sink.stdout.readline()
        smtp = SmtpConfig("127.0.0.1", port)
        cases = (("bounded concurrency (20), reused connections", 20, False),
                 ("one at a time, a connection per message", 1, True))
        for label, concurrency, per_message in cases:
            _fill(sessions, n, label)
            before = len(list((tmp / "mail").glob("*.eml")))
            load = os.getloadavg()[0]
            t, cpu, sink_cpu = time.perf_counter(), time.process_time(), _cpu_of(sink.pid)
            report = asyncio.run(deliver_due(sessions, smtp, secret_key="bench", base_url="http://127.0.0.1",
                                             concurrency=concurrency, connection_per_message=per_message))
            dt, cpu, sink_cpu = time.perf_counter() - t, time.process_time() - cpu, _cpu_of(sink.pid) - sink_cpu
            assert report.sent == n and len(list((tmp / "mail").glob("*.eml"))) - before == n, report
            rows.append({"benchmark": "outbox", "case": f"deliver {n} messages, {label}", "value": round(n / dt),
                         "unit": "messages/s", "goal": ">= 100" if concurrency > 1 else "",
                         "notes": f"{dt:.1f} s; all {n} at the sink, none twice; CPU {cpu:.1f} s delivering "
                                  f"({n / cpu:.0f}/s of CPU), {sink_cpu:.1f} s in the SMTP server; "
                                  f"load average {load:.1f} before"})
    finally:
        sink.terminate()
        sink.wait(10)
    return rows


def _cpu_of(pid: int) -> float:
    """CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
