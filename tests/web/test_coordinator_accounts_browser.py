"""Forgot your password? in a real browser (Debian's Chromium via Playwright), on a desktop and on a
phone (issue 15, item 3): the sign-in page's link, the request, the email as the outbox delivers it to
an SMTP sink, choosing a new password through its link, signing in with it; and the admin's accounts
page fits a phone."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from endorse_cli.smtp_sink import SmtpSink
from tasks.mail.outbox import SmtpConfig, deliver_due
from tests.web.test_coordinator_accounts import ADMIN, HELPER, PASSWORD, SECRET, account, assoc  # noqa: F401
from tests.web.test_workbench_browser import VIEWPORTS, coordinator_browser, fits, sign_in
from tests.web.browser import navigates

pytestmark = pytest.mark.browser
NEW_PASSWORD = "four unrelated words here"


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_forgot_password_email_set_password_sign_in(assoc, device, tmp_path):  # noqa: F811
    with coordinator_browser(assoc, device, tmp_path, "accounts") as (base, page, shot):
        page.goto(base + "/coordinator/login")
        navigates(page, page.get_by_role("link", name="Forgot your password?"))
        page.get_by_label("Email").fill(HELPER)
        navigates(page, page.get_by_role("button", name="Email me a link"))
        assert page.get_by_role("status").is_visible() and HELPER in page.get_by_role("status").inner_text()
        shot("forgot-sent")
        fits(page)

        with SmtpSink(tmp_path / "mail") as sink:
            # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, deliver_due(assoc, SmtpConfig("127.0.0.1", sink.port,
                                                                       mail_from="endorse@example.org"),
                                                     secret_key=SECRET, base_url=base)).result()
            (mail,) = sink.messages()
        assert mail["To"].addresses[0].addr_spec == HELPER
        text = mail.get_body(preferencelist=("plain",)).get_content()
        page.goto(re.search(r"http://\S+/coordinator/login/password/\S+", text).group(0))
        page.get_by_label("New password").fill(NEW_PASSWORD)
        page.get_by_label("The same password again").fill("not the same at all")
        navigates(page, page.get_by_role("button", name="Set my password"))
        assert "the two passwords differ" in page.get_by_role("alert").inner_text()
        page.get_by_label("New password").fill(NEW_PASSWORD)
        page.get_by_label("The same password again").fill(NEW_PASSWORD)
        shot("set-password")
        fits(page)
        navigates(page, page.get_by_role("button", name="Set my password"))
        assert "Your password is set" in page.get_by_role("status").inner_text()
        assert page.get_by_label("Email").input_value() == HELPER

        page.get_by_label("Password").fill(NEW_PASSWORD)
        navigates(page, page.get_by_role("button", name="Sign in"))
        page.wait_for_url(base + "/coordinator/")
        assert page.get_by_role("button", name="Sign out").is_visible()
        assert account(assoc, HELPER).token_hash is None  # the link is spent


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_admin_adds_a_coordinator_from_the_browser(assoc, device, tmp_path):  # noqa: F811
    with coordinator_browser(assoc, device, tmp_path, "accounts") as (base, page, shot):
        sign_in(page, base, ADMIN, PASSWORD)
        navigates(page, page.get_by_role("link", name="Accounts"))
        page.get_by_label("Name").fill("Nia New")
        page.get_by_label("Email (they sign in with it)").fill("nia.new@example.org")
        navigates(page, page.get_by_role("button", name="Add and email a link to set a password"))
        assert "nia.new@example.org added" in page.get_by_role("status").inner_text()
        assert page.get_by_text("nia.new@example.org", exact=True).is_visible()
        shot("admin-page")
        fits(page)
