"""The application review loop in a real browser (Debian's Chromium via Playwright): the coordinator
dry-runs and applies the assignment, each reviewer opens the emailed link and reviews the application,
the reviewers disagree, the coordinator records the determination and the outcome on the application
page, and the reconcile moves the application on. Screenshots go to var/screenshots/."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import select

from endorse.settings import PROJECT_ROOT
from endorse_cli.smtp_sink import SmtpSink
from models import Application, ApplicationReviewOutcome
from tasks.coordination.accounts import set_coordinator
from tasks.mail.outbox import SmtpConfig, deliver_due
from tasks.pipeline import reconcile as pipeline
from tests.application_review.conftest import SECRET, web_app
from tests.web.browser import CHROMIUM_ARGS, navigates
from tests.web.test_coordinator_browser import _serve

pytestmark = pytest.mark.browser
SHOTS = PROJECT_ROOT / "var" / "screenshots"
COORDINATOR, PASSWORD = "mi.coordinator@example.org", "correct horse battery staple"


def _links(sessions, base, mail_dir, role) -> list[str]:
    with SmtpSink(mail_dir) as sink:
        # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
        worker = threading.Thread(target=lambda: asyncio.run(deliver_due(
            sessions, SmtpConfig("127.0.0.1", sink.port), secret_key=SECRET, base_url=base)))
        worker.start()
        worker.join(60)
        emails = [m for m in sink.messages() if m["X-Endorse-Role"] == role]
    return [next(w for w in m.get_body(preferencelist=("plain",)).get_content().split() if "/review/application/" in w)
            for m in emails]


def test_the_review_loop_in_the_browser(sessions, review, tmp_path):
    from playwright.sync_api import sync_playwright

    set_coordinator(sessions, association="MI-AIMH", name="Mia Coordinator", email=COORDINATOR, password=PASSWORD,
                    actor="test")
    ifa = review.apps["IFA"]
    server, thread, base = _serve(web_app(sessions, review.library))
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base + "/coordinator/login")
            page.get_by_label("Email").fill(COORDINATOR)
            page.get_by_label("Password").fill(PASSWORD)
            navigates(page, page.get_by_role("button", name="Sign in"))
            page.wait_for_url(base + "/coordinator/")
            navigates(page, page.get_by_role("link", name="Application reviewers"))
            assert ifa in page.content()  # the dry run lists it; nothing is sent yet
            page.screenshot(path=str(SHOTS / "application-review-dry-run.png"), full_page=True)
            navigates(page, page.get_by_role("button", name="Apply: assign and email the reviewers"))
            assert "4 application reviews assigned and emailed." in page.content()

            links = _links(sessions, base, tmp_path / "mail", "appreview.assigned")
            assert len(links) == 3  # one email per reviewer, however many applications
            answers = iter(["recommend", "not_yet"])
            reviewer = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            for link in links:
                reviewer.goto(link)
                if ifa not in reviewer.content():
                    continue
                navigates(reviewer, reviewer.get_by_role("link", name=f"({ifa})"))
                assert "Checklist" in reviewer.content()
                navigates(reviewer, reviewer.get_by_role("button", name="Submit my review"))  # nothing chosen: told why
                assert reviewer.get_by_role("alert").is_visible()
                choice = next(answers)
                reviewer.locator(f'input[name="recommendation"][value="{choice}"]').check()
                reviewer.get_by_label("education").fill("Degree and transcript agree.")
                navigates(reviewer, reviewer.get_by_role("button", name="Submit my review"))
                reviewer.wait_for_url("**notice=submitted")
                assert "your review is recorded" in reviewer.content()
                reviewer.screenshot(path=str(SHOTS / f"application-review-{choice}.png"))

            # The reviewers disagree: the coordinator's list says so, and they decide on the application page.
            page.goto(f"{base}/coordinator/application-reviews")
            row = page.locator("#in-review tr", has_text=ifa)
            assert "the reviewers disagree" in row.inner_text()
            navigates(page, row.get_by_role("link", name=ifa))
            assert "they disagree" in page.content()
            page.locator('input[name="outcome"][value="recommend"]').check()
            page.get_by_label("Why (your determination)").fill("Volunteer hours documented in the log")
            navigates(page, page.get_by_role("button", name="Settle the application review"))
            page.wait_for_url(f"**/coordinator/applications/{ifa}")
            assert "Application review settled: recommend." in page.content()
            page.screenshot(path=str(SHOTS / "application-review-settled.png"), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    with sessions() as s:
        outcome = s.scalars(select(ApplicationReviewOutcome).where(ApplicationReviewOutcome.application_id == ifa)).one()
        assert (outcome.outcome, outcome.settled_by) == ("recommend", f"coordinator:{COORDINATOR}")
    pipeline.reconcile_one(sessions, ifa, review.cfg())
    with sessions() as s:
        assert s.get(Application, ifa).stage == "endorsed"
