"""In a real browser (Debian's Chromium through Playwright), on a desktop and on a phone: the applicant
asks for a link, opens it from the email the SMTP server received, fills the portfolio, watches the
checklist change as they save, submits, the pipeline runs, and the page shows where it stands.
Screenshots go to var/screenshots/."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import select

from endorse.db import transaction
from endorse.settings import PROJECT_ROOT
from endorse_cli.smtp_sink import SmtpSink
from models import Application, ReferenceRequest
from tasks import portal
from tasks.intake.records import ensure_associations
from tasks.mail.outbox import SmtpConfig, deliver_due
from tasks.pipeline import reconcile as pipeline
from tasks.transcripts.transcripts import record_transcript
from tests.portal.helpers import LIBRARY, cohort, fill_from
from tests.web.test_browser import CHROMIUM_ARGS

from .conftest import AS_OF, SECRET, make_web_app, serve_app

pytestmark = pytest.mark.browser
SHOTS = PROJECT_ROOT / "var" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def served(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, LIBRARY)
    app = make_web_app(sessions)
    with serve_app(app) as base:
        yield base, app.state.events


def _deliver(sessions, port: int, base: str):
    """The outbox's delivery, off Playwright's own event loop."""
    out = []
    worker = threading.Thread(target=lambda: out.append(asyncio.run(deliver_due(
        sessions, SmtpConfig("127.0.0.1", port), secret_key=SECRET, base_url=base))))
    worker.start()
    worker.join(60)
    return out[0]


def _press(page, button: str) -> None:
    """Press a form's button and wait for the page the server answers with."""
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()


def _follow(page, link: str) -> None:
    with page.expect_navigation():
        page.get_by_role("link", name=link, exact=True).click()


def _fits(page, device: str) -> None:
    """Nothing on the page is wider than the screen (tables scroll inside their own box)."""
    width = VIEWPORTS[device]["width"]
    overflowing = page.evaluate("""w => [...document.querySelectorAll('main *')]
        .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > w + 1).map(e => e.tagName)""", width)
    assert overflowing == []


def _status(page, requirement: str) -> str:
    item = page.locator("aside.checklist li").filter(has_text=requirement.replace("_", " ")).first
    return item.locator(".st").inner_text().strip().lower()


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_an_applicant_applies_on_the_web_and_follows_the_application(served, sessions, tmp_path, device):
    from playwright.sync_api import sync_playwright

    base, events = served
    doc = cohort("ct-aimh-ifs-eligible-01.json")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORTS[device])
        page.goto(f"{base}/apply")
        page.get_by_label("Your email address").fill(doc["applicant"]["email"])
        page.get_by_label("Your association").select_option("CT-AIMH")
        _press(page, "Email me my link")
        assert page.get_by_role("heading", level=1).inner_text() == "Check your email"

        with SmtpSink(tmp_path / "mail") as sink:
            assert _deliver(sessions, sink.port, base).sent == 1
            email = sink.messages()[0]
        link = next(w for w in email.get_body(preferencelist=("plain",)).get_content().split() if "/apply/" in w)
        page.goto(link)
        assert "Give your name and choose a category" in page.locator("aside.checklist").inner_text()
        page.get_by_label("Your name, as it should appear on your endorsement").fill(doc["applicant"]["name"])
        page.get_by_label("IFS · Infant Family Specialist").check()
        _press(page, "Save")
        assert _status(page, "training_hours") == "unmet"
        page.screenshot(path=str(SHOTS / f"portfolio-details-{device}.png"), full_page=True)

        # A training row typed in the form: the checklist beside it moves on the save.
        _follow(page, "Training")
        page.get_by_label("Title").fill("Infant-parent psychotherapy intensive")
        page.get_by_label("Hours").fill("36")
        page.get_by_label("Completed on").fill("2024-01-10")
        page.get_by_label("Relationship-based (infant mental health)").check()
        _press(page, "Add")
        assert "Saved. The checklist is up to date." in page.content()
        assert _status(page, "training_hours") == "met"

        # A rater named in the form: the rater rules answer at once, in plain words.
        _follow(page, "References")
        assert "IFS needs a rating from your current program supervisor" in page.content()
        page.get_by_label("Rater's name").fill("Wei Chen")
        page.get_by_label("Rater's email").fill("wchen@example.org")
        page.get_by_label("How they know you").select_option("current_supervisor")
        _press(page, "Add")
        assert "IFS needs a rating from someone who provides RS/C to you" in page.content()
        _fits(page, device)
        page.screenshot(path=str(SHOTS / f"portfolio-references-{device}.png"), full_page=True)

        # The rest of the portfolio (the same verbs the pages call), then submission in the browser.
        token = link.rsplit("/", 1)[-1]
        rest = {**doc, "training": doc["training"][1:], "references": doc["references"][1:]}
        fill_from(sessions, portal.Access(token=token), rest)
        _follow(page, "Submit")
        assert "You can submit. What happens next:" in page.content()
        _press(page, "Submit my application")
        assert "Submitted. Thank you." in page.content()
        with sessions() as s:
            app_id = s.scalars(select(Application.id)).one()
        assert events == [app_id]

        # The pipeline runs (the reconcile the event asks for), the transcript arrives, a rater answers.
        cfg = pipeline.PipelineConfig(library=LIBRARY, as_of=AS_OF, secret_key=SECRET)
        record_transcript(sessions, app_id, institution="Wayne State University", official=True, received_on=AS_OF,
                          actor="coordinator:c@example.org")
        pipeline.reconcile_one(sessions, app_id, cfg)
        with sessions() as s:
            assert s.scalars(select(ReferenceRequest.token_hash).where(ReferenceRequest.application_id == app_id)).all()
        page.reload()
        assert page.get_by_text("Waiting for your ratings").is_visible()
        assert "Wayne State University: received on 2026-11-22" in page.content()
        assert "Wei Chen (your current program supervisor): awaiting their rating" in page.content()
        page.screenshot(path=str(SHOTS / f"portfolio-status-{device}.png"), full_page=True)
        _fits(page, device)
        browser.close()
