"""`endorse import` of many files (issue 17): files share transactions, yet each file is still all or
nothing, the files before a failing one are kept, every file is audited, and a terminal shows a bar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bench.generate import applications
from endorse.documents import ApplicationDocument
from models import Application, AuditLog, TrainingRecord
from tasks.intake import importing


def _docs(n: int) -> list[tuple[Path, ApplicationDocument]]:
    return [(Path(f"{d['id']}.json"), ApplicationDocument.model_validate_json(json.dumps(d)))
            for d in applications(n, seed=7)]


def test_many_files_are_imported_and_audited_one_by_one_with_progress(database_url, sessions, monkeypatch):
    monkeypatch.setattr(importing, "FILES_PER_TRANSACTION", 4)
    seen = []
    lines = importing.import_documents(_docs(10), actor="test", database_url=database_url,
                                       progress=lambda done, total: seen.append((done, total)))
    assert [line.split()[0] for line in lines] == ["created"] * 10
    assert seen == [(4, 10), (8, 10), (10, 10)]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Application)) == 10
        assert s.scalar(select(func.count()).where(AuditLog.action == "application.imported")) == 10


def test_a_file_that_fails_mid_transaction_leaves_nothing_and_keeps_the_files_before(database_url, sessions,
                                                                                    monkeypatch):
    monkeypatch.setattr(importing, "FILES_PER_TRANSACTION", 4)
    docs = _docs(7)
    bad = docs[5][1].id
    real = importing.save_document
    bulk = importing.insert_new_applications

    def refused(s, items, *args, **kw):  # the database refuses the batch holding the bad file…
        if any(item.doc.id == bad for item in items):
            raise OperationalError("INSERT", {}, Exception("database gone mid-file"))
        return bulk(s, items, *args, **kw)

    def failing(s, doc, **kw):  # …and the bad file again when it is written alone
        out = real(s, doc, **kw)  # its rows are written, then the database fails
        if doc.id == bad:
            raise RuntimeError("database gone mid-file")
        return out

    monkeypatch.setattr(importing, "insert_new_applications", refused)
    monkeypatch.setattr(importing, "save_document", failing)
    with pytest.raises(RuntimeError, match="mid-file"):
        importing.import_documents(docs, actor="test", database_url=database_url)
    with sessions() as s:
        assert sorted(s.scalars(select(Application.id))) == sorted(d.id for _, d in docs[:5])
        assert s.scalar(select(func.count()).where(TrainingRecord.application_id == bad)) == 0
        assert s.scalar(select(func.count()).where(AuditLog.application_id == bad)) == 0
    monkeypatch.setattr(importing, "save_document", real)
    monkeypatch.setattr(importing, "insert_new_applications", bulk)
    lines = importing.import_documents(docs, actor="test", database_url=database_url)  # re-run: idempotent
    assert [line.split()[0] for line in lines] == ["unchanged"] * 5 + ["created"] * 2
