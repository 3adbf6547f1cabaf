"""The rater's form: works without JavaScript, validates on the server keeping what was typed, drafts,
decline, and one submission only."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from endorse.rulebook import default_library
from models import Rating
from tasks.eligibility.evaluation import evaluate
from tasks.intake.records import load_documents

from .conftest import AS_OF


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def _areas(html: str) -> list[str]:
    return sorted(set(re.findall(r'name="answer:([^"]+)"', html)))


def test_the_form_lists_every_competency_area_with_not_enough_information(web_app, rating_link):
    token, _ = rating_link
    r = TestClient(web_app).get(f"/rate/{token}")
    assert r.status_code == 200
    # An IMHM-R/F applicant: ten of the eleven IMHM domains, 57 of 61 areas; Administration (4 areas)
    # applies to the Policy designation only (seed 004, Competency details), so it is not asked.
    assert len(_areas(r.text)) == 57
    assert r.text.count('value="na"') == 57
    assert "Research and Evaluation" in r.text and "Administration" not in r.text
    assert "Leading People" in r.text
    # JavaScript only enhances: one script file from this site, nothing inline (the CSP forbids it).
    assert re.findall(r"<script[^>]*>", r.text) == ['<script src="/static/forms.js" defer>']
    assert '<label for="known_for_months">' in r.text  # labelled fields


def test_a_submission_with_gaps_is_refused_with_messages_and_keeps_what_was_typed(web_app, rating_link):
    token, _ = rating_link
    c = TestClient(web_app)
    page = c.get(f"/rate/{token}").text
    areas = _areas(page)
    r = c.post(f"/rate/{token}", data={"csrf": _csrf(page), "action": "submit", f"answer:{areas[0]}": "4",
                                       "comments": "Kind <b>and</b> careful", "known_for_months": "abc"})
    assert r.status_code == 422
    assert "write a whole number of months" in r.text
    assert 'value="4" checked' in r.text
    assert "Kind &lt;b&gt;and&lt;/b&gt; careful" in r.text  # kept, and escaped


def test_save_a_draft_and_come_back_later(web_app, rating_link):
    token, _ = rating_link
    c = TestClient(web_app)
    page = c.get(f"/rate/{token}").text
    areas = _areas(page)
    r = c.post(f"/rate/{token}", data={"csrf": _csrf(page), "action": "save", f"answer:{areas[3]}": "2",
                                       "relationship": "I taught her statistics"})
    assert r.status_code == 200 and "Draft saved" in r.text
    again = c.get(f"/rate/{token}").text
    assert 'value="2" checked' in again and "I taught her statistics" in again


def test_submitting_counts_the_rating_and_the_link_then_says_already_submitted(web_app, rating_link, sessions):
    token, app_id = rating_link
    c = TestClient(web_app)
    page = c.get(f"/rate/{token}").text
    data = {"csrf": _csrf(page), "action": "submit", "known_for_months": "30", "relationship": "student",
            "recommendation": "recommend", "attested": "yes", **{f"answer:{a}": "3" for a in _areas(page)}}
    r = c.post(f"/rate/{token}", data=data)
    assert r.status_code == 200 and "your rating is submitted" in r.text
    assert web_app.state.events == [app_id]  # the event that triggers a reconcile
    with sessions() as s:
        doc = load_documents(s, [app_id])[app_id]
    assert evaluate(doc, default_library(), AS_OF).status_of("references") == "met"
    assert "already been submitted" in c.get(f"/rate/{token}").text
    second = c.post(f"/rate/{token}", data=data)
    assert second.status_code == 409 and "already been submitted" in second.text
    with sessions() as s:
        assert len(s.scalars(select(Rating)).all()) == 1


def test_decline_to_rate_needs_a_reason(web_app, rating_link):
    token, _ = rating_link
    c = TestClient(web_app)
    page = c.get(f"/rate/{token}").text
    assert c.post(f"/rate/{token}/decline", data={"csrf": _csrf(page), "declined_reason": " "}).status_code == 422
    r = c.post(f"/rate/{token}/decline", data={"csrf": _csrf(page), "declined_reason": "I left that program in 2019."})
    assert r.status_code == 200 and "cannot rate" in r.text


def test_unknown_and_malformed_links_get_the_same_not_found_page(web_app, rating_link):
    token, _ = rating_link
    c = TestClient(web_app)
    wrong = c.get(f"/rate/{token[:-2]}xy")
    junk = c.get("/rate/not-a-token")
    assert wrong.status_code == junk.status_code == 404
    assert wrong.text == junk.text


def test_a_post_without_the_form_token_is_refused(web_app, rating_link):
    token, _ = rating_link
    r = TestClient(web_app).post(f"/rate/{token}", data={"csrf": "0" * 32, "action": "save"})
    assert r.status_code == 403


def test_oversized_bodies_are_refused(web_app, rating_link):
    token, _ = rating_link
    r = TestClient(web_app).post(f"/rate/{token}", content=b"x" * (300 * 1024),
                                 headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413


def test_access_logs_never_show_a_link_token(web_app, rating_link, caplog):
    import logging

    from web.app import RedactLinks

    token, _ = rating_link
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", f"/rate/{token}", "1.1", 200), None)
    RedactLinks().filter(record)
    assert token not in record.getMessage() and "/rate/<redacted>" in record.getMessage()


@pytest.mark.parametrize("path", ["/rate/guess-{i}", "/review/guess-{i}", "/coordinator/login?n={i}"],
                         ids=["rating links", "review links", "coordinator sign-in"])
def test_link_pages_are_rate_limited_per_client(sessions, path):
    from endorse.settings import PROJECT_ROOT
    from web.app import WebContext, create_app

    app = create_app(WebContext(sessions=sessions, library=default_library(), secret_key="x", today=lambda: AS_OF),
                     str(PROJECT_ROOT / "templates"), requests_per_minute=5)
    c = TestClient(app)
    codes = [c.get(path.format(i=i)).status_code for i in range(8)]
    assert 429 not in codes[:5] and codes[5:] == [429] * 3
    assert c.get("/healthz").status_code == 200  # other pages are not limited


def test_control_characters_typed_into_a_form_are_dropped_not_a_server_error(web_app, rating_link, sessions):
    # PostgreSQL refuses NUL in text: a comment carrying one must not become a 500 (found by fuzzing the sign-in).
    token, _ = rating_link
    c = TestClient(web_app, raise_server_exceptions=False)
    page = c.get(f"/rate/{token}").text
    data = {"csrf": _csrf(page), "action": "submit", "known_for_months": "30", "relationship": "student\x00",
            "recommendation": "recommend", "attested": "yes", "comments": "Kind\x00 and\x07 careful.\nReally.\tYes.",
            **{f"answer:{a}": "3" for a in _areas(page)}}
    assert c.post(f"/rate/{token}", data=data).status_code == 200
    with sessions() as s:
        rating = s.scalars(select(Rating)).one()
    assert rating.comments == "Kind and careful.\nReally.\tYes." and rating.relationship_to_applicant == "student"


def test_the_request_email_says_plainly_when_a_rating_would_not_count(rating_link, sessions):
    """Issue 15, item 6: the email states the rulebook's limit (max_insufficient_information, 5) and
    what happens beyond it."""
    from models import OutboxMessage

    with sessions() as s:
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "reference.request")).one()
    for body in (mail.body_text, mail.body_html):
        assert "more than 5 such answers cannot be counted" in re.sub(r"</?strong>", "", body)
