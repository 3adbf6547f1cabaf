"""Forgot your password? in a real browser (Debian's Chromium via Playwright), on a desktop and on a
phone (issue 15, item 3): the sign-in page's link, the request, the link as the outbox puts it into the
email, choosing a new password, signing in with it; and the admin's accounts page fits a phone."""

from __future__ import annotations

import pytest

from tests.web.test_coordinator_accounts import (ADMIN, HELPER, PASSWORD, account, assoc,  # noqa: F401 (fixture)
                                                 emailed_link)
from tests.web.test_workbench_browser import VIEWPORTS, coordinator_browser, fits, sign_in

pytestmark = pytest.mark.browser
NEW_PASSWORD = "four unrelated words here"


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_forgot_password_email_set_password_sign_in(assoc, device, tmp_path):  # noqa: F811
    with coordinator_browser(assoc, device, tmp_path, "accounts") as (base, page, shot):
        page.goto(base + "/coordinator/login")
        page.get_by_role("link", name="Forgot your password?").click()
        page.get_by_label("Email").fill(HELPER)
        page.get_by_role("button", name="Email me a link").click()
        assert page.get_by_role("status").is_visible() and HELPER in page.get_by_role("status").inner_text()
        shot("forgot-sent")
        fits(page)

        page.goto(base + emailed_link(assoc, HELPER, "coordinator.password_reset"))
        page.get_by_label("New password").fill(NEW_PASSWORD)
        page.get_by_label("The same password again").fill("not the same at all")
        page.get_by_role("button", name="Set my password").click()
        assert "the two passwords differ" in page.get_by_role("alert").inner_text()
        page.get_by_label("New password").fill(NEW_PASSWORD)
        page.get_by_label("The same password again").fill(NEW_PASSWORD)
        shot("set-password")
        fits(page)
        page.get_by_role("button", name="Set my password").click()
        assert "Your password is set" in page.get_by_role("status").inner_text()
        assert page.get_by_label("Email").input_value() == HELPER

        page.get_by_label("Password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(base + "/coordinator/")
        assert page.get_by_role("button", name="Sign out").is_visible()
        assert account(assoc, HELPER).token_hash is None  # the link is spent


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_admin_adds_a_coordinator_from_the_browser(assoc, device, tmp_path):  # noqa: F811
    with coordinator_browser(assoc, device, tmp_path, "accounts") as (base, page, shot):
        sign_in(page, base, ADMIN, PASSWORD)
        page.get_by_role("link", name="Accounts").click()
        page.get_by_label("Name").fill("Nia New")
        page.get_by_label("Email (they sign in with it)").fill("nia.new@example.org")
        page.get_by_role("button", name="Add and email a link to set a password").click()
        assert "nia.new@example.org added" in page.get_by_role("status").inner_text()
        assert page.get_by_text("nia.new@example.org", exact=True).is_visible()
        shot("admin-page")
        fits(page)
