"""The sweep killed with SIGKILL half-way: the re-run completes with no duplicate and no lost state —
the same end state as a sweep that was never interrupted (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date

from sqlalchemy import func, select

from bench.generate import applications
from endorse.db import make_engine, session_factory, transaction, upgrade_database
from endorse.documents import ApplicationDocument
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import Application, AuditLog, Decision, OutboxMessage
from tasks.pipeline import reconcile as pipeline
from tasks.intake.records import ensure_associations, save_document

AS_OF = date(2026, 11, 22)
SWEEP = """
import sys
from datetime import date
from endorse.db import make_engine, session_factory
from endorse.rulebook import default_library
from tasks.pipeline import reconcile as pipeline
sessions = session_factory(make_engine(sys.argv[1]))
cfg = pipeline.PipelineConfig(library=default_library(), as_of=date(2026, 11, 22), secret_key="k")
with sessions() as s:
    ids = pipeline.open_application_ids(s)
print("started", flush=True)
pipeline.advance_batch(sessions, ids, cfg)
"""


def _load(url: str, n: int = 150):
    upgrade_database(url)
    sessions = session_factory(make_engine(url))
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        for d in applications(n, seed=4242):
            save_document(s, ApplicationDocument.model_validate_json(json.dumps(d)), actor="test")
    return sessions


def _state(sessions) -> dict:
    with sessions() as s:
        stages = dict(s.execute(select(Application.id, Application.stage)).all())
        moves = dict(s.execute(select(AuditLog.application_id, func.count()).where(AuditLog.action == "stage.changed")
                               .group_by(AuditLog.application_id)).all())
        decisions = dict(s.execute(select(Decision.application_id, func.count()).group_by(Decision.application_id)).all())
        emails = s.scalar(select(func.count()).select_from(OutboxMessage))
    return {"stages": stages, "moves": moves, "decisions": decisions, "emails": emails}


def _second_database(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        return database_url.replace("endorse.sqlite3", "reference.sqlite3")
    from tests.pg_cluster import create_database

    return create_database(database_url, database_url.rsplit("/", 1)[1] + "_ref")


def test_a_sweep_killed_half_way_and_run_again_ends_where_an_uninterrupted_one_does(database_url):
    cfg = pipeline.PipelineConfig(library=default_library(), as_of=AS_OF, secret_key="k")
    reference = _load(_second_database(database_url))
    with reference() as s:
        ids = pipeline.open_application_ids(s)
    pipeline.advance_batch(reference, ids, cfg)
    expected = _state(reference)

    crashed = _load(database_url)
    proc = subprocess.Popen([sys.executable, "-c", SWEEP, database_url], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it once part of the work is done
        with crashed() as s:
            done = s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "stage.changed"))
        if done >= 30:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    partial = _state(crashed)
    assert 0 < sum(partial["moves"].values()) < sum(expected["moves"].values()), "killed half-way"

    with crashed() as s:
        ids = pipeline.open_application_ids(s)
    pipeline.advance_batch(crashed, ids, cfg)
    assert _state(crashed) == expected
    assert all(n == 1 for n in expected["decisions"].values())
