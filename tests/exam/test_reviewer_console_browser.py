"""The reviewer's console in Chromium, acting as the reviewer, on a desktop and a phone (issue 15,
items 9 and 10). Screenshots in var/screenshots/. Before issue 15 there was no console link, no
progress, no prompt, no draft, no "save and next", and one click gave an essay back."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from endorse.rulebook import default_library
from models import Review, ReviewAssignment
from tasks.exam.intake import record_essay_prompt
from tests.exam.test_reviewer_console import console_with_two_essays
from tests.web.browser import SCREENS, SHOTS, chromium, navigates, served

pytestmark = pytest.mark.browser
PROMPT = ("Vignette: a nine-month-old and her father have moved twice this year. What do you notice, "
          "and how would you begin?")


@pytest.mark.parametrize("screen", SCREENS)
def test_a_reviewer_works_through_their_list_from_one_link(screen, sessions, sitting, exam_web):
    token, _, mine = console_with_two_essays(sessions, sitting)
    for track in ("IMHS", "IMHM-C"):
        record_essay_prompt(sessions, default_library(), sitting.id, track, PROMPT, actor="coordinator:test")
    seen: list[str] = []
    with served(exam_web) as base, chromium() as browser:
        page = browser.new_page(viewport=SCREENS[screen])
        page.goto(f"{base}/review/{token}")
        assert "0 of 2 reviewed" in page.locator("#progress").inner_text()
        page.screenshot(path=str(SHOTS / f"reviewer-console-{screen}.png"), full_page=True)
        seen.append(page.content())
        navigates(page, page.get_by_role("link", name="Continue with the next one"))
        # The prompt beside the essay on a wide screen, above it on a phone.
        prompt, essay = page.locator("section[aria-labelledby=prompt-title]"), page.locator("section[aria-labelledby=essay-title]")
        assert PROMPT in prompt.inner_text()
        p, e = prompt.bounding_box(), essay.bounding_box()
        if screen == "desktop":
            assert abs(p["y"] - e["y"]) < 2 and e["x"] >= p["x"] + p["width"]
        else:
            assert e["y"] >= p["y"] + p["height"]
        page.screenshot(path=str(SHOTS / f"reviewer-essay-{screen}.png"))
        seen.append(page.content())
        # Part of a review, saved as a draft, comes back.
        page.locator("fieldset.item").first.locator('input[value="3"]').check()
        page.get_by_label("Comments for the candidate").fill("Notices the father's")
        navigates(page, page.get_by_role("button", name="Save draft"))
        assert "Draft saved" in page.locator("[role=status]").inner_text()
        assert page.get_by_label("Comments for the candidate").input_value() == "Notices the father's"
        for fieldset in page.locator("fieldset.item").all()[:-1]:
            fieldset.locator('input[value="3"]').check()
        page.locator("fieldset.item").last.get_by_label("Pass").check()
        page.get_by_label("Comments for the candidate").fill("Notices the father's own loss and the baby's cues.")
        page.get_by_label("For the coordinator only (optional): never shown to the candidate").fill(
            "The vignette's second question was unclear to several candidates.")
        navigates(page, page.get_by_role("button", name="Submit and go to the next"))
        assert "1 of 2 reviewed" in page.locator("#progress").inner_text()
        assert "Thank you: your review is recorded." in page.content()
        seen.append(page.content())
        # Giving this one back: apart from Submit, with a reason and a confirmation.
        submit, give_back = page.get_by_role("button", name="Submit review"), page.get_by_role("button", name="Give this essay back…")
        assert give_back.bounding_box()["y"] - submit.bounding_box()["y"] > 100
        page.get_by_label("Why (for the coordinator)").fill("I supervised someone with this vignette's details")
        navigates(page, give_back)
        assert page.get_by_role("heading", level=1).inner_text().startswith("Give essay")
        page.screenshot(path=str(SHOTS / f"reviewer-give-back-confirm-{screen}.png"))
        seen.append(page.content())
        navigates(page, page.get_by_role("button", name="Give this essay back"))  # without ticking the box
        assert "tick the box to confirm" in page.content()
        with sessions() as s:
            assert s.get(ReviewAssignment, mine[1].id).status == "assigned"
        page.get_by_label("Yes, give this essay back to the coordinator").check()
        navigates(page, page.get_by_role("button", name="Give this essay back"))
        assert "The essay was given back" in page.content()
        assert "1 of 1 reviewed" in page.locator("#progress").inner_text()
        seen.append(page.content())
        # Before the due date the submitted review can still be changed.
        navigates(page, page.get_by_role("link", name=f"Essay {sitting.codes['IMHS']}"))
        assert page.get_by_role("button", name="Save changes").is_visible()
        seen.append(page.content())
    with sessions() as s:
        review = s.scalars(select(Review)).one()
        assert review.confidential_comment.startswith("The vignette's second question")
        assert s.get(ReviewAssignment, mine[1].id).status == "declined"
    for html in seen:  # blind: no candidate's identity anywhere the reviewer went
        for identity in sitting.identities + list(sitting.apps.values()):
            assert identity.lower() not in html.lower(), identity
