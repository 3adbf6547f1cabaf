"""Sign-in and sessions under attack (issue #13 · 3, 4, 5, 6): scrypt runs off the event loop and an
account locks with backoff; sign-out, a password change and deactivation end every session at once;
the public placeholder secret is never served off loopback and a real one is made on first start;
forwarded headers are believed only from configured proxies."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import stat
import threading
import time
from datetime import timedelta

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from endorse import auth
from endorse_cli.main import main
from endorse.settings import DEVELOPMENT_SECRET, SECRET_FILE, Settings, ensure_secret_key, get_settings
from models import AuditLog, CoordinatorAccount, utcnow
from tasks.coordination.accounts import deactivate_coordinator, set_coordinator
from tests.web.conftest import make_web_app
from tests.web.test_coordinator import MI, PASSWORD, SECRET, _client, csrf_of, signed_in
from web.guard import uvicorn_config


def _try(client: TestClient, password: str) -> int:
    csrf = csrf_of(client, "/coordinator/login")
    return client.post("/coordinator/login", data={"csrf": csrf, "email": MI, "password": password},
                       follow_redirects=False).status_code


# --- 3 · sign-in: off the loop, per-account lockout with backoff --------------------------------------------


def test_password_hashing_runs_off_the_event_loop(cohort, monkeypatch):
    where = []
    real = auth.verify_password

    def spy(password, stored):
        try:
            asyncio.get_running_loop()
            where.append("event loop")
        except RuntimeError:
            where.append("worker thread")
        return real(password, stored)

    monkeypatch.setattr(auth, "verify_password", spy)
    assert _try(_client(cohort), PASSWORD) == 303
    assert where == ["worker thread"]


def test_after_repeated_failures_even_the_right_password_waits_and_the_wait_grows(cohort):
    client = _client(cohort)
    for _ in range(auth.LOCK_AFTER):
        assert _try(client, "wrong password, guessing") == 401
    assert _try(client, PASSWORD) == 401  # locked: the right password does not get in
    with cohort() as s:
        assert s.scalars(select(AuditLog.action).order_by(AuditLog.id.desc())).first() == "coordinator.sign_in_locked"
        account = s.scalars(select(CoordinatorAccount).where(CoordinatorAccount.association_code == "MI-AIMH")).one()
        first_wait = account.locked_until
    with cohort.begin() as s:  # the wait is over
        s.execute(update(CoordinatorAccount).where(CoordinatorAccount.id == account.id)
                  .values(locked_until=utcnow() - timedelta(seconds=1)))
    assert _try(client, "another wrong guess!") == 401  # one more failure locks for longer
    with cohort() as s:
        again = s.get(CoordinatorAccount, account.id)
        assert (again.locked_until - utcnow().replace(tzinfo=again.locked_until.tzinfo)).total_seconds() > \
            auth.LOCK_BASE_SECONDS * 1.5
    with cohort.begin() as s:
        s.execute(update(CoordinatorAccount).where(CoordinatorAccount.id == account.id)
                  .values(locked_until=utcnow() - timedelta(seconds=1)))
    assert _try(client, PASSWORD) == 303  # after the wait the right password works, and the count resets
    with cohort() as s:
        assert s.get(CoordinatorAccount, account.id).failed_sign_ins == 0
    assert first_wait is not None


@pytest.mark.parametrize(("failures", "seconds"), [(0, 0), (auth.LOCK_AFTER - 1, 0), (auth.LOCK_AFTER, 30),
                                                    (auth.LOCK_AFTER + 1, 60), (auth.LOCK_AFTER + 3, 240),
                                                    (auth.LOCK_AFTER + 40, auth.LOCK_MAX_SECONDS)])
def test_lockout_backoff_doubles_up_to_an_hour(failures, seconds):
    assert auth.lockout_seconds(failures) == seconds


# --- 4 · sessions end at once ---------------------------------------------------------------------------------


def _with_old_cookie(sessions, cookie: str) -> TestClient:
    client = _client(sessions)
    client.cookies.set("endorse_session", cookie, path="/coordinator")
    return client


def _sign_out(sessions, client):
    csrf = csrf_of(client, "/coordinator/")
    assert client.post("/coordinator/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303


def _change_password(sessions, client):
    set_coordinator(sessions, association="MI-AIMH", name="Mia Coordinator", email=MI,
                    password="a brand new password", actor="test")


def _deactivate(sessions, client):
    # Another admin first: the association's last admin can never be closed.
    set_coordinator(sessions, association="MI-AIMH", name="Mo Second", email="mo.second@example.org",
                    password=PASSWORD, actor="test", admin=True)
    deactivate_coordinator(sessions, MI, actor="test")


@pytest.mark.parametrize("end", [_sign_out, _change_password, _deactivate],
                         ids=["sign-out", "password change", "deactivation"])
def test_a_session_ends_at_once_for_pages_and_actions(cohort, end):
    client = signed_in(cohort, MI)
    other_device = signed_in(cohort, MI)
    cookie = client.cookies.get("endorse_session")
    csrf = csrf_of(client, "/coordinator/")
    app_id = re.search(r'href="/coordinator/applications/([A-Za-z0-9-]+)"', client.get("/coordinator/").text)[1]
    end(cohort, client)
    for c in (_with_old_cookie(cohort, cookie), other_device):
        r = c.get("/coordinator/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/coordinator/login")
        r = c.post(f"/coordinator/applications/{app_id}/request-decision", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/coordinator/login")


# --- 5 · the secret key -------------------------------------------------------------------------------------


@pytest.fixture
def no_secret(monkeypatch, tmp_path):
    monkeypatch.delenv("ENDORSE_SECRET_KEY", raising=False)
    monkeypatch.setenv("ENDORSE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.org"])
def test_serve_refuses_the_placeholder_secret_off_loopback(no_secret, monkeypatch, capsys, host):
    monkeypatch.setenv("ENDORSE_ENV", "test")  # where no secret is made for us
    assert main(["serve", "--web-only", "--host", host]) == 2
    assert "placeholder secret" in capsys.readouterr().err


def test_first_start_makes_a_private_random_secret_and_says_where(no_secret, monkeypatch, capsys):
    monkeypatch.setenv("ENDORSE_ENV", "development")
    settings = get_settings()
    path = no_secret / SECRET_FILE
    assert f"created a random secret key in {path}" in capsys.readouterr().err
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    secret = settings.secret_key.get_secret_value()
    assert secret != DEVELOPMENT_SECRET and len(secret) >= 48
    get_settings.cache_clear()  # another process on the same data directory: the same key, nothing printed
    assert get_settings().secret_key.get_secret_value() == secret and capsys.readouterr().err == ""
    assert ensure_secret_key(Settings(env="development", _env_file=None)) is None


def test_a_secret_key_that_is_set_wins(no_secret, monkeypatch):
    monkeypatch.setenv("ENDORSE_ENV", "development")
    monkeypatch.setenv("ENDORSE_SECRET_KEY", "set-by-the-operator-0123456789")
    assert get_settings().secret_key.get_secret_value() == "set-by-the-operator-0123456789"
    assert not (no_secret / SECRET_FILE).exists()


# --- 6 · forwarded headers --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _codes_with_rotating_forwarded_for(sessions, trusted: list[str]) -> list[int]:
    app = make_web_app(sessions, SECRET, requests_per_minute=3)
    port = _free_port()
    server = uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=port, trusted_proxies=trusted,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        return [httpx.get(f"http://127.0.0.1:{port}/rate/{'A' * 43}", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
                for i in range(6)]
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_rotating_forwarded_for_header_does_not_get_past_the_rate_limit(sessions):
    assert _codes_with_rotating_forwarded_for(sessions, []) == [404, 404, 404, 429, 429, 429]


def test_forwarded_headers_are_believed_from_a_configured_proxy(sessions):
    assert _codes_with_rotating_forwarded_for(sessions, ["127.0.0.1"]) == [404] * 6
    assert Settings(trusted_proxies="10.0.0.1, 10.1.0.0/16", _env_file=None).trusted_proxy_list == ["10.0.0.1",
                                                                                                     "10.1.0.0/16"]
    assert Settings(_env_file=None).trusted_proxy_list == []
