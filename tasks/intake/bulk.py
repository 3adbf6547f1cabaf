"""Many new applications written at once: the set-based path of `endorse import` (issue 17).

``save_document`` writes one document through the ORM (a handful of round trips per row); a state-wide
intake of 10,000 files spent minutes there. Here a whole batch of documents becomes one multi-row
INSERT per table. It writes exactly the rows ``save_document`` writes for a document it has never
seen (the tests compare the two), so only new applications come this way: a changed document, or a
second file with an id already in the batch, still goes through ``save_document``, which reconciles
what the database already holds (live ratings, cancelled requests, determinations kept as history).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from endorse.documents import ApplicationDocument
from models import (
    Application,
    ApplicationDocumentRow,
    AuditLog,
    CoordinatorDetermination,
    EducationRecord,
    ExamAttempt,
    LeadershipActivity,
    Person,
    RaterVetting,
    ReferenceRequest,
    RscRecord,
    TrainingRecord,
    Transcript,
    WorkRecord,
)
from models import Membership as MembershipRow

# Bound parameters per IN (...) list: well under SQLite's and PostgreSQL's limits.
_IN_CHUNK = 2000


@dataclass(frozen=True)
class Prepared:
    """A document with what every path needs of it computed once: its digest and its JSON body."""

    source_name: str
    doc: ApplicationDocument
    digest: str
    body: dict


def prepare(source_name: str, doc: ApplicationDocument) -> Prepared:
    raw = doc.model_dump_json().encode()  # the digest and the stored body come from the same serialisation
    # orjson: the same objects as json.loads gives, several times faster (a sixth of the import's CPU was here).
    return Prepared(source_name, doc, hashlib.sha256(raw).hexdigest(), orjson.loads(raw))


def stored_digests(session: Session, ids: list[str]) -> dict[str, str | None]:
    """Application id → the digest of its last imported document, for those already in the database."""
    out: dict[str, str | None] = {}
    for i in range(0, len(ids), _IN_CHUNK):
        chunk = ids[i:i + _IN_CHUNK]
        out.update(session.execute(select(Application.id, Application.document_digest)
                                   .where(Application.id.in_(chunk))).all())
    return out


def people_named(doc: ApplicationDocument) -> list[tuple[str, str, str | None]]:
    """(name, email, home association if made now) of everyone a document names, in the order
    ``save_document`` meets them: the applicant, the RS/C providers, the raters."""
    return ([(doc.applicant.name, doc.applicant.email, doc.association)]
            + [(r.provider.name, r.provider.email, None) for r in doc.rsc]
            + [(r.rater.name, r.rater.email, None) for r in doc.references])


def ensure_people(session: Session, docs: list[ApplicationDocument]) -> dict[str, int]:
    """Normalised email → person id for everyone the documents name; those not yet known are made,
    each with the name and home association of the first document (in order) that names them.

    Only new people are written: what a document says about a known person stays a claim on its
    application (``person_for``)."""
    first_seen: dict[str, tuple[str, str, str | None]] = {}
    for doc in docs:
        for name, email, home in people_named(doc):
            first_seen.setdefault(email.strip().casefold(), (name, email.strip(), home))
    keys = list(first_seen)
    ids: dict[str, int] = {}
    for i in range(0, len(keys), _IN_CHUNK):
        ids.update(session.execute(select(Person.email_normalized, Person.id)
                                   .where(Person.email_normalized.in_(keys[i:i + _IN_CHUNK]))).all())
    new = [k for k in keys if k not in ids]
    if new:
        _insert(session, Person, [{"name": first_seen[k][0], "email": first_seen[k][1], "email_normalized": k,
                                   "home_association": first_seen[k][2]} for k in new])
        for i in range(0, len(new), _IN_CHUNK):
            ids.update(session.execute(select(Person.email_normalized, Person.id)
                                       .where(Person.email_normalized.in_(new[i:i + _IN_CHUNK]))).all())
    return ids


def _dec(x: float | None) -> Decimal | None:
    return None if x is None else Decimal(str(x))


def insert_new_applications(session: Session, items: list[Prepared], people: dict[str, int], *, actor: str) -> None:
    """Write every row of these documents, none of which the database holds yet: one INSERT per
    table for the whole list, and one audit entry per application (``application.imported``)."""
    if not items:
        return

    def person(email: str) -> int:
        return people[email.strip().casefold()]

    apps, members, education, training, work, leadership, rsc, refs = [], [], [], [], [], [], [], []
    exams, determinations, bodies, audit = [], [], [], []
    transcripts_of: list[tuple[int, dict]] = []  # (index into education, its transcript row)
    vetting_of: list[tuple[int, dict]] = []  # (index into refs, its vetting row)
    for item in items:
        doc, app_id = item.doc, item.doc.id
        apps.append({"id": app_id, "association_code": doc.association, "category": doc.category,
                     "applicant_id": person(doc.applicant.email), "applicant_name": doc.applicant.name,
                     "applicant_endorsement_declared": doc.applicant.endorsement,
                     "applicant_is_supervisor": doc.applicant.is_supervisor,
                     "no_supervisor_or_rsc_provider_available": doc.applicant.no_supervisor_or_rsc_provider_available,
                     "stage": "submitted", "submitted_on": doc.submitted_on,
                     "code_of_ethics_signed_on": doc.agreements.code_of_ethics_signed_on,
                     "endorsement_agreement_signed_on": doc.agreements.endorsement_agreement_signed_on,
                     "document_digest": item.digest, "needs_reconcile": True, "decision_requested": False,
                     "version_id": 1})
        members += [{"application_id": app_id, "association": m.association, "expires_on": m.expires_on}
                    for m in doc.memberships]
        for i, e in enumerate(doc.education):
            if e.transcript is not None:
                transcripts_of.append((len(education), {
                    "official": e.transcript.official, "received_on": e.transcript.received_on,
                    "recorded_by": "import" if e.transcript.received_on else None}))
            education.append({"application_id": app_id, "position": i, "institution": e.institution,
                              "credential": e.credential, "degree": e.degree, "conferred_on": e.conferred_on})
        training += [{"application_id": app_id, "position": i, "title": t.title, "hours": _dec(t.hours),
                      "completed_on": t.completed_on, "topics": list(t.topics)} for i, t in enumerate(doc.training)]
        work += [{"application_id": app_id, "position": i, "employer": w.employer, "role": w.role, "kind": w.kind,
                  "start_on": w.start_on, "end_on": w.end_on, "paid": w.paid, "after": w.after,
                  "families_served": w.families_served, "supervisor_endorsement": w.supervisor_endorsement}
                 for i, w in enumerate(doc.work)]
        leadership += [{"application_id": app_id, "position": i, "description": a.description, "level": a.level,
                        "start_on": a.start_on, "end_on": a.end_on, "part_of_paid_work": a.part_of_paid_work}
                       for i, a in enumerate(doc.leadership_activities)]
        rsc += [{"application_id": app_id, "position": i, "provider_id": person(r.provider.email),
                 "provider_name": r.provider.name, "provider_endorsement": r.provider.endorsement,
                 "hours": _dec(r.hours), "start_on": r.start_on, "end_on": r.end_on, "format": r.format,
                 "after": r.after, "about_providing_rsc_hours": _dec(r.about_providing_rsc_hours)}
                for i, r in enumerate(doc.rsc)]
        for i, ref in enumerate(doc.references):
            if ref.rater.vetted_on is not None:
                vetting_of.append((len(refs), {"coordinator": "import", "vetted_on": ref.rater.vetted_on,
                                               "decision": "accepted",
                                               "note": "vetting recorded in the imported document"}))
            refs.append({"application_id": app_id, "position": i, "rater_id": person(ref.rater.email),
                         "role": ref.role, "rater_name": ref.rater.name, "waived_access": ref.waived_access,
                         "rater_endorsement_claimed": ref.rater.endorsement, "status": ref.status,
                         "imported_submitted_on": ref.submitted_on,
                         "imported_insufficient_count": ref.insufficient_information_count,
                         "imported_recommendation": ref.recommendation})
        if doc.exam is not None:
            exams.append({"application_id": app_id, "attempt_number": 1,
                          "candidate_code": "C" + hashlib.sha256(app_id.encode()).hexdigest()[:8].upper(),
                          "multiple_choice_percent": _dec(doc.exam.multiple_choice_percent),
                          "essay_result": doc.exam.essay_result, "taken_on": doc.exam.taken_on})
        seen = set()  # a determination the document repeats is recorded once, as save_document does
        for d in doc.determinations:
            if (d.question, d.decided_on, d.by) not in seen:
                seen.add((d.question, d.decided_on, d.by))
                determinations.append({"application_id": app_id, "question": d.question, "decided_by": d.by,
                                       "decided_on": d.decided_on, "accepted": d.accepted, "note": d.note,
                                       "recorded_by": "import"})
        bodies.append({"application_id": app_id, "body": item.body})
        audit.append({"actor": actor, "action": "application.imported", "entity_type": "application",
                      "entity_id": app_id, "application_id": app_id,
                      "details": {"digest": item.digest, "source": item.source_name}})

    _insert(session, Application, apps)
    for model, rows in ((MembershipRow, members), (TrainingRecord, training), (WorkRecord, work),
                        (LeadershipActivity, leadership), (RscRecord, rsc), (ExamAttempt, exams),
                        (CoordinatorDetermination, determinations), (ApplicationDocumentRow, bodies),
                        (AuditLog, audit)):
        _insert(session, model, rows)
    app_ids = [a["id"] for a in apps]
    if education:
        ids = _inserted_ids(session, EducationRecord, education, app_ids)
        _insert(session, Transcript, [{**row, "education_record_id": ids[i]} for i, row in transcripts_of])
    if refs:
        ids = _inserted_ids(session, ReferenceRequest, refs, app_ids)
        _insert(session, RaterVetting, [{**row, "reference_request_id": ids[i]} for i, row in vetting_of])


def _insert(session: Session, model, rows: list[dict]) -> None:
    """One executemany of a plain Core INSERT: no ORM bookkeeping, no RETURNING (which SQLite's
    driver answers a row at a time), the columns' defaults applied as in ``session.add``."""
    if rows:
        session.connection().execute(model.__table__.insert(), rows)


def _inserted_ids(session: Session, model, rows: list[dict], app_ids: list[str]) -> list[int]:
    """Insert rows keyed by (application_id, position) and return their new ids in the order of ``rows``."""
    _insert(session, model, rows)
    ids: dict[tuple[str, int], int] = {}
    for i in range(0, len(app_ids), _IN_CHUNK):
        ids.update(((a, p), id_) for a, p, id_ in session.execute(
            select(model.application_id, model.position, model.id).where(model.application_id.in_(app_ids[i:i + _IN_CHUNK]))))
    return [ids[(r["application_id"], r["position"])] for r in rows]
