"""Coordinator accounts: who may sign in to an association's dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from endorse import auth
from endorse.db import transaction
from endorse.text import single_line
from models import Association, CoordinatorAccount, Person, record_audit, utcnow
from tasks.people import audit_person_change, claim_for
from tasks.records import person_for


def set_coordinator(sessions: sessionmaker[Session], *, association: str, name: str, email: str, password: str,
                    actor: str) -> int:
    """Create a coordinator account, or reset its password and reactivate it. The password is stored
    only as a scrypt hash and never logged."""
    name, email = single_line(name, "name"), single_line(email, "email", max_length=254)
    hashed = auth.hash_password(password)
    with transaction(sessions) as s:
        if s.get(Association, association) is None:
            raise LookupError(f"no association {association!r}")
        person = person_for(s, name, email, association=association)
        account = s.scalars(select(CoordinatorAccount).where(CoordinatorAccount.person_id == person.id)).first()
        created = account is None
        if created:
            account = CoordinatorAccount(person_id=person.id, association_code=association, password_hash=hashed)
            s.add(account)
        elif account.association_code != association:
            raise ValueError(f"{email} already coordinates {account.association_code}")
        account.password_hash, account.active = hashed, True
        # A new password ends every session signed in with the old one.
        account.session_version = (account.session_version or 0) + 1
        account.failed_sign_ins, account.locked_until = 0, None
        if person.name != name:  # only the coordinator's own association changes their record
            claim_for(s, person, association)
            audit_person_change(s, person, actor=actor, action="person.changed", by_association=association,
                                changes={"name": [person.name, name]})
            person.name = name
        s.flush()
        record_audit(s, actor=actor, action="coordinator.created" if created else "coordinator.password_reset",
                     entity_type="coordinator_account", entity_id=account.id, association=association)
        return account.id


def deactivate_coordinator(sessions: sessionmaker[Session], email: str, *, actor: str) -> None:
    """Close an account: it can no longer sign in, and every session it has ends at once."""
    with transaction(sessions) as s:
        account = s.scalars(select(CoordinatorAccount).join(Person, Person.id == CoordinatorAccount.person_id)
                            .where(Person.email_normalized == email.strip().casefold())).first()
        if account is None:
            raise LookupError(f"email: no coordinator account for {email}")
        account.active = False
        account.session_version += 1
        record_audit(s, actor=actor, action="coordinator.deactivated", entity_type="coordinator_account",
                     entity_id=account.id, association=account.association_code)


def end_sessions(sessions: sessionmaker[Session], account_id: int, *, actor: str) -> None:
    """Sign-out: every session of the account ends (the version in their cookies no longer matches)."""
    with transaction(sessions) as s:
        account = s.get(CoordinatorAccount, account_id)
        account.session_version += 1
        record_audit(s, actor=actor, action="coordinator.signed_out", entity_type="coordinator_account",
                     entity_id=account.id, association=account.association_code)


@dataclass(frozen=True)
class SignedIn:
    account_id: int
    session_version: int


def sign_in(sessions: sessionmaker[Session], email: str, password: str) -> SignedIn | None:
    """Check a sign-in, count a failure against the account (locking it with backoff), audit it.

    Blocking (scrypt takes ~50 ms): the web app runs it in a worker thread. A locked account is
    refused without checking the password, but a hash is still computed, so the time taken tells
    nothing about the account."""
    email = email.strip().casefold()
    with transaction(sessions) as s:
        account = s.scalars(select(CoordinatorAccount).join(Person, Person.id == CoordinatorAccount.person_id)
                            .where(Person.email_normalized == email)).first()
        now = utcnow()
        locked = account is not None and account.locked_until is not None and _aware(account.locked_until) > now
        usable = account is not None and account.active and not locked
        ok = auth.verify_password(password, account.password_hash if usable else auth.DUMMY_HASH) and usable
        if account is not None and ok:
            account.failed_sign_ins, account.locked_until = 0, None
        elif account is not None and not locked:
            # One UPDATE, so guesses sent in parallel each count.
            s.execute(update(CoordinatorAccount).where(CoordinatorAccount.id == account.id)
                      .values(failed_sign_ins=CoordinatorAccount.failed_sign_ins + 1))
            s.refresh(account)
            wait = auth.lockout_seconds(account.failed_sign_ins)
            if wait:
                account.locked_until = now + timedelta(seconds=wait)
        action = "coordinator.signed_in" if ok else ("coordinator.sign_in_locked" if locked else "coordinator.sign_in_refused")
        record_audit(s, actor=f"coordinator:{email}", action=action, entity_type="coordinator_account",
                     entity_id=account.id if account else "-")
        return SignedIn(account.id, account.session_version) if ok else None


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)  # SQLite gives naive UTC back
