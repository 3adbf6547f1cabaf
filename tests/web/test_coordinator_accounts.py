"""Coordinator accounts on the web (issue 15, item 3): an association admin lists, adds and closes the
association's accounts; a new coordinator and one who forgot their password set it through an emailed
link that works once, for an hour. Every test runs on SQLite and PostgreSQL (the ``sessions`` fixture)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from endorse import auth
from endorse.db import transaction
from endorse.rulebook import default_library
from models import AuditLog, CoordinatorAccount, OutboxMessage, Person
from tasks.coordination import accounts
from tasks.coordination.accounts import set_coordinator
from tasks.intake.records import ensure_associations
from tasks.mail.outbox import _link_for
from tests.web.conftest import make_web_app

SECRET = "coordinator-test-secret"  # as tests/web/test_coordinator.py: the browser tests serve the app with it
PASSWORD = "correct horse battery staple"
ADMIN, HELPER, OTHER = "ada.admin@example.org", "hal.helper@example.org", "cal.ct@example.org"


@pytest.fixture
def assoc(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
    # The first account of an association is its admin; the second is not, unless asked.
    set_coordinator(sessions, association="MI-AIMH", name="Ada Admin", email=ADMIN, password=PASSWORD, actor="test")
    set_coordinator(sessions, association="MI-AIMH", name="Hal Helper", email=HELPER, password=PASSWORD, actor="test")
    set_coordinator(sessions, association="CT-AIMH", name="Cal Coordinator", email=OTHER, password=PASSWORD,
                    actor="test")
    return sessions


def client_of(sessions) -> TestClient:
    return TestClient(make_web_app(sessions, SECRET))


def csrf_of(client: TestClient, url: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(url).text).group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD):
    return client.post("/coordinator/login", data={"csrf": csrf_of(client, "/coordinator/login"), "email": email,
                                                   "password": password}, follow_redirects=False)


def signed_in(sessions, email: str) -> TestClient:
    client = client_of(sessions)
    assert sign_in(client, email).status_code == 303
    return client


def account(sessions, email: str) -> CoordinatorAccount:
    with sessions() as s:
        return s.scalars(select(CoordinatorAccount).join(Person, Person.id == CoordinatorAccount.person_id)
                         .where(Person.email_normalized == email)).one()


def emailed_link(sessions, email: str, role: str) -> str:
    """The link as the outbox puts it into the email at delivery time (only a nonce and a hash are stored)."""
    with sessions() as s:
        msg = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient_email == email, OutboxMessage.role == role)
                        .order_by(OutboxMessage.id.desc())).first()
        assert msg is not None, f"no {role} email to {email}"
        link = _link_for(s, msg, SECRET, "http://testserver")
    assert link is not None
    return link.removeprefix("http://testserver")


def emails_to(sessions, email: str) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.recipient_email == email))


def audits(sessions, action: str) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == action))


def set_password(client: TestClient, link: str, password: str = "a brand new passphrase", again: str | None = None):
    return client.post(link, data={"csrf": csrf_of(client, link), "password": password,
                                   "password_again": password if again is None else again})


# --- the admin role --------------------------------------------------------------------------------------

def test_first_account_of_an_association_is_its_admin_and_the_next_is_not(assoc):
    assert account(assoc, ADMIN).is_admin and not account(assoc, HELPER).is_admin
    assert account(assoc, OTHER).is_admin  # the first of CT-AIMH


def test_cli_admin_flag_makes_an_admin(assoc):
    set_coordinator(assoc, association="MI-AIMH", name="Second Admin", email="second@example.org", password=PASSWORD,
                    actor="test", admin=True)
    assert account(assoc, "second@example.org").is_admin


def test_accounts_page_lists_only_the_association_and_only_for_admins(assoc):
    page = signed_in(assoc, ADMIN).get("/coordinator/accounts")
    assert page.status_code == 200
    assert ADMIN in page.text and HELPER in page.text and OTHER not in page.text
    helper = signed_in(assoc, HELPER)
    refused = helper.get("/coordinator/accounts")
    assert refused.status_code == 403 and "Only an admin" in refused.text
    assert 'href="/coordinator/accounts"' not in helper.get("/coordinator/").text


# --- adding an account ------------------------------------------------------------------------------------

def test_admin_adds_a_coordinator_who_sets_their_password_by_emailed_link_then_signs_in(assoc):
    admin = signed_in(assoc, ADMIN)
    r = admin.post("/coordinator/accounts", data={"csrf": csrf_of(admin, "/coordinator/accounts"),
                                                  "name": "Nia New", "email": "nia.new@example.org"})
    assert r.status_code == 200 and "nia.new@example.org added" in r.text
    new = account(assoc, "nia.new@example.org")
    assert new.active and not new.is_admin and new.association_code == "MI-AIMH"
    assert not auth.verify_password("", new.password_hash)  # no password until they choose one
    assert audits(assoc, "coordinator.created") == 4 and audits(assoc, "coordinator.password_link_sent") == 1
    client = client_of(assoc)
    assert sign_in(client, "nia.new@example.org", "anything at all here").status_code == 401
    link = emailed_link(assoc, "nia.new@example.org", "coordinator.account_created")
    assert "nia.new@example.org" in client.get(link).text
    assert set_password(client, link).status_code == 200
    assert sign_in(client, "nia.new@example.org", "a brand new passphrase").status_code == 303


def test_admin_can_make_the_new_coordinator_an_admin(assoc):
    admin = signed_in(assoc, ADMIN)
    admin.post("/coordinator/accounts", data={"csrf": csrf_of(admin, "/coordinator/accounts"), "name": "Ann Other",
                                              "email": "ann@example.org", "admin": "yes"})
    assert account(assoc, "ann@example.org").is_admin


@pytest.mark.parametrize("name, email, says", [
    ("Nia New", "not-an-address", "email:"),
    ("", "nia@example.org", "name:"),
    ("Hal Again", HELPER, "already has an active account"),
    ("Cal Elsewhere", OTHER, "another association"),
    ("Line\nbreak", "lb@example.org", "name:"),
])
def test_adding_a_bad_account_is_refused_naming_the_field_and_writes_nothing(assoc, name, email, says):
    admin = signed_in(assoc, ADMIN)
    before = emails_to(assoc, email)
    with assoc() as s:
        count = s.scalar(select(func.count()).select_from(CoordinatorAccount))
    r = admin.post("/coordinator/accounts", data={"csrf": csrf_of(admin, "/coordinator/accounts"), "name": name,
                                                  "email": email})
    assert r.status_code == 422 and says in r.text
    with assoc() as s:
        assert s.scalar(select(func.count()).select_from(CoordinatorAccount)) == count
    assert emails_to(assoc, email) == before


def test_a_non_admin_cannot_add_or_close_accounts(assoc):
    helper = signed_in(assoc, HELPER)
    csrf = csrf_of(helper, "/coordinator/")
    assert helper.post("/coordinator/accounts", data={"csrf": csrf, "name": "X", "email": "x@example.org"}).status_code == 403
    assert helper.post(f"/coordinator/accounts/{account(assoc, ADMIN).id}/deactivate", data={"csrf": csrf}).status_code == 403
    assert account(assoc, ADMIN).active and emails_to(assoc, "x@example.org") == 0


def test_adding_without_the_csrf_token_is_refused(assoc):
    admin = signed_in(assoc, ADMIN)
    r = admin.post("/coordinator/accounts", data={"csrf": "forged", "name": "X", "email": "x@example.org"})
    assert r.status_code == 403 and emails_to(assoc, "x@example.org") == 0


# --- closing an account -----------------------------------------------------------------------------------

def test_admin_closes_an_account_and_its_sessions_end(assoc):
    helper = signed_in(assoc, HELPER)
    admin = signed_in(assoc, ADMIN)
    r = admin.post(f"/coordinator/accounts/{account(assoc, HELPER).id}/deactivate",
                   data={"csrf": csrf_of(admin, "/coordinator/accounts")})
    assert r.status_code == 200 and "can no longer sign in" in r.text
    assert not account(assoc, HELPER).active and audits(assoc, "coordinator.deactivated") == 1
    assert helper.get("/coordinator/", follow_redirects=False).status_code == 303  # back to sign-in
    assert sign_in(client_of(assoc), HELPER).status_code == 401


def test_nobody_closes_their_own_account_or_the_last_admin(assoc):
    admin = signed_in(assoc, ADMIN)
    r = admin.post(f"/coordinator/accounts/{account(assoc, ADMIN).id}/deactivate",
                   data={"csrf": csrf_of(admin, "/coordinator/accounts")})
    assert r.status_code == 422 and "your own account" in r.text and account(assoc, ADMIN).active
    set_coordinator(assoc, association="MI-AIMH", name="Hal Helper", email=HELPER, password=PASSWORD, actor="test",
                    admin=True)
    # With two admins one may close the other; then the one left is the last admin and stays.
    accounts.close_account(assoc, account(assoc, HELPER).id, association="MI-AIMH",
                           by_account=account(assoc, ADMIN).id, actor="test")
    with pytest.raises(accounts.LastAdmin):
        accounts.close_account(assoc, account(assoc, ADMIN).id, association="MI-AIMH",
                               by_account=account(assoc, HELPER).id, actor="test")
    assert account(assoc, ADMIN).active


def test_another_associations_account_is_not_found(assoc):
    admin = signed_in(assoc, ADMIN)
    r = admin.post(f"/coordinator/accounts/{account(assoc, OTHER).id}/deactivate",
                   data={"csrf": csrf_of(admin, "/coordinator/accounts")})
    assert r.status_code == 404 and account(assoc, OTHER).active


# --- granting and revoking the admin role ------------------------------------------------------------------

def make_admin(client: TestClient, email_or_id, grant: bool = True, sessions=None):
    target = email_or_id if isinstance(email_or_id, int) else account(sessions, email_or_id).id
    return client.post(f"/coordinator/accounts/{target}/admin",
                       data={"csrf": csrf_of(client, "/coordinator/"), "admin": "yes" if grant else "no"})


def test_an_admin_grants_the_admin_role_and_takes_it_back_audited(assoc):
    admin = signed_in(assoc, ADMIN)
    page = admin.get("/coordinator/accounts").text
    assert f'action="/coordinator/accounts/{account(assoc, HELPER).id}/admin"' in page
    r = make_admin(admin, HELPER, sessions=assoc)
    assert r.status_code == 200 and "now an admin" in r.text and account(assoc, HELPER).is_admin
    helper = signed_in(assoc, HELPER)
    assert helper.get("/coordinator/accounts").status_code == 200  # the role works at once
    assert make_admin(admin, HELPER, grant=False, sessions=assoc).status_code == 200
    assert not account(assoc, HELPER).is_admin
    assert helper.get("/coordinator/accounts").status_code == 403  # and is gone at once
    with assoc() as s:
        trail = [(a.action, a.actor, a.entity_id) for a in s.scalars(
            select(AuditLog).where(AuditLog.action.like("coordinator.admin_%")).order_by(AuditLog.id))]
    helper_id = str(account(assoc, HELPER).id)
    assert trail == [("coordinator.admin_granted", f"coordinator:{ADMIN}", helper_id),
                     ("coordinator.admin_revoked", f"coordinator:{ADMIN}", helper_id)]
    assert make_admin(admin, HELPER, grant=False, sessions=assoc).status_code == 200  # again: nothing changes
    assert audits(assoc, "coordinator.admin_revoked") == 1


def test_the_last_admin_is_never_demoted_or_closed(assoc):
    admin = signed_in(assoc, ADMIN)
    r = make_admin(admin, ADMIN, grant=False, sessions=assoc)  # their own role, the last one
    assert r.status_code == 422 and "last admin" in r.text and account(assoc, ADMIN).is_admin
    make_admin(admin, HELPER, sessions=assoc)
    # Two admins: one may step down; then the other is the last and keeps the role.
    stepped_down = make_admin(admin, ADMIN, grant=False, sessions=assoc)
    assert stepped_down.status_code == 200 and "no longer an admin" in stepped_down.text  # on the dashboard
    assert not account(assoc, ADMIN).is_admin and admin.get("/coordinator/accounts").status_code == 403
    helper = signed_in(assoc, HELPER)
    r = make_admin(helper, HELPER, grant=False, sessions=assoc)
    assert r.status_code == 422 and "last admin" in r.text and account(assoc, HELPER).is_admin
    with pytest.raises(accounts.LastAdmin):
        accounts.close_account(assoc, account(assoc, HELPER).id, association="MI-AIMH",
                               by_account=account(assoc, ADMIN).id, actor="test")
    with pytest.raises(accounts.LastAdmin):  # the command line's deactivate keeps the rule too
        accounts.deactivate_coordinator(assoc, HELPER, actor="cli")
    assert account(assoc, HELPER).active and account(assoc, HELPER).is_admin
    assert audits(assoc, "coordinator.admin_revoked") == 1


def test_a_closed_account_is_not_made_an_admin(assoc):
    admin = signed_in(assoc, ADMIN)
    accounts.close_account(assoc, account(assoc, HELPER).id, association="MI-AIMH",
                           by_account=account(assoc, ADMIN).id, actor="test")
    r = make_admin(admin, HELPER, sessions=assoc)
    assert r.status_code == 422 and "closed" in r.text and not account(assoc, HELPER).is_admin


def test_a_non_admin_cannot_grant_the_admin_role_not_even_to_themselves(assoc):
    helper = signed_in(assoc, HELPER)
    for target, grant in ((HELPER, True), (ADMIN, False)):
        assert make_admin(helper, target, grant, sessions=assoc).status_code == 403
    assert not account(assoc, HELPER).is_admin and account(assoc, ADMIN).is_admin
    assert audits(assoc, "coordinator.admin_granted") + audits(assoc, "coordinator.admin_revoked") == 0


def test_another_associations_admin_cannot_touch_these_accounts_and_learns_nothing(assoc):
    other = signed_in(assoc, OTHER)  # CT-AIMH's admin
    missing = make_admin(other, 999_999, sessions=assoc)
    assert missing.status_code == 404
    for target, grant in ((HELPER, True), (ADMIN, False)):
        r = make_admin(other, target, grant, sessions=assoc)
        assert r.status_code == 404 and r.text == missing.text  # the same page as no account at all
    r = other.post(f"/coordinator/accounts/{account(assoc, HELPER).id}/deactivate",
                   data={"csrf": csrf_of(other, "/coordinator/")})
    assert r.status_code == 404 and r.text == missing.text
    assert HELPER not in other.get("/coordinator/accounts").text
    assert not account(assoc, HELPER).is_admin and account(assoc, ADMIN).is_admin and account(assoc, HELPER).active


def test_granting_without_the_csrf_token_changes_nothing(assoc):
    admin = signed_in(assoc, ADMIN)
    r = admin.post(f"/coordinator/accounts/{account(assoc, HELPER).id}/admin", data={"csrf": "forged", "admin": "yes"})
    assert r.status_code == 403 and not account(assoc, HELPER).is_admin


# --- forgot your password? -------------------------------------------------------------------------------

def forgot(client: TestClient, email: str):
    return client.post("/coordinator/login/forgot", data={"csrf": csrf_of(client, "/coordinator/login/forgot"),
                                                          "email": email})


def test_sign_in_page_offers_forgot_your_password(assoc):
    assert 'href="/coordinator/login/forgot"' in client_of(assoc).get("/coordinator/login").text


def test_forgot_answers_the_same_whether_or_not_the_address_has_an_account(assoc):
    client = client_of(assoc)
    known, unknown = forgot(client, HELPER), forgot(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(HELPER, "X") == unknown.text.replace("nobody@example.org", "X")
    assert emails_to(assoc, HELPER) == 1 and emails_to(assoc, "nobody@example.org") == 0


def test_forgot_sends_one_email_per_account_in_the_resend_window(assoc):
    client = client_of(assoc)
    forgot(client, HELPER)
    forgot(client, HELPER)
    assert emails_to(assoc, HELPER) == 1 and audits(assoc, "coordinator.password_reset_throttled") == 1
    later = account(assoc, HELPER).token_expires_at
    accounts.request_password_reset(assoc, HELPER, secret_key=SECRET, now=accounts.utcnow() + timedelta(
        seconds=auth.PASSWORD_LINK_RESEND_SECONDS + 1))
    assert emails_to(assoc, HELPER) == 2 and account(assoc, HELPER).token_expires_at != later


def test_reset_link_sets_the_password_once_ends_old_sessions_and_is_audited(assoc):
    old_session = signed_in(assoc, HELPER)
    client = client_of(assoc)
    forgot(client, HELPER)
    link = emailed_link(assoc, HELPER, "coordinator.password_reset")
    r = set_password(client, link)
    assert r.status_code == 200 and "Your password is set" in r.text
    assert old_session.get("/coordinator/", follow_redirects=False).status_code == 303
    assert sign_in(client, HELPER, PASSWORD).status_code == 401
    assert sign_in(client, HELPER, "a brand new passphrase").status_code == 303
    assert audits(assoc, "coordinator.password_set") == 1
    assert client.get(link).status_code == 404  # single use
    replay = client.post(link, data={"csrf": csrf_of(client, "/coordinator/login"), "password": "yet another passphrase",
                                     "password_again": "yet another passphrase"})
    assert replay.status_code == 404
    assert account(assoc, HELPER).token_hash is None


def test_reset_link_expires_after_an_hour(assoc):
    accounts.request_password_reset(assoc, HELPER, secret_key=SECRET)
    link = emailed_link(assoc, HELPER, "coordinator.password_reset")
    token = link.rsplit("/", 1)[1]
    later = accounts.utcnow() + timedelta(seconds=auth.PASSWORD_LINK_SECONDS + 1)
    with pytest.raises(accounts.PasswordLinkNotWorking):
        accounts.set_password_by_link(assoc, token, "a brand new passphrase", now=later)
    assert auth.verify_password(PASSWORD, account(assoc, HELPER).password_hash)


@pytest.mark.parametrize("password, again, says", [
    ("short", "short", "at least 12 characters"),
    ("a brand new passphrase", "a different passphrase", "the two passwords differ"),
])
def test_a_weak_or_mistyped_password_is_refused_and_the_link_still_works(assoc, password, again, says):
    client = client_of(assoc)
    forgot(client, HELPER)
    link = emailed_link(assoc, HELPER, "coordinator.password_reset")
    r = set_password(client, link, password, again)
    assert r.status_code == 422 and says in r.text
    assert auth.verify_password(PASSWORD, account(assoc, HELPER).password_hash)
    assert client.get(link).status_code == 200


@pytest.mark.parametrize("token", ["A" * 43, "not-a-token", "x" * 500])
def test_an_unknown_or_malformed_link_is_the_one_not_working_page(assoc, token):
    assert client_of(assoc).get(f"/coordinator/login/password/{token}").status_code == 404


def test_a_rating_token_for_the_same_nonce_does_not_open_the_password_link(assoc):
    from endorse import links

    accounts.request_password_reset(assoc, HELPER, secret_key=SECRET)
    nonce = account(assoc, HELPER).token_nonce
    other_purpose = links.token_for(nonce, SECRET, "rating")
    assert client_of(assoc).get(f"/coordinator/login/password/{other_purpose}").status_code == 404


def test_the_database_holds_no_token_and_no_password(assoc):
    accounts.request_password_reset(assoc, HELPER, secret_key=SECRET)
    token = emailed_link(assoc, HELPER, "coordinator.password_reset").rsplit("/", 1)[1]
    with assoc() as s:
        stored = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient_email == HELPER)).one()
        assert token not in stored.body_text + stored.body_html
    assert account(assoc, HELPER).token_hash != token


def test_a_closed_account_gets_no_reset_link(assoc):
    accounts.deactivate_coordinator(assoc, HELPER, actor="test")
    forgot(client_of(assoc), HELPER)
    assert emails_to(assoc, HELPER) == 0


def test_the_link_page_is_never_cached_nor_sent_as_a_referrer_and_never_logged(assoc):
    import logging

    from web.app import RedactLinks

    accounts.request_password_reset(assoc, HELPER, secret_key=SECRET)
    link = emailed_link(assoc, HELPER, "coordinator.password_reset")
    page = client_of(assoc).get(link)
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '"GET %s HTTP/1.1"', (link,), None)
    RedactLinks().filter(record)
    assert link.rsplit("/", 1)[1] not in record.getMessage()
