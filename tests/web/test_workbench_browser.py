"""The coordinator's workbench in a real browser (Debian's Chromium via Playwright), on a desktop and on a
phone (issue 15, items 1, 2, 3 and 5): the sign-in keeps the email after a mistake; the dashboard's
"waiting on you" leads to the exam approval; a decision is previewed (outcome and letter) and confirmed,
and refused with the reason when the checklist does not support it; the list finds an application; on a
phone no page is wider than the screen and numbers align right. Screenshots go to the test's tmp dir and
var/screenshots/."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from endorse.settings import PROJECT_ROOT
from models import Application, AuditLog
from tests.web.conftest import make_web_app
from tests.web.browser import CHROMIUM_ARGS, navigates
from tests.web.test_coordinator import AS_OF, MI, PASSWORD, SECRET, cohort  # noqa: F401  (fixture)
from tests.web.test_coordinator_browser import _serve

pytestmark = pytest.mark.browser
SHOTS = PROJECT_ROOT / "var" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@contextlib.contextmanager
def coordinator_browser(sessions, device: str, tmp_path: Path, prefix: str):
    """The app on a loopback port and a Chromium page of the device's size; yields (base, page, shot).
    ``shot(name)`` saves a full-page screenshot in tmp_path, copied to var/screenshots/ at the end."""
    from playwright.sync_api import sync_playwright

    server, thread, base = _serve(make_web_app(sessions, SECRET, AS_OF))
    shots: list[Path] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORTS[device], is_mobile=device == "phone")

            def shot(name: str) -> None:
                shots.append(tmp_path / f"{prefix}-{device}-{name}.png")
                page.screenshot(path=str(shots[-1]), full_page=True)

            yield base, page, shot
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for path in shots:
        shutil.copy(path, SHOTS)


def sign_in(page, base: str, email: str = MI, password: str = PASSWORD) -> None:
    page.goto(base + "/coordinator/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    navigates(page, page.get_by_role("button", name="Sign in"))


def fits(page) -> None:
    """Nothing wider than the screen: tables scroll or stack inside their box."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_a_coordinator_works_from_the_browser(cohort, device, tmp_path):  # noqa: F811
    with cohort() as s:
        applicant = s.get(Application, "MI-2026-126").applicant_name
    with coordinator_browser(cohort, device, tmp_path, "workbench") as (base, page, shot):
        # Sign in: a wrong password keeps the email typed.
        page.goto(base + "/coordinator/login")
        page.get_by_label("Email").fill(MI)
        page.get_by_label("Password").fill("not the password")
        navigates(page, page.get_by_role("button", name="Sign in"))
        assert page.get_by_role("alert").is_visible()
        assert page.get_by_label("Email").input_value() == MI
        shot("sign-in-error")
        page.get_by_label("Password").fill(PASSWORD)
        navigates(page, page.get_by_role("button", name="Sign in"))
        page.wait_for_url(base + "/coordinator/")
        # Waiting on you: the exam-eligible applicant, one click from the approval.
        queue = page.locator("#waiting-on-me")
        assert queue.get_by_role("link", name="approve to sit the exam: MI-2026-141").is_visible()
        fits(page)
        shot("dashboard")
        # A decision for them is refused with the reason; approving them moves them on.
        navigates(page, queue.get_by_role("link", name="approve to sit the exam: MI-2026-141"))
        assert "eligible to sit the exam" in page.locator("#decision-refused").inner_text()
        navigates(page, page.get_by_role("button", name="Approve to sit the exam"))
        assert "Approved to sit the exam" in page.get_by_role("status").inner_text()
        # An applicant with a requirement unmet cannot be approved, and the page says why.
        page.goto(base + "/coordinator/applications/MI-2026-117")
        assert "rsc_hours" in page.locator("#approve-exam-refused").inner_text()
        assert page.get_by_role("button", name="Approve to sit the exam").count() == 0
        fits(page)
        shot("approval-refused")
        # Find an application, then record its decision: preview, then confirm.
        page.goto(base + "/coordinator/applications")
        page.get_by_label("Search").fill("2026-126")
        navigates(page, page.get_by_role("button", name="Find"))
        rows = page.locator("#applications tbody tr")
        assert rows.count() == 1
        assert page.locator("#applications td.num").first.evaluate("td => getComputedStyle(td).textAlign") == "right"
        fits(page)
        shot("applications")
        navigates(page, rows.first.get_by_role("link", name="MI-2026-126"))
        navigates(page, page.get_by_role("link", name="Record the decision now…"))
        assert page.locator("#decision-outcome").inner_text() == "deferred"
        assert applicant in page.locator("#letter-text").inner_text()
        fits(page)
        shot("decision-preview")
        navigates(page, page.get_by_role("button", name="Confirm"))
        assert "Decision confirmed (deferred)" in page.get_by_role("status").inner_text()
        shot("decision-confirmed")
        # Another association's application is not found, preview or not.
        response = page.goto(base + "/coordinator/applications/CT-2026-127/decision")
        assert response.status == 404
    with cohort() as s:
        actions = {(a.action, a.application_id): a.actor for a in s.scalars(select(AuditLog))}
        assert actions[("exam.approved", "MI-2026-141")] == f"coordinator:{MI}"
        assert actions[("decision.requested", "MI-2026-126")] == f"coordinator:{MI}"
        assert ("exam.approved", "MI-2026-117") not in actions
        assert s.get(Application, "MI-2026-126").decision_requested
