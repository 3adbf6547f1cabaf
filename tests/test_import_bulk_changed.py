"""A changed document written set-based (issue 17) leaves the database as ``save_document`` does, file
for file: on random histories (documents imported, then ratings submitted, links issued, requests
cancelled, determinations recorded and exams retaken, then the documents changed in random ways and
imported again), the set-based import and the one-file-at-a-time path leave the same rows in every
table, with the same audit entries; and a re-import of what is there changes nothing."""

from __future__ import annotations

import copy
import json
import random
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.generate import applications
from endorse.db import transaction
from endorse.documents import ApplicationDocument
from endorse.rulebook import default_library
from models import (
    Application,
    AuditLog,
    CoordinatorDetermination,
    ExamAttempt,
    Person,
    Rating,
    ReferenceRequest,
)
from tasks.intake import importing
from tasks.intake.records import ensure_associations, save_document

from .test_import_bulk import _snapshot, other_sessions  # noqa: F401 - the fixture is used by name

AT = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


def _docs(raw: list[dict]) -> list[tuple[Path, ApplicationDocument]]:
    return [(Path(f"{d['id']}.json"), ApplicationDocument.model_validate_json(json.dumps(d))) for d in raw]


def _life(sessions, rng: random.Random) -> None:
    """What happens to the applications between two imports, the same in both databases (the choices
    are made from a seeded generator over rows in a fixed order)."""
    with transaction(sessions) as s:
        requests = list(s.scalars(select(ReferenceRequest).order_by(ReferenceRequest.application_id,
                                                                    ReferenceRequest.position)))
        for req in requests:
            roll = rng.random()
            if roll < 0.2:  # the rater answered here: a live rating the document cannot overwrite
                s.add(Rating(reference_request_id=req.id, submitted_at=AT, recommendation="recommend",
                             attested=True))
                req.status = "submitted"
            elif roll < 0.3:  # a coordinator replaced the rater
                req.status, req.cancelled_reason = "cancelled", "replaced by the coordinator"
            elif roll < 0.45:  # a link went out
                req.token_hash, req.token_generation = f"{req.application_id}-{req.position}", 1
        for app_id in s.scalars(select(Application.id).order_by(Application.id)):
            roll = rng.random()
            if roll < 0.2:
                s.add(CoordinatorDetermination(application_id=app_id, question="ifa_volunteer_experience",
                                               decided_by="coordinator@ct-aimh.example.org",
                                               decided_on=date(2026, 10, 2), accepted=True, recorded_by="coordinator"))
            elif roll < 0.3:
                s.add(ExamAttempt(application_id=app_id, attempt_number=2, candidate_code=f"R{app_id[-6:]}"))


def _changed(raw: list[dict], rng: random.Random) -> list[dict]:
    """Each document changed in one or more random ways (some left as they were)."""
    out = []
    for d in raw:
        d = copy.deepcopy(d)
        for _ in range(rng.randint(0, 3)):
            kind = rng.choice(["training", "drop_ref", "new_ref", "ref_status", "vetted", "exam", "no_exam",
                               "name", "education", "determination", "membership", "role"])
            refs = d.get("references", [])
            if kind == "training":
                d.setdefault("training", []).append({"title": "Reflective practice", "hours": rng.choice([3, 12.5]),
                                                     "completed_on": "2026-01-10", "topics": ["dei"]})
            elif kind == "drop_ref" and refs:
                refs.pop(rng.randrange(len(refs)))
            elif kind == "new_ref":
                refs.append({"rater": {"name": "New Rater", "email": f"new-{rng.randrange(5)}@example.org"},
                             "role": "colleague", "status": "requested"})
            elif kind == "ref_status" and refs:
                refs[rng.randrange(len(refs))].update(status="submitted", submitted_on="2026-10-20",
                                                      recommendation="recommend")
            elif kind == "vetted" and refs:
                refs[rng.randrange(len(refs))]["rater"]["vetted_on"] = "2026-09-09"
            elif kind == "exam":
                d["exam"] = {"multiple_choice_percent": rng.choice([64, 81.5]), "essay_result": "pass",
                             "taken_on": "2026-10-01"}
            elif kind == "no_exam":
                d.pop("exam", None)
            elif kind == "name":
                d["applicant"]["name"] = d["applicant"]["name"] + " Jr."
            elif kind == "education":
                d["education"] = [{"institution": "Other U", "credential": "masters", "degree": "MSW",
                                   "conferred_on": "2020-05-01",
                                   "transcript": {"official": True, "received_on": "2026-09-30"}}]
            elif kind == "determination":
                d["determinations"] = [{"question": "ifa_volunteer_experience", "by": "coordinator@ct-aimh.example.org",
                                        "decided_on": "2026-10-02", "accepted": True}]
            elif kind == "membership":
                d["memberships"] = []
            elif kind == "role" and refs:
                refs[rng.randrange(len(refs))]["role"] = "trainer"
        out.append(d)
    return out


def _natural(sessions, snapshot: dict[str, list]) -> dict[str, list]:
    """The audit entries of requests name them by (application, position, rater), not by row id."""
    with sessions() as s:
        names = {str(i): f"{a}#{p}/{r}" for i, a, p, r in s.execute(
            select(ReferenceRequest.id, ReferenceRequest.application_id, ReferenceRequest.position,
                   ReferenceRequest.rater_id))}
        people = dict(s.execute(select(Person.id, Person.email_normalized)).all())
        names = {k: v.rsplit("/", 1)[0] + "/" + people[int(v.rsplit("/", 1)[1])] for k, v in names.items()}
        entries = sorted(repr((e.action, names.get(e.entity_id, e.entity_id) if e.entity_type == "reference_request"
                               else e.entity_id, e.application_id, e.details))
                         for e in s.scalars(select(AuditLog)))
    return {**snapshot, "audit_log": entries}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_changed_same_as_one_by_one(seed, database_url, sessions,
                                    other_sessions):  # noqa: F811 - set-based path = saving each file
    rng = random.Random(seed)
    first = applications(30, seed=seed)
    with transaction(other_sessions) as s:
        ensure_associations(s, default_library())
    importing.import_documents(_docs(first), actor="test", database_url=database_url)
    for path, doc in _docs(first):
        with transaction(other_sessions) as s:
            save_document(s, doc, actor="test", source_name=path.name)
    life = rng.getstate()
    for db in (sessions, other_sessions):
        rng.setstate(life)
        _life(db, rng)
    second = _docs(_changed(first, rng))

    lines = importing.import_documents(second, actor="test", database_url=database_url)
    one_by_one = []
    for path, doc in second:
        with transaction(other_sessions) as s:
            one_by_one.append(save_document(s, doc, actor="test", source_name=path.name).outcome)
    assert [line.split()[0] for line in lines] == one_by_one
    assert "updated" in one_by_one

    bulk, exact = _natural(sessions, _snapshot(sessions)), _natural(other_sessions, _snapshot(other_sessions))
    for table in exact:
        assert bulk[table] == exact[table], table
    with sessions() as s:  # each application moved one version per change, as through the ORM
        versions = dict(s.execute(select(Application.id, Application.version_id)).all())
    with other_sessions() as s:
        assert versions == dict(s.execute(select(Application.id, Application.version_id)).all())

    again = importing.import_documents(second, actor="test", database_url=database_url)
    assert {line.split()[0] for line in again} == {"unchanged"}
    assert _natural(sessions, _snapshot(sessions)) == bulk


def test_a_request_the_changed_document_no_longer_names_is_cancelled_with_its_link_and_audited(
        database_url, sessions):
    raw = applications(1, seed=5)
    raw[0]["references"][0] = {"rater": raw[0]["references"][0]["rater"], "role": "current_supervisor",
                               "status": "requested"}  # still waiting for the rater
    importing.import_documents(_docs(raw), actor="test", database_url=database_url)
    app_id = raw[0]["id"]
    with transaction(sessions) as s:  # every rater has a live link
        for req in s.scalars(select(ReferenceRequest).where(ReferenceRequest.application_id == app_id)):
            req.token_hash = f"t{req.id}"
    dropped = raw[0]["references"].pop(0)
    (line,) = importing.import_documents(_docs(raw), actor="test", database_url=database_url)
    assert line.startswith("updated")
    with sessions() as s:
        req = s.scalars(select(ReferenceRequest).join(Person, Person.id == ReferenceRequest.rater_id)
                        .where(ReferenceRequest.application_id == app_id,
                               Person.email_normalized == dropped["rater"]["email"].casefold())).one()
        assert (req.status, req.token_hash, req.cancelled_reason) == ("cancelled", None,
                                                                       "no longer in the application document")
        assert s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "reference.cancelled", AuditLog.entity_id == str(req.id))) == 1
        assert s.get(Application, app_id).needs_reconcile
