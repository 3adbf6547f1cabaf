"""A person endorsed again in a category they once held (a new application after a lapse past the
reinstatement window) is granted it anew: one credential per person and category, its history in
the audit log, never a database error that stops the sweep."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select

from endorse.db import transaction
from endorse.documents import parse_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import Application, AuditLog, Endorsement
from tasks.pipeline import reconcile as pipeline
from tasks.intake.records import ensure_associations, save_document

FIRST = PROJECT_ROOT / "cohort" / "ct-aimh-ifs-eligible-01.json"


def _reconcile(sessions, app_id: str, as_of: date):
    cfg = pipeline.PipelineConfig(library=default_library(), as_of=as_of, secret_key="k", actor="system:test")
    return pipeline.reconcile_one(sessions, app_id, cfg)


def test_endorsed_again_after_a_lapse_grants_the_same_credential_anew_and_audits_what_it_was(sessions):
    doc = json.loads(FIRST.read_text())
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        save_document(s, parse_document(json.dumps(doc), str(FIRST)), actor="test")
    _reconcile(sessions, doc["id"], date(2026, 11, 22))
    with transaction(sessions) as s:
        first = s.scalars(select(Endorsement).where(Endorsement.origin == "granted")).one()
        first_number = first.number
        first.status = "lapsed"  # the renewal was missed and the reinstatement window has passed

    again = {**doc, "id": doc["id"] + "-AGAIN"}
    with transaction(sessions) as s:
        save_document(s, parse_document(json.dumps(again), "again.json"), actor="test")
    out = _reconcile(sessions, again["id"], date(2026, 11, 23))
    assert out.transitions[-1].to_stage == "endorsed"

    with transaction(sessions) as s:
        (e,) = s.scalars(select(Endorsement).where(Endorsement.origin == "granted")).all()
        assert (e.status, e.application_id, e.granted_on) == ("active", again["id"], date(2026, 11, 23))
        assert e.number != first_number and e.renewal_due_on == date(2027, 11, 23)
        grants = s.scalars(select(AuditLog).where(AuditLog.action == "person.endorsement_granted",
                                                  AuditLog.application_id == again["id"])).all()
        assert grants and all(g.details["previous"]["number"] == first_number and
                              g.details["previous"]["status"] == "lapsed" for g in grants)
        assert s.get(Application, doc["id"]).stage == "endorsed"  # the first application's decision stands
