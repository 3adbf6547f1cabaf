"""Coordinator accounts: who may sign in to an association's dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from endorse import auth, links
from endorse.db import transaction
from endorse.documents import _email
from endorse.text import single_line
from models import Association, CoordinatorAccount, Person, record_audit, utcnow
from tasks.intake.people import audit_person_change, claim_for
from tasks.intake.records import person_for


def set_coordinator(sessions: sessionmaker[Session], *, association: str, name: str, email: str, password: str,
                    actor: str, admin: bool = False) -> int:
    """Create a coordinator account, or reset its password and reactivate it. The password is stored
    only as a scrypt hash and never logged. ``admin`` makes it an association admin; the first account
    of an association always is one (someone must be able to manage the others)."""
    name, email = single_line(name, "name"), single_line(email, "email", max_length=254)
    hashed = auth.hash_password(password)
    with transaction(sessions) as s:
        if s.get(Association, association) is None:
            raise LookupError(f"no association {association!r}")
        person = person_for(s, name, email, association=association)
        account = s.scalars(select(CoordinatorAccount).where(CoordinatorAccount.person_id == person.id)).first()
        created = account is None
        if created:
            account = CoordinatorAccount(person_id=person.id, association_code=association, password_hash=hashed,
                                         is_admin=admin or not _has_admin(s, association))
            s.add(account)
        elif account.association_code != association:
            raise ValueError(f"{email} already coordinates {account.association_code}")
        account.password_hash, account.active = hashed, True
        account.is_admin = account.is_admin or admin
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
                     entity_type="coordinator_account", entity_id=account.id, association=association,
                     admin=account.is_admin)
        return account.id


def _has_admin(s: Session, association: str, *, besides: int | None = None) -> bool:
    q = select(CoordinatorAccount.id).where(CoordinatorAccount.association_code == association,
                                            CoordinatorAccount.active.is_(True), CoordinatorAccount.is_admin.is_(True))
    if besides is not None:
        q = q.where(CoordinatorAccount.id != besides)
    return s.scalars(q.limit(1)).first() is not None


# --- the association's accounts on the web (admins only) ----------------------------------------------------

@dataclass(frozen=True)
class AccountLine:
    id: int
    name: str
    email: str
    is_admin: bool
    active: bool


def accounts_of(s: Session, association: str) -> list[AccountLine]:
    rows = s.execute(select(CoordinatorAccount, Person).join(Person, Person.id == CoordinatorAccount.person_id)
                     .where(CoordinatorAccount.association_code == association)
                     .order_by(CoordinatorAccount.active.desc(), Person.name, CoordinatorAccount.id)).all()
    return [AccountLine(a.id, p.name, p.email, a.is_admin, a.active) for a, p in rows]


def invite_coordinator(sessions: sessionmaker[Session], *, association: str, name: str, email: str, admin: bool,
                       actor: str, secret_key: str, now: datetime | None = None) -> int:
    """An admin adds a coordinator: the account cannot sign in until its holder sets a password through
    the link emailed to them (the admin never types, sees or sends it). Adding a closed account of the
    association again reopens it the same way. Raises ValueError naming the field."""
    name, email = single_line(name, "name"), single_line(email, "email", max_length=254)
    if not name:
        raise ValueError("name: write the coordinator's name")
    try:
        _email(email)  # the same rule as every email address a document gives
    except ValueError:
        raise ValueError("email: write one email address, like name@example.org") from None
    with transaction(sessions) as s:
        person = person_for(s, name, email, association=association)
        account = s.scalars(select(CoordinatorAccount).where(CoordinatorAccount.person_id == person.id)).first()
        if account is not None and account.association_code != association:
            raise ValueError(f"email: {email} already coordinates another association")
        if account is not None and account.active:
            raise ValueError(f"email: {email} already has an active account")
        created = account is None
        if created:
            account = CoordinatorAccount(person_id=person.id, association_code=association,
                                         password_hash=NO_PASSWORD, is_admin=admin)
            s.add(account)
        account.active, account.is_admin, account.password_hash = True, admin, NO_PASSWORD
        account.session_version = (account.session_version or 0) + 1
        account.failed_sign_ins, account.locked_until = 0, None
        s.flush()
        record_audit(s, actor=actor, action="coordinator.created" if created else "coordinator.reopened",
                     entity_type="coordinator_account", entity_id=account.id, association=association, admin=admin)
        _send_password_link(s, account, person, "coordinator.account_created", secret_key, now or utcnow(), actor)
        return account.id


class LastAdmin(ValueError):
    """Closing or demoting this account would leave the association with nobody to manage its accounts."""


def _keep_an_admin(s: Session, account: CoordinatorAccount, what: str) -> None:
    """Refuse to close or demote the association's last active admin (nobody could manage the accounts)."""
    if account.is_admin and account.active and not _has_admin(s, account.association_code, besides=account.id):
        raise LastAdmin(f"This is the association's last admin: make another coordinator an admin before {what}.")


def _close(s: Session, account: CoordinatorAccount, actor: str) -> None:
    _keep_an_admin(s, account, "closing this account")
    account.active = False
    account.session_version += 1
    account.token_nonce = account.token_hash = account.token_expires_at = None
    record_audit(s, actor=actor, action="coordinator.deactivated", entity_type="coordinator_account",
                 entity_id=account.id, association=account.association_code)


def _own_account(s: Session, account_id: int, association: str) -> CoordinatorAccount:
    # Locked: two admins demoting each other at once must not leave the association without one.
    account = s.scalars(select(CoordinatorAccount).where(CoordinatorAccount.id == account_id)
                        .with_for_update()).first()
    if account is None or account.association_code != association:
        raise LookupError("no such account in this association")
    # Every admin row of the association too, so the last-admin count is read under the same locks.
    s.scalars(select(CoordinatorAccount.id).where(CoordinatorAccount.association_code == association,
                                                  CoordinatorAccount.is_admin.is_(True)).with_for_update()).all()
    return account


def close_account(sessions: sessionmaker[Session], account_id: int, *, association: str, by_account: int,
                  actor: str) -> str:
    """An admin closes one of the association's accounts (never their own, never the last admin's):
    it can no longer sign in and its sessions end. LookupError for an account of another association."""
    with transaction(sessions) as s:
        account = _own_account(s, account_id, association)
        if account.id == by_account:
            raise ValueError("You cannot close your own account: ask another admin.")
        _close(s, account, actor)
        return s.get(Person, account.person_id).email


def set_admin(sessions: sessionmaker[Session], account_id: int, *, association: str, admin: bool, actor: str) -> bool:
    """An admin grants or revokes the admin role on an active account of their own association (their own
    included, unless they are the last admin). One transaction, audited; False when nothing changes.
    LookupError for an account of another association (the caller answers as for none at all)."""
    with transaction(sessions) as s:
        account = _own_account(s, account_id, association)
        if not account.active:
            raise ValueError("This account is closed: add the coordinator again to reopen it.")
        if account.is_admin == admin:
            return False
        if not admin:
            _keep_an_admin(s, account, "taking the admin role from this one")
        account.is_admin = admin
        record_audit(s, actor=actor, action="coordinator.admin_granted" if admin else "coordinator.admin_revoked",
                     entity_type="coordinator_account", entity_id=account.id, association=association)
        return True


def admin_account(sessions: sessionmaker[Session], email: str) -> tuple[int, str]:
    """The active admin account an email names (the CLI's ``--by`` for account changes): (id, association).
    LookupError when there is none, ValueError when it is not an admin."""
    with sessions() as s:
        account = s.scalars(select(CoordinatorAccount).join(Person, Person.id == CoordinatorAccount.person_id)
                            .where(Person.email_normalized == email.strip().casefold(),
                                   CoordinatorAccount.active.is_(True))).first()
    if account is None:
        raise LookupError(f"--by: {email} is not an active coordinator account")
    if not account.is_admin:
        raise ValueError(f"--by: {email} is not an admin of {account.association_code}: only an admin "
                              "changes who is one")
    return account.id, account.association_code


def account_by_email(sessions: sessionmaker[Session], email: str, association: str) -> int:
    """The id of the association's account an email names; LookupError (the same for another
    association's account as for none)."""
    with sessions() as s:
        account_id = s.scalars(select(CoordinatorAccount.id).join(Person, Person.id == CoordinatorAccount.person_id)
                               .where(Person.email_normalized == email.strip().casefold(),
                                      CoordinatorAccount.association_code == association)).first()
    if account_id is None:
        raise LookupError(f"--email: no coordinator account for {email} in {association}")
    return account_id


# --- setting a password by emailed link ---------------------------------------------------------------------

NO_PASSWORD = "!unset"  # no scrypt hash: verify_password refuses it, so no password signs in
LINK_PURPOSE = "coordinator-password"  # its own HMAC purpose (as in tasks/mail/outbox.py): no other link opens it


class PasswordLinkNotWorking(LookupError):
    """Unknown, used, expired or replaced: one answer, no hint which."""


def _send_password_link(s: Session, account: CoordinatorAccount, person: Person, role: str, secret_key: str,
                        now: datetime, actor: str) -> None:
    from tasks.mail.outbox import queue_email

    link = links.issue(secret_key, LINK_PURPOSE)
    account.token_nonce, account.token_hash = link.nonce, link.token_hash
    account.token_expires_at = now + timedelta(seconds=auth.PASSWORD_LINK_SECONDS)
    s.flush()
    queue_email(s, role=role, to_email=person.email, to_name=person.name, association=account.association_code,
                link_kind="password", link_ref_id=account.id,
                idempotency_key=f"{role}:{account.id}:{link.token_hash[:16]}",
                context={"name": person.name, "valid_minutes": auth.PASSWORD_LINK_SECONDS // 60})
    record_audit(s, actor=actor, action="coordinator.password_link_sent", entity_type="coordinator_account",
                 entity_id=account.id, association=account.association_code)


def request_password_reset(sessions: sessionmaker[Session], email: str, *, secret_key: str,
                           now: datetime | None = None) -> None:
    """"Forgot your password?": an active account gets a link by email. The caller answers the same
    whether or not the address has an account; at most one email per account per
    ``auth.PASSWORD_LINK_RESEND_SECONDS`` (asking again within it sends nothing and keeps the link)."""
    email, now = email.strip().casefold()[:254], now or utcnow()
    with transaction(sessions) as s:
        row = s.execute(select(CoordinatorAccount, Person).join(Person, Person.id == CoordinatorAccount.person_id)
                        .where(Person.email_normalized == email, CoordinatorAccount.active.is_(True))
                        .with_for_update(of=CoordinatorAccount)).first()
        if row is None:
            record_audit(s, actor=f"coordinator:{email}", action="coordinator.password_reset_unknown",
                         entity_type="coordinator_account", entity_id="-")
            return
        account, person = row
        issued = (_aware(account.token_expires_at) - timedelta(seconds=auth.PASSWORD_LINK_SECONDS)
                  if account.token_expires_at is not None else None)
        if issued is not None and now - issued < timedelta(seconds=auth.PASSWORD_LINK_RESEND_SECONDS):
            record_audit(s, actor=f"coordinator:{email}", action="coordinator.password_reset_throttled",
                         entity_type="coordinator_account", entity_id=account.id,
                         association=account.association_code)
            return
        _send_password_link(s, account, person, "coordinator.password_reset", secret_key, now, f"coordinator:{email}")


def _account_of_link(s: Session, token: str, now: datetime) -> CoordinatorAccount:
    if not links.well_formed(token):
        raise PasswordLinkNotWorking()
    account = s.scalars(select(CoordinatorAccount)
                        .where(CoordinatorAccount.token_hash == links.hash_token(token))).first()
    if (account is None or not account.active or not links.matches(token, account.token_hash)
            or account.token_expires_at is None or _aware(account.token_expires_at) <= now):
        raise PasswordLinkNotWorking()
    return account


def password_link_holder(sessions: sessionmaker[Session], token: str, now: datetime | None = None) -> str:
    """The email of the account a working link sets the password of; else PasswordLinkNotWorking."""
    with sessions() as s:
        account = _account_of_link(s, token, now or utcnow())
        return s.get(Person, account.person_id).email


def set_password_by_link(sessions: sessionmaker[Session], token: str, password: str, *,
                         now: datetime | None = None) -> SignedIn:
    """Set the password through a working link, once: the link dies, every existing session of the
    account ends, a lockout is lifted. ValueError (the CLI's strength rule) writes nothing."""
    hashed = auth.hash_password(password)  # before the transaction: a weak password changes nothing
    with transaction(sessions) as s:
        account = _account_of_link(s, token, now or utcnow())
        claimed = s.execute(update(CoordinatorAccount)  # single use even when two posts race
                            .where(CoordinatorAccount.id == account.id,
                                   CoordinatorAccount.token_hash == links.hash_token(token))
                            .values(token_nonce=None, token_hash=None, token_expires_at=None, password_hash=hashed,
                                    session_version=CoordinatorAccount.session_version + 1,
                                    failed_sign_ins=0, locked_until=None))
        if claimed.rowcount != 1:
            raise PasswordLinkNotWorking()
        s.refresh(account)
        email = s.get(Person, account.person_id).email
        record_audit(s, actor=f"coordinator:{email}", action="coordinator.password_set", entity_type="coordinator_account",
                     entity_id=account.id, association=account.association_code)
        return SignedIn(account.id, account.session_version)


def deactivate_coordinator(sessions: sessionmaker[Session], email: str, *, actor: str) -> None:
    """Close an account (the command line): it can no longer sign in, and every session it has ends at
    once. The association's last admin is never closed (``LastAdmin``)."""
    with transaction(sessions) as s:
        account_id = s.scalars(select(CoordinatorAccount.id).join(Person, Person.id == CoordinatorAccount.person_id)
                               .where(Person.email_normalized == email.strip().casefold())).first()
        if account_id is None:
            raise LookupError(f"email: no coordinator account for {email}")
        account = _own_account(s, account_id, s.get(CoordinatorAccount, account_id).association_code)
        if not account.active:
            return  # already closed: running it again changes nothing
        _close(s, account, actor)


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
