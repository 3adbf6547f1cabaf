"""What arrives over HTTP under attack (issue #13 · 7, 8, 10, 12): the body cap holds for chunked
bodies; odd digits and ids too large for the database get a 4xx page naming the field, never a 500;
no Host header ends up in a redirect and no ``?notice=`` text on a page; every response carries the
security headers, and pages with personal data are never cached."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import AuditLog, Rating, ReviewAssignment
from tests.exam.conftest import AS_OF, SECRET as EXAM_SECRET, reviewer_token
from tests.web.conftest import make_web_app
from tests.web.test_coordinator import CT, MI, csrf_of, signed_in
from web.app import MAX_BODY_BYTES


def _client(sessions, secret: str = "web-test-secret") -> TestClient:
    return TestClient(make_web_app(sessions, secret, requests_per_minute=10**6), raise_server_exceptions=False)


def _audits(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditLog))


# --- 7 · the body cap counts chunked bodies ----------------------------------------------------------------------


def _chunks(total: int, size: int = 16 * 1024):
    sent = 0
    while sent < total:
        yield b"a" * min(size, total - sent)
        sent += size


@pytest.mark.parametrize("path", ["/rate/{token}", "/coordinator/login", "/review/{token}/essay/1"])
def test_a_chunked_body_over_the_cap_is_refused_before_the_app_reads_it(rating_link, sessions, path):
    token, _ = rating_link
    before = _audits(sessions)
    r = _client(sessions).post(path.format(token=token), content=_chunks(MAX_BODY_BYTES + 1),
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert _audits(sessions) == before


def test_a_chunked_body_under_the_cap_still_reaches_the_form(rating_link, sessions):
    token, _ = rating_link
    client = _client(sessions)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(f"/rate/{token}").text).group(1)
    body = f"csrf={csrf}&action=save&known_for_months=12".encode()
    r = client.post(f"/rate/{token}", content=iter([body[:10], body[10:]]),
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and "saved" in r.text.lower()


@pytest.mark.parametrize("length", [str(MAX_BODY_BYTES + 1), "１２", "99999999999999999999", "-1"])
def test_a_declared_length_over_the_cap_or_not_a_number_is_refused(sessions, length):
    from web.app import LimitBody

    sent = []

    async def app(scope, receive, send):  # must never run
        raise AssertionError("the app saw the request")

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(LimitBody(app)({"type": "http", "method": "POST", "path": "/rate/x",
                                "headers": [(b"content-length", length.encode())]}, receive, send))
    assert sent[0]["status"] == 413


# --- 8 · odd input gets a 4xx naming the field -----------------------------------------------------------------

ODD_DIGITS = ["²", "①", "١٢", "１２", "1e3", " 12 ", "12.5", "-3"]


@pytest.mark.parametrize("value", ODD_DIGITS)
def test_odd_digits_in_the_months_field_get_the_form_back_naming_the_field(rating_link, sessions, value):
    token, _ = rating_link
    client = _client(sessions)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(f"/rate/{token}").text).group(1)
    r = client.post(f"/rate/{token}", data={"csrf": csrf, "action": "save", "known_for_months": value})
    if value.strip() == "12":
        assert r.status_code == 200
    else:
        assert r.status_code == 422 and "whole number of months" in r.text
    with sessions() as s:
        assert all(g.known_for_months in (None, 12) for g in s.scalars(select(Rating)))


@pytest.fixture
def review_link(sessions, sitting):
    from tasks.exam.review import apply_sitting

    apply_sitting(sessions, sitting.id, default_library(), as_of=AS_OF, secret_key=EXAM_SECRET, actor="test")
    with sessions() as s:
        a = s.scalars(select(ReviewAssignment).order_by(ReviewAssignment.id)).first()
    return reviewer_token(sessions, sitting.id, a.reviewer_id), a.id


@pytest.mark.parametrize("score", ["²", "①", "４", "3.0"])
def test_odd_digits_in_an_essay_score_get_the_form_back_naming_the_criterion(sessions, review_link, score):
    token, assignment = review_link
    client = _client(sessions, EXAM_SECRET)
    page = client.get(f"/review/{token}/essay/{assignment}").text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    criteria = re.findall(r'name="score:([^"]+)"', page)
    r = client.post(f"/review/{token}/essay/{assignment}", data={
        "csrf": csrf, "recommendation": "pass", "comments": "fine", **{f"score:{c}": score for c in criteria}})
    assert r.status_code == 422 and "score “" in r.text


@pytest.mark.parametrize("bad_id", ["99999999999", str(2**63), "²", "0", "-1", "1e3"])
def test_an_id_that_is_no_database_id_is_a_400_page_naming_it(sessions, review_link, cohort, bad_id):
    token, _ = review_link
    r = _client(sessions, EXAM_SECRET).get(f"/review/{token}/essay/{bad_id}")
    assert r.status_code in (400, 404) and "assignment id" in r.text and "<html" in r.text.lower()
    client = signed_in(cohort, MI)
    csrf = csrf_of(client, "/coordinator/")
    r = client.post(f"/coordinator/references/{bad_id}/vet", data={"csrf": csrf, "decision": "accepted",
                                                                  "vetted_on": "2026-11-20"})
    assert r.status_code in (400, 404) and "request id" in r.text


# --- 10 · no Host header in a redirect, no notice text from the address ------------------------------------


@pytest.mark.parametrize("path", ["/review/{token}/", "/rate/{token}/", "/coordinator"])
def test_a_redirect_never_carries_the_host_header_a_client_sent(rating_link, sessions, path):
    token, _ = rating_link
    r = _client(sessions).get(path.format(token=token), headers={"host": "evil.example"}, follow_redirects=False)
    assert r.status_code in (301, 302, 303, 307, 308), r.status_code
    assert r.headers["location"].startswith("/") and not r.headers["location"].startswith("//")
    assert "evil.example" not in r.headers["location"]


def test_notice_text_in_the_address_is_never_shown(cohort):
    client = signed_in(cohort, MI)
    lure = "Your session expired: call 555-0100 and give your password"
    for page in ["/coordinator/", "/coordinator/applications/" + client.get("/coordinator/").text
                 .split('href="/coordinator/applications/')[1].split('"')[0]]:
        assert lure not in client.get(page, params={"notice": lure}).text


def test_a_flash_notice_from_another_session_is_not_shown(cohort):
    from endorse import auth

    client = signed_in(cohort, CT)
    forged = auth.flash_cookie("coordinator-test-secret", "someone-elses-session", "Forged notice")
    client.cookies.set("endorse_flash", forged, path="/coordinator")
    assert "Forged notice" not in client.get("/coordinator/").text


# --- 12 · headers --------------------------------------------------------------------------------------------


def test_every_page_carries_csp_without_inline_script_and_no_framing(rating_link, cohort):
    token, _ = rating_link
    coordinator = signed_in(cohort, MI)
    responses = [_client(cohort).get(f"/rate/{token}"), _client(cohort).get("/rate/" + "A" * 43),
                 _client(cohort).get("/coordinator/login"), coordinator.get("/coordinator/"),
                 coordinator.get("/coordinator/exports/pipeline.csv")]
    for r in responses:
        csp = r.headers["content-security-policy"]
        # Scripts only as files from this site (the forms' progressive enhancement), never inline.
        assert "default-src 'none'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_pages_with_personal_data_are_never_stored(rating_link, cohort):
    token, _ = rating_link
    coordinator = signed_in(cohort, MI)
    mi_app = coordinator.get("/coordinator/").text.split('href="/coordinator/applications/')[1].split('"')[0]
    for r in [_client(cohort).get(f"/rate/{token}"), coordinator.get("/coordinator/"),
              coordinator.get(f"/coordinator/applications/{mi_app}"),
              coordinator.get(f"/coordinator/applications/{mi_app}/summary"),
              coordinator.get("/coordinator/exports/decisions.csv")]:
        assert r.headers["cache-control"] == "no-store", r.url


def test_no_template_has_inline_script_or_event_handlers():
    """The CSP allows scripts only as files from the site: a template may load one, never hold one."""
    for path in (p for p in Path(PROJECT_ROOT / "templates").rglob("*.html") if "email" not in p.parts):
        html = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.I | re.S):
            assert tag.strip() == "", path  # no inline code
        assert all(src.startswith("/static/") for src in re.findall(r"<script\b[^>]*\bsrc=\"([^\"]*)\"", html, re.I)), path
        assert not re.search(r"\son[a-z]+\s*=", html), path
