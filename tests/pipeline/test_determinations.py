"""Coordinator determinations in the database: recorded (audited, one transaction), part of the document the
evaluator reads, and a requirement waiting on one moves when it is recorded and reconciled."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from endorse.db import transaction
from endorse.documents import parse_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import AuditLog, CoordinatorDetermination
from tasks import pipeline
from tasks.determinations import application_questions, record_determination
from tasks.evaluation import evaluate
from tasks.records import ensure_associations, load_documents, save_document

AS_OF = date(2026, 11, 22)
CFG = pipeline.PipelineConfig(library=default_library(), as_of=AS_OF, secret_key="k", actor="coordinator:c@example.org")
BASES = PROJECT_ROOT / "tests" / "rules" / "bases"


def _volunteer_ifa(**extra) -> dict:
    """004 · IFA note 3: two years of supervised volunteer work, no education: the coordinator decides."""
    raw = json.loads((BASES / "IFA.json").read_text())
    raw.update(id="DET-IFA-1", association="MI-AIMH", education=[])
    raw["work"][0].update(start_on="2022-09-01", end_on="2024-08-31", paid=False)
    raw.update(extra)
    return raw


def _load(sessions, raw: dict) -> str:
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        save_document(s, parse_document(json.dumps(raw), "test.json"), actor="test")
    pipeline.reconcile_one(sessions, raw["id"], CFG)
    return raw["id"]


def _status(sessions, app_id: str, req_id: str) -> str:
    with sessions() as s:
        doc = load_documents(s, [app_id])[app_id]
    return evaluate(doc, default_library(), AS_OF).status_of(req_id)


def test_a_requirement_waiting_on_a_determination_moves_when_it_is_recorded(sessions):
    app_id = _load(sessions, _volunteer_ifa())
    assert _status(sessions, app_id, "education") == "pending"
    with sessions() as s:
        from models import Application

        checklist = {r["id"]: r for r in s.get(Application, app_id).last_checklist}
        assert "ifa_volunteer_experience" in checklist["education"]["detail"]
        assert "note 3 on volunteer experience" in checklist["education"]["source"]
    record_determination(sessions, default_library(), app_id, question="ifa_volunteer_experience",
                         decided_by="coord@mi-aimh.example", decided_on=date(2026, 11, 20), accepted=True,
                         note="CASA volunteer, supervised, with CASA training", actor="coordinator:coord@mi-aimh.example")
    with sessions() as s:
        from models import Application

        assert s.get(Application, app_id).needs_reconcile is True
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "determination.recorded")).one()
        assert audit.application_id == app_id and audit.details["question"] == "ifa_volunteer_experience"
        assert audit.details["accepted"] is True and audit.details["requirement"] == "education"
    pipeline.reconcile_one(sessions, app_id, CFG)
    assert _status(sessions, app_id, "education") == "met"
    with sessions() as s:
        from models import Application

        checklist = {r["id"]: r for r in s.get(Application, app_id).last_checklist}
        assert checklist["education"]["status"] == "met"
        assert "accepted by coord@mi-aimh.example on 2026-11-20" in checklist["education"]["detail"]
        [q] = application_questions(s, default_library(), s.get(Application, app_id), AS_OF)
        assert q.key == "ifa_volunteer_experience" and q.latest["accepted"] is True
        assert q.source.startswith("004 · IFA")


def test_a_later_determination_answers_the_question_from_its_date(sessions):
    app_id = _load(sessions, _volunteer_ifa())
    for on, accepted in ((date(2026, 10, 1), False), (date(2026, 11, 1), True)):
        record_determination(sessions, default_library(), app_id, question="ifa_volunteer_experience",
                             decided_by="coord@mi-aimh.example", decided_on=on, accepted=accepted, note=None,
                             actor="coordinator:coord@mi-aimh.example")
    assert _status(sessions, app_id, "education") == "met"


@pytest.mark.parametrize("question,why", [
    ("rsc_provider_approved", "is not a question the MI-AIMH rules ask of IFA"),
    ("no_such_question", "is not a question"),
])
def test_a_question_the_rules_do_not_ask_is_refused_and_writes_nothing(sessions, question, why):
    app_id = _load(sessions, _volunteer_ifa())
    with pytest.raises(ValueError, match=why):
        record_determination(sessions, default_library(), app_id, question=question, decided_by="c@example.org",
                             decided_on=AS_OF, accepted=True, note=None, actor="coordinator:c@example.org")
    with sessions() as s:
        assert s.scalars(select(CoordinatorDetermination)).all() == []
        assert s.scalars(select(AuditLog).where(AuditLog.action == "determination.recorded")).all() == []


def test_the_same_determination_twice_is_refused(sessions):
    app_id = _load(sessions, _volunteer_ifa())
    kw = dict(question="ifa_volunteer_experience", decided_by="c@example.org", decided_on=AS_OF, accepted=True,
              note=None, actor="coordinator:c@example.org")
    record_determination(sessions, default_library(), app_id, **kw)
    with pytest.raises(ValueError, match="already recorded"):
        record_determination(sessions, default_library(), app_id, **kw)


def test_determinations_in_an_imported_document_are_kept_once_and_read_back(sessions):
    det = {"question": "ifa_volunteer_experience", "by": "coord@mi-aimh.example", "decided_on": "2026-09-01",
           "accepted": True, "note": "Child Life volunteer"}
    raw = _volunteer_ifa(determinations=[det])
    app_id = _load(sessions, raw)
    raw["submitted_on"] = "2026-06-02"  # a changed document, imported again
    _load(sessions, raw)
    with sessions() as s:
        assert len(s.scalars(select(CoordinatorDetermination)).all()) == 1
        doc = load_documents(s, [app_id])[app_id]
    [d] = doc.determinations
    assert (d.question, d.by, d.decided_on, d.accepted, d.note) == ("ifa_volunteer_experience", "coord@mi-aimh.example",
                                                                     date(2026, 9, 1), True, "Child Life volunteer")
    assert _status(sessions, app_id, "education") == "met"


def test_the_applicant_statement_and_paid_work_flag_survive_the_database(sessions):
    raw = json.loads((BASES / "IMHM-P.json").read_text())
    raw.update(id="DET-P-1", association="ORIMHA", memberships=[{"association": "ORIMHA", "expires_on": "2027-06-30"}])
    raw["applicant"]["no_supervisor_or_rsc_provider_available"] = True
    raw["references"][0]["role"] = "colleague"
    app_id = _load(sessions, raw)
    assert _status(sessions, app_id, "references") == "met"
    assert _status(sessions, app_id, "leadership") == "met"


def test_the_queue_lists_open_applications_waiting_on_an_unanswered_question(sessions):
    from tasks.determinations import awaited_determinations

    app_id = _load(sessions, _volunteer_ifa())
    with sessions() as s:
        [q] = awaited_determinations(s, default_library(), AS_OF, "MI-AIMH")
        assert (q.application_id, q.question, q.requirement) == (app_id, "ifa_volunteer_experience", "education")
        assert awaited_determinations(s, default_library(), AS_OF, "CT-AIMH") == []
    record_determination(sessions, default_library(), app_id, question="ifa_volunteer_experience",
                         decided_by="c@example.org", decided_on=AS_OF, accepted=False, note=None,
                         actor="coordinator:c@example.org")
    pipeline.reconcile_one(sessions, app_id, CFG)
    with sessions() as s:
        assert awaited_determinations(s, default_library(), AS_OF) == []
