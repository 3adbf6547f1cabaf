"""A coordinator's side of the portfolios over HTTP: sign-in needed for every page and action, only their
own association's portfolios and uploads, a paper application started and filled in on the applicant's
behalf through the same pages, a workbook imported (or refused with every error, nothing written), and
a submitted application reopened."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from endorse.db import transaction
from models import Application, AuditLog, Portfolio
from tasks import portal
from tasks.coordination.accounts import set_coordinator
from tasks.intake.records import ensure_associations
from tests.portal.helpers import LIBRARY, cohort, fill_from
from tests.portal.test_workbook import _workbook

from .conftest import AS_OF, SECRET, make_web_app

PASSWORD = "correct horse battery staple"
CT, MI = "ct.coordinator@example.org", "mi.coordinator@example.org"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
def app(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, LIBRARY)
    set_coordinator(sessions, association="CT-AIMH", name="Cal Coordinator", email=CT, password=PASSWORD, actor="test")
    set_coordinator(sessions, association="MI-AIMH", name="Mia Coordinator", email=MI, password=PASSWORD, actor="test")
    return make_web_app(sessions, SECRET, AS_OF)


def _signed_in(app, email: str) -> TestClient:
    client = TestClient(app)
    page = client.get("/coordinator/login")
    r = client.post("/coordinator/login", data={"csrf": _csrf(page.text), "email": email, "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303
    return client


def _ct_portfolio(sessions) -> int:
    return portal.request_link(sessions, LIBRARY, email="ada@example.org", association="CT-AIMH", kind="application",
                               as_of=AS_OF, secret_key=SECRET)


@pytest.mark.parametrize("method, path", [
    ("get", "/coordinator/portfolios"), ("get", "/coordinator/portfolios/{pid}"),
    ("get", "/coordinator/portfolios/{pid}/s/details"), ("get", "/coordinator/portfolios/uploads/1"),
    ("post", "/coordinator/portfolios/start"), ("post", "/coordinator/portfolios/reopen"),
    ("post", "/coordinator/portfolios/{pid}/details"), ("post", "/coordinator/portfolios/{pid}/submit"),
])
def test_every_portfolio_page_and_action_needs_a_sign_in(app, sessions, method, path):
    pid = _ct_portfolio(sessions)
    before = _count(sessions, AuditLog)
    r = getattr(TestClient(app), method)(path.format(pid=pid), follow_redirects=False,
                                         **({"data": {"csrf": "x", "name": "X", "category": "IFS"}} if method == "post" else {}))
    assert r.status_code == 303 and r.headers["location"].startswith("/coordinator/login")
    assert _count(sessions, AuditLog) == before


def _count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_coordinator_sees_and_opens_only_their_associations_portfolios(app, sessions):
    pid = _ct_portfolio(sessions)
    mi = _signed_in(app, MI)
    assert "ada@example.org" not in mi.get("/coordinator/portfolios").text
    assert mi.get(f"/coordinator/portfolios/{pid}/s/details").status_code == 404
    r = mi.post(f"/coordinator/portfolios/{pid}/details", data={"csrf": _csrf(mi.get("/coordinator/portfolios").text),
                                                                "name": "Mallory", "category": "IFS"})
    assert r.status_code == 404
    assert mi.get("/coordinator/portfolios/99999999999/s/details").status_code == 404
    ct = _signed_in(app, CT)
    assert "ada@example.org" in ct.get("/coordinator/portfolios").text
    assert ct.get(f"/coordinator/portfolios/{pid}/s/details").status_code == 200


def test_a_paper_application_is_started_filled_in_and_submitted_on_the_applicants_behalf(app, sessions):
    ct = _signed_in(app, CT)
    csrf = _csrf(ct.get("/coordinator/portfolios").text)
    r = ct.post("/coordinator/portfolios/start", data={"csrf": csrf, "email": "amara.nwosu@example.com",
                                                       "kind": "application"})
    assert r.status_code == 200 and "/coordinator/portfolios/" in str(r.url)
    with sessions() as s:
        pid = s.scalars(select(Portfolio.id)).one()
    page = ct.get(f"/coordinator/portfolios/{pid}/s/details")
    ct.post(f"/coordinator/portfolios/{pid}/details", data={"csrf": _csrf(page.text), "name": "Amara Nwosu",
                                                            "category": "IFS"})
    doc = cohort("ct-aimh-ifs-eligible-01.json")
    fill_from(sessions, portal.Access(portfolio_id=pid, association="CT-AIMH", coordinator=CT), doc)
    r = ct.post(f"/coordinator/portfolios/{pid}/submit", data={"csrf": _csrf(page.text)})
    assert r.status_code == 200 and "Submitted. Thank you." in r.text
    with sessions() as s:
        actors = set(s.scalars(select(AuditLog.actor).where(AuditLog.entity_type == "portfolio")))
        assert s.scalar(select(func.count()).select_from(Application)) == 1
    assert actors == {f"coordinator:{CT}"}
    assert app.state.events and app.state.events[-1].startswith("CT-AIMH-")
    # Reopened, it is a draft again (for the applicant's link and the coordinator alike).
    app_id = app.state.events[-1]
    r = ct.post("/coordinator/portfolios/reopen", data={"csrf": _csrf(page.text), "application_id": app_id,
                                                        "reason": "a missing training row"})
    assert r.status_code == 200 and "open for changes again" in r.text
    assert ct.get(f"/coordinator/portfolios/{pid}/s/training").status_code == 200


def test_a_workbook_is_imported_or_refused_with_every_error(app, sessions):
    ct = _signed_in(app, CT)
    csrf = _csrf(ct.get("/coordinator/portfolios").text)
    good = _workbook(cohort("ct-aimh-ifs-eligible-01.json"))
    bad = _workbook(cohort("ct-aimh-ifs-eligible-01.json"),
                    edit=lambda book: book["training"].cell(row=2, column=3, value="lots"))
    r = ct.post("/coordinator/portfolios/import", data={"csrf": csrf}, files={"workbook": ("paper.xlsx", bad)})
    assert r.status_code == 422 and "sheet training, row 2, hours: write a number" in r.text
    assert _count(sessions, Application) == 0
    r = ct.post("/coordinator/portfolios/import", data={"csrf": "0" * 32}, files={"workbook": ("paper.xlsx", good)})
    assert r.status_code == 403 and _count(sessions, Application) == 0
    r = ct.post("/coordinator/portfolios/import", data={"csrf": csrf}, files={"workbook": ("paper.xlsx", good)})
    assert r.status_code == 200 and "Imported 1 application(s): CT-2026-102" in r.text
    assert app.state.events == ["CT-2026-102"]


def test_a_description_is_downloaded_only_by_its_associations_coordinator(app, sessions):
    pid = _ct_portfolio(sessions)
    access = portal.Access(portfolio_id=pid, association="CT-AIMH", coordinator=CT)
    portal.save_details(sessions, access, {"name": "Ada", "category": "IMHS"}, library=LIBRARY, as_of=AS_OF)
    portal.upload_description(sessions, access, "imhs_internship_description", "note.txt", "text/plain",
                              b"<html>Direct IMH practice.</html>", library=LIBRARY, as_of=AS_OF)
    with sessions() as s:
        upload_id = portal.portfolios_of(s, "CT-AIMH")[0].uploads[0][0]
    r = _signed_in(app, CT).get(f"/coordinator/portfolios/uploads/{upload_id}")
    assert r.status_code == 200 and r.content == b"<html>Direct IMH practice.</html>"
    assert r.headers["content-disposition"].startswith("attachment") and r.headers["x-content-type-options"] == "nosniff"
    assert _signed_in(app, MI).get(f"/coordinator/portfolios/uploads/{upload_id}").status_code == 404



def test_the_descriptions_an_applicant_uploaded_are_on_the_coordinators_application_page(app, sessions):
    """Issue 16 item 2: a description uploaded for a question the coordinator decides (CT-AIMH ·
    imhs_internship_description) is there for them where they decide it, as a download."""
    from endorse import links

    pid = _ct_portfolio(sessions)
    with sessions() as s:
        token = links.token_for(s.get(Portfolio, pid).token_nonce, SECRET, "portfolio")
    access = portal.Access(token=token)
    fill_from(sessions, access, cohort("ct-aimh-imhs-no-exam-yet.json"))
    portal.upload_description(sessions, access, "imhs_internship_description", "internship.txt", "text/plain",
                              b"Six months of home visiting under reflective supervision.", library=LIBRARY,
                              as_of=AS_OF)
    app_id = portal.submit(sessions, access, library=LIBRARY, as_of=AS_OF)
    ct = _signed_in(app, CT)
    page = ct.get(f"/coordinator/applications/{app_id}")
    assert page.status_code == 200 and 'id="descriptions"' in page.text
    link = re.search(r'href="(/coordinator/portfolios/uploads/\d+)" download>internship.txt<', page.text).group(1)
    got = ct.get(link)
    assert got.status_code == 200 and got.content == b"Six months of home visiting under reflective supervision."
    assert got.headers["content-disposition"].startswith("attachment")
    assert _signed_in(app, MI).get(f"/coordinator/applications/{app_id}").status_code == 404
