"""In a real browser (Debian's Chromium through Playwright), on a desktop and on a phone: a coordinator signs
in, starts a paper application on an applicant's behalf and fills it in through the portfolio's own pages
(the checklist moving with each save), imports a workbook that is refused with every error named and
then one that goes in, and reopens a renewal filed by mistake with the reason. Screenshots go to
var/screenshots/ (issue 16, item 6)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from endorse.db import transaction
from endorse.settings import PROJECT_ROOT
from models import Application, Endorsement, Portfolio, Renewal
from tasks import portal
from tasks.coordination.accounts import set_coordinator
from tasks.intake.records import ensure_associations
from tests.portal.helpers import LIBRARY, cohort, endorsed_person, open_portfolio, portfolio_row
from tests.portal.test_portfolio import fill_met_renewal
from tests.portal.test_workbook import _workbook
from tests.web.test_applicant_browser import VIEWPORTS, _fits, _follow, _press, _status
from tests.web.test_browser import CHROMIUM_ARGS

from .conftest import AS_OF, make_web_app, serve_app

pytestmark = pytest.mark.browser
SHOTS = PROJECT_ROOT / "var" / "screenshots"
CT, MI = "ct.coordinator@example.org", "mi.coordinator@example.org"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def served(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, LIBRARY)
    set_coordinator(sessions, association="CT-AIMH", name="Cal Coordinator", email=CT, password=PASSWORD, actor="t")
    set_coordinator(sessions, association="MI-AIMH", name="Mia Coordinator", email=MI, password=PASSWORD, actor="t")
    app = make_web_app(sessions)
    with serve_app(app) as base:
        yield base


def _sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/coordinator/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    _press(page, "Sign in")


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_a_coordinator_handles_paper_applications_and_a_mistaken_renewal_in_the_browser(served, sessions, tmp_path,
                                                                                        device):
    from playwright.sync_api import sync_playwright

    base = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    endorsed_person(sessions, "dwhitfield@example.org", category="IMHM-C", association="MI-AIMH",
                    number="MI-IMHM-C-0042", granted_on=date(2021, 12, 31), renewal_due_on=date(2026, 12, 31))
    access, _ = open_portfolio(sessions, email="dwhitfield@example.org", association="MI-AIMH", kind="renewal")
    fill_met_renewal(sessions, access)
    portal.submit(sessions, access, library=LIBRARY, as_of=AS_OF)
    renewal_id = portfolio_row(sessions, access).application_id
    bad = tmp_path / "paper-bad.xlsx"
    bad.write_bytes(_workbook(cohort("ct-aimh-ifs-eligible-01.json"),
                              edit=lambda book: book["training"].cell(row=2, column=3, value="lots")))
    good = tmp_path / "paper.xlsx"
    good.write_bytes(_workbook(cohort("ct-aimh-ifs-eligible-01.json")))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORTS[device])
        _sign_in(page, base, CT)
        _follow(page, "Portfolios")
        assert page.get_by_role("heading", level=1).inner_text() == "Applicants' portfolios"

        # A paper application, started on the applicant's behalf and filled in through the same pages.
        page.get_by_label("Applicant's email").fill("amara.nwosu@example.com")
        page.get_by_label("Kind").select_option("application")
        _press(page, "Start and fill in")
        assert "/coordinator/portfolios/" in page.url
        page.get_by_label("Your name, as it should appear on your endorsement").fill("Amara Nwosu")
        page.get_by_label("IFS · Infant Family Specialist").check()
        _press(page, "Save")
        assert _status(page, "training_hours") == "unmet"
        _follow(page, "Training")
        page.get_by_label("Title").fill("Infant-parent psychotherapy intensive")
        page.get_by_label("Hours").fill("36")
        page.get_by_label("Completed on").fill("2024-01-10")
        page.get_by_label("Relationship-based (infant mental health)").check()
        _press(page, "Add")
        assert _status(page, "training_hours") == "met"
        page.screenshot(path=str(SHOTS / f"coordinator-portfolio-paper-{device}.png"), full_page=True)
        with sessions() as s:
            started = s.scalars(select(Portfolio).where(Portfolio.email == "amara.nwosu@example.com")).one()
            assert (started.started_by, started.body["name"]) == (f"coordinator:{CT}", "Amara Nwosu")

        # A workbook with a bad row is refused whole, every problem named; then the right one goes in.
        page.goto(f"{base}/coordinator/portfolios")
        page.get_by_label("Workbook").set_input_files(str(bad))
        _press(page, "Import")
        alert = page.get_by_role("alert").inner_text()
        assert "Nothing was written" in alert and "sheet training, row 2, hours: write a number" in alert
        with sessions() as s:
            assert s.scalars(select(Application)).first() is None
        page.get_by_label("Workbook").set_input_files(str(good))
        _press(page, "Import")
        assert "Imported 1 application(s): CT-2026-102" in page.locator("main").inner_text()
        assert "amara.nwosu@example.com" in page.locator("main").inner_text()
        _fits(page, device)
        page.screenshot(path=str(SHOTS / f"coordinator-portfolios-{device}.png"), full_page=True)

        # Michigan's coordinator reopens a renewal filed by mistake: the reason is asked for.
        context = browser.new_context(viewport=VIEWPORTS[device])
        mi = context.new_page()
        _sign_in(mi, base, MI)
        _follow(mi, "Portfolios")
        assert "amara.nwosu@example.com" not in mi.locator("main").inner_text()  # Connecticut's, not theirs
        form = mi.get_by_role("form", name=f"Reopen {renewal_id}")
        form.get_by_label("Reason").fill("recorded before the RS/C log was checked")
        with mi.expect_navigation():
            form.get_by_role("button", name="Reopen").click()
        assert "Its recorded renewal is undone until it is filed again." in mi.locator("main").inner_text()
        mi.screenshot(path=str(SHOTS / f"coordinator-portfolio-renewal-reopened-{device}.png"), full_page=True)
        browser.close()
    with sessions() as s:
        assert s.scalars(select(Renewal.status)).one() == "due"
        assert s.scalars(select(Endorsement.renewal_due_on)).one() == date(2026, 12, 31)
