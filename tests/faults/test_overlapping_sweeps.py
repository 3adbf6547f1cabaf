"""Sweeps may overlap (issue 11): four sweeps at once, each with its own sessions, end exactly where
one sweep ends — no error, no audit entry twice, no email twice, the same rows in the same state.

Two days are swept: the import day (reconciles, rating links, decisions, transcript reminders) and a
later day on which every follow-up step has work (rating reminders, expired links, overdue ratings,
overdue essay reviews reassigned, reviewer reminders, renewal notices and lapses). The four sweeps run
either in lockstep (all four enter each step together: the worst case for one step) or free (a
manual run during a scheduled one). SQLite serialises writers, PostgreSQL does not: both are run.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from bench.generate import applications
from endorse.db import default_session_factory, make_engine, session_factory, transaction, upgrade_database
from endorse.documents import ApplicationDocument
from endorse.rulebook import default_library
from endorse.settings import get_settings
from models import (
    Application,
    AuditLog,
    Endorsement,
    OutboxMessage,
    ReferenceRequest,
    ReviewAssignment,
)
from tasks.exam.review import apply_sitting
from tasks.intake.records import ensure_associations, save_document
from tests.exam.conftest import SECRET, build_sitting

IMPORT_DAY = date(2026, 11, 22)
LATER_DAY = date(2026, 12, 1)
SWEEPS_AT_ONCE = 4
# Entities whose ids do not depend on which run wrote first (PostgreSQL sequences skip the ids of
# rolled-back inserts, so a decision or a new assignment may get another number under contention).
STABLE_IDS = {"application", "reference_request", "endorsement", "review_invitation", "education_record",
              "exam_sitting", "person"}


def _steps() -> list:
    """The sweep flow's steps and the renewal flow's, as plain functions (what the flows call)."""
    from flows.sweep import FOLLOW_UPS
    from tasks.pipeline.prefect_tasks import (
        advance_application_batch,
        lapse_unrenewed_endorsements,
        list_open_batches,
        send_renewal_notices,
    )

    def batches(day: date) -> None:
        for batch in list_open_batches.fn(1000):
            advance_application_batch.fn(batch, day)

    return [batches] + [step.fn for _, step in FOLLOW_UPS] + [send_renewal_notices.fn, lapse_unrenewed_endorsements.fn]


@pytest.fixture
def use_database(monkeypatch):
    """Point the flows' tasks (which read DATABASE_URL) at a database; engines closed afterwards."""
    def use(url: str) -> None:
        _close_flow_engines()
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("ENDORSE_SECRET_KEY", SECRET)

    yield use
    _close_flow_engines()


def _close_flow_engines() -> None:
    if default_session_factory.cache_info().currsize:
        default_session_factory().kw["bind"].dispose()
    get_settings.cache_clear()
    default_session_factory.cache_clear()


def _sweep(day: date, barrier: threading.Barrier | None = None) -> None:
    for step in _steps():
        if barrier is not None:
            barrier.wait(timeout=120)
        step(day)


def _sweeps_at_once(day: date, lockstep: bool) -> list[BaseException]:
    barrier = threading.Barrier(SWEEPS_AT_ONCE) if lockstep else None
    start = threading.Barrier(SWEEPS_AT_ONCE)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait(timeout=120)
            _sweep(day, barrier)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported by the test
            errors.append(exc)
            if barrier is not None:
                barrier.abort()

    threads = [threading.Thread(target=run) for _ in range(SWEEPS_AT_ONCE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    return errors


def _setup(url: str, tmp_path) -> None:
    """Generated applications, an exam sitting with essays assigned, and two endorsements to renew."""
    upgrade_database(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        for d in applications(40, seed=1111):
            save_document(s, ApplicationDocument.model_validate_json(json.dumps(d)), actor="test")
    sitting = build_sitting(sessions, tmp_path)
    apply_sitting(sessions, sitting.id, default_library(), as_of=IMPORT_DAY, secret_key=SECRET, actor="test")
    with transaction(sessions) as s:
        for n, (category, due) in enumerate((("IMHS", LATER_DAY + timedelta(days=30)),
                                             ("IMHM-C", LATER_DAY - timedelta(days=61)))):
            app = s.get(Application, sitting.apps[category])
            s.add(Endorsement(person_id=app.applicant_id, category="IFS", association_code="MI-AIMH",
                              number=f"RENEW-{n}", granted_on=due - timedelta(days=365), renewal_due_on=due,
                              status="active", origin="granted"))
    engine.dispose()


def _make_later_day_work(url: str) -> None:
    """Give every follow-up step something to do on LATER_DAY (the same rows in every database)."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        open_ids = s.scalars(select(ReferenceRequest.id).where(ReferenceRequest.status == "requested",
                                                               ReferenceRequest.token_hash.is_not(None))
                             .order_by(ReferenceRequest.id)).all()
        for i, req_id in enumerate(open_ids):
            change = [{"due_on": LATER_DAY + timedelta(days=7)},  # reminded
                      {"due_on": LATER_DAY - timedelta(days=1)},  # overdue: escalated
                      {"token_expires_at": datetime(2026, 11, 30, tzinfo=timezone.utc)}][i % 3]  # link expires
            s.execute(update(ReferenceRequest).where(ReferenceRequest.id == req_id).values(**change))
        assigned = s.scalars(select(ReviewAssignment).where(ReviewAssignment.status == "assigned")
                             .order_by(ReviewAssignment.reviewer_id, ReviewAssignment.id)).all()
        for a in assigned:  # the first reviewer is reminded, the others are overdue: their essays move on
            a.due_on = LATER_DAY + timedelta(days=7) if a.reviewer_id == assigned[0].reviewer_id else LATER_DAY - timedelta(days=1)
    engine.dispose()


def _state(url: str) -> dict:
    engine = make_engine(url)
    with session_factory(engine)() as s:
        audits = Counter((a.action, a.entity_type, a.application_id,
                          a.entity_id if a.entity_type in STABLE_IDS else None)
                         for a in s.scalars(select(AuditLog)))
        emails = Counter(s.execute(select(OutboxMessage.role, OutboxMessage.recipient_email,
                                          OutboxMessage.application_id)).all())
        state = {
            "audits": audits, "emails": emails,
            "applications": sorted(s.execute(select(Application.id, Application.stage,
                                                    Application.needs_reconcile)).all()),
            "requests": sorted(s.execute(select(
                ReferenceRequest.id, ReferenceRequest.status, ReferenceRequest.token_hash.is_(None),
                ReferenceRequest.token_generation, ReferenceRequest.escalated_at.is_(None),
                ReferenceRequest.reminders_sent, ReferenceRequest.due_on)).all()),
            "endorsements": Counter(s.execute(select(Endorsement.person_id, Endorsement.category, Endorsement.number,
                                                    Endorsement.status)).all()),
            "reviews": Counter(s.execute(select(ReviewAssignment.essay_id, ReviewAssignment.reviewer_id,
                                                ReviewAssignment.status, ReviewAssignment.round)).all()),
        }
    engine.dispose()
    return state


def _no_duplicates(state: dict) -> None:
    once = {"reference.link_issued", "reference.link_expired", "reference.overdue", "decision.recorded",
            "endorsement.lapsed", "exam.review_expired", "exam.reviewer_reminded"}
    twice = [k for k, n in state["audits"].items() if k[0] in once and k[3] is not None and n > 1]
    assert not twice, f"audited more than once: {twice}"


def _second_database(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        return database_url.replace("endorse.sqlite3", "one-sweep.sqlite3")
    from tests.pg_cluster import create_database

    return create_database(database_url, database_url.rsplit("/", 1)[1] + "_one")


@pytest.mark.parametrize("lockstep", [True, False], ids=["lockstep", "free"])
def test_four_sweeps_end_like_one(database_url, tmp_path, use_database, lockstep):
    one = _second_database(database_url)
    (tmp_path / "one").mkdir()
    (tmp_path / "many").mkdir()
    _setup(one, tmp_path / "one")
    _setup(database_url, tmp_path / "many")

    use_database(one)
    _sweep(IMPORT_DAY)
    after_import_day = _state(one)
    _make_later_day_work(one)
    _sweep(LATER_DAY)
    expected = _state(one)

    use_database(database_url)
    assert _sweeps_at_once(IMPORT_DAY, lockstep) == []
    assert _state(database_url) == after_import_day
    _make_later_day_work(database_url)
    assert _sweeps_at_once(LATER_DAY, lockstep) == []
    got = _state(database_url)

    # The later day had work for every step, so a step that writes twice would show here.
    actions = {k[0] for k, n in expected["audits"].items()} - {k[0] for k in after_import_day["audits"]}
    assert {"reference.link_expired", "reference.overdue", "exam.review_expired", "exam.reviewer_reminded",
            "endorsement.lapsed"} <= actions
    roles = {k[0] for k in expected["emails"]}
    assert {"reference.reminder", "review.reminder", "renewal.notice", "renewal.lapsed", "transcript.missing",
            "review.assigned"} <= roles
    _no_duplicates(got)
    assert got["audits"] == expected["audits"]
    assert got["emails"] == expected["emails"]
    assert got == expected
