"""The database layer on SQLite and PostgreSQL: migrations match the models, the audit log is append-only."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError, IntegrityError

import models
from endorse.db import make_engine, transaction
from models import Application, Association, AuditLog, Person, Rating, ReferenceRequest, record_audit


def test_migrations_match_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), models.Base.metadata)
    engine.dispose()
    assert diff == []


def _application(session) -> Application:
    session.add(Association(code="MI-AIMH", name="Michigan"))
    person = Person(name="Ada Applicant", email="Ada@example.org", email_normalized="ada@example.org")
    session.add(person)
    session.flush()
    app = Application(id="APP-1", association_code="MI-AIMH", category="IMHS", applicant_id=person.id,
                      applicant_name=person.name)
    session.add(app)
    session.flush()
    return app


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"])
def test_audit_log_refuses_update_and_delete_in_the_database(sessions, database_url, statement):
    with transaction(sessions) as s:
        record_audit(s, actor="system", action="test", entity_type="application", entity_id="APP-1", why="x")
    engine = make_engine(database_url)
    with pytest.raises(DatabaseError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() == 1
    engine.dispose()


def test_audit_log_refuses_changes_through_the_orm(sessions):
    with transaction(sessions) as s:
        record_audit(s, actor="system", action="test", entity_type="application", entity_id="APP-1")
    with pytest.raises(PermissionError):
        with transaction(sessions) as s:
            entry = s.scalars(select(AuditLog)).one()
            entry.actor = "tampered"


def test_one_stored_rating_per_reference_request(sessions):
    with pytest.raises(IntegrityError):
        with transaction(sessions) as s:
            app = _application(s)
            rater = Person(name="Rae", email="rae@example.org", email_normalized="rae@example.org")
            s.add(rater)
            s.flush()
            req = ReferenceRequest(application_id=app.id, position=0, rater_id=rater.id, role="colleague",
                                   rater_name=rater.name)
            s.add(req)
            s.flush()
            s.add(Rating(reference_request_id=req.id))
            s.flush()
            s.add(Rating(reference_request_id=req.id))
            s.flush()


def test_a_failed_transaction_leaves_nothing_behind(sessions):
    with pytest.raises(RuntimeError):
        with transaction(sessions) as s:
            _application(s)
            raise RuntimeError("boom mid-transition")
    with transaction(sessions) as s:
        assert s.scalars(select(Application)).all() == []


def test_deleting_an_application_removes_its_evidence(sessions):
    with transaction(sessions) as s:
        app = _application(s)
        app.memberships.append(models.Membership(association="MI-AIMH", expires_on=date(2027, 1, 1)))
    with transaction(sessions) as s:
        s.delete(s.get(Application, "APP-1"))
    with transaction(sessions) as s:
        assert s.scalars(select(models.Membership)).all() == []
