"""Many new applications written at once: the set-based path of `endorse import` (issue 17).

``save_document`` writes one document through the ORM (a handful of round trips per row); a state-wide
intake of 10,000 files spent minutes there. Here a whole batch of documents becomes one multi-row
INSERT per table. It writes exactly the rows ``save_document`` writes for a document it has never
seen (the tests compare the two). A changed document is merged with what the database already holds
(live ratings, cancelled requests, determinations kept as history) the way ``save_document`` does,
also set-based (``update_changed_applications``); only a second file with an id already in the
batch goes through ``save_document``, after the first.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

import orjson
from sqlalchemy import bindparam, delete, select
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
    Rating,
    RaterVetting,
    ReferenceRequest,
    RscRecord,
    TrainingRecord,
    Transcript,
    WorkRecord,
    utcnow,
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


def _application_columns(item: Prepared, person) -> dict:
    """The columns of the application row a document sets (``save_document`` sets the same ones)."""
    doc = item.doc
    return {"association_code": doc.association, "category": doc.category,
            "applicant_id": person(doc.applicant.email), "applicant_name": doc.applicant.name,
            "applicant_endorsement_declared": doc.applicant.endorsement,
            "applicant_is_supervisor": doc.applicant.is_supervisor,
            "no_supervisor_or_rsc_provider_available": doc.applicant.no_supervisor_or_rsc_provider_available,
            "submitted_on": doc.submitted_on,
            "code_of_ethics_signed_on": doc.agreements.code_of_ethics_signed_on,
            "endorsement_agreement_signed_on": doc.agreements.endorsement_agreement_signed_on,
            "document_digest": item.digest, "needs_reconcile": True}


@dataclass
class _Evidence:
    """The rows a document's evidence becomes (the document is authoritative: they replace any before)."""

    members: list = field(default_factory=list)
    education: list = field(default_factory=list)
    transcripts_of: list = field(default_factory=list)  # (index into education, its transcript row)
    training: list = field(default_factory=list)
    work: list = field(default_factory=list)
    leadership: list = field(default_factory=list)
    rsc: list = field(default_factory=list)

    def add(self, doc: ApplicationDocument, person) -> None:
        app_id = doc.id
        self.members += [{"application_id": app_id, "association": m.association, "expires_on": m.expires_on}
                         for m in doc.memberships]
        for i, e in enumerate(doc.education):
            if e.transcript is not None:
                self.transcripts_of.append((len(self.education), {
                    "official": e.transcript.official, "received_on": e.transcript.received_on,
                    "recorded_by": "import" if e.transcript.received_on else None}))
            self.education.append({"application_id": app_id, "position": i, "institution": e.institution,
                                   "credential": e.credential, "degree": e.degree, "conferred_on": e.conferred_on})
        self.training += [{"application_id": app_id, "position": i, "title": t.title, "hours": _dec(t.hours),
                           "completed_on": t.completed_on, "topics": list(t.topics)}
                          for i, t in enumerate(doc.training)]
        self.work += [{"application_id": app_id, "position": i, "employer": w.employer, "role": w.role,
                       "kind": w.kind, "start_on": w.start_on, "end_on": w.end_on, "paid": w.paid, "after": w.after,
                       "families_served": w.families_served, "supervisor_endorsement": w.supervisor_endorsement}
                      for i, w in enumerate(doc.work)]
        self.leadership += [{"application_id": app_id, "position": i, "description": a.description,
                             "level": a.level, "start_on": a.start_on, "end_on": a.end_on,
                             "part_of_paid_work": a.part_of_paid_work}
                            for i, a in enumerate(doc.leadership_activities)]
        self.rsc += [{"application_id": app_id, "position": i, "provider_id": person(r.provider.email),
                      "provider_name": r.provider.name, "provider_endorsement": r.provider.endorsement,
                      "hours": _dec(r.hours), "start_on": r.start_on, "end_on": r.end_on, "format": r.format,
                      "after": r.after, "about_providing_rsc_hours": _dec(r.about_providing_rsc_hours)}
                     for i, r in enumerate(doc.rsc)]

    def insert(self, session: Session, app_ids: list[str]) -> None:
        for model, rows in ((MembershipRow, self.members), (TrainingRecord, self.training), (WorkRecord, self.work),
                            (LeadershipActivity, self.leadership), (RscRecord, self.rsc)):
            _insert(session, model, rows)
        if self.education:
            ids = _inserted_ids(session, EducationRecord, self.education, app_ids)
            _insert(session, Transcript, [{**row, "education_record_id": ids[i]} for i, row in self.transcripts_of])


def _reference_columns(ref) -> dict:
    """What a document says of a reference, written while no live rating stands (``_save_references``)."""
    return {"status": ref.status, "imported_submitted_on": ref.submitted_on,
            "imported_insufficient_count": ref.insufficient_information_count,
            "imported_recommendation": ref.recommendation}


def _imported_vetting(ref) -> dict:
    return {"coordinator": "import", "vetted_on": ref.rater.vetted_on, "decision": "accepted",
            "note": "vetting recorded in the imported document"}


def _exam_columns(exam) -> dict:
    return {"multiple_choice_percent": _dec(exam.multiple_choice_percent), "essay_result": exam.essay_result,
            "taken_on": exam.taken_on}


def _candidate_code(app_id: str) -> str:
    return "C" + hashlib.sha256(app_id.encode()).hexdigest()[:8].upper()


def _new_determinations(app_id: str, determinations, have: set) -> list[dict]:
    """Determinations not yet recorded (one of each question, day and coordinator), as rows."""
    rows = []
    for d in determinations:
        if (d.question, d.decided_on, d.by) not in have:
            have.add((d.question, d.decided_on, d.by))
            rows.append({"application_id": app_id, "question": d.question, "decided_by": d.by,
                         "decided_on": d.decided_on, "accepted": d.accepted, "note": d.note, "recorded_by": "import"})
    return rows


def _audit(actor: str, action: str, entity_type: str, entity_id, app_id: str, **details) -> dict:
    return {"actor": actor, "action": action, "entity_type": entity_type, "entity_id": str(entity_id),
            "application_id": app_id, "details": details}


def insert_new_applications(session: Session, items: list[Prepared], people: dict[str, int], *, actor: str) -> None:
    """Write every row of these documents, none of which the database holds yet: one INSERT per
    table for the whole list, and one audit entry per application (``application.imported``)."""
    if not items:
        return

    def person(email: str) -> int:
        return people[email.strip().casefold()]

    apps, refs, exams, determinations, bodies, audit = [], [], [], [], [], []
    evidence = _Evidence()
    vetting_of: list[tuple[int, dict]] = []  # (index into refs, its vetting row)
    for item in items:
        doc, app_id = item.doc, item.doc.id
        apps.append({"id": app_id, **_application_columns(item, person), "stage": "submitted",
                     "decision_requested": False, "version_id": 1})
        evidence.add(doc, person)
        for i, ref in enumerate(doc.references):
            if ref.rater.vetted_on is not None:
                vetting_of.append((len(refs), _imported_vetting(ref)))
            refs.append({"application_id": app_id, "position": i, "rater_id": person(ref.rater.email),
                         "role": ref.role, "rater_name": ref.rater.name, "waived_access": ref.waived_access,
                         "rater_endorsement_claimed": ref.rater.endorsement, **_reference_columns(ref)})
        if doc.exam is not None:
            exams.append({"application_id": app_id, "attempt_number": 1, "candidate_code": _candidate_code(app_id),
                          **_exam_columns(doc.exam)})
        # A determination the document repeats is recorded once, as save_document does.
        determinations += _new_determinations(app_id, doc.determinations, set())
        bodies.append({"application_id": app_id, "body": item.body})
        audit.append(_audit(actor, "application.imported", "application", app_id, app_id,
                            digest=item.digest, source=item.source_name))

    _insert(session, Application, apps)
    for model, rows in ((ExamAttempt, exams), (CoordinatorDetermination, determinations),
                        (ApplicationDocumentRow, bodies), (AuditLog, audit)):
        _insert(session, model, rows)
    app_ids = [a["id"] for a in apps]
    evidence.insert(session, app_ids)
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


# --- changed documents ---------------------------------------------------------------------------------


def update_changed_applications(session: Session, items: list[Prepared], people: dict[str, int], *,
                                actor: str) -> None:
    """Write documents whose application the database holds with another digest, as ``save_document``
    does one at a time (the tests compare the two): the application's columns, its evidence replaced
    wholesale, its references merged (a live rating or a cancelled request is kept; a request still
    waiting that the document no longer names is cancelled, its link dead, audited), its latest exam
    attempt updated, determinations added once (those recorded are history), the document kept, and an
    ``application.updated`` entry. A fixed number of statements per batch, whatever its size.

    Each id appears once in ``items`` (a second file with the same id goes through ``save_document``)."""
    if not items:
        return

    def person(email: str) -> int:
        return people[email.strip().casefold()]

    ids = [item.doc.id for item in items]
    _update_applications(session, items, person)
    _replace_evidence(session, items, person, ids)
    audit = _merge_references(session, items, person, ids, actor)
    _merge_exams(session, items, ids)
    _add_determinations(session, items, ids)
    _replace_bodies(session, items, ids)
    audit += [_audit(actor, "application.updated", "application", item.doc.id, item.doc.id,
                     digest=item.digest, source=item.source_name) for item in items]
    _insert(session, AuditLog, audit)


def _chunks(ids: list):
    for i in range(0, len(ids), _IN_CHUNK):
        yield ids[i:i + _IN_CHUNK]


def _update_applications(session: Session, items: list[Prepared], person) -> None:
    table = Application.__table__
    columns = list(_application_columns(items[0], person))
    # A change like any other to the application: its version moves (a reconcile that read it before
    # cannot write over it) and it is marked for the pipeline.
    stmt = (table.update().where(table.c.id == bindparam("b_id"))
            .values(version_id=table.c.version_id + 1, updated_at=bindparam("b_updated_at"),
                    **{c: bindparam(f"b_{c}") for c in columns}))
    now = utcnow()
    session.connection().execute(stmt, [
        {"b_id": item.doc.id, "b_updated_at": now, **{f"b_{k}": v for k, v in _application_columns(item, person).items()}}
        for item in items])


def _replace_evidence(session: Session, items: list[Prepared], person, ids: list[str]) -> None:
    conn = session.connection()
    for chunk in _chunks(ids):
        records = select(EducationRecord.id).where(EducationRecord.application_id.in_(chunk)).scalar_subquery()
        conn.execute(delete(Transcript).where(Transcript.education_record_id.in_(records)))
        for model in (MembershipRow, EducationRecord, TrainingRecord, WorkRecord, LeadershipActivity, RscRecord):
            conn.execute(delete(model).where(model.application_id.in_(chunk)))
    evidence = _Evidence()
    for item in items:
        evidence.add(item.doc, person)
    evidence.insert(session, ids)


def _merge_references(session: Session, items: list[Prepared], person, ids: list[str], actor: str) -> list[dict]:
    """The references of each document against the requests the application has; returns the audit
    entries of the requests cancelled."""
    R = ReferenceRequest
    existing: dict[str, dict[tuple[str, str], dict]] = {}
    for chunk in _chunks(ids):
        live = select(Rating.id).where(Rating.reference_request_id == R.id, Rating.submitted_at.is_not(None)).exists()
        vetted = select(RaterVetting.id).where(RaterVetting.reference_request_id == R.id).exists()
        for row in session.execute(select(R.id, R.application_id, Person.email_normalized, R.role, R.status,
                                          live.label("live"), vetted.label("vetted"))
                                   .join(Person, Person.id == R.rater_id).where(R.application_id.in_(chunk))
                                   .order_by(R.id)).mappings():
            # Two requests of one rater in one role: the later one is the one a document speaks of.
            existing.setdefault(row["application_id"], {})[(row["email_normalized"], row["role"])] = dict(row)
    updates: dict[int, dict] = {}
    inserts: list[dict] = []
    vetting: list[dict] = []
    vetting_of: list[tuple[int, dict]] = []  # (index into inserts, its vetting row)
    audit: list[dict] = []
    for item in items:
        app_id, have, seen = item.doc.id, existing.get(item.doc.id, {}), set()
        for i, ref in enumerate(item.doc.references):
            key = (ref.rater.email.strip().casefold(), ref.role)
            seen.add(key)
            claimed = {"position": i, "rater_name": ref.rater.name, "waived_access": ref.waived_access,
                       "rater_endorsement_claimed": ref.rater.endorsement}
            req = have.get(key)
            if req is None:
                if ref.rater.vetted_on is not None:
                    vetting_of.append((len(inserts), _imported_vetting(ref)))
                inserts.append({"application_id": app_id, "rater_id": person(ref.rater.email), "role": ref.role,
                                **claimed, **_reference_columns(ref)})
                continue
            row = updates.setdefault(req["id"], {"b_id": req["id"]})
            row.update(claimed)
            if not req["live"] and req["status"] != "cancelled":
                row.update(_reference_columns(ref))
            if ref.rater.vetted_on is not None and not req["vetted"]:
                req["vetted"] = True
                vetting.append({**_imported_vetting(ref), "reference_request_id": req["id"]})
        for key, req in have.items():
            if key not in seen and req["status"] == "requested":
                updates.setdefault(req["id"], {"b_id": req["id"]}).update(
                    status="cancelled", cancelled_reason=_NO_LONGER_NAMED, token_hash=None)
                audit.append(_audit(actor, "reference.cancelled", "reference_request", req["id"], app_id,
                                    reason=_NO_LONGER_NAMED))
    table = R.__table__
    by_columns: dict[tuple, list[dict]] = {}  # one executemany per set of columns written
    for row in updates.values():
        by_columns.setdefault(tuple(sorted(k for k in row if k != "b_id")), []).append(row)
    for columns, rows in by_columns.items():
        stmt = table.update().where(table.c.id == bindparam("b_id")).values(**{c: bindparam(f"b_{c}") for c in columns})
        session.connection().execute(stmt, [{"b_id": r["b_id"], **{f"b_{c}": r[c] for c in columns}} for r in rows])
    if inserts:
        before = {r["id"] for have in existing.values() for r in have.values()}
        _insert(session, R, inserts)
        new_ids: dict[tuple[str, int], int] = {}
        for chunk in _chunks(ids):
            new_ids.update(((a, p), i) for i, a, p in session.execute(
                select(R.id, R.application_id, R.position).where(R.application_id.in_(chunk))) if i not in before)
        vetting += [{**row, "reference_request_id": new_ids[(inserts[k]["application_id"], inserts[k]["position"])]}
                    for k, row in vetting_of]
    _insert(session, RaterVetting, vetting)
    return audit


_NO_LONGER_NAMED = "no longer in the application document"


def _merge_exams(session: Session, items: list[Prepared], ids: list[str]) -> None:
    """The document's exam on the application's latest attempt (the first attempt made if none)."""
    latest: dict[str, int] = {}
    for chunk in _chunks(ids):
        for app_id, attempt_id in session.execute(select(ExamAttempt.application_id, ExamAttempt.id)
                                                  .where(ExamAttempt.application_id.in_(chunk))
                                                  .order_by(ExamAttempt.application_id, ExamAttempt.attempt_number)):
            latest[app_id] = attempt_id
    updates, inserts = [], []
    for item in items:
        exam, app_id = item.doc.exam, item.doc.id
        if exam is None:
            continue
        if app_id in latest:
            updates.append({"b_id": latest[app_id], **{f"b_{k}": v for k, v in _exam_columns(exam).items()}})
        else:
            inserts.append({"application_id": app_id, "attempt_number": 1, "candidate_code": _candidate_code(app_id),
                            **_exam_columns(exam)})
    if updates:
        table = ExamAttempt.__table__
        stmt = table.update().where(table.c.id == bindparam("b_id")).values(
            **{c: bindparam(f"b_{c}") for c in ("multiple_choice_percent", "essay_result", "taken_on")})
        session.connection().execute(stmt, updates)
    _insert(session, ExamAttempt, inserts)


def _add_determinations(session: Session, items: list[Prepared], ids: list[str]) -> None:
    C = CoordinatorDetermination
    have: dict[str, set] = {}
    for chunk in _chunks(ids):
        for app_id, q, on, by in session.execute(select(C.application_id, C.question, C.decided_on, C.decided_by)
                                                 .where(C.application_id.in_(chunk))):
            have.setdefault(app_id, set()).add((q, on, by))
    rows = []
    for item in items:
        rows += _new_determinations(item.doc.id, item.doc.determinations, have.setdefault(item.doc.id, set()))
    _insert(session, C, rows)


def _replace_bodies(session: Session, items: list[Prepared], ids: list[str]) -> None:
    D = ApplicationDocumentRow
    kept: set[str] = set()
    for chunk in _chunks(ids):
        kept.update(session.scalars(select(D.application_id).where(D.application_id.in_(chunk))))
    table = D.__table__
    updates = [{"b_id": item.doc.id, "b_body": item.body} for item in items if item.doc.id in kept]
    if updates:
        session.connection().execute(table.update().where(table.c.application_id == bindparam("b_id"))
                                     .values(body=bindparam("b_body")), updates)
    _insert(session, D, [{"application_id": item.doc.id, "body": item.body} for item in items
                         if item.doc.id not in kept])
