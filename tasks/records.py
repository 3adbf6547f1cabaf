"""Between application documents and the database: save one document, and rebuild it from the rows.

The database is the source of truth. ``save_document`` writes a document's claims (idempotently: the
same id again updates, never duplicates); ``document_from_rows`` rebuilds the document the evaluator
reads, folding in what happened inside the system since (transcripts recorded, ratings submitted
through the form, vetting calls, exam results).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from endorse.documents import (
    RSC,
    Agreements,
    Applicant,
    ApplicationDocument,
    Education,
    Exam,
    Leadership,
    Membership,
    Person as PersonDoc,
    Rater,
    Reference,
    Training,
    Transcript as TranscriptDoc,
    Work,
)
from models import (
    Application,
    ApplicationDocumentRow,
    Association,
    EducationRecord,
    Endorsement,
    ExamAttempt,
    LeadershipActivity,
    Membership as MembershipRow,
    Person,
    RaterVetting,
    ReferenceRequest,
    RscRecord,
    TrainingRecord,
    Transcript,
    WorkRecord,
    record_audit,
)

ACTIVE_REQUEST_STATUSES = ("requested", "submitted", "declined")


def document_digest(doc: ApplicationDocument) -> str:
    return hashlib.sha256(doc.model_dump_json().encode()).hexdigest()


def ensure_associations(session: Session, library) -> None:
    """One row per association that has a rulebook (names from the rulebooks)."""
    existing = set(session.scalars(select(Association.code)))
    for code in library.associations:
        if code not in existing:
            book = library.baseline if code == library.baseline.data["association"] else library.overlays[code]
            session.add(Association(code=code, name=book.data["name"],
                                    coordinator_name=f"{code} Endorsement coordinator",
                                    coordinator_email=f"endorsement@{code.lower()}.example.org"))
    session.flush()


def upsert_person(session: Session, name: str, email: str) -> Person:
    key = email.strip().casefold()
    person = session.scalars(select(Person).where(Person.email_normalized == key)).one_or_none()
    if person is None:
        person = Person(name=name, email=email.strip(), email_normalized=key)
        session.add(person)
        session.flush()
    elif person.name != name and name:
        person.name = name
    return person


def declare_endorsement(session: Session, person: Person, category: str | None) -> None:
    """Record an endorsement a document says a person holds (origin 'declared')."""
    if not category:
        return
    exists = session.scalars(select(Endorsement.id).where(
        Endorsement.person_id == person.id, Endorsement.category == category, Endorsement.origin == "declared"
    )).first()
    if exists is None:
        session.add(Endorsement(person_id=person.id, category=category, origin="declared", status="active"))
        session.flush()


@dataclass(frozen=True)
class SaveOutcome:
    application_id: str
    outcome: str  # "created" | "updated" | "unchanged"


def save_document(session: Session, doc: ApplicationDocument, *, actor: str, source_name: str = "") -> SaveOutcome:
    """Write one document in the caller's transaction; audit what happened."""
    digest = document_digest(doc)
    app = session.get(Application, doc.id)
    if app is not None and app.document_digest == digest:
        return SaveOutcome(doc.id, "unchanged")
    applicant = upsert_person(session, doc.applicant.name, doc.applicant.email)
    declare_endorsement(session, applicant, doc.applicant.endorsement)
    created = app is None
    if created:
        app = Application(id=doc.id, association_code=doc.association, category=doc.category,
                          applicant_id=applicant.id, stage="submitted")
        session.add(app)
    else:
        app.association_code, app.category, app.applicant_id = doc.association, doc.category, applicant.id
    app.applicant_is_supervisor = doc.applicant.is_supervisor
    app.submitted_on = doc.submitted_on
    app.code_of_ethics_signed_on = doc.agreements.code_of_ethics_signed_on
    app.endorsement_agreement_signed_on = doc.agreements.endorsement_agreement_signed_on
    app.document_digest = digest
    app.needs_reconcile = True
    # Evidence: the document is authoritative, so its rows are replaced wholesale.
    app.memberships = [MembershipRow(association=m.association, expires_on=m.expires_on) for m in doc.memberships]
    app.education = [_education_row(i, e) for i, e in enumerate(doc.education)]
    app.training = [TrainingRecord(position=i, title=t.title, hours=Decimal(str(t.hours)), completed_on=t.completed_on,
                                   topics=list(t.topics)) for i, t in enumerate(doc.training)]
    app.work = [WorkRecord(position=i, employer=w.employer, role=w.role, kind=w.kind, start_on=w.start_on,
                           end_on=w.end_on, paid=w.paid, after=w.after, families_served=w.families_served,
                           supervisor_endorsement=w.supervisor_endorsement) for i, w in enumerate(doc.work)]
    app.leadership = [LeadershipActivity(position=i, description=a.description, level=a.level, start_on=a.start_on,
                                         end_on=a.end_on) for i, a in enumerate(doc.leadership_activities)]
    rsc_rows = []
    for i, r in enumerate(doc.rsc):
        provider = upsert_person(session, r.provider.name, r.provider.email)
        declare_endorsement(session, provider, r.provider.endorsement)
        rsc_rows.append(RscRecord(position=i, provider_id=provider.id, provider_endorsement=r.provider.endorsement,
                                  hours=Decimal(str(r.hours)), start_on=r.start_on, end_on=r.end_on, format=r.format,
                                  after=r.after, about_providing_rsc_hours=None if r.about_providing_rsc_hours is None
                                  else Decimal(str(r.about_providing_rsc_hours))))
    app.rsc = rsc_rows
    session.flush()
    _save_references(session, app, doc.references, actor)
    _save_exam(session, app, doc.exam)
    body = json.loads(doc.model_dump_json())
    row = session.scalars(select(ApplicationDocumentRow).where(ApplicationDocumentRow.application_id == app.id)).one_or_none()
    if row is None:
        session.add(ApplicationDocumentRow(application_id=app.id, body=body))
    else:
        row.body = body
    record_audit(session, actor=actor, action="application.imported" if created else "application.updated",
                 entity_type="application", entity_id=app.id, application_id=app.id, digest=digest,
                 source=source_name)
    session.flush()
    return SaveOutcome(doc.id, "created" if created else "updated")


def _education_row(i: int, e: Education) -> EducationRecord:
    row = EducationRecord(position=i, institution=e.institution, credential=e.credential, degree=e.degree,
                          conferred_on=e.conferred_on)
    if e.transcript is not None:
        row.transcript = Transcript(official=e.transcript.official, received_on=e.transcript.received_on,
                                    recorded_by="import" if e.transcript.received_on else None)
    return row


def _save_references(session: Session, app: Application, refs: Iterable[Reference], actor: str) -> None:
    existing = {(r.rater.email_normalized, r.role): r for r in session.scalars(
        select(ReferenceRequest).where(ReferenceRequest.application_id == app.id)
        .options(selectinload(ReferenceRequest.rater), selectinload(ReferenceRequest.rating)))}
    seen = set()
    for i, ref in enumerate(refs):
        rater = upsert_person(session, ref.rater.name, ref.rater.email)
        declare_endorsement(session, rater, ref.rater.endorsement)
        key = (rater.email_normalized, ref.role)
        seen.add(key)
        req = existing.get(key)
        if req is None:
            req = ReferenceRequest(application_id=app.id, position=i, rater_id=rater.id, role=ref.role)
            session.add(req)
        req.position = i
        req.waived_access = ref.waived_access
        req.rater_endorsement_claimed = ref.rater.endorsement
        live_rating = req.rating is not None and req.rating.submitted_at is not None
        if not live_rating and req.status not in ("cancelled",):
            # What the document says happened outside the system (no answers: only the outcome).
            req.status = ref.status
            req.imported_submitted_on = ref.submitted_on
            req.imported_insufficient_count = ref.insufficient_information_count
            req.imported_recommendation = ref.recommendation
        session.flush()
        if ref.rater.vetted_on is not None and req.vetting is None:
            session.add(RaterVetting(reference_request_id=req.id, coordinator="import", vetted_on=ref.rater.vetted_on,
                                     decision="accepted", note="vetting recorded in the imported document"))
    for key, req in existing.items():
        if key not in seen and req.status == "requested":
            req.status = "cancelled"
            req.cancelled_reason = "no longer in the application document"
            req.token_hash = None  # the link dies with the request
            record_audit(session, actor=actor, action="reference.cancelled", entity_type="reference_request",
                         entity_id=req.id, application_id=app.id, reason=req.cancelled_reason)


def _save_exam(session: Session, app: Application, exam: Exam | None) -> None:
    attempt = session.scalars(select(ExamAttempt).where(ExamAttempt.application_id == app.id)
                              .order_by(ExamAttempt.attempt_number.desc())).first()
    if exam is None:
        return
    if attempt is None:
        attempt = ExamAttempt(application_id=app.id, attempt_number=1,
                              candidate_code="C" + hashlib.sha256(app.id.encode()).hexdigest()[:8].upper())
        session.add(attempt)
    attempt.multiple_choice_percent = None if exam.multiple_choice_percent is None else Decimal(str(exam.multiple_choice_percent))
    attempt.essay_result = exam.essay_result
    attempt.taken_on = exam.taken_on


# --- rows → document --------------------------------------------------------------------------------


def load_applications(session: Session, ids: list[str]) -> list[Application]:
    """Applications with everything evaluation needs, in a handful of set-based queries."""
    return list(session.scalars(
        select(Application).where(Application.id.in_(ids)).options(
            selectinload(Application.applicant),
            selectinload(Application.memberships),
            selectinload(Application.education).selectinload(EducationRecord.transcript),
            selectinload(Application.training),
            selectinload(Application.work),
            selectinload(Application.leadership),
            selectinload(Application.rsc).selectinload(RscRecord.provider),
        )
    ))


def load_requests(session: Session, ids: list[str]) -> dict[str, list[ReferenceRequest]]:
    out: dict[str, list[ReferenceRequest]] = {i: [] for i in ids}
    rows = session.scalars(
        select(ReferenceRequest).where(ReferenceRequest.application_id.in_(ids),
                                       ReferenceRequest.status.in_(ACTIVE_REQUEST_STATUSES))
        .options(selectinload(ReferenceRequest.rater), selectinload(ReferenceRequest.rating),
                 selectinload(ReferenceRequest.vetting))
        .order_by(ReferenceRequest.position, ReferenceRequest.id))
    for r in rows:
        out[r.application_id].append(r)
    return out


def load_exams(session: Session, ids: list[str]) -> dict[str, ExamAttempt]:
    out: dict[str, ExamAttempt] = {}
    for a in session.scalars(select(ExamAttempt).where(ExamAttempt.application_id.in_(ids))
                             .order_by(ExamAttempt.attempt_number)):
        out[a.application_id] = a  # the latest attempt wins
    return out


def _f(x: Decimal | None) -> float | None:
    return None if x is None else float(x)


def document_from_rows(app: Application, requests: list[ReferenceRequest], attempt: ExamAttempt | None) -> ApplicationDocument:
    """The application as the evaluator reads it (rows are already valid: no re-validation)."""
    refs = []
    for r in requests:
        rating = r.rating
        vetted = r.vetting.vetted_on if r.vetting is not None and r.vetting.decision == "accepted" else None
        rater = Rater.model_construct(name=r.rater.name, email=r.rater.email, endorsement=r.rater_endorsement_claimed,
                                      vetted_on=vetted)
        if rating is not None and rating.submitted_at is not None:
            status = "declined" if rating.declined_reason else "submitted"
            refs.append(Reference.model_construct(
                rater=rater, role=r.role, status=status, submitted_on=rating.submitted_at.date(),
                insufficient_information_count=rating.insufficient_information_count,
                recommendation=rating.recommendation, waived_access=r.waived_access))
        else:
            refs.append(Reference.model_construct(
                rater=rater, role=r.role, status=r.status, submitted_on=r.imported_submitted_on,
                insufficient_information_count=r.imported_insufficient_count,
                recommendation=r.imported_recommendation, waived_access=r.waived_access))
    exam = None
    if attempt is not None:
        exam = Exam.model_construct(multiple_choice_percent=_f(attempt.multiple_choice_percent),
                                    essay_result=attempt.essay_result, taken_on=attempt.taken_on)
    return ApplicationDocument.model_construct(
        id=app.id,
        association=app.association_code,
        category=app.category,
        submitted_on=app.submitted_on,
        applicant=Applicant.model_construct(name=app.applicant.name, email=app.applicant.email,
                                            endorsement=None, is_supervisor=app.applicant_is_supervisor),
        agreements=Agreements.model_construct(code_of_ethics_signed_on=app.code_of_ethics_signed_on,
                                              endorsement_agreement_signed_on=app.endorsement_agreement_signed_on),
        memberships=tuple(Membership.model_construct(association=m.association, expires_on=m.expires_on)
                          for m in app.memberships),
        education=tuple(Education.model_construct(
            institution=e.institution, credential=e.credential, degree=e.degree, conferred_on=e.conferred_on,
            transcript=None if e.transcript is None else TranscriptDoc.model_construct(
                official=e.transcript.official, received_on=e.transcript.received_on)) for e in app.education),
        training=tuple(Training.model_construct(title=t.title, hours=float(t.hours), completed_on=t.completed_on,
                                                topics=tuple(t.topics or ())) for t in app.training),
        work=tuple(Work.model_construct(employer=w.employer, role=w.role, kind=w.kind, start_on=w.start_on,
                                        end_on=w.end_on, paid=w.paid, after=w.after, families_served=w.families_served,
                                        supervisor_endorsement=w.supervisor_endorsement) for w in app.work),
        leadership_activities=tuple(Leadership.model_construct(description=a.description, level=a.level,
                                                               start_on=a.start_on, end_on=a.end_on)
                                    for a in app.leadership),
        rsc=tuple(RSC.model_construct(provider=PersonDoc.model_construct(name=r.provider.name, email=r.provider.email,
                                                                         endorsement=r.provider_endorsement),
                                      hours=float(r.hours), start_on=r.start_on, end_on=r.end_on, format=r.format,
                                      after=r.after, about_providing_rsc_hours=_f(r.about_providing_rsc_hours))
                  for r in app.rsc),
        references=tuple(refs),
        exam=exam,
    )


def load_documents(session: Session, ids: list[str]) -> dict[str, ApplicationDocument]:
    """Documents for many applications at once: a fixed number of queries whatever the count."""
    apps = load_applications(session, ids)
    requests = load_requests(session, ids)
    exams = load_exams(session, ids)
    return {a.id: document_from_rows(a, requests[a.id], exams.get(a.id)) for a in apps}
