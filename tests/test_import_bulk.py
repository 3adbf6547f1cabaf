"""The set-based import (issue 17) writes exactly what ``save_document`` writes, file for file: the same
rows in every table, the same people (each made once, with the name and home association of the first
file naming them, never overwritten by a later file: what a document says about a known person is a
claim on its application), one audit entry per application, and nothing twice on a re-import."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bench.generate import applications
from endorse.db import make_engine, session_factory, transaction, upgrade_database
from endorse.documents import ApplicationDocument, load_document
from endorse.rulebook import default_library
from models import (
    Application,
    ApplicationDocumentRow,
    AuditLog,
    CoordinatorDetermination,
    EducationRecord,
    ExamAttempt,
    LeadershipActivity,
    Membership,
    Person,
    RaterVetting,
    ReferenceRequest,
    RscRecord,
    TrainingRecord,
    Transcript,
    WorkRecord,
)
from tasks.intake import importing
from tasks.intake.records import ensure_associations, save_document

from .documents import EXAMPLE_PATH, cohort_paths

# Set by the database when the row is written: not part of what a document says.
_WHEN = {"id", "at", "created_at", "updated_at", "stage_entered_at", "requested_at", "recorded_at", "imported_at"}
_TABLES = [Application, Membership, EducationRecord, Transcript, TrainingRecord, WorkRecord, LeadershipActivity,
           RscRecord, ReferenceRequest, RaterVetting, ExamAttempt, CoordinatorDetermination, ApplicationDocumentRow,
           AuditLog, Person]


def _documents() -> list[tuple[Path, ApplicationDocument]]:
    paths = [EXAMPLE_PATH, *cohort_paths()]
    docs = [(p, load_document(p)) for p in paths]
    generated = applications(40, seed=11)
    # The same determination twice in one document is recorded once; a vetted rater gets a vetting row.
    generated[0]["determinations"] = [{"question": q, "by": "coordinator@ct-aimh.example.org",
                                       "decided_on": "2026-10-01", "accepted": True}
                                      for q in ["ifa_volunteer_experience"] * 2]
    generated[1]["references"][0]["rater"]["vetted_on"] = "2026-09-09"
    # A person named differently by a later file keeps the first file's name (the later one is a claim).
    generated[3]["references"][0]["rater"] = {**generated[2]["references"][0]["rater"], "name": "Someone Else"}
    docs += [(Path(f"{d['id']}.json"), ApplicationDocument.model_validate_json(json.dumps(d))) for d in generated]
    return docs


def _snapshot(sessions) -> dict[str, list]:
    """Every row of every table an import writes, ids replaced by what they stand for."""
    with sessions() as s:
        person = dict(s.execute(select(Person.id, Person.email_normalized)).all())
        education = {i: (a, p) for i, a, p in s.execute(select(EducationRecord.id, EducationRecord.application_id,
                                                               EducationRecord.position))}
        request = {i: (a, p) for i, a, p in s.execute(select(ReferenceRequest.id, ReferenceRequest.application_id,
                                                             ReferenceRequest.position))}
        natural = {"applicant_id": person, "provider_id": person, "rater_id": person,
                   "education_record_id": education, "reference_request_id": request}
        out = {}
        for model in _TABLES:
            rows = []
            for row in s.execute(select(model.__table__)).mappings():
                rows.append(repr(sorted((k, natural[k][v] if k in natural else v)
                                        for k, v in row.items() if k not in _WHEN)))
            out[model.__tablename__] = sorted(rows)
        return out


@pytest.fixture
def other_sessions(database_url, tmp_path, request):
    """A second empty database of the same kind, for the one-file-at-a-time import to compare with."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'one-by-one.sqlite3'}"
    else:
        from tests.pg_cluster import create_database

        url = create_database(request.getfixturevalue("postgres_cluster_url"), f"t_bulk_other_{os.getpid()}")
    upgrade_database(url)
    engine = make_engine(url)
    yield session_factory(engine)
    engine.dispose()


def test_the_bulk_import_writes_the_same_rows_as_saving_each_file(database_url, sessions, other_sessions):
    docs = _documents()
    lines = importing.import_documents(docs, actor="test", database_url=database_url)
    assert [line.split()[0] for line in lines] == ["created"] * len(docs)
    with transaction(other_sessions) as s:
        ensure_associations(s, default_library())
    for path, doc in docs:
        with transaction(other_sessions) as s:
            save_document(s, doc, actor="test", source_name=path.name)
    bulk, one_by_one = _snapshot(sessions), _snapshot(other_sessions)
    for table in bulk:
        assert bulk[table] == one_by_one[table], table
    with sessions() as s:
        assert s.scalar(select(Person.name).where(Person.email_normalized == "rater2-0@example.org")) == "Rater 2-0"
        assert s.scalar(select(func.count()).select_from(RaterVetting)) >= 1


def test_a_re_import_is_unchanged_and_a_changed_file_is_updated_in_the_same_batch(database_url, sessions):
    docs = _documents()[:12]
    importing.import_documents(docs, actor="test", database_url=database_url)
    before = _snapshot(sessions)
    assert [line.split()[0] for line in importing.import_documents(docs, actor="test", database_url=database_url)] \
        == ["unchanged"] * 12
    assert _snapshot(sessions) == before
    raw = json.loads(docs[5][1].model_dump_json())
    raw["training"].append({"title": "Reflective practice", "hours": 30, "completed_on": "2026-01-10"})
    changed = (Path("changed.json"), ApplicationDocument.model_validate_json(json.dumps(raw)))
    new = _documents()[12:14]
    lines = importing.import_documents(docs[:3] + [changed] + new, actor="test", database_url=database_url)
    assert [line.split()[0] for line in lines] == ["unchanged"] * 3 + ["updated", "created", "created"]
    with sessions() as s:
        actions = s.scalars(select(AuditLog.action).where(AuditLog.application_id == docs[5][1].id)
                            .order_by(AuditLog.id)).all()
    assert actions == ["application.imported", "application.updated"]


def test_the_same_id_twice_in_one_import_is_created_then_updated(database_url, sessions):
    first = _documents()[20]
    raw = json.loads(first[1].model_dump_json())
    raw["submitted_on"] = "2026-11-01"
    again = (Path("again.json"), ApplicationDocument.model_validate_json(json.dumps(raw)))
    lines = importing.import_documents([first, again], actor="test", database_url=database_url)
    assert [line.split()[0] for line in lines] == ["created", "updated"]
    with sessions() as s:
        assert str(s.get(Application, first[1].id).submitted_on) == "2026-11-01"
        assert s.scalar(select(func.count()).where(AuditLog.application_id == first[1].id)) == 2


def test_a_batch_the_database_refuses_is_written_file_by_file(database_url, sessions, monkeypatch):
    """The batch's INSERTs fail (here: made to); written again one file at a time, all of it goes in."""
    def refused(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(importing, "insert_new_applications", refused)
    docs = _documents()[:5]
    lines = importing.import_documents(docs, actor="test", database_url=database_url)
    assert [line.split()[0] for line in lines] == ["created"] * 5
    with sessions() as s:
        assert s.scalar(select(func.count()).where(AuditLog.action == "application.imported")) == 5


def test_a_mistake_in_the_bulk_path_is_not_hidden_by_the_file_by_file_path(database_url, monkeypatch):
    def broken(*args, **kwargs):
        raise TypeError("a bug, not the database")

    monkeypatch.setattr(importing, "insert_new_applications", broken)
    with pytest.raises(TypeError, match="a bug"):
        importing.import_documents(_documents()[:2], actor="test", database_url=database_url)
