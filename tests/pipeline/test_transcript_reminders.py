"""The weekly transcript reminder is set-based like the sweep's other steps (issue 17, item 4): the
applicants waiting on transcripts are read in one go and their emails written by one INSERT, each
email once a week however often the step runs, and the count says how many this run queued."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import event, func, select

from bench.generate import applications
from endorse.documents import ApplicationDocument
from endorse.rulebook import default_library
from models import Application, OutboxMessage
from tasks.intake.importing import import_documents
from tasks.pipeline import reconcile as pipeline
from tasks.transcripts.transcripts import remind_missing_transcripts

AS_OF = date(2026, 11, 22)  # a Sunday: the next day is in the next ISO week


def _cfg(day: date) -> pipeline.PipelineConfig:
    return pipeline.PipelineConfig(library=default_library(), as_of=day, secret_key="test-secret-transcripts")


def _outbox_inserts(sessions, fn) -> tuple[object, int]:
    seen = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX_MESSAGE"):
            seen.append(statement)

    engine = sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        return fn(), len(seen)
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_transcript_reminders_are_one_insert_once_a_week_and_counted(database_url, sessions):
    docs = [(Path(f"{d['id']}.json"), ApplicationDocument.model_validate_json(json.dumps(d)))
            for d in applications(120, seed=5)]
    import_documents(docs, actor="test", database_url=database_url)
    with sessions() as s:
        ids = pipeline.open_application_ids(s)
    pipeline.advance_batch(sessions, ids, _cfg(AS_OF), True)
    with sessions() as s:
        waiting = set(s.scalars(select(Application.id).where(Application.stage == "transcripts")))
    assert len(waiting) >= 5, "too few applications wait on transcripts: the test proves little"

    queued, inserts = _outbox_inserts(sessions, lambda: remind_missing_transcripts(sessions, _cfg(AS_OF)))
    with sessions() as s:
        reminded = set(s.scalars(select(OutboxMessage.application_id).where(OutboxMessage.role == "transcript.missing")))
    assert (queued, inserts) == (len(waiting), 1)
    assert reminded == waiting

    again, inserts = _outbox_inserts(sessions, lambda: remind_missing_transcripts(sessions, _cfg(AS_OF)))
    assert (again, inserts) == (0, 0)  # the same week: nobody reminded twice, nothing written
    next_week, _ = _outbox_inserts(sessions, lambda: remind_missing_transcripts(sessions, _cfg(AS_OF + timedelta(days=1))))
    assert next_week == len(waiting)
    with sessions() as s:
        assert s.scalar(select(func.count()).where(OutboxMessage.role == "transcript.missing")) == 2 * len(waiting)


def test_a_reminder_another_run_queued_meanwhile_is_neither_written_twice_nor_counted(database_url, sessions):
    from endorse.db import transaction
    from tasks.mail.outbox import insert_all_if_absent

    docs = [(Path(f"{d['id']}.json"), ApplicationDocument.model_validate_json(json.dumps(d)))
            for d in applications(3, seed=5)]
    import_documents(docs, actor="test", database_url=database_url)
    row = dict(role="transcript.missing", application_id=docs[0][1].id, recipient_email="a@example.org",
               recipient_name="A", subject="s", body_text="t", body_html="h", reply_to=None, association_code=None,
               message_id="<1@x>", idempotency_key="transcript.missing:X:2026-W47", link_kind=None, link_ref_id=None,
               status="queued", attempts=0)
    with transaction(sessions) as s:
        assert insert_all_if_absent(s, [row], count=True) == 1
    with transaction(sessions) as s:
        assert insert_all_if_absent(s, [row, {**row, "message_id": "<2@x>", "idempotency_key": "k2"}], count=True) == 1
