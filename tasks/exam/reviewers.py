"""Essay reviewers: registering one (trained or not, their load) and their availability for a sitting.

Moved here from the command line's handler (issue 14, step 4): the same transaction, checks and audit
entry, now a verb of the exam stage that any caller can use.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse.db import transaction
from endorse.text import single_line
from models import CoordinatorAccount, ExamSitting, Person, ReviewerAvailability, ReviewerProfile, record_audit
from tasks.intake.people import audit_person_change, claim_for
from tasks.intake.records import person_for


@dataclass(frozen=True)
class ReviewerInput:
    """A reviewer as a coordinator typed them, checked: one-line name, email and employer, loads in range."""

    name: str
    email: str
    employer: str | None
    max_load: int
    min_load: int


@dataclass(frozen=True)
class RegisteredReviewer:
    person_id: int
    name: str


def reviewer_input(*, name: str, email: str, employer: str | None, max_load: int, min_load: int) -> ReviewerInput:
    """Checked before the database is even opened (the database refuses bad loads too, less readably)."""
    if max_load < 0:
        raise ValueError(f"--max-load must be 0 or more, got {max_load}")
    if not 0 <= min_load <= max_load:
        raise ValueError(f"--min-load must be from 0 to --max-load ({max_load}), got {min_load}")
    return ReviewerInput(single_line(name, "--name"), single_line(email, "--email", max_length=254),
                         None if employer is None else single_line(employer, "--employer"), max_load, min_load)


def register_reviewer(sessions: sessionmaker[Session], given: ReviewerInput, *, trained: bool, sitting_id: int | None,
                      by: str) -> RegisteredReviewer:
    """Create or update a reviewer's profile (and their availability for ``sitting_id``), in one
    transaction with its audit entry. A change to the person's own name or employer is a correction
    of their record: only their association (the sitting's, else ``by``'s) may make it."""
    name, email, employer, max_load, min_load = (given.name, given.email, given.employer, given.max_load,
                                                 given.min_load)
    actor = f"coordinator:{by}"
    with transaction(sessions) as s:
        sitting = s.get(ExamSitting, sitting_id) if sitting_id is not None else None
        if sitting_id is not None and sitting is None:
            raise LookupError(f"--sitting: no exam sitting {sitting_id}")
        association = sitting.association_code if sitting else s.scalars(
            select(CoordinatorAccount.association_code).join(Person, Person.id == CoordinatorAccount.person_id)
            .where(Person.email_normalized == by.strip().casefold())).first()
        person = person_for(s, name, email, association=association)
        changes = {k: [getattr(person, k), v] for k, v in (("name", name), ("employer", employer))
                   if v is not None and getattr(person, k) != v}
        if changes:  # a correction of the reviewer's own record: only by their own association
            if association is None:
                raise ValueError("--sitting: say which sitting (its association registers the reviewer)")
            claim_for(s, person, association)
            for k, (_, v) in changes.items():
                setattr(person, k, v)
            s.flush()
            audit_person_change(s, person, actor=actor, action="person.changed", by_association=association,
                                changes=changes)
        profile = s.scalars(select(ReviewerProfile).where(ReviewerProfile.person_id == person.id)).first()
        if profile is None:
            profile = ReviewerProfile(person_id=person.id)
            s.add(profile)
        profile.trained, profile.max_load, profile.min_load, profile.active = trained, max_load, min_load, True
        if sitting_id is not None:
            avail = s.scalars(select(ReviewerAvailability).where(ReviewerAvailability.person_id == person.id,
                                                                 ReviewerAvailability.sitting_id == sitting_id)).first()
            if avail is None:
                s.add(ReviewerAvailability(person_id=person.id, sitting_id=sitting_id, max_load=max_load,
                                           min_load=min_load))
            else:
                avail.max_load, avail.min_load = max_load, min_load
        s.flush()
        record_audit(s, actor=actor, action="exam.reviewer_registered", entity_type="person", entity_id=person.id,
                     trained=trained, max_load=max_load, min_load=min_load, sitting_id=sitting_id)
        return RegisteredReviewer(person.id, person.name)
