"""In a real browser (Debian's Chromium via Playwright): a coordinator signs in, reads the dashboard
built from the cohort, opens an application, and acts on it; a reviewer opens their essays from the
emailed link and submits a review. Screenshots go to var/screenshots/."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn
from sqlalchemy import select

from endorse.settings import PROJECT_ROOT
from models import Application, AuditLog, ReferenceRequest
from tests.web.test_browser import CHROMIUM_ARGS, _free_port
from tests.web.browser import navigates
from tests.web.test_coordinator import MI, PASSWORD, SECRET, AS_OF, cohort  # noqa: F401  (fixture)
from tests.web.conftest import make_web_app
from web.guard import uvicorn_config

pytestmark = pytest.mark.browser
SHOTS = PROJECT_ROOT / "var" / "screenshots"


def _serve(app):
    port = _free_port()
    server = uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=port, trusted_proxies=[], log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def test_a_coordinator_signs_in_reads_the_dashboard_and_acts_on_an_application(cohort):  # noqa: F811
    from playwright.sync_api import sync_playwright

    server, thread, base = _serve(make_web_app(cohort, SECRET, AS_OF))
    with cohort() as s:
        app_id = s.scalars(select(Application.id).where(Application.association_code == "MI-AIMH",
                                                        Application.stage == "references")
                           .order_by(Application.id)).first()
        n_mi = len(s.scalars(select(Application.id).where(Application.association_code == "MI-AIMH")).all())
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base + "/coordinator/")
            assert "/coordinator/login" in page.url  # nothing without signing in
            page.get_by_label("Email").fill(MI)
            page.get_by_label("Password").fill(PASSWORD)
            navigates(page, page.get_by_role("button", name="Sign in"))
            page.wait_for_url(base + "/coordinator/")
            assert page.get_by_role("heading", level=1).inner_text().startswith("Today")
            # The pipeline table and its chart render with the cohort's figures.
            totals = page.locator("#pipeline tbody tr td:last-child").all_inner_texts()
            assert sum(int(t) for t in totals) == n_mi
            chart = page.locator('img.chart').first
            assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
            page.screenshot(path=str(SHOTS / "coordinator-dashboard.png"), full_page=True)
            # An application page; the coordinator asks for the decision now.
            page.goto(f"{base}/coordinator/applications/{app_id}")
            assert page.locator("#checklist tbody tr").count() > 5
            page.screenshot(path=str(SHOTS / "coordinator-application.png"), full_page=True)
            navigates(page, page.get_by_role("link", name="Record the decision now…"))
            navigates(page, page.get_by_role("button", name="Confirm"))
            assert "Decision confirmed" in page.get_by_role("status").inner_text()
            # Regenerate a rater's link from the reference row, where there is one open.
            rows = page.locator("#references details.no-print",
                                has=page.get_by_role("button", name="New link (old one stops working)"))
            if rows.count():
                rows.first.locator("summary").click()
                navigates(page, rows.first.get_by_role("button", name="New link (old one stops working)"))
                assert "A new link was sent" in page.get_by_role("status").inner_text()
            # The printable summary.
            page.goto(f"{base}/coordinator/applications/{app_id}/summary")
            page.emulate_media(media="print")
            page.screenshot(path=str(SHOTS / "coordinator-summary-print.png"), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    with cohort() as s:
        actions = {a.action: a.actor for a in s.scalars(select(AuditLog).where(AuditLog.application_id == app_id))}
        assert actions.get("decision.requested") == f"coordinator:{MI}"
        opened = s.scalars(select(ReferenceRequest).where(ReferenceRequest.application_id == app_id,
                                                          ReferenceRequest.status == "requested")).first()
        if opened is not None:
            assert actions.get("reference.link_regenerated") == f"coordinator:{MI}"
