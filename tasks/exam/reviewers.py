"""Registering an essay reviewer and their availability for a sitting (the web's verb; the CLI's
``add-reviewer`` does the same inline until the Typer port calls this)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse.db import transaction
from endorse.text import single_line
from models import ExamSitting, ReviewerAvailability, ReviewerProfile, record_audit
from tasks.intake.people import audit_person_change, claim_for
from tasks.intake.records import person_for


def register_reviewer(sessions: sessionmaker[Session], *, association: str, sitting_id: int, name: str, email: str,
                      max_load: int, min_load: int = 0, trained: bool = True, employer: str | None = None,
                      actor: str) -> int:
    """A reviewer (found by email, or new) available for a sitting of the association, with the most and
    optionally the fewest essays they offered; a correction of their name or employer is a change to the
    person, made and audited only by this association. Returns the person's id."""
    if max_load < 1:
        raise ValueError(f"most essays: 1 or more, got {max_load}")
    if not 0 <= min_load <= max_load:
        raise ValueError(f"fewest essays: from 0 to the most ({max_load}), got {min_load}")
    name, email = single_line(name, "name"), single_line(email, "email", max_length=254)
    if email.count("@") != 1 or " " in email:
        raise ValueError("email: write one email address, like name@example.org")
    employer = single_line(employer, "employer") if employer else None
    with transaction(sessions) as s:
        sitting = s.get(ExamSitting, sitting_id)
        if sitting is None or sitting.association_code != association:
            raise LookupError(f"no exam sitting {sitting_id}")
        person = person_for(s, name, email, association=association)
        changes = {k: [getattr(person, k), v] for k, v in (("name", name), ("employer", employer))
                   if v is not None and getattr(person, k) != v}
        if changes:
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
        profile.trained, profile.active = trained, True
        profile.max_load, profile.min_load = max_load, min_load
        avail = s.scalars(select(ReviewerAvailability).where(ReviewerAvailability.person_id == person.id,
                                                             ReviewerAvailability.sitting_id == sitting_id)).first()
        if avail is None:
            s.add(ReviewerAvailability(person_id=person.id, sitting_id=sitting_id, max_load=max_load, min_load=min_load))
        else:
            avail.max_load, avail.min_load = max_load, min_load
        s.flush()
        record_audit(s, actor=actor, action="exam.reviewer_registered", entity_type="person", entity_id=person.id,
                     trained=trained, max_load=max_load, min_load=min_load, sitting_id=sitting_id)
        return person.id
