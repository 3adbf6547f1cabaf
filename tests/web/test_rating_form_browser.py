"""The rater's form in Chromium, acting as the rater, on a desktop and a phone (issue 15, items 6-8).
Screenshots in var/screenshots/. Each test names the item it checks; on the form before issue 15 none
of these passes (no counter, no warning step, no progress, no summary links, no autosave, and input
borders of 1.6:1 with an orange focus ring of 2:1)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import Rating

from .browser import SCREENS, SHOTS, chromium, contrast, navigates, served

pytestmark = pytest.mark.browser


def _answer(page, value: str, count: int, start: int = 0) -> None:
    """Choose ``value`` for ``count`` areas from the ``start``-th, by clicking as a rater does."""
    for radio in page.locator(f'fieldset.item input[type=radio][value="{value}"]').all()[start:start + count]:
        radio.check()


def _about(page) -> None:
    page.get_by_label("How many months have you known the applicant?").fill("30")
    page.get_by_label("In what role do you know the applicant?").fill("Her practicum supervisor")
    page.get_by_label("I recommend the applicant", exact=True).check()
    page.locator("#attested").check()


@pytest.mark.parametrize("screen", SCREENS)
def test_not_enough_information_is_counted_live_and_too_many_are_warned_before_submitting(
        screen, web_app, rating_link, sessions):
    """Item 6: the count and the limit (the rulebook's max_insufficient_information, 5) are on the
    form and change as the rater answers; submitting with 6 shows that the rating would not count."""
    token, _ = rating_link
    with served(web_app) as base, chromium() as browser:
        page = browser.new_page(viewport=SCREENS[screen])
        page.goto(f"{base}/rate/{token}")
        counter = page.locator("[data-na-counter]")
        assert "0 of at most 5" in counter.inner_text()
        assert "more than 5 such answers cannot be counted" in page.locator("#na-rule").inner_text()
        _answer(page, "na", 6)
        assert "6 of at most 5" in counter.inner_text() and "would not count" in counter.inner_text()
        page.screenshot(path=str(SHOTS / f"rating-na-counter-{screen}.png"))
        _answer(page, "3", 100, start=6)
        _about(page)
        navigates(page, page.get_by_role("button", name="Submit rating"))
        warning = page.locator("#not-counted")
        assert warning.is_visible() and "This rating would not count" in warning.inner_text()
        assert page.evaluate("document.activeElement.id") == "not-counted"
        page.screenshot(path=str(SHOTS / f"rating-na-warning-{screen}.png"))
        with sessions() as s:
            assert s.scalars(select(Rating).where(Rating.submitted_at.is_not(None))).first() is None  # nothing sent
        # The rater changes one answer: five is within the limit, and the rating counts.
        page.locator('fieldset.item input[type=radio][value="3"]').first.check()
        assert "5 of at most 5" in counter.inner_text() and "would not count" not in counter.inner_text()
        navigates(page, page.get_by_role("button", name="Submit rating"))
        assert "your rating is submitted" in page.content()
    with sessions() as s:
        assert s.scalars(select(Rating)).one().insufficient_information_count == 5


def test_without_javascript_the_server_shows_the_count_after_a_save_and_warns_on_submit(
        web_app, rating_link, sessions):
    """Item 6 without JavaScript: the count after a draft is saved, and the warning step on submit;
    "Submit anyway" submits a rating that does not count, and the applicant is asked for another rater."""
    token, _ = rating_link
    with served(web_app) as base, chromium() as browser:
        page = browser.new_context(java_script_enabled=False, viewport=SCREENS["phone"]).new_page()
        page.goto(f"{base}/rate/{token}")
        _answer(page, "na", 7)
        navigates(page, page.get_by_role("button", name="Save draft"))
        assert "“Not enough information” so far: 7 of at most 5" in page.locator("[role=status]").inner_text()
        _answer(page, "4", 100, start=7)
        _about(page)
        navigates(page, page.get_by_role("button", name="Submit rating"))
        assert "This rating would not count" in page.content()
        page.screenshot(path=str(SHOTS / "rating-na-warning-no-js.png"), full_page=False)
        navigates(page, page.get_by_role("button", name="Submit anyway: the rating will not count"))
        assert "your rating is submitted" in page.content()
    with sessions() as s:
        assert s.scalars(select(Rating)).one().insufficient_information_count == 7


@pytest.mark.parametrize("screen", SCREENS)
def test_a_long_form_that_is_quick(screen, web_app, rating_link, sessions):
    """Item 7: progress per domain, the grid (desktop) or one-line scale (phone), a sticky "Save draft"
    that returns to where the rater was, autosave, and a warning before leaving unsaved answers."""
    token, _ = rating_link
    with served(web_app) as base, chromium() as browser:
        page = browser.new_page(viewport=SCREENS[screen])
        page.goto(f"{base}/rate/{token}")
        first = page.locator("section[data-domain]").first
        total = first.locator("fieldset.item").count()
        assert first.locator("[data-domain-progress]").inner_text() == f"0 of {total} answered"
        _answer(page, "3", 2)
        assert first.locator("[data-domain-progress]").inner_text() == f"2 of {total} answered"
        # Every area's scale sits on one line; on a desktop beside its question (a compact grid).
        item = page.locator("fieldset.item").nth(3)
        tops = {round(box["y"]) for box in (lab.bounding_box() for lab in item.locator(".scale label").all())}
        assert len(tops) == 1, tops
        legend, scale = item.locator("legend").bounding_box(), item.locator(".scale").bounding_box()
        if screen == "desktop":
            assert scale["x"] > legend["x"] + legend["width"] - 1 and abs(scale["y"] - legend["y"]) < 40
        else:
            assert scale["y"] > legend["y"]
        last, box = item.locator(".scale label").last.bounding_box(), item.bounding_box()
        assert last["x"] + last["width"] <= box["x"] + box["width"]  # the whole scale inside its question
        # Autosave: the draft is kept without pressing anything.
        expect(page.locator("[data-save-state]")).to_have_text(re.compile(r"^Draft saved at"), timeout=10_000)
        with sessions() as s:
            assert len(s.scalars(select(Rating)).one().answers) == 2
        # Deep in the form, "Save draft" is on screen and brings the rater back to the area they were on.
        deep = page.locator("fieldset.item").nth(30)
        deep.scroll_into_view_if_needed()
        deep.locator('input[value="4"]').check()
        save = page.get_by_role("button", name="Save draft")
        box = save.bounding_box()
        assert 0 <= box["y"] and box["y"] + box["height"] <= SCREENS[screen]["height"]  # sticky: reachable
        page.screenshot(path=str(SHOTS / f"rating-long-form-{screen}.png"))
        navigates(page, save)
        deep_id = deep.get_attribute("id")
        assert page.url.endswith(f"#{deep_id}") and "Draft saved" in page.content()
        assert page.locator(f"#{deep_id}").is_visible() and page.locator(f'#{deep_id} input[value="4"]').is_checked()
        # Leaving with an answer not yet saved asks first.
        page.locator("fieldset.item").nth(40).locator('input[value="2"]').check()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.type), d.dismiss()))
        page.evaluate("location.href = '/'")  # the rater follows a link away
        page.wait_for_timeout(1000)
        assert dialogs == ["beforeunload"]


@pytest.mark.parametrize("screen", SCREENS)
def test_the_error_summary_is_focused_and_links_to_each_field(screen, web_app, rating_link):
    """Item 7: submitting with gaps puts a focused summary at the top with one link per field in error."""
    token, _ = rating_link
    with served(web_app) as base, chromium() as browser:
        page = browser.new_page(viewport=SCREENS[screen])
        page.goto(f"{base}/rate/{token}")
        _answer(page, "3", 50)
        navigates(page, page.get_by_role("button", name="Submit rating"))
        summary = page.locator("#errors")
        assert page.evaluate("document.activeElement.id") == "errors"
        links = summary.locator("a").all()
        # 7 areas unanswered, months, role, recommendation, attestation.
        assert len(links) == 11
        page.screenshot(path=str(SHOTS / f"rating-error-summary-{screen}.png"))
        for link in links:
            target = link.get_attribute("href")
            assert page.locator(target).count() == 1, target
        links[0].click()
        assert page.url.endswith(links[0].get_attribute("href"))


@pytest.mark.parametrize("screen", SCREENS)
def test_inputs_and_the_focus_ring_have_at_least_3_to_1_contrast(screen, web_app, rating_link):
    """Item 8 (WCAG 1.4.11 non-text contrast), from the colours Chromium applied."""
    token, _ = rating_link
    with served(web_app) as base, chromium() as browser:
        page = browser.new_page(viewport=SCREENS[screen])
        page.goto(f"{base}/rate/{token}")
        for selector in ("#known_for_months", "#relationship", "#comments", "#declined_reason"):
            assert contrast(page, selector, "borderTopColor") >= 3, selector
        assert contrast(page, "fieldset.item .scale label", "borderTopColor") >= 3
        page.locator("#relationship").focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")  # focus by keyboard: the ring shows (:focus-visible)
        assert page.evaluate("document.activeElement.id") == "relationship"
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
        assert contrast(page, "#relationship", "outlineColor", "main") >= 3
        page.get_by_role("button", name="Save draft").focus()
        assert contrast(page, ".sticky-bar button.secondary", "outlineColor", "main") >= 3
        page.locator("#relationship").screenshot(path=str(SHOTS / f"rating-focus-ring-{screen}.png"))
