"""An association's pool of application reviewers: volunteers put in by the coordinator (trained,
available, a load cap), each read under their most senior verified endorsement, and the assignment
policy the rulebook gives (the essays' weights, the applicant's category as the track)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from endorse.db import transaction
from endorse.rulebook import RulebookLibrary
from models import (
    VERIFIED_ORIGINS,
    ApplicationReviewAssignment,
    ApplicationReviewer,
    Association,
    Endorsement,
    Person,
    record_audit,
)
from tasks.exam.assignment import AssignmentPolicy, ReviewerCapacity
from tasks.exam.sitting_plan import _senior_endorsement


def settings_for(library: RulebookLibrary, association: str, as_of: date) -> dict:
    return library.setting(association, "application_review", as_of)


def add_application_reviewer(sessions: sessionmaker[Session], association: str, *, name: str, email: str,
                             employer: str | None, max_load: int, trained: bool, available: bool, actor: str) -> int:
    """Put a volunteer in (or update them in) the association's pool; audited. Their endorsement is the
    verified one on their person record: a volunteer without one is in the pool but never assigned."""
    from tasks.intake.records import person_for

    if max_load < 0:
        raise ValueError("max_load: a whole number ≥ 0")
    with transaction(sessions) as s:
        if s.get(Association, association) is None:
            raise LookupError(f"no association {association!r}")
        person = person_for(s, name, email, association=association)
        if employer and not person.employer and person.home_association == association:
            person.employer = employer  # their own association's record: a conflict check needs it
        row = s.scalars(select(ApplicationReviewer).where(ApplicationReviewer.association_code == association,
                                                          ApplicationReviewer.person_id == person.id)).first()
        if row is None:
            row = ApplicationReviewer(association_code=association, person_id=person.id)
            s.add(row)
        row.max_load, row.trained, row.available = max_load, trained, available
        s.flush()
        record_audit(s, actor=actor, action="appreview.pool_changed", entity_type="application_reviewer",
                     entity_id=row.id, person_id=person.id, max_load=max_load, trained=trained, available=available)
        return person.id


def policy_for(library: RulebookLibrary, association: str, as_of: date) -> AssignmentPolicy:
    conf = settings_for(library, association, as_of)
    return AssignmentPolicy.from_mapping({**conf["policy"], "reviewers_per_essay": max(1, int(conf["reviewers"]))})


def reviewer_pool(s: Session, association: str, policy: AssignmentPolicy) -> tuple[list[ReviewerCapacity], dict]:
    """Trained, available application reviewers of the association, each under their most senior verified
    endorsement, with the reviews they already carry."""
    rows = s.execute(select(ApplicationReviewer.person_id, ApplicationReviewer.max_load, Person.employer)
                     .join(Person, Person.id == ApplicationReviewer.person_id)
                     .where(ApplicationReviewer.association_code == association, ApplicationReviewer.trained.is_(True),
                            ApplicationReviewer.available.is_(True))).all()
    ids = [r[0] for r in rows]
    held: dict[int, set[str]] = {i: set() for i in ids}
    for person_id, category in s.execute(select(Endorsement.person_id, Endorsement.category).where(
            Endorsement.person_id.in_(ids), Endorsement.status == "active", Endorsement.origin.in_(VERIFIED_ORIGINS))):
        held[person_id].add(category)
    load = dict(s.execute(select(ApplicationReviewAssignment.reviewer_id, func.count())
                          .where(ApplicationReviewAssignment.reviewer_id.in_(ids or [-1]),
                                 ApplicationReviewAssignment.status == "assigned")
                          .group_by(ApplicationReviewAssignment.reviewer_id)).all())
    pool, employers = [], {}
    for person_id, max_load, employer in rows:
        endorsement = _senior_endorsement(held[person_id], policy)
        if endorsement is None:
            continue  # not endorsed (or only in a category nobody's application may be read at)
        pool.append(ReviewerCapacity(person_id, endorsement, max_load, min(load.get(person_id, 0), max_load)))
        employers[person_id] = (employer or "").strip().casefold()
    return pool, employers
