"""The first sweep after an import reads what a transaction of reconciles needs once, not once per
application (issue 17): the number of SELECTs a batch sends does not grow with the batch. And an
application whose steps fail at the flush is rolled back with its chunk (one transaction, one flush
for many applications) and each of them is then reconciled on its own: no audit entry, email or
decision written twice, and the other applications keep theirs."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlalchemy import event, func, select

from bench.generate import applications
from endorse.documents import ApplicationDocument
from endorse.rulebook import default_library
from models import Application, AuditLog, OutboxMessage
from tasks.decision import decisions
from tasks.intake.importing import import_documents
from tasks.pipeline import reconcile as pipeline

AS_OF = date(2026, 11, 22)


def _import(database_url: str, n: int) -> list[str]:
    docs = [(Path(f"{d['id']}.json"), ApplicationDocument.model_validate_json(json.dumps(d)))
            for d in applications(n, seed=17)]
    import_documents(docs, actor="test", database_url=database_url)
    return [d.id for _, d in docs]


def _cfg() -> pipeline.PipelineConfig:
    return pipeline.PipelineConfig(library=default_library(), as_of=AS_OF, secret_key="test-secret-batch-reads")


def _selects_while(sessions, fn) -> int:
    engine = sessions.kw["bind"]
    seen = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_a_batch_sends_as_many_selects_for_60_applications_as_for_15(database_url, sessions):
    ids = _import(database_url, 75)
    small = _selects_while(sessions, lambda: pipeline.advance_batch(sessions, ids[:15], _cfg(), True))
    large = _selects_while(sessions, lambda: pipeline.advance_batch(sessions, ids[15:], _cfg(), True))
    with sessions() as s:
        moved = s.scalar(select(func.count()).where(AuditLog.action == "stage.changed"))
    assert moved > 75  # every application moved at least once: the batches did the work
    # A few reads a decision makes (the person's endorsements, who sees them) are per decision.
    with sessions() as s:
        decided = s.scalar(select(func.count()).select_from(Application)
                           .where(Application.stage.in_(["endorsed", "not_endorsed"])))
    assert large <= small + 4 * decided, (small, large, decided)


def test_an_application_rolled_back_with_its_chunk_leaves_no_audit_entry_and_no_email_twice(database_url, sessions,
                                                                                       monkeypatch):
    ids = _import(database_url, 40)
    real = decisions.record_decision
    failed: list[str] = []

    def failing_once(s, app, *args, **kwargs):
        out = real(s, app, *args, **kwargs)  # its rows are written in the savepoint, then it fails
        if not failed:
            failed.append(app.id)
            raise pipeline.StaleDataError("changed meanwhile")
        return out

    monkeypatch.setattr(pipeline, "record_decision", failing_once)
    pipeline.advance_batch(sessions, ids, _cfg(), True)
    assert failed, "no application reached a decision: the test proves nothing"
    with sessions() as s:
        # Reconciled again on its own after the rollback: exactly one decision, one letter, one audit trail.
        letters = s.scalar(select(func.count()).where(OutboxMessage.application_id == failed[0],
                                                      OutboxMessage.role.like("decision.%")))
        recorded = s.scalar(select(func.count()).where(AuditLog.application_id == failed[0],
                                                       AuditLog.action == "decision.recorded"))
        changes = s.scalars(select(AuditLog.details).where(AuditLog.application_id == failed[0],
                                                          AuditLog.action == "stage.changed")).all()
        others = s.scalar(select(func.count()).where(AuditLog.action == "decision.recorded"))
    assert (letters, recorded) == (1, 1)
    assert len({(c["from_stage"], c["to_stage"]) for c in changes}) == len(changes)  # no step twice
    assert others > 1


def test_the_cycle_collector_is_off_while_a_batch_runs_and_back_after_it_even_when_it_fails(database_url, sessions,
                                                                                         monkeypatch):
    import gc

    ids = _import(database_url, 3)
    seen = []

    def reading(s, batch_ids):
        seen.append(gc.isenabled())
        raise RuntimeError("the database went away")

    monkeypatch.setattr(pipeline, "load_documents", reading)
    assert gc.isenabled()
    try:
        pipeline.advance_batch(sessions, ids, _cfg(), True)
    except RuntimeError:
        pass
    assert seen == [False] and gc.isenabled()
