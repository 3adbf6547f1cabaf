"""Changing a person's own record, and recording an endorsement they hold.

A person (keyed by email) is shared by every association that knows them. What an application, an
imported document or another association says about them is a claim on that application
(``Application.applicant_name``, ``ReferenceRequest.rater_name``, ``RscRecord.provider_name`` and the
endorsements declared there); the record itself changes only here, by a coordinator of the person's
own association (their ``home_association``; a person no association has taken yet is taken by the
first that changes them), and every association that sees the person gets the audit entry.
"""

from __future__ import annotations

from datetime import date
from typing import get_args

from sqlalchemy import select, union
from sqlalchemy.orm import Session, sessionmaker

from endorse.db import transaction
from endorse.documents import Endorsement as EndorsementCategory
from endorse.text import single_line
from models import (
    Application,
    CoordinatorAccount,
    Endorsement,
    ExamSitting,
    Person,
    ReferenceRequest,
    ReviewerAvailability,
    RscRecord,
    record_audit,
)


class NotYourPerson(ValueError):
    """The person belongs to another association: only its coordinators change the record."""


def person_by_email(s: Session, email: str) -> Person:
    person = s.scalars(select(Person).where(Person.email_normalized == email.strip().casefold())).one_or_none()
    if person is None:
        raise LookupError(f"email: nobody with the address {email!r}")
    return person


def claim_for(s: Session, person: Person, association: str) -> None:
    """Refuse unless ``association`` may change ``person`` (taking a person no association has yet)."""
    if person.home_association is None:
        person.home_association = association
    elif person.home_association != association:
        raise NotYourPerson(f"{person.email} belongs to {person.home_association}: only its coordinators can change "
                            f"their record (what your application says about them stays on your application)")


def associations_seeing(s: Session, person_id: int) -> dict[str, set[str]]:
    """Each association that sees the person → the applications of theirs the person appears on."""
    seen: dict[str, set[str]] = {}
    on_applications = union(
        select(Application.association_code, Application.id).where(Application.applicant_id == person_id),
        select(Application.association_code, Application.id)
        .join(ReferenceRequest, ReferenceRequest.application_id == Application.id)
        .where(ReferenceRequest.rater_id == person_id),
        select(Application.association_code, Application.id)
        .join(RscRecord, RscRecord.application_id == Application.id).where(RscRecord.provider_id == person_id))
    for code, app_id in s.execute(on_applications):
        seen.setdefault(code, set()).add(app_id)
    elsewhere = union(
        select(CoordinatorAccount.association_code).where(CoordinatorAccount.person_id == person_id),
        select(ExamSitting.association_code).join(ReviewerAvailability, ReviewerAvailability.sitting_id == ExamSitting.id)
        .where(ReviewerAvailability.person_id == person_id))
    for (code,) in s.execute(elsewhere):
        seen.setdefault(code, set())
    home = s.get(Person, person_id).home_association
    if home:
        seen.setdefault(home, set())
    return seen


def audit_person_change(s: Session, person: Person, *, actor: str, action: str, **details) -> None:
    """One entry per association that sees the person (and one on each of its applications the person is
    on, so it shows in those timelines)."""
    for code, app_ids in sorted(associations_seeing(s, person.id).items()):
        for app_id in sorted(app_ids) or [None]:
            record_audit(s, actor=actor, action=action, entity_type="person", entity_id=person.id,
                         application_id=app_id, association=code, **details)


def change_person(sessions: sessionmaker[Session], email: str, *, association: str, actor: str,
                  name: str | None = None, employer: str | None = None) -> int:
    """A coordinator of the person's own association corrects their name or employer."""
    with transaction(sessions) as s:
        person = person_by_email(s, email)
        claim_for(s, person, association)
        changes = {}
        if name is not None and single_line(name, "name") != person.name:
            changes["name"] = [person.name, single_line(name, "name")]
            person.name = changes["name"][1]
        if employer is not None and single_line(employer, "employer") != (person.employer or ""):
            changes["employer"] = [person.employer, single_line(employer, "employer") or None]
            person.employer = changes["employer"][1]
        if changes:
            s.flush()
            audit_person_change(s, person, actor=actor, action="person.changed", by_association=association,
                                changes=changes)
        return person.id


def record_endorsement(sessions: sessionmaker[Session], email: str, *, category: str, association: str, actor: str,
                       number: str | None = None, granted_on: date | None = None) -> int:
    """A coordinator of the person's own association records an endorsement they hold (checked by them,
    e.g. against their register): verified, like one this system granted."""
    if category not in get_args(EndorsementCategory):
        raise ValueError(f"category: {category!r} is not an endorsement category")
    with transaction(sessions) as s:
        person = person_by_email(s, email)
        claim_for(s, person, association)
        row = s.scalars(select(Endorsement).where(Endorsement.person_id == person.id, Endorsement.category == category,
                                                  Endorsement.origin == "recorded")).first()
        if number is not None and s.scalars(select(Endorsement.id).where(
                Endorsement.number == number, Endorsement.id != (row.id if row else -1))).first() is not None:
            raise ValueError(f"number: {number} is already the number of another endorsement")
        if row is None:
            row = Endorsement(person_id=person.id, category=category, origin="recorded")
            s.add(row)
        row.association_code, row.number, row.granted_on = association, number, granted_on
        row.status, row.recorded_by = "active", actor
        s.flush()
        audit_person_change(s, person, actor=actor, action="person.endorsement_recorded", by_association=association,
                            category=category, number=number)
        return row.id
