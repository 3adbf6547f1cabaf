"""`endorse rater add`, `rater replace` and `rater vet` reconcile the application at once, as
`endorse transcript record` does (issue 18): the coordinator sees the new rater's request issued and
its email queued without waiting for a sweep, and the application's mark is cleared in that reconcile.
Run through the command line's own entry point, without a Prefect API (the reconcile runs in the
command's process), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from endorse.db import transaction
from endorse.documents import load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import Application, OutboxMessage, Person, ReferenceRequest
from tasks.intake.records import ensure_associations, save_document
from tasks.pipeline import reconcile as pipeline
from tasks.references.raters import vetting_queue

COORDINATOR = "coordinator@example.org"
REQUESTED = "ct-aimh-imhm-rf-rating-requested.json"  # CT-2026-137: one rater still to answer
TO_VET = "vaimh-ifa-same-rater-twice.json"  # VA-2026-128: a rater who holds no endorsement, to vet
NEW_RATER = "Noor Haddad", "noor.haddad@example.org"


def _save(sessions, file: str, *, reconciled: bool) -> str:
    doc = load_document(PROJECT_ROOT / "cohort" / file)
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        save_document(s, doc, actor="test")
    if reconciled:
        cfg = pipeline.PipelineConfig(library=default_library(), as_of=date.today(), secret_key="k", actor="system:test")
        pipeline.reconcile_one(sessions, doc.id, cfg)
    return doc.id


@pytest.fixture
def endorse(monkeypatch, database_url):
    """`endorse …` as typed, in this process, on the test's database and without a Prefect API."""
    from endorse.db import default_session_factory
    from endorse.settings import get_settings
    from endorse_cli.main import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("PREFECT_API_URL", "ENDORSE_CLOCK_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("flows.after_event.prefect_api_url", lambda: None)  # nor one from a Prefect profile
    get_settings.cache_clear()
    default_session_factory.cache_clear()
    yield lambda *argv: main([*argv, "--by", COORDINATOR])
    default_session_factory().kw["bind"].dispose()
    default_session_factory.cache_clear()
    get_settings.cache_clear()


def _request_to(s, application_id: str, email: str) -> ReferenceRequest:
    return s.scalars(select(ReferenceRequest).join(Person, Person.id == ReferenceRequest.rater_id).where(
        ReferenceRequest.application_id == application_id, Person.email_normalized == email)).one()


def _issued_and_emailed(s, application_id: str, email: str) -> None:
    req = _request_to(s, application_id, email)
    assert req.status == "requested" and req.token_hash is not None and req.due_on is not None
    queued = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient_email == email)).all()
    assert [(m.role, m.status) for m in queued] == [("reference.request", "queued")]
    assert s.get(Application, application_id).needs_reconcile is False


def test_rater_add_reconciles_at_once_the_new_raters_request_is_issued_and_emailed(sessions, endorse):
    # Imported and not yet swept: before this change the new rater waited for the next sweep.
    app_id = _save(sessions, REQUESTED, reconciled=False)
    assert endorse("rater", "add", app_id, "--name", NEW_RATER[0], "--email", NEW_RATER[1], "--role", "colleague") == 0
    with sessions() as s:
        _issued_and_emailed(s, app_id, NEW_RATER[1])
        assert s.get(Application, app_id).stage == "references"


def test_rater_replace_reconciles_at_once_the_replacements_request_is_issued_and_emailed(sessions, endorse):
    app_id = _save(sessions, REQUESTED, reconciled=True)
    with sessions() as s:
        old = s.scalars(select(ReferenceRequest).where(ReferenceRequest.application_id == app_id,
                                                       ReferenceRequest.status == "requested")).one()
        old_id, role = old.id, old.role
    assert endorse("rater", "replace", str(old_id), "--reason", "left the agency", "--name", NEW_RATER[0],
                   "--email", NEW_RATER[1], "--role", role) == 0
    with sessions() as s:
        assert s.get(ReferenceRequest, old_id).status == "cancelled"
        _issued_and_emailed(s, app_id, NEW_RATER[1])


@pytest.mark.parametrize("decision", ["accepted", "rejected"])
def test_rater_vet_reconciles_at_once(sessions, endorse, capsys, decision):
    app_id = _save(sessions, TO_VET, reconciled=True)
    cfg = pipeline.PipelineConfig(library=default_library(), as_of=date.today(), secret_key="k", actor="system:test")
    with sessions() as s:
        request_id = next(v.request_id for v in vetting_queue(s, cfg) if v.application_id == app_id)
        before = s.get(Application, app_id).last_checklist
    assert endorse("rater", "vet", str(request_id), "--decision", decision, "--on", date.today().isoformat()) == 0
    with sessions() as s:
        app = s.get(Application, app_id)
        assert app.needs_reconcile is False  # the vetting's reconcile ran, not left to a sweep
        # An accepted rater's rating counts: the checklist the reconcile wrote reads the vetting.
        assert (app.last_checklist != before) is (decision == "accepted")
    # The coordinator's line says where the application stands now (a rejected rater leaves it waiting).
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"{app_id}: ")
