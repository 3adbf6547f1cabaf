"""The applicant's pages over HTTP: start without telling who applies, the link's 404, CSRF on every
form, size limits, escaping, the section pages without JavaScript, submission starting the pipeline, and
the access matrix (an applicant sees only their own application, and never a rating)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from endorse import links
from endorse.db import transaction
from models import Application, AuditLog, OutboxMessage, Portfolio, ReferenceRequest
from tasks.intake.records import ensure_associations
from tasks.pipeline import reconcile as pipeline
from tasks.references.ratings import RatingInput, decline_rating, save_rating
from tasks.transcripts.transcripts import record_transcript
from tests.portal.helpers import LIBRARY, cohort, fill_from
from web.routers.applicant import csrf_for

from .conftest import AS_OF, SECRET, make_web_app


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _start(client: TestClient, email: str, association: str = "CT-AIMH", kind: str = "application"):
    page = client.get("/apply")
    return client.post("/apply", data={"csrf": _csrf(page.text), "email": email, "association": association,
                                       "kind": kind})


def _token(sessions, email: str) -> str:
    with sessions() as s:
        p = s.scalars(select(Portfolio).where(Portfolio.email_normalized == email)).one()
        return links.token_for(p.token_nonce, SECRET, "portfolio")


@pytest.fixture
def client(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, LIBRARY)  # as endorse serve does when it starts
    app = make_web_app(sessions)
    with TestClient(app) as c:
        c.app_events = app.state.events
        yield c


@pytest.fixture
def ada(client, sessions):
    """Ada has asked for her link; (client, token)."""
    assert _start(client, "ada@example.org").status_code == 200
    return _token(sessions, "ada@example.org")


def test_the_start_page_answers_the_same_whoever_asks(client, sessions):
    answers = {}
    for email, kind in (("ada@example.org", "application"), ("nobody@example.org", "renewal"),
                        ("ada@example.org", "renewal")):
        r = _start(client, email, kind=kind)
        assert r.status_code == 200
        answers[(email, kind)] = r.text.replace(email, "EMAIL").replace("renewal", "KIND").replace("application", "KIND")
    assert len(set(answers.values())) == 1  # nobody learns who applies or who is endorsed
    with sessions() as s:
        assert sorted(s.scalars(select(OutboxMessage.role))) == ["portal.link_application", "portal.no_renewal",
                                                                  "portal.no_renewal"]


def test_a_bad_address_is_named_and_nothing_is_sent(client, sessions):
    r = _start(client, "not an address")
    assert r.status_code == 422 and "write one email address" in r.text
    with sessions() as s:
        assert s.scalars(select(OutboxMessage)).all() == []


@pytest.mark.parametrize("cookie", [None, "another-value"])
def test_the_start_form_needs_its_own_cookie(client, sessions, cookie):
    page = client.get("/apply")
    client.cookies.clear()
    if cookie:
        client.cookies.set("apply_csrf", cookie, path="/apply")
    r = client.post("/apply", data={"csrf": _csrf(page.text), "email": "ada@example.org", "association": "CT-AIMH"})
    assert r.status_code == 403
    with sessions() as s:
        assert s.scalars(select(Portfolio)).all() == []


def test_unknown_expired_and_mistyped_links_get_the_same_404(client, ada, sessions):
    unknown = client.get("/apply/" + "A" * 43)
    mistyped = client.get("/apply/" + ada[:-1] + ("B" if ada[-1] != "B" else "C"))
    with sessions.begin() as s:
        s.scalars(select(Portfolio)).one().token_expires_at = __import__("datetime").datetime(2026, 1, 1, tzinfo=__import__("datetime").timezone.utc)
    expired = client.get(f"/apply/{ada}/s/details")
    assert unknown.status_code == mistyped.status_code == expired.status_code == 404
    assert unknown.text == mistyped.text == expired.text


def test_the_sections_work_without_javascript_and_keep_what_was_typed(client, ada):
    page = client.get(f"/apply/{ada}", follow_redirects=True)
    assert page.status_code == 200 and "<script" not in page.text and "Your checklist" in page.text
    r = client.post(f"/apply/{ada}/details", data={"csrf": _csrf(page.text), "name": "Ada", "category": "IMHS"})
    assert r.status_code == 200 and "Saved. The checklist is up to date." in r.text  # after the redirect
    bad = client.post(f"/apply/{ada}/s/training/add", data={"csrf": _csrf(page.text), "title": "Conference",
                                                            "hours": "ten", "completed_on": "2024-01-01"})
    assert bad.status_code == 422 and "write a number" in bad.text and 'value="Conference"' in bad.text
    for section in ("education", "training", "work", "rsc", "leadership_activities", "memberships", "references",
                    "questions", "agreements", "submit"):
        r = client.get(f"/apply/{ada}/s/{section}")
        assert r.status_code == 200 and "<script" not in r.text, section
    assert "IMHS needs a rating from your current program supervisor" in client.get(f"/apply/{ada}/s/references").text
    assert client.get(f"/apply/{ada}/s/nonsense").status_code == 404


def test_what_an_applicant_types_is_escaped_everywhere_it_shows(client, ada):
    csrf = _csrf(client.get(f"/apply/{ada}/s/details").text)
    client.post(f"/apply/{ada}/details", data={"csrf": csrf, "name": "Ada <script>alert(1)</script>", "category": "IFS"})
    client.post(f"/apply/{ada}/s/training/add", data={"csrf": csrf, "title": "<img src=x onerror=alert(1)>",
                                                      "hours": "3", "completed_on": "2024-01-01"})
    page = client.get(f"/apply/{ada}/s/training").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert" not in client.get(f"/apply/{ada}/s/details").text


@pytest.mark.parametrize("path, data", [
    ("/s/training/add", {"title": "x", "hours": "3", "completed_on": "2024-01-01"}),
    ("/details", {"name": "Mallory", "category": "IFS"}),
    ("/agreements", {"code_of_ethics_signed_on": "yes"}),
    ("/submit", {}),
])
def test_every_form_needs_the_csrf_token_of_its_own_link(client, ada, sessions, path, data):
    _start(client, "eve@example.org")
    eves = _csrf(client.get(f"/apply/{_token(sessions, 'eve@example.org')}/s/details").text)
    with sessions() as s:
        before = s.scalars(select(Portfolio.version_id).where(Portfolio.email_normalized == "ada@example.org")).one()
    for csrf in (None, "0" * 32, eves):
        r = client.post(f"/apply/{ada}{path}", data={**data, **({"csrf": csrf} if csrf else {})})
        assert r.status_code == 403, csrf
    with sessions() as s:
        assert s.scalars(select(Portfolio.version_id).where(Portfolio.email_normalized == "ada@example.org")).one() == before


def test_bodies_and_uploads_are_capped(client, ada):
    csrf = _csrf(client.get(f"/apply/{ada}/s/details").text)
    client.post(f"/apply/{ada}/details", data={"csrf": csrf, "name": "Ada", "category": "IMHS"})
    huge = client.post(f"/apply/{ada}/training/upload", data={"csrf": csrf},
                       files={"file": ("log.csv", b"title,hours,completed_on\n" + b"x,1,2024-01-01\n" * 30_000, "text/csv")})
    assert huge.status_code == 413
    big = client.post(f"/apply/{ada}/questions/imhs_internship_description", data={"csrf": csrf},
                      files={"description": ("note.txt", b"x" * 210_000, "text/plain")})
    assert big.status_code == 422 and "at most 200 kB" in big.text
    wrong = client.post(f"/apply/{ada}/questions/imhs_internship_description", data={"csrf": csrf},
                        files={"description": ("note.exe", b"MZ", "application/octet-stream")})
    assert wrong.status_code == 422 and "plain text (.txt), PDF (.pdf) or Word (.docx)" in wrong.text
    ok = client.post(f"/apply/{ada}/questions/imhs_internship_description", data={"csrf": csrf},
                     files={"description": ("note.txt", b"Direct IMH practice, supervised weekly.", "text/plain")})
    assert ok.status_code == 200 and "Uploaded: note.txt" in ok.text


def test_a_training_upload_with_errors_lists_every_row_and_adds_nothing(client, ada):
    csrf = _csrf(client.get(f"/apply/{ada}/s/training").text)
    r = client.post(f"/apply/{ada}/training/upload", data={"csrf": csrf}, files={"file": (
        "log.csv", b"title,hours,completed_on\nGood,3,2024-01-01\nBad,x,2024-01-01\nWorse,2,someday\n", "text/csv")})
    assert r.status_code == 422
    assert "row 3, hours: write a number" in r.text and "row 4, completed_on: must be a date" in r.text
    assert "Nothing here yet." in r.text


def _submitted(client, sessions, name: str = "ct-aimh-ifs-eligible-01.json") -> tuple[str, str]:
    """A cohort applicant fills and submits their portfolio on the web: (token, application id)."""
    doc = cohort(name)
    _start(client, doc["applicant"]["email"], association=doc["association"])
    token = _token(sessions, doc["applicant"]["email"])
    from tasks import portal

    fill_from(sessions, portal.Access(token=token), doc)
    submit_page = client.get(f"/apply/{token}/s/submit").text
    assert "You can submit. What happens next:" in submit_page and "Your raters are emailed" in submit_page
    r = client.post(f"/apply/{token}/submit", data={"csrf": _csrf(submit_page)})
    assert r.status_code == 200 and "Submitted. Thank you." in r.text
    with sessions() as s:
        app_id = s.scalars(select(Application.id)).one()
    return token, app_id


def test_submission_starts_the_pipeline_and_the_status_page_shows_ratings_in_never_their_content(client, sessions):
    token, app_id = _submitted(client, sessions)
    assert client.app_events == [app_id]  # the reconcile the web asks for, as after an event
    cfg = pipeline.PipelineConfig(library=LIBRARY, as_of=AS_OF, secret_key=SECRET)
    record_transcript(sessions, app_id, institution="Wayne State University", official=True, received_on=AS_OF,
                      actor="coordinator:c@example.org")
    pipeline.reconcile_one(sessions, app_id, cfg)
    with sessions() as s:
        requests = s.scalars(select(ReferenceRequest).where(ReferenceRequest.application_id == app_id)
                             .order_by(ReferenceRequest.position)).all()
        first = links.token_for(requests[0].token_nonce, SECRET, "rating")
    assert len(requests) == 3 and all(r.token_hash for r in requests)  # the raters are asked, as after an import
    with sessions() as s:
        from tasks.references.ratings import find_request, form_spec

        spec = form_spec(s, find_request(s, first, AS_OF), LIBRARY, AS_OF)
    answers = {a.key: "3" for d in spec.domains for a in d.areas}
    save_rating(sessions, first, RatingInput(answers=answers, known_for_months=30, relationship="her supervisor",
                                             recommendation="recommend_with_reservations",
                                             comments="CONFIDENTIAL-REMARK about Amara", attested=True),
                library=LIBRARY, as_of=AS_OF, submit=True)
    page = client.get(f"/apply/{token}")
    assert page.status_code == 200 and "Waiting for your ratings" in page.text
    assert "Wei Chen (your current program supervisor): rating received" in page.text
    assert "Grace Okafor (someone who provides RS/C to you): awaiting their rating" in page.text
    assert "Wayne State University: received on 2026-11-22" in page.text
    for secret in ("CONFIDENTIAL-REMARK", "reservations", "her supervisor", "not enough information"):
        assert secret not in page.text
    assert "Name another rater" not in page.text  # nobody asked for one
    refused = client.post(f"/apply/{token}/raters", data={"csrf": csrf_for(SECRET, token), "rater.name": "X",
                                                          "rater.email": "x@example.org", "role": "colleague"})
    assert refused.status_code == 422 and "need no change" in refused.text


def test_after_a_decline_the_applicant_names_another_rater_and_the_rater_is_asked(client, sessions):
    token, app_id = _submitted(client, sessions)
    cfg = pipeline.PipelineConfig(library=LIBRARY, as_of=AS_OF, secret_key=SECRET)
    record_transcript(sessions, app_id, institution="Wayne State University", official=True, received_on=AS_OF,
                      actor="coordinator:c@example.org")
    pipeline.reconcile_one(sessions, app_id, cfg)
    with sessions() as s:
        colleague = s.scalars(select(ReferenceRequest).where(ReferenceRequest.role == "colleague")).one()
        colleague_token = links.token_for(colleague.token_nonce, SECRET, "rating")
    decline_rating(sessions, colleague_token, "I have not seen her work", library=LIBRARY, as_of=AS_OF)
    pipeline.reconcile_one(sessions, app_id, cfg)
    page = client.get(f"/apply/{token}")
    assert "Lucia Moreno (a colleague): declined to rate" in page.text and "Name another rater" in page.text
    assert "I have not seen her work" not in page.text
    r = client.post(f"/apply/{token}/raters", data={"csrf": _csrf(page.text), "rater.name": "Nia Park",
                                                    "rater.email": "npark@example.org", "role": "colleague",
                                                    "rater.endorsement": "IFS"})
    assert r.status_code == 200 and "Your rater is asked" in r.text
    with sessions() as s:
        new = s.scalars(select(ReferenceRequest).where(ReferenceRequest.rater_name == "Nia Park")).one()
        audit = s.scalars(select(AuditLog.actor).where(AuditLog.action == "reference.added")).one()
    assert new.token_hash is not None and audit == "applicant:amara.nwosu@example.com"


def test_an_applicant_sees_only_their_own_application(client, sessions):
    amara, app_id = _submitted(client, sessions)
    _start(client, "eve@example.org")
    eve = _token(sessions, "eve@example.org")
    eves_page = client.get(f"/apply/{eve}", follow_redirects=True).text
    assert app_id not in eves_page and "Amara" not in eves_page and "Wei Chen" not in eves_page
    # Eve's link with Amara's rater request ids does nothing to Amara's application.
    with sessions() as s:
        req_id = s.scalars(select(ReferenceRequest.id)).first()
    r = client.post(f"/apply/{eve}/raters/{req_id}/replace",
                    data={"csrf": _csrf(eves_page), "rater.name": "Eve", "rater.email": "eve2@example.org",
                          "role": "colleague"})
    assert r.status_code == 404
    with sessions() as s:
        assert s.scalars(select(ReferenceRequest.status).where(ReferenceRequest.id == req_id)).one() == "requested"
    # and a submitted application cannot be changed through its own link any more
    csrf = csrf_for(SECRET, amara)
    assert client.post(f"/apply/{amara}/details", data={"csrf": csrf, "name": "X", "category": "IFA"}).status_code == 409


def test_signatures_are_dated_by_the_web_apps_clock(sessions):
    # The web app's clock (WebContext.today) dates signatures and links, not the server's.
    with transaction(sessions) as s:
        ensure_associations(s, LIBRARY)
    app = make_web_app(sessions, as_of=date(2027, 1, 5))
    with TestClient(app) as c:
        _start(c, "ada@example.org")
        token = _token(sessions, "ada@example.org")
        csrf = _csrf(c.get(f"/apply/{token}/s/agreements").text)
        assert "signed on 2027-01-05" in c.post(f"/apply/{token}/agreements",
                                                data={"csrf": csrf, "code_of_ethics_signed_on": "yes"}).text


def test_fuzzed_portfolio_rows_never_crash_and_never_half_save(sessions):
    """Whatever a client posts into a section: never a server error, and either one whole, valid row more
    or nothing at all."""
    import string

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from endorse.documents import ApplicationDocument

    with transaction(sessions) as s:
        ensure_associations(s, LIBRARY)
    client = TestClient(make_web_app(sessions, requests_per_minute=1_000_000), raise_server_exceptions=False)
    _start(client, "ada@example.org")
    token = _token(sessions, "ada@example.org")
    csrf = _csrf(client.get(f"/apply/{token}/s/details").text)
    client.post(f"/apply/{token}/details", data={"csrf": csrf, "name": "Ada", "category": "IMHS"})
    values = st.one_of(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80),
                       st.sampled_from(["", "3", "-1", "1e9", "nan", "2024-02-30", "2024-01-01", "yes", "masters",
                                        "colleague", "rsc_didactic", "\x00", "<script>", "²"]))
    names = st.sampled_from(["title", "hours", "completed_on", "topics", "institution", "credential", "employer",
                             "kind", "start_on", "end_on", "paid", "families_served", "rater.name", "rater.email",
                             "role", "waived_access", "provider.name", "provider.email", "hours", "csrf"])
    forms = st.dictionaries(st.one_of(names, st.text(string.ascii_lowercase + "._", max_size=20)), values, max_size=10)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(form=forms, section=st.sampled_from(["training", "education", "work", "references", "rsc", "nonsense"]))
    def run(form, section):
        with sessions() as s:
            before = s.scalars(select(Portfolio)).one().body
        r = client.post(f"/apply/{token}/s/{section}/add", data={**form, "csrf": csrf})
        assert r.status_code < 500, r.text[:300]
        with sessions() as s:
            after = s.scalars(select(Portfolio)).one().body
        grown = [k for k, v in after.items() if isinstance(v, list) and len(v) != len(before.get(k, []))]
        assert len(grown) <= 1 and (not grown or len(after[grown[0]]) == len(before.get(grown[0], [])) + 1)
        from tasks.portal.drafts import application_document

        with sessions() as s:  # what is stored always makes a valid document
            ApplicationDocument.model_validate_json(application_document(s.scalars(select(Portfolio)).one()))

    run()


def test_a_renewal_is_filed_through_the_pages_with_its_live_checklist(client, sessions):
    from datetime import date as day

    from models import Endorsement, Renewal
    from tests.portal.helpers import endorsed_person

    endorsed_person(sessions, "dana@example.org", category="IFS", association="CT-AIMH", number="CT-IFS-0007",
                    granted_on=day(2020, 12, 31), renewal_due_on=day(2026, 12, 31))
    assert _start(client, "dana@example.org", kind="renewal").status_code == 200
    token = _token(sessions, "dana@example.org")
    page = client.get(f"/apply/{token}", follow_redirects=True)
    assert "Your 2026 renewal (IFS)" in page.text and "Renewal checklist" in page.text
    csrf = _csrf(page.text)
    assert client.get(f"/apply/{token}/s/references").status_code == 404  # not a section of a renewal
    r = client.post(f"/apply/{token}/s/training/add", data={"csrf": csrf, "title": "State conference", "hours": "16",
                                                            "completed_on": "2026-05-02", "topics": "relationship_based"})
    assert "16 h" in r.text
    client.post(f"/apply/{token}/s/rsc/add", data={"csrf": csrf, "provider.name": "Grace Okafor",
                                                   "provider.email": "g.okafor@example.org",
                                                   "provider.endorsement": "IMHS", "hours": "12",
                                                   "start_on": "2026-01-01", "end_on": "2026-10-31"})
    client.post(f"/apply/{token}/s/memberships/add", data={"csrf": csrf, "association": "CT-AIMH",
                                                           "expires_on": "2027-06-30"})
    client.post(f"/apply/{token}/agreements", data={"csrf": csrf, "code_of_ethics_signed_on": "yes"})
    submit_page = client.get(f"/apply/{token}/s/submit").text
    assert "Everything is met" in submit_page
    r = client.post(f"/apply/{token}/submit", data={"csrf": csrf})
    assert r.status_code == 200 and "Your 2026 renewal is recorded: met" in r.text
    assert "Your 2026 renewal is recorded: met" in client.get(f"/apply/{token}").text
    with sessions() as s:
        assert s.scalars(select(Renewal.status)).one() == "met"
        assert s.scalars(select(Endorsement.renewal_due_on)).one() == day(2027, 12, 31)


def test_portfolio_pages_are_rate_limited_never_stored_and_their_links_never_logged(sessions):
    import logging

    from web.app import RedactLinks

    with transaction(sessions) as s:
        ensure_associations(s, LIBRARY)
    c = TestClient(make_web_app(sessions, requests_per_minute=5))
    codes = [c.get(f"/apply/guess-{i}").status_code for i in range(7)]
    assert 429 not in codes[:5] and codes[5:] == [429] * 2
    ok = TestClient(make_web_app(sessions))
    _start(ok, "ada@example.org")
    token = _token(sessions, "ada@example.org")
    for r in (ok.get("/apply"), ok.get(f"/apply/{token}/s/details")):
        assert r.headers["cache-control"] == "no-store" and "default-src 'none'" in r.headers["content-security-policy"]
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", f"/apply/{token}/s/details", "1.1", 200), None)
    RedactLinks().filter(record)
    assert token not in record.getMessage() and "/apply/<redacted>/s/details" in record.getMessage()
