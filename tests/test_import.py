"""`endorse import`: all or nothing per file, idempotent, and the database gives back what was imported."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from endorse.db import make_engine, session_factory, transaction
from endorse.documents import load_document, parse_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import Application, AuditLog, Person, ReferenceRequest, TrainingRecord
from tasks.evaluation import evaluate
from tasks.importing import import_documents
from tasks.records import load_documents

from .documents import EXAMPLE_PATH, INVALID_DOCUMENTS, cohort_paths

AS_OF = date(2026, 11, 22)


def _docs(paths):
    return [(Path(p), load_document(p)) for p in paths]


def _count(sessions, model) -> int:
    with transaction(sessions) as s:
        return s.scalar(select(func.count()).select_from(model))


def test_importing_the_same_document_twice_never_duplicates(database_url, sessions):
    assert import_documents(_docs([EXAMPLE_PATH]), actor="test", database_url=database_url)[0].startswith("created")
    assert import_documents(_docs([EXAMPLE_PATH]), actor="test", database_url=database_url)[0].startswith("unchanged")
    assert _count(sessions, Application) == 1
    assert _count(sessions, ReferenceRequest) == 3
    assert _count(sessions, Person) == 4  # applicant + three raters (Dana is also the RS/C provider)


def test_importing_a_changed_document_updates_it_and_audits(database_url, sessions, tmp_path):
    import_documents(_docs([EXAMPLE_PATH]), actor="test", database_url=database_url)
    doc = json.loads(EXAMPLE_PATH.read_text())
    doc["training"].append({"title": "Reflective practice", "hours": 30, "completed_on": "2026-01-10"})
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(doc))
    assert import_documents(_docs([changed]), actor="test", database_url=database_url)[0].startswith("updated")
    assert _count(sessions, TrainingRecord) == 3
    with transaction(sessions) as s:
        actions = s.scalars(select(AuditLog.action).where(AuditLog.entity_type == "application")
                            .order_by(AuditLog.id)).all()
    assert actions == ["application.imported", "application.updated"]


def test_the_database_gives_back_the_same_checklist_as_the_file(database_url, sessions):
    paths = [EXAMPLE_PATH, *cohort_paths(), *sorted((PROJECT_ROOT / "tests/rules/bases").glob("*.json"))]
    import_documents(_docs(paths), actor="test", database_url=database_url)
    library = default_library()
    with transaction(sessions) as s:
        from_db = load_documents(s, [load_document(p).id for p in paths])
    for p in paths:
        doc = load_document(p)
        assert evaluate(from_db[doc.id], library, AS_OF).to_dict() == evaluate(doc, library, AS_OF).to_dict(), p.name


@pytest.mark.parametrize("kind,raw,field", INVALID_DOCUMENTS, ids=[i[0] for i in INVALID_DOCUMENTS])
def test_invalid_document_is_refused_by_import_and_nothing_is_written(tmp_path, kind, raw, field):
    data_dir = tmp_path / "var"
    bad = tmp_path / "bad-application.json"
    bad.write_bytes(raw)
    good = tmp_path / "good.json"
    good.write_text(EXAMPLE_PATH.read_text())
    out = subprocess.run([sys.executable, "-m", "endorse.cli", "import", str(tmp_path)], capture_output=True,
                         text=True, cwd=PROJECT_ROOT, env={**__import__("os").environ, "ENDORSE_DATA_DIR": str(data_dir)})
    assert out.returncode == 2, out.stderr
    assert "bad-application.json" in out.stderr and field in out.stderr
    assert not (data_dir / "endorse.sqlite3").exists()  # not even an empty database


def test_import_from_the_command_line_reports_each_file(tmp_path):
    env = {**__import__("os").environ, "ENDORSE_DATA_DIR": str(tmp_path / "var")}
    out = subprocess.run([sys.executable, "-m", "endorse.cli", "import", str(EXAMPLE_PATH)], capture_output=True,
                         text=True, cwd=PROJECT_ROOT, env=env)
    assert out.returncode == 0, out.stderr
    assert "created   CT-2026-014" in out.stdout
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'endorse.sqlite3'}")
    with transaction(session_factory(engine)) as s:
        assert s.get(Application, "CT-2026-014").stage == "submitted"
    engine.dispose()


def test_parse_then_save_keeps_waivers(database_url, sessions):
    import_documents(_docs([EXAMPLE_PATH]), actor="test", database_url=database_url)
    with transaction(sessions) as s:
        waived = dict(s.execute(select(ReferenceRequest.role, ReferenceRequest.waived_access)).all())
    assert waived == {"current_supervisor": True, "rsc_provider": True, "colleague": False}
    assert parse_document(EXAMPLE_PATH.read_bytes()).references[2].waived_access is False
