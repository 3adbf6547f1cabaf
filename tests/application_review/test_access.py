"""Who may read what of an application under review (issue 19, the access matrix grown by application
reviewers and advisors): a reviewer only their own applications, through their own link; an advisor
only the application they were paired with, never its ratings; a rating's summary only where the
applicant waived access, a rater's comments never; blind reading where the association sets it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from endorse import links
from endorse.db import transaction
from models import (
    AdvisorNote,
    AdvisorPairing,
    ApplicationReview,
    ApplicationReviewAssignment,
    AuditLog,
    Rating,
    ReferenceRequest,
)
from tasks.application_review import advisors, rounds
from tests.application_review.conftest import AS_OF, ASSOCIATION, SECRET, build, review_rules, reviewer_token, web_app

RATER_REMARK = "CONFIDENTIAL-RATER-REMARK-5521"


def _assign(sessions, review):
    rounds.apply_association(sessions, ASSOCIATION, review.library, as_of=AS_OF, secret_key=SECRET, actor="test")
    with sessions() as s:
        return list(s.scalars(select(ApplicationReviewAssignment).order_by(ApplicationReviewAssignment.id)))


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_a_reviewer_reaches_only_their_own_applications(sessions, review):
    assignments = _assign(sessions, review)
    client = TestClient(web_app(sessions, review.library))
    for a in assignments:
        token = reviewer_token(sessions, a.reviewer_id)
        assert client.get(f"/review/application/{token}/{a.id}").status_code == 200
        for other in assignments:
            if other.reviewer_id != a.reviewer_id and other.application_id != a.application_id:
                assert client.get(f"/review/application/{token}/{other.id}").status_code == 404
                page = client.get(f"/review/application/{token}/{a.id}")
                # Posting to someone else's assignment records nothing.
                r = client.post(f"/review/application/{token}/{other.id}",
                                data={"csrf": _csrf(page.text), "recommendation": "recommend"})
                assert r.status_code == 404
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ApplicationReview)) == 0


def test_links_of_one_kind_do_not_open_another(sessions, review):
    a = _assign(sessions, review)[0]
    token = reviewer_token(sessions, a.reviewer_id)
    client = TestClient(web_app(sessions, review.library))
    assert client.get(f"/review/{token}").status_code == 404  # not an essay link
    assert client.get(f"/advise/{token}").status_code == 404  # nor an advisor's
    assert client.get(f"/rate/{token}").status_code == 404
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/review/application/{flipped}").status_code == 404
    # A token for the right purpose made with another key is nobody's.
    with sessions() as s:
        from models import ApplicationReviewInvitation
        nonce = s.scalars(select(ApplicationReviewInvitation.token_nonce)).first()
    assert client.get(f"/review/application/{links.token_for(nonce, 'other-key', 'appreview')}").status_code == 404


def test_a_stale_review_form_is_refused_and_records_nothing(sessions, review):
    a = _assign(sessions, review)[0]
    token = reviewer_token(sessions, a.reviewer_id)
    client = TestClient(web_app(sessions, review.library))
    r = client.post(f"/review/application/{token}/{a.id}", data={"csrf": "forged", "recommendation": "recommend"})
    assert r.status_code == 403
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ApplicationReview)) == 0


def _rate(sessions, app_id, *, waived: bool):
    """A submitted rating with a comment, the applicant having waived access or not."""
    from models import RatingAnswer
    from models.base import utcnow

    with transaction(sessions) as s:
        for req in s.scalars(select(ReferenceRequest).where(ReferenceRequest.application_id == app_id)):
            req.waived_access = waived
            if req.rating is None:
                s.add(Rating(reference_request_id=req.id, submitted_at=utcnow(), recommendation="recommend",
                             comments=RATER_REMARK, attested=True,
                             answers=[RatingAnswer(domain_key="theoretical_foundations", area_key="infant_development",
                                                   score=3)]))


@pytest.mark.parametrize("waived", [True, False])
def test_a_rating_summary_only_where_the_applicant_waived_access_and_never_the_comments(sessions, review, waived):
    app_id = review.apps["IFA"]
    _rate(sessions, app_id, waived=waived)
    a = next(x for x in _assign(sessions, review) if x.application_id == app_id)
    page = TestClient(web_app(sessions, review.library)).get(
        f"/review/application/{reviewer_token(sessions, a.reviewer_id)}/{a.id}").text
    assert RATER_REMARK not in page
    with sessions() as s:
        submitted = s.scalar(select(func.count()).select_from(Rating).join(ReferenceRequest)
                             .where(ReferenceRequest.application_id == app_id, Rating.submitted_at.is_not(None)))
    assert submitted  # the case has ratings to hide or show
    assert ("recommendation recommend" in page) is waived
    assert ("summary not shown" in page) is not waived


def test_an_advisor_reads_the_live_checklist_without_ratings_and_leaves_notes(sessions, review):
    app_id, other = review.apps["IFA"], review.apps["IMHS"]
    _rate(sessions, app_id, waived=True)
    pairing = advisors.pair_advisor(sessions, review.library, app_id, name="Ada Advisor", email="ada@advisors.example.net",
                                    as_of=AS_OF, secret_key=SECRET, actor="coordinator:test")
    # Pairing again changes nothing.
    assert advisors.pair_advisor(sessions, review.library, app_id, name="Ada Advisor", email="ada@advisors.example.net",
                                 as_of=AS_OF, secret_key=SECRET, actor="coordinator:test") == pairing
    with sessions() as s:
        token = links.token_for(s.get(AdvisorPairing, pairing).token_nonce, SECRET, "advisor")
    client = TestClient(web_app(sessions, review.library))
    page = client.get(f"/advise/{token}")
    assert page.status_code == 200
    assert "Checklist" in page.text and app_id not in ("",)
    assert RATER_REMARK not in page.text and "recommendation recommend" not in page.text and "<h2>Ratings" not in page.text
    assert client.get(f"/review/application/{token}").status_code == 404
    r = client.post(f"/advise/{token}/notes", data={"csrf": _csrf(page.text), "text": "Add the RS/C log for 2025."})
    assert r.status_code == 200 and "Add the RS/C log for 2025." in r.text  # after the redirect
    assert client.post(f"/advise/{token}/notes", data={"csrf": "forged", "text": "x"}).status_code == 403
    assert client.post(f"/advise/{token}/notes", data={"csrf": _csrf(page.text), "text": "  "}).status_code == 422
    with sessions() as s:
        notes = advisors.notes_for(s, app_id)
        assert [n["text"] for n in notes] == ["Add the RS/C log for 2025."]
        assert advisors.notes_for(s, other) == ()
        assert s.scalar(select(func.count()).select_from(AdvisorNote)) == 1
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "advisor.note_left")) == 1
    # An applicant cannot be their own advisor.
    with sessions() as s:
        from models import Application
        own = s.get(Application, other).applicant.email
    with pytest.raises(ValueError, match="themself"):
        advisors.pair_advisor(sessions, review.library, other, name="Self", email=own, as_of=AS_OF, secret_key=SECRET,
                              actor="coordinator:test")


def test_blind_where_the_association_sets_it(sessions, tmp_path):
    """application_review.blind: no applicant name, email or employer on any reviewer page or email."""
    review = build(sessions, review_rules(tmp_path, blind=True))
    assignments = _assign(sessions, review)
    client = TestClient(web_app(sessions, review.library))
    pages = []
    for a in assignments:
        token = reviewer_token(sessions, a.reviewer_id)
        pages += [client.get(f"/review/application/{token}").text, client.get(f"/review/application/{token}/{a.id}").text]
    from models import OutboxMessage
    with sessions() as s:
        pages += [m.body_text + m.body_html + m.subject for m in s.scalars(
            select(OutboxMessage).where(OutboxMessage.role.like("appreview.%")))]
    assert len(pages) > 4
    for text in pages:
        for identity in review.identities:
            assert identity not in text and identity.replace("'", "&#39;") not in text, identity


def test_not_blind_by_default_shows_the_applicant(sessions, review):
    a = _assign(sessions, review)[0]
    page = TestClient(web_app(sessions, review.library)).get(
        f"/review/application/{reviewer_token(sessions, a.reviewer_id)}/{a.id}").text
    assert any(i in page for i in review.identities)


def test_the_reviewers_console_lists_application_reviews_beside_essays(sessions, review):
    """The same console as essay reviewers (tasks/reviewer_console.py): one link, every assignment."""
    from models import ReviewerConsoleLink
    from tasks.reviewer_console import send_console_link

    a = _assign(sessions, review)[0]
    send_console_link(sessions, a.reviewer_id, review.library, as_of=AS_OF, secret_key=SECRET, actor="test")
    with sessions() as s:
        nonce = s.scalars(select(ReviewerConsoleLink.token_nonce).where(ReviewerConsoleLink.reviewer_id == a.reviewer_id)).one()
    token = links.token_for(nonce, SECRET, "reviewer")
    client = TestClient(web_app(sessions, review.library))
    home = client.get(f"/review/{token}")
    assert home.status_code == 200 and f"application/{a.id}" in home.text
    page = client.get(f"/review/{token}/application/{a.id}")
    assert page.status_code == 200 and "Checklist" in page.text
    r = client.post(f"/review/{token}/application/{a.id}", data={"csrf": _csrf(page.text), "recommendation": "recommend"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/review/{token}?notice=submitted"
    with sessions() as s:
        assert s.get(ApplicationReviewAssignment, a.id).status == "submitted"
    # Someone else's application through the console: not found.
    other = next(x for x in _assign(sessions, review) if x.reviewer_id != a.reviewer_id and x.application_id != a.application_id)
    assert client.get(f"/review/{token}/application/{other.id}").status_code == 404


@pytest.mark.parametrize("path", ["/review/application/{t}", "/review/application/{t}/7", "/advise/{t}",
                                  "/advise/{t}/notes", "/review/{t}/application/7"])
def test_access_logs_never_show_a_reviewers_or_advisors_link(path):
    import logging

    from web.app import RedactLinks

    token = "Zq3" + "x" * 40
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "GET %s HTTP/1.1" %d',
                               ("127.0.0.1", path.format(t=token), 200), None)
    RedactLinks().filter(record)
    assert token not in record.getMessage()


def test_reviewer_and_advisor_pages_are_never_cached(sessions, review):
    a = _assign(sessions, review)[0]
    client = TestClient(web_app(sessions, review.library))
    r = client.get(f"/review/application/{reviewer_token(sessions, a.reviewer_id)}/{a.id}")
    assert "no-store" in r.headers.get("cache-control", "")
    assert "no-store" in client.get("/advise/" + "A" * 43).headers.get("cache-control", "")


PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_markup_from_reviewers_advisors_and_documents_is_escaped_everywhere(sessions, review):
    """Conditions, notes, an advisor's note, an applicant's employer: shown escaped on every page."""
    from models import Application
    from tasks.coordination.accounts import set_coordinator

    app_id = review.apps["IFA"]
    with transaction(sessions) as s:
        s.get(Application, app_id).work[0].role = PAYLOAD  # what the document said
    a = next(x for x in _assign(sessions, review) if x.application_id == app_id)
    client = TestClient(web_app(sessions, review.library))
    token = reviewer_token(sessions, a.reviewer_id)
    page = client.get(f"/review/application/{token}/{a.id}")
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    r = client.post(f"/review/application/{token}/{a.id}", data={
        "csrf": _csrf(page.text), "recommendation": "recommend_with_conditions", "conditions": PAYLOAD,
        "note:education": PAYLOAD, "note:not_a_requirement": "x"})
    assert r.status_code == 422 and "<script>" not in r.text  # the bad note is named, the form kept, escaped
    assert "not_a_requirement" in r.text
    r = client.post(f"/review/application/{token}/{a.id}", data={
        "csrf": _csrf(page.text), "recommendation": "recommend_with_conditions", "conditions": PAYLOAD,
        "note:education": PAYLOAD})
    assert r.status_code == 200
    pairing = advisors.pair_advisor(sessions, review.library, app_id, name=PAYLOAD, email="adv@advisors.example.net",
                                    as_of=AS_OF, secret_key=SECRET, actor="coordinator:test")
    with sessions() as s:
        adv_token = links.token_for(s.get(AdvisorPairing, pairing).token_nonce, SECRET, "advisor")
    adv = client.get(f"/advise/{adv_token}")
    client.post(f"/advise/{adv_token}/notes", data={"csrf": _csrf(adv.text), "text": PAYLOAD})
    set_coordinator(sessions, association=ASSOCIATION, name="Mia", email="mi@example.org",
                    password="correct horse battery staple", actor="test")
    login = client.get("/coordinator/login")
    client.post("/coordinator/login", data={"csrf": _csrf(login.text), "email": "mi@example.org",
                                            "password": "correct horse battery staple"})
    pages = [client.get(f"/advise/{adv_token}").text, client.get(f"/coordinator/applications/{app_id}").text]
    assert "&lt;script&gt;" in pages[1]  # the reviewer's conditions and the advisor's note are there, escaped
    for text in pages:
        assert "<script>" not in text and "<img src=x" not in text
    from models import OutboxMessage
    with sessions() as s:
        for m in s.scalars(select(OutboxMessage).where(OutboxMessage.role == "advisor.paired")):
            assert "<script>" not in m.body_html


@pytest.mark.parametrize("data", [
    {"recommendation": "pass"},
    {"recommendation": ""},
    {"recommendation": "recommend_with_conditions", "conditions": "   "},
    {"recommendation": "recommend", "answer:ifa_volunteer_experience": "maybe"},
    {"recommendation": "recommend", "answer:../../etc": "accepted"},
    {"recommendation": "recommend", "note:" + "x" * 500: "y"},
    {"recommendation": "RECOMMEND", "conditions": "\ud7ff" * 10},
])
def test_a_bad_review_is_refused_whole_and_names_the_field(sessions, review, data):
    a = _assign(sessions, review)[0]
    client = TestClient(web_app(sessions, review.library))
    token = reviewer_token(sessions, a.reviewer_id)
    page = client.get(f"/review/application/{token}/{a.id}")
    r = client.post(f"/review/application/{token}/{a.id}", data={"csrf": _csrf(page.text), **data})
    assert r.status_code in (400, 422), r.status_code
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ApplicationReview)) == 0
        assert s.get(ApplicationReviewAssignment, a.id).status == "assigned"


def test_two_transactions_issuing_a_reviewers_first_application_review_link_at_once_share_one(sessions, review):
    """As the console link: the second waits for the first and keeps its link, no unique-constraint
    failure, one ``appreview.link_issued`` in the audit log."""
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from models import ApplicationReviewInvitation, AuditLog
    from tasks.application_review.rounds import _invitation_for
    from tests.application_review.conftest import ASSOCIATION
    from tests.concurrency import one_after_the_other_at_once

    until = datetime(2027, 6, 1, tzinfo=UTC)
    with sessions() as s:  # a reviewer of the pool who has no link yet
        linked = set(s.scalars(select(ApplicationReviewInvitation.reviewer_id)))
    reviewer_id = next(r for r in review.reviewers.values() if r not in linked)

    def act(s):
        inv = _invitation_for(s, ASSOCIATION, reviewer_id, SECRET, until, "coordinator:test")
        return inv.id, inv.token_nonce

    first, second = one_after_the_other_at_once(sessions, act, act)
    assert first == second
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "appreview.link_issued", AuditLog.entity_id == str(first[0]))) == 1
