"""Coordinator accounts: who may sign in to an association's dashboard."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse import auth
from endorse.db import transaction
from endorse.text import single_line
from models import Association, CoordinatorAccount, record_audit
from tasks.records import upsert_person


def set_coordinator(sessions: sessionmaker[Session], *, association: str, name: str, email: str, password: str,
                    actor: str) -> int:
    """Create a coordinator account, or reset its password and reactivate it. The password is stored
    only as a scrypt hash and never logged."""
    name, email = single_line(name, "name"), single_line(email, "email", max_length=254)
    hashed = auth.hash_password(password)
    with transaction(sessions) as s:
        if s.get(Association, association) is None:
            raise LookupError(f"no association {association!r}")
        person = upsert_person(s, name, email)
        account = s.scalars(select(CoordinatorAccount).where(CoordinatorAccount.person_id == person.id)).first()
        created = account is None
        if created:
            account = CoordinatorAccount(person_id=person.id, association_code=association, password_hash=hashed)
            s.add(account)
        elif account.association_code != association:
            raise ValueError(f"{email} already coordinates {account.association_code}")
        account.password_hash, account.active = hashed, True
        s.flush()
        record_audit(s, actor=actor, action="coordinator.created" if created else "coordinator.password_reset",
                     entity_type="coordinator_account", entity_id=account.id, association=association)
        return account.id
