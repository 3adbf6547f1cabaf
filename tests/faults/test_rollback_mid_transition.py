"""A database error in the middle of a stage transition (issue #7 · 1): everything the transition
had done — stage, audit entry, decision, emails — rolls back together, and the next run completes it."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from endorse.db import transaction
from endorse.documents import load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import Application, AuditLog, Decision, OutboxMessage
from tasks.pipeline import reconcile as pipeline
from tasks.intake.records import ensure_associations, save_document

AS_OF = date(2026, 11, 22)


def _snapshot(sessions, app_id: str) -> dict:
    with sessions() as s:
        return {"stage": s.get(Application, app_id).stage,
                "audit": s.scalar(select(func.count()).select_from(AuditLog)),
                "decisions": s.scalar(select(func.count()).select_from(Decision)),
                "emails": s.scalar(select(func.count()).select_from(OutboxMessage))}


def test_a_database_error_while_recording_the_decision_rolls_the_whole_transition_back(sessions, monkeypatch):
    lib = default_library()
    doc = load_document(PROJECT_ROOT / "cohort" / "ct-aimh-ifs-eligible-01.json")
    with transaction(sessions) as s:
        ensure_associations(s, lib)
        save_document(s, doc, actor="test")
    cfg = pipeline.PipelineConfig(library=lib, as_of=AS_OF, secret_key="k")
    before = _snapshot(sessions, doc.id)
    real = pipeline.record_decision

    def failing(s, app, ev, cfg, now, *review_outcome):
        real(s, app, ev, cfg, now, *review_outcome)  # the decision, its letter and audit entry are written…
        s.flush()
        raise OperationalError("INSERT", {}, Exception("the database went away"))  # …then the database fails

    monkeypatch.setattr(pipeline, "record_decision", failing)
    with pytest.raises(OperationalError):
        pipeline.reconcile_one(sessions, doc.id, cfg)
    after_failure = _snapshot(sessions, doc.id)
    # Earlier steps committed on their own (each transition is its own transaction); the failed one left nothing.
    assert after_failure["decisions"] == 0 and after_failure["stage"] == "decision"
    with sessions() as s:
        assert not s.scalars(select(OutboxMessage).where(OutboxMessage.role.like("decision.%"))).all()
        assert s.get(Application, doc.id).needs_reconcile
    monkeypatch.setattr(pipeline, "record_decision", real)
    out = pipeline.reconcile_one(sessions, doc.id, cfg)
    assert out.stage == "endorsed"
    final = _snapshot(sessions, doc.id)
    assert final["decisions"] == 1 and final["audit"] > before["audit"]
    with sessions() as s:
        assert len(s.scalars(select(OutboxMessage).where(OutboxMessage.role == "decision.endorsed")).all()) == 1
