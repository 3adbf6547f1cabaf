"""The coordinator's application page links into the Prefect UI (issue 15, item 4): to the application's
runs, to its artifact and to the event feed filtered to it over its whole life. Without a Prefect UI
configured, no such link. (tests/integration/test_prefect_events_server.py follows the links in
Chromium against a real Prefect server.)"""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from tests.web.conftest import make_web_app
from tests.web.test_coordinator import AS_OF, CT, PASSWORD, SECRET, cohort  # noqa: F401 - the fixture

UI = "http://prefect.example.org:4200"


def _signed_in(sessions, prefect_ui_url: str | None) -> TestClient:
    app = make_web_app(sessions, SECRET, AS_OF)
    app.state.site = replace(app.state.site, prefect_ui_url=prefect_ui_url)
    client = TestClient(app)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/coordinator/login").text).group(1)
    r = client.post("/coordinator/login", data={"csrf": csrf, "email": CT, "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def _href(page: str, link_id: str) -> str:
    return html.unescape(re.search(rf'id="{link_id}" href="([^"]+)"', page).group(1))


def test_the_application_page_links_to_its_runs_artifact_and_events_in_prefect(cohort):  # noqa: F811
    page = _signed_in(cohort, UI).get("/coordinator/applications/CT-2026-102").text
    assert _href(page, "prefect-runs") == f"{UI}/runs?tag=application%3ACT-2026-102"
    assert _href(page, "prefect-artifact") == f"{UI}/v2/artifacts/key/application-ct-2026-102"
    events = urlsplit(_href(page, "prefect-events"))
    assert f"{events.scheme}://{events.netloc}{events.path}" == f"{UI}/v2/events/"
    query = {k: v for k, (v,) in parse_qs(events.query).items()}
    assert json.loads(query["resource"]) == ["endorse.application.CT-2026-102"] and query["rangeType"] == "range"
    start, end = (datetime.fromisoformat(query[k].replace("Z", "+00:00")) for k in ("start", "end"))
    now = datetime.now(timezone.utc)
    assert start < now - timedelta(hours=23) and end > now + timedelta(hours=23)  # from before it was recorded to now


def test_without_a_prefect_ui_the_page_has_no_prefect_links(cohort):  # noqa: F811
    page = _signed_in(cohort, None).get("/coordinator/applications/CT-2026-102").text
    assert "prefect-runs" not in page and "prefect-artifact" not in page and "prefect-events" not in page
