"""In a real browser (Debian's Chromium driven by Playwright): the rater opens the link from the
email the SMTP server received, fills the form, submits, and sees the result. Screenshots are saved
in var/screenshots/."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from endorse_cli.smtp_sink import SmtpSink
from tasks.mail.outbox import SmtpConfig, deliver_due

from .browser import CHROMIUM_ARGS, SHOTS, navigates
from .browser import served as serve_app
from .conftest import SECRET

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(web_app):
    with serve_app(web_app) as base:
        yield base


def test_rater_opens_the_emailed_link_fills_the_form_and_submits(served, rating_link, sessions, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    with SmtpSink(tmp_path / "mail") as sink:
        report = asyncio.run(deliver_due(sessions, SmtpConfig("127.0.0.1", sink.port), secret_key=SECRET,
                                         base_url=served))
        assert report.sent >= 1
        email = next(m for m in sink.messages() if m["X-Endorse-Role"] == "reference.request")
    link = next(w for w in email.get_body(preferencelist=("plain",)).get_content().split() if "/rate/" in w)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        page.goto(link)
        assert page.get_by_role("heading", level=1).inner_text().startswith("Reference rating for")
        page.screenshot(path=str(SHOTS / "rating-form-phone.png"))
        # Submitting empty shows the server's messages and keeps the page usable.
        navigates(page, page.get_by_role("button", name="Submit rating"))
        assert page.get_by_role("alert").is_visible()
        for radio in page.locator('input[type=radio][value="3"]').all():
            radio.check()
        page.get_by_label("How many months have you known the applicant?").fill("30")
        page.get_by_label("In what role do you know the applicant?").fill("Her practicum supervisor")
        page.get_by_label("I recommend the applicant", exact=True).check()
        page.get_by_label("Comments (optional)").fill("Attentive to the parent–infant relationship.")
        page.get_by_role("checkbox").check()
        navigates(page, page.get_by_role("button", name="Submit rating"))
        assert "your rating is submitted" in page.content()
        page.screenshot(path=str(SHOTS / "rating-submitted.png"), full_page=True)
        page.goto(link)
        assert "already been submitted" in page.content()
        browser.close()
