"""Between application documents and the database: save one document, and rebuild it from the rows.

The database is the source of truth. ``save_document`` writes a document's claims (idempotently: the
same id again updates, never duplicates); ``document_from_rows`` rebuilds the document the evaluator
reads, folding in what happened inside the system since (transcripts recorded, ratings submitted
through the form, vetting calls, exam results).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from types import SimpleNamespace
from decimal import Decimal
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from endorse.documents import (
    ApplicationDocument,
    Education,
    Exam,
    Reference,
)
from models import (
    Application,
    ApplicationDocumentRow,
    Association,
    CoordinatorDetermination,
    EducationRecord,
    ExamAttempt,
    LeadershipActivity,
    Membership as MembershipRow,
    Person,
    Rating,
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


def ensure_associations(session: Session, library, profiles: dict | None = None) -> None:
    """One row per association that has a rulebook, carrying its profile (endorse/profiles.py).

    A profile changed since it was last applied is applied again and audited; an association without
    a profile keeps its rulebook's name and the deployment's sender (ENDORSE_ENV=production refuses it).
    """
    from endorse.profiles import load_profiles, profiles_dir

    if profiles is None:
        profiles = load_profiles(profiles_dir(library), library.associations)
    existing = {a.code: a for a in session.scalars(select(Association))}
    for code in library.associations:
        row = existing.get(code)
        if row is None:
            book = library.baseline if code == library.baseline.data["association"] else library.overlays[code]
            from endorse.settings import get_settings

            row = Association(code=code, name=book.data["name"], coordinator_name="Endorsement coordinator",
                              coordinator_email=get_settings().mail_from)
            session.add(row)
        profile = profiles.get(code)
        if profile is not None:
            apply_profile(session, row, profile)
    session.flush()


def apply_profile(session: Session, row: Association, profile) -> bool:
    """Copy a profile into its association row; audited when anything changed."""
    from endorse.profiles import digest

    new_digest = digest(profile)
    if row.profile_digest == new_digest:
        return False
    row.name, row.short_name = profile.full_name, profile.short_name
    row.coordinator_name, row.coordinator_email = profile.coordinator.name, profile.coordinator.email
    row.sender_name, row.sender_email = profile.sender.name, profile.sender.email
    row.signature, row.public_base_url, row.timezone = profile.signature, profile.public_base_url, profile.time_zone
    row.phone, row.website = profile.phone, profile.website
    first = row.profile_digest is None
    row.profile_digest = new_digest
    session.flush()
    record_audit(session, actor="system:profile", action="association.profile_applied", entity_type="association",
                 entity_id=row.code, first=first, digest=new_digest)
    return True


def refuse_production_start(session: Session, library) -> None:
    """ENDORSE_ENV=production will not start with an association that has applications and no
    profile, or a profile whose addresses or links are placeholders (example.org, loopback)."""
    from endorse.profiles import ProductionRefusal, placeholder_host
    from endorse.settings import get_settings

    settings = get_settings()
    if settings.env != "production":
        return
    with_applications = set(session.scalars(select(Application.association_code).distinct()))
    problems = []
    for a in session.scalars(select(Association).order_by(Association.code)):
        if a.profile_digest is None:
            if a.code in with_applications:
                problems.append(f"{a.code} has applications but no profile (endorse setup --association {a.code})")
            continue
        for what, value in (("sender", a.sender_email), ("coordinator", a.coordinator_email),
                            ("public_base_url", a.public_base_url or settings.public_base_url)):
            if why := placeholder_host(value or ""):
                problems.append(f"{a.code}'s profile: {what} {value}: {why}")
    if problems:
        raise ProductionRefusal("ENDORSE_ENV=production refuses to start: " + "; ".join(problems))


def person_for(session: Session, name: str, email: str, *, association: str | None) -> Person:
    """The person with this email, made (with this name, at home in ``association``) when new.

    A person is shared by every association that knows them, so what a document or a coordinator says
    about them here is never written onto the record: the caller keeps the name as given (and any
    endorsement declared) on its own application row. Only the person's own association changes the
    record (``tasks.people``)."""
    key = email.strip().casefold()
    person = session.scalars(select(Person).where(Person.email_normalized == key)).one_or_none()
    if person is None:
        person = Person(name=name, email=email.strip(), email_normalized=key, home_association=association)
        session.add(person)
        session.flush()
    return person


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
    applicant = person_for(session, doc.applicant.name, doc.applicant.email, association=doc.association)
    created = app is None
    if created:
        app = Application(id=doc.id, association_code=doc.association, category=doc.category,
                          applicant_id=applicant.id, applicant_name=doc.applicant.name, stage="submitted")
        session.add(app)
    else:
        app.association_code, app.category, app.applicant_id = doc.association, doc.category, applicant.id
    app.applicant_name, app.applicant_endorsement_declared = doc.applicant.name, doc.applicant.endorsement
    app.applicant_is_supervisor = doc.applicant.is_supervisor
    app.no_supervisor_or_rsc_provider_available = doc.applicant.no_supervisor_or_rsc_provider_available
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
                                         end_on=a.end_on, part_of_paid_work=a.part_of_paid_work)
                      for i, a in enumerate(doc.leadership_activities)]
    rsc_rows = []
    for i, r in enumerate(doc.rsc):
        provider = person_for(session, r.provider.name, r.provider.email, association=None)
        rsc_rows.append(RscRecord(position=i, provider_id=provider.id, provider_name=r.provider.name,
                                  provider_endorsement=r.provider.endorsement,
                                  hours=Decimal(str(r.hours)), start_on=r.start_on, end_on=r.end_on, format=r.format,
                                  after=r.after, about_providing_rsc_hours=None if r.about_providing_rsc_hours is None
                                  else Decimal(str(r.about_providing_rsc_hours))))
    app.rsc = rsc_rows
    session.flush()
    _save_references(session, app, doc.references, actor)
    _save_exam(session, app, doc.exam)
    _save_determinations(session, app, doc.determinations)
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
        rater = person_for(session, ref.rater.name, ref.rater.email, association=None)
        key = (rater.email_normalized, ref.role)
        seen.add(key)
        req = existing.get(key)
        if req is None:
            req = ReferenceRequest(application_id=app.id, position=i, rater_id=rater.id, role=ref.role,
                                   rater_name=ref.rater.name)
            session.add(req)
        req.position, req.rater_name = i, ref.rater.name
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


def _save_determinations(session: Session, app: Application, determinations) -> None:
    """Determinations the document carries, added once; those recorded here are kept (they are history)."""
    C = CoordinatorDetermination
    have = set(session.execute(select(C.question, C.decided_on, C.decided_by).where(C.application_id == app.id)).all())
    for d in determinations:
        if (d.question, d.decided_on, d.by) not in have:
            session.add(C(application_id=app.id, question=d.question, decided_by=d.by, decided_on=d.decided_on,
                          accepted=d.accepted, note=d.note, recorded_by="import"))
            have.add((d.question, d.decided_on, d.by))


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
#
# The sweep reads thousands of applications at a time, so this path uses Core queries (plain tuples,
# no ORM identity map) and builds light read-only views with the attributes the evaluator reads.
# A fixed number of queries per batch, whatever its size.


class _View(SimpleNamespace):
    """A read-only stand-in for a document model built from database rows."""


def _f(x: Decimal | None) -> float | None:
    return None if x is None else float(x)


def _group(rows, key_index: int = 0) -> dict:
    out: dict = defaultdict(list)
    for r in rows:
        out[r[key_index]].append(r)
    return out


def load_documents(session: Session, ids: list[str]) -> dict[str, ApplicationDocument]:
    """Documents for many applications at once, as the evaluator reads them."""
    if not ids:
        return {}
    A, P = Application, Person
    apps = session.execute(select(A.id, A.association_code, A.category, A.submitted_on, A.applicant_is_supervisor,
                                  A.code_of_ethics_signed_on, A.endorsement_agreement_signed_on, A.applicant_name, P.email,
                                  A.no_supervisor_or_rsc_provider_available)
                           .join(P, P.id == A.applicant_id).where(A.id.in_(ids))).all()
    members = _group(session.execute(select(MembershipRow.application_id, MembershipRow.association,
                                            MembershipRow.expires_on).where(MembershipRow.application_id.in_(ids))
                                     .order_by(MembershipRow.id)))
    E, T = EducationRecord, Transcript
    education = _group(session.execute(select(E.application_id, E.institution, E.credential, E.degree, E.conferred_on,
                                              T.id, T.official, T.received_on)
                                       .join(T, T.education_record_id == E.id, isouter=True)
                                       .where(E.application_id.in_(ids)).order_by(E.application_id, E.position)))
    TR = TrainingRecord
    training = _group(session.execute(select(TR.application_id, TR.title, TR.hours, TR.completed_on, TR.topics)
                                      .where(TR.application_id.in_(ids)).order_by(TR.application_id, TR.position)))
    W = WorkRecord
    work = _group(session.execute(select(W.application_id, W.employer, W.role, W.kind, W.start_on, W.end_on, W.paid,
                                         W.after, W.families_served, W.supervisor_endorsement)
                                  .where(W.application_id.in_(ids)).order_by(W.application_id, W.position)))
    L = LeadershipActivity
    leadership = _group(session.execute(select(L.application_id, L.description, L.level, L.start_on, L.end_on,
                                               L.part_of_paid_work)
                                        .where(L.application_id.in_(ids)).order_by(L.application_id, L.position)))
    R = RscRecord
    rsc = _group(session.execute(select(R.application_id, R.provider_name, P.email, R.provider_endorsement, R.hours, R.start_on,
                                        R.end_on, R.format, R.after, R.about_providing_rsc_hours)
                                 .join(P, P.id == R.provider_id).where(R.application_id.in_(ids))
                                 .order_by(R.application_id, R.position)))
    Q, G, V = ReferenceRequest, Rating, RaterVetting
    refs = _group(session.execute(
        select(Q.application_id, Q.rater_name, P.email, Q.rater_endorsement_claimed, Q.role, Q.status, Q.waived_access,
               Q.imported_submitted_on, Q.imported_insufficient_count, Q.imported_recommendation, G.submitted_at,
               G.declined_reason, G.insufficient_information_count, G.recommendation, V.vetted_on, V.decision)
        .join(P, P.id == Q.rater_id).join(G, G.reference_request_id == Q.id, isouter=True)
        .join(V, V.reference_request_id == Q.id, isouter=True)
        .where(Q.application_id.in_(ids), Q.status.in_(ACTIVE_REQUEST_STATUSES))
        .order_by(Q.application_id, Q.position, Q.id)))
    X = ExamAttempt
    exams = {r[0]: r for r in session.execute(
        select(X.application_id, X.multiple_choice_percent, X.essay_result, X.taken_on)
        .where(X.application_id.in_(ids)).order_by(X.application_id, X.attempt_number))}  # latest attempt wins
    C = CoordinatorDetermination
    determinations = _group(session.execute(select(C.application_id, C.question, C.decided_by, C.decided_on, C.accepted,
                                                   C.note).where(C.application_id.in_(ids))
                                            .order_by(C.application_id, C.decided_on, C.id)))
    out = {}
    for (app_id, assoc, cat, submitted_on, is_sup, ethics, agreement, name, email, no_sup) in apps:
        out[app_id] = _View(
            id=app_id, association=assoc, category=cat, submitted_on=submitted_on,
            applicant=_View(name=name, email=email, endorsement=None, is_supervisor=is_sup,
                            no_supervisor_or_rsc_provider_available=no_sup),
            agreements=_View(code_of_ethics_signed_on=ethics, endorsement_agreement_signed_on=agreement),
            memberships=tuple(_View(association=r[1], expires_on=r[2]) for r in members.get(app_id, ())),
            education=tuple(_View(institution=r[1], credential=r[2], degree=r[3], conferred_on=r[4],
                                  transcript=None if r[5] is None else _View(official=r[6], received_on=r[7]))
                            for r in education.get(app_id, ())),
            training=tuple(_View(title=r[1], hours=float(r[2]), completed_on=r[3], topics=tuple(r[4] or ()))
                           for r in training.get(app_id, ())),
            work=tuple(_View(employer=r[1], role=r[2], kind=r[3], start_on=r[4], end_on=r[5], paid=r[6], after=r[7],
                             families_served=r[8], supervisor_endorsement=r[9]) for r in work.get(app_id, ())),
            leadership_activities=tuple(_View(description=r[1], level=r[2], start_on=r[3], end_on=r[4],
                                              part_of_paid_work=r[5]) for r in leadership.get(app_id, ())),
            rsc=tuple(_View(provider=_View(name=r[1], email=r[2], endorsement=r[3]), hours=float(r[4]), start_on=r[5],
                            end_on=r[6], format=r[7], after=r[8], about_providing_rsc_hours=_f(r[9]))
                      for r in rsc.get(app_id, ())),
            references=tuple(_reference_view(r) for r in refs.get(app_id, ())),
            determinations=tuple(_View(question=r[1], by=r[2], decided_on=r[3], accepted=r[4], note=r[5])
                                 for r in determinations.get(app_id, ())),
            exam=None if app_id not in exams else _View(multiple_choice_percent=_f(exams[app_id][1]),
                                                        essay_result=exams[app_id][2], taken_on=exams[app_id][3]),
        )
    return out


def _reference_view(r) -> _View:
    (_, name, email, endorsement, role, status, waived, imp_on, imp_na, imp_rec, submitted_at, declined_reason,
     na, recommendation, vetted_on, vetting_decision) = r
    rater = _View(name=name, email=email, endorsement=endorsement,
                  vetted_on=vetted_on if vetting_decision == "accepted" else None)
    if submitted_at is not None:  # answered through the form: the rating itself speaks
        return _View(rater=rater, role=role, status="declined" if declined_reason else "submitted",
                     submitted_on=submitted_at.date(), insufficient_information_count=na,
                     recommendation=recommendation, waived_access=waived)
    return _View(rater=rater, role=role, status=status, submitted_on=imp_on, insufficient_information_count=imp_na,
                 recommendation=imp_rec, waived_access=waived)
