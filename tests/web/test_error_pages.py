"""One family of error pages (issue 14, step 3): whatever goes wrong, a browser gets a page in the same
look that says what to do next, never a traceback; an API client keeps FastAPI's JSON for 404 and 405;
the refusals that happen before the app (body cap, rate limit) answer with the same family."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from endorse.settings import PROJECT_ROOT
from tests.web.conftest import make_web_app
from web.app import MAX_BODY_BYTES

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ERROR_PAGES = Path(PROJECT_ROOT / "templates" / "errors")


def test_every_error_page_is_of_the_one_family():
    kinds = sorted(p.name for p in ERROR_PAGES.glob("*.html") if p.name != "base.html")
    assert len(kinds) >= 9, kinds
    for name in kinds:
        assert '{% extends "errors/base.html" %}' in (ERROR_PAGES / name).read_text(), name


# (what happens, request, status, the page's heading, what an API client gets instead or None)
CASES = [
    ("an address nothing answers (404)", ("GET", "/nothing-here"), 404, "Page not found", {"detail": "Not Found"}),
    ("a form sent to a page that only shows (405)", ("POST", "/"), 405, "This page cannot do that",
     {"detail": "Method Not Allowed"}),
    ("a page that only takes forms, opened (405)", ("GET", "/coordinator/logout"), 405, "This page cannot do that",
     {"detail": "Method Not Allowed"}),
    ("a rating link that does not exist", ("GET", "/rate/no-such-link"), 404, "This link does not work", None),
    ("a review link that does not exist", ("GET", "/review/no-such-link"), 404, "This link does not work", None),
    ("an essay number that is not a number (400)", ("GET", "/review/x/essay/abc"), 400, "This address does not work",
     None),
]


@pytest.mark.parametrize("method_path, status, heading, api_answer", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_browser_gets_the_error_page_of_its_kind(sessions, method_path, status, heading, api_answer):
    client = TestClient(make_web_app(sessions))
    method, path = method_path
    page = client.request(method, path, headers=BROWSER)
    assert page.status_code == status and page.headers["content-type"].startswith("text/html")
    assert f"<h1>{heading}</h1>" in page.text and f"<title>{heading}</title>" in page.text
    if api_answer is not None:
        api = client.request(method, path, headers={"Accept": "application/json"})
        assert api.status_code == status and api.json() == api_answer


def test_a_body_over_the_cap_gets_the_too_large_page(sessions):
    r = TestClient(make_web_app(sessions)).post("/coordinator/login", content=b"x" * (MAX_BODY_BYTES + 1),
                                                headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "<h1>Too much sent at once</h1>" in r.text


def test_too_many_requests_get_the_page_and_when_to_come_back(sessions):
    client = TestClient(make_web_app(sessions, requests_per_minute=2))
    codes = [client.get(f"/rate/guess-{i}", headers=BROWSER) for i in range(3)]
    assert [r.status_code for r in codes] == [404, 404, 429]
    assert "<h1>Too many requests</h1>" in codes[2].text and codes[2].headers["retry-after"] == "60"
    assert codes[2].headers["content-security-policy"].startswith("default-src 'none'")


def test_a_server_error_shows_the_page_and_nothing_of_what_went_wrong(sessions):
    app = make_web_app(sessions)

    @app.get("/rate/{token}/explode")
    async def explode(token: str):
        raise RuntimeError("database password is hunter2")

    r = TestClient(app, raise_server_exceptions=False).get("/rate/abc/explode", headers=BROWSER)
    assert r.status_code == 500 and "<h1>Something went wrong on our side</h1>" in r.text
    assert "hunter2" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
    assert r.headers["cache-control"] == "no-store"  # under /rate/: personal, like every link page
