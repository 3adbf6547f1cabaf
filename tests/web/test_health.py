"""/healthz (the process answers) and /readyz (the database, the Prefect API when configured and
the SMTP server answer within a few seconds; 503 naming what does not) — issue 11, item 6."""

from __future__ import annotations

import socket
import time

import pytest
from fastapi.testclient import TestClient

from endorse.db import make_engine, session_factory
from endorse.health import database_check, prefect_check, smtp_check
from endorse.smtp_sink import SmtpSink
from tests.web.conftest import make_web_app


def _nobody_listens() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(tmp_path):
    with SmtpSink(tmp_path / "mail") as sink:
        yield sink.port


def _ready(sessions, *checks) -> TestClient:
    from endorse.rulebook import default_library
    from endorse.settings import PROJECT_ROOT
    from web.app import WebContext, create_app

    ctx = WebContext(sessions=sessions, library=default_library(), secret_key="k")
    return TestClient(create_app(ctx, str(PROJECT_ROOT / "templates"), readiness_checks=list(checks)))


def test_healthz_says_the_process_answers(sessions):
    r = TestClient(make_web_app(sessions)).get("/healthz")
    assert (r.status_code, r.text) == (200, "ok")


def test_ready_when_the_database_and_smtp_answer_and_prefect_is_not_configured(sessions, smtp):
    r = _ready(sessions, lambda: database_check(sessions), lambda: prefect_check(None),
               lambda: smtp_check("127.0.0.1", smtp, "none")).get("/readyz")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["status"] == "ready"
    assert {name: c["ok"] for name, c in body["checks"].items()} == {"database": True, "prefect": True, "smtp": True}


@pytest.mark.parametrize("down", ["prefect", "smtp", "database"])
def test_not_ready_names_what_does_not_answer(sessions, smtp, down):
    port = _nobody_listens()
    database = sessions if down != "database" else session_factory(
        make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{port}/endorse", connect_args={"connect_timeout": 3}))
    prefect_url = f"http://127.0.0.1:{port}/api" if down == "prefect" else None
    smtp_port = port if down == "smtp" else smtp
    started = time.monotonic()
    r = _ready(sessions, lambda: database_check(database), lambda: prefect_check(prefect_url),
               lambda: smtp_check("127.0.0.1", smtp_port, "none")).get("/readyz")
    assert time.monotonic() - started < 15  # short timeouts: a probe never hangs
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert [name for name, c in checks.items() if not c["ok"]] == [down]
    assert checks[down]["detail"]
    if down in ("prefect", "smtp"):
        assert f"127.0.0.1:{port}" in checks[down]["detail"]


def test_the_served_app_checks_database_prefect_and_smtp_from_its_settings(database_url, smtp, monkeypatch):
    from endorse.db import default_session_factory
    from endorse.settings import get_settings
    from web.app import default_app

    prefect_port = _nobody_listens()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ENDORSE_SMTP_PORT", str(smtp))
    monkeypatch.setenv("PREFECT_API_URL", f"http://user:secret@127.0.0.1:{prefect_port}/api")
    get_settings.cache_clear()
    default_session_factory.cache_clear()
    try:
        r = TestClient(default_app()).get("/readyz")
    finally:
        default_session_factory().kw["bind"].dispose()
        default_session_factory.cache_clear()
        get_settings.cache_clear()
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert (checks["database"]["ok"], checks["smtp"]["ok"], checks["prefect"]["ok"]) == (True, True, False)
    assert "secret" not in r.text  # the URL is shown without its password
