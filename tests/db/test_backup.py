"""Issue 11, item 7: `endorse backup` / `endorse restore` give back every row of every table.

On SQLite (online backup API) and PostgreSQL (pg_dump / pg_restore, custom format): a database
filled by the pipeline (applications, transitions, audit log, links, queued emails) is backed up,
restored into a fresh database and compared table by table, row by row. A restore over a database
that holds rows is refused unless forced; a file that is not a backup of the target's kind is
refused naming the file, and changes nothing.
"""

from __future__ import annotations

import os
import re
from datetime import date

import pytest
from sqlalchemy import MetaData, select

from endorse.backup import BackupError, backup, restore, rows_in
from endorse.db import close_databases, default_session_factory, make_engine, transaction, upgrade_database
from endorse.documents import load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT, get_settings
from tasks import pipeline
from tasks.records import ensure_associations, save_document

pytestmark = pytest.mark.postgres

AS_OF = date(2026, 11, 22)


def _fill(url: str) -> None:
    """A third of the cohort through a sweep: every kind of row the pipeline writes."""
    sessions = default_session_factory(url)
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        for path in sorted((PROJECT_ROOT / "cohort").glob("*.json"))[:15]:
            save_document(s, load_document(path), actor="test")
    cfg = pipeline.PipelineConfig(library=default_library(), as_of=AS_OF, secret_key="test-secret", actor="system:test")
    with sessions() as s:
        ids = pipeline.open_application_ids(s)
    pipeline.advance_batch(sessions, ids, cfg)


def _every_row(url: str) -> dict[str, list[tuple]]:
    engine = make_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            out = {}
            for table in meta.sorted_tables:
                order = list(table.primary_key.columns) or list(table.columns)
                out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*order))]
            return out
    finally:
        engine.dispose()


@pytest.fixture
def fresh_url(database_url, request, tmp_path):
    """Another empty database of the same kind (not migrated: as on a new host)."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored' / 'endorse.sqlite3'}"
    from tests.pg_cluster import create_database

    name = "r_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50] + f"_{os.getpid()}"
    return create_database(request.getfixturevalue("postgres_cluster_url"), name)


@pytest.fixture
def cli(monkeypatch):
    """`endorse …` in this process against a given database (DATABASE_URL, as an operator sets it)."""
    from endorse.cli import main

    def run(url: str, *argv: str) -> int:
        monkeypatch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()
        try:
            return main(list(argv))
        finally:
            get_settings.cache_clear()
    return run


def test_a_backup_restored_into_a_fresh_database_holds_every_row_of_every_table(database_url, fresh_url, tmp_path,
                                                                                 cli, capsys):
    _fill(database_url)
    file = tmp_path / "endorse.backup"
    assert cli(database_url, "backup", str(file)) == 0
    assert cli(fresh_url, "restore", str(file)) == 0
    assert "restored" in capsys.readouterr().out
    original, restored = _every_row(database_url), _every_row(fresh_url)
    assert {"application", "audit_log", "outbox_message", "reference_request"} <= original.keys()
    assert len(original["audit_log"]) > 15 and original["outbox_message"]
    assert restored.keys() == original.keys()
    for table in original:
        assert restored[table] == original[table], table
    close_databases()


def test_a_backup_is_not_written_over_an_existing_file_unless_forced(database_url, tmp_path):
    file = tmp_path / "endorse.backup"
    file.write_text("yesterday's backup")
    with pytest.raises(BackupError, match=re.escape(f"{file}: already exists")):
        backup(database_url, file)
    assert file.read_text() == "yesterday's backup"
    backup(database_url, file, force=True)
    assert file.read_bytes()[:5] in (b"SQLit", b"PGDMP")


def test_a_restore_over_a_database_that_holds_rows_is_refused_unless_forced(database_url, tmp_path):
    _fill(database_url)
    file = tmp_path / "endorse.backup"
    backup(database_url, file)
    before = _every_row(database_url)
    with pytest.raises(BackupError, match="is not empty .* --force"):
        restore(database_url, file)
    assert _every_row(database_url) == before
    with transaction(default_session_factory(database_url)) as s:  # a change after the backup …
        save_document(s, load_document(PROJECT_ROOT / "tests" / "fixtures" / "imhs-ct-aimh.json"), actor="test")
    assert _every_row(database_url) != before
    restore(database_url, file, force=True)  # … is gone after a forced restore
    assert _every_row(database_url) == before
    close_databases()


@pytest.mark.parametrize("content", [b"", b"not a backup at all\n", b"SQLite format 3\x00" + b"\x00" * 200,
                                     b"PGDMP" + b"\x00" * 200], ids=["empty", "text", "broken-sqlite", "broken-dump"])
def test_a_file_that_is_not_a_backup_of_the_targets_kind_is_refused_naming_it(database_url, fresh_url, tmp_path,
                                                                             content, cli, capsys):
    file = tmp_path / "suspicious.backup"
    file.write_bytes(content)
    assert cli(fresh_url, "restore", str(file)) == 2
    assert str(file) in capsys.readouterr().err
    assert rows_in(fresh_url) == 0


def test_a_missing_backup_file_is_named(database_url, tmp_path, cli, capsys):
    assert cli(database_url, "restore", str(tmp_path / "nowhere.backup")) == 2
    assert f"{tmp_path / 'nowhere.backup'}: no such backup file" in capsys.readouterr().err


def test_a_restored_backup_of_the_current_schema_needs_no_migration(database_url, fresh_url, tmp_path):
    upgrade_database(fresh_url)  # a target already migrated (e.g. by `endorse up`) but empty
    _fill(database_url)
    file = tmp_path / "endorse.backup"
    backup(database_url, file)
    restore(fresh_url, file)
    assert _every_row(fresh_url) == _every_row(database_url)
    close_databases()
