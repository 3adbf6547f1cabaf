"""Secure links (issue #7 · 2): an unknown, malformed, expired, replaced or other-purpose token gets
the same not-found page, for rating and review links alike; tokens are compared in constant time."""

from __future__ import annotations

import hmac
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from endorse import auth, links
from endorse.rulebook import default_library
from models import ReviewerConsoleLink
from tasks import reviewer_console
from tasks.exam import review as essay_review
from tests.exam.conftest import AS_OF, SECRET
from tests.web.conftest import make_web_app


def _page(client, url):
    r = client.get(url)
    return r.status_code, r.text


def test_every_kind_of_bad_review_link_gets_the_same_not_found_page(sessions, sitting):
    lib = default_library()
    essay_review.apply_sitting(sessions, sitting.id, lib, as_of=AS_OF, secret_key=SECRET, actor="test")
    with sessions() as s:  # the console link the assignment email carries
        inv = s.scalars(select(ReviewerConsoleLink)).first()
    good = links.token_for(inv.token_nonce, SECRET, "reviewer")
    reviewer_console.send_console_link(sessions, inv.reviewer_id, lib, as_of=AS_OF, secret_key=SECRET, actor="test",
                                       regenerate=True)
    with sessions() as s:
        fresh = links.token_for(s.get(ReviewerConsoleLink, inv.id).token_nonce, SECRET, "reviewer")
    today = TestClient(make_web_app(sessions, SECRET, AS_OF))
    later = TestClient(make_web_app(sessions, SECRET, AS_OF + timedelta(days=400)))  # past the link's expiry
    reference = _page(today, "/review/" + "Z" * 43)
    assert reference[0] == 404
    cases = {
        "replaced": _page(today, f"/review/{good}"),
        "expired": _page(later, f"/review/{fresh}"),
        "malformed": _page(today, "/review/short"),
        "oversized": _page(today, "/review/" + "A" * 5000),
        "a rating-purpose token": _page(today, "/review/" + links.token_for(inv.token_nonce, SECRET, "rating")),
        "signed with another key": _page(today, "/review/" + links.token_for(inv.token_nonce, "other", "reviewer")),
        "a sitting-purpose token": _page(today, "/review/" + links.token_for(inv.token_nonce, SECRET, "review")),
    }
    for what, got in cases.items():
        assert got == reference, what
    assert _page(today, f"/review/{fresh}")[0] == 200


def test_tokens_and_form_secrets_are_compared_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((type(a), type(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    token = links.token_for("ab" * 16, "k", "rating")
    assert links.matches(token, links.hash_token(token))
    assert auth.same_secret("x\u00e9", "x\u00e9") and not auth.same_secret("\x80", "abc")
    assert auth.read_session("k", auth.issue_session("k", 7)).account_id == 7
    assert len(calls) == 4  # every comparison went through hmac.compare_digest
