"""Migration 0016 on SQLite and PostgreSQL: accounts that existed before the admin role keep working, and
each association's earliest account becomes its admin (so someone can manage the others on the web)."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from endorse.db import alembic_config, make_engine
from tests.conftest import empty_database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_before_0016(request, tmp_path):
    url = empty_database_url(request, tmp_path)
    command.upgrade(alembic_config(url), "0016-1")  # whatever 0016 follows once the migrations are re-chained
    return url


def test_each_associations_earliest_account_becomes_its_admin(database_before_0016):
    url = database_before_0016
    engine = make_engine(url)
    with engine.begin() as conn:
        for code in ("MI-AIMH", "CT-AIMH"):
            conn.execute(text("INSERT INTO association (code, name, coordinator_name, coordinator_email, timezone) "
                              "VALUES (:c, :c, 'C', 'c@example.org', 'America/New_York')"), {"c": code})
        for i, code in enumerate(("MI-AIMH", "MI-AIMH", "CT-AIMH"), start=1):
            conn.execute(text("INSERT INTO person (id, name, email, email_normalized, created_at) "
                              "VALUES (:i, 'P', :e, :e, CURRENT_TIMESTAMP)"), {"i": i, "e": f"p{i}@example.org"})
            conn.execute(text("INSERT INTO coordinator_account (id, person_id, association_code, password_hash, active, "
                              "session_version, failed_sign_ins) VALUES (:i, :i, :c, 'x', true, 1, 0)"),
                         {"i": i, "c": code})
    command.upgrade(alembic_config(url), "0016")
    with engine.connect() as conn:
        admins = {row.id: bool(row.is_admin) for row in conn.execute(
            text("SELECT id, is_admin FROM coordinator_account ORDER BY id"))}
    engine.dispose()
    assert admins == {1: True, 2: False, 3: True}
