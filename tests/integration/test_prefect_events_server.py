"""Against a real ``prefect server`` (issue 15, item 4): after ``endorse sweep`` the server holds an
event for every transition the sweep made, on each application's resource, the application's
artifact, and a sweep run named after its day; the Prefect UI's event feed and artifact page, opened
from the links on the application page, show them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from endorse.settings import PROJECT_ROOT
from endorse_cli.prefect_server import LocalPrefectServer
from models import Application, AuditLog
from tests.integration.prefect_helpers import api

pytestmark = pytest.mark.prefect_server

AS_OF = "2026-11-22"
COHORT = ("ct-aimh-ifs-eligible-01.json", "orimha-imhm-rf-eligible-01.json", "ct-aimh-imhs-transcript-awaited.json")
EVENTS_DEADLINE_SECONDS = 120.0
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    with LocalPrefectServer(tmp_path_factory.mktemp("prefect-server")) as server:
        yield server


def _endorse(env: dict, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "endorse_cli.main", *args], env=env, cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"endorse {' '.join(args)}:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
    return out.stdout


def _our_record(database_url: str) -> tuple[list[tuple[str, str, str]], dict[str, tuple[str, str]]]:
    """The stage changes in our audit log, and each application's (category, association)."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as s:
            changes = [(e.application_id, e.details["from_stage"], e.details["to_stage"]) for e in
                       s.scalars(select(AuditLog).where(AuditLog.action == "stage.changed").order_by(AuditLog.id))]
            labels = {a.id: (a.category, a.association_code) for a in s.scalars(select(Application))}
        return changes, labels
    finally:
        engine.dispose()


def _events_of_run(api_url: str, flow_run_id: str) -> list[dict]:
    """The endorse events the run emitted, oldest first (Prefect relates each to its flow run)."""
    body = {"filter": {"any_resource": {"id_prefix": ["endorse.application."]},
                       "related": {"id": [f"prefect.flow-run.{flow_run_id}"]},
                       "occurred": {"since": (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(),
                                    "until": (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()},
                       "order": "ASC"}, "limit": 50}
    page = api(api_url, "/events/filter", body)
    events = page["events"]
    while page.get("next_page"):
        token = page["next_page"].split("page-token=")[1]
        with urllib.request.urlopen(f"{api_url}/events/filter/next?page-token={token}", timeout=30) as r:
            page = json.loads(r.read())
        events += page["events"]
    return events


def test_after_a_sweep_the_server_has_every_transition_as_an_event_and_every_artifact(prefect_server, database_url,
                                                                                      tmp_path: Path):
    api_url = prefect_server.api_url
    env = {**os.environ, "PREFECT_API_URL": api_url, "PREFECT_HOME": str(tmp_path / "prefect-client"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "ENDORSE_DATA_DIR": str(tmp_path / "var"),
           "DATABASE_URL": database_url}
    for f in COHORT:
        _endorse(env, "import", str(PROJECT_ROOT / "cohort" / f))
    _endorse(env, "sweep", "--as-of", AS_OF)

    runs = api(api_url, "/flow_runs/filter", {"flows": {"name": {"any_": ["sweep"]}},
                                                "sort": "EXPECTED_START_TIME_DESC", "limit": 1})
    (run,) = runs
    assert run["name"] == f"sweep-{AS_OF}" and run["state"]["type"] == "COMPLETED"

    changes, labels = _our_record(database_url)
    assert {a for a, _, _ in changes} == set(labels) and len(changes) > len(labels)  # each moved, some twice or more
    deadline = time.monotonic() + EVENTS_DEADLINE_SECONDS
    while True:  # the server stores events a moment after it receives them
        events = _events_of_run(api_url, run["id"])
        if len(events) >= len(changes) or time.monotonic() > deadline:
            break
        time.sleep(2)
    got = sorted((e["resource"]["prefect.resource.name"], e["resource"]["endorse.from-stage"],
                  e["resource"]["endorse.stage"]) for e in events)
    assert got == sorted(changes)
    for e in events:
        assert e["resource"]["prefect.resource.id"] == f"endorse.application.{e['resource']['prefect.resource.name']}"
        assert e["event"] == f"endorse.application.entered.{e['resource']['endorse.stage']}"
        assert (e["resource"]["endorse.category"], e["resource"]["endorse.association"]) == \
            labels[e["resource"]["prefect.resource.name"]]

    for app_id in {a for a, _, _ in changes}:
        key = f"application-{app_id.lower()}"
        (artifact,) = api(api_url, "/artifacts/latest/filter", {"artifacts": {"key": {"any_": [key]}}})
        assert artifact["flow_run_id"] == run["id"] and f"# Application {app_id}" in artifact["data"]

    if database_url.startswith("sqlite"):  # the browser once: the UI does not depend on our database
        _follow_the_application_pages_links(prefect_server.ui_url, database_url, "CT-2026-102")


def _follow_the_application_pages_links(ui: str, database_url: str, application_id: str) -> None:
    """A coordinator signs in, opens the application's page and follows its two links into the
    Prefect UI (a real browser): the event feed filtered to the application, and its artifact."""
    from dataclasses import replace

    from playwright.sync_api import sync_playwright

    from endorse.db import make_engine, session_factory
    from tasks.coordination.accounts import set_coordinator
    from tests.web.conftest import make_web_app
    from tests.web.test_browser import CHROMIUM_ARGS, _free_port
    from web.guard import uvicorn_config

    engine = make_engine(database_url)
    sessions = session_factory(engine)
    set_coordinator(sessions, association="CT-AIMH", name="Cal Coordinator", email="cal@ct-aimh.example.org",
                    password=PASSWORD, actor="test")
    app = make_web_app(sessions)
    app.state.site = replace(app.state.site, prefect_ui_url=ui)
    port = _free_port()
    server = uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=port, trusted_proxies=[], log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    shots = PROJECT_ROOT / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            try:
                page.goto(f"http://127.0.0.1:{port}/coordinator/login")
                page.fill("#email", "cal@ct-aimh.example.org")
                page.fill("#password", PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(re.compile(r".*/coordinator/?$"))
                page.goto(f"http://127.0.0.1:{port}/coordinator/applications/{application_id}")
                page.screenshot(path=str(shots / "application-page-prefect-links.png"))
                page.click("#prefect-events")
                page.get_by_text("Endorse Application Entered Endorsed").first.wait_for(timeout=60_000)
                assert page.get_by_text("Endorse Application Entered Transcripts").count() >= 1
                page.screenshot(path=str(shots / "prefect-events-of-an-application.png"), full_page=True)
                page.go_back()
                page.click("#prefect-artifact")
                page.get_by_text(f"{application_id}: endorsed (IFS, CT-AIMH)").first.wait_for(timeout=60_000)
                page.screenshot(path=str(shots / "prefect-artifact-key-of-an-application.png"), full_page=True)
                page.locator("a[href*='/artifacts/artifact/']").first.click()  # its latest version
                page.get_by_text(f"Application {application_id}").first.wait_for(timeout=60_000)
                page.get_by_text("decision → endorsed").first.wait_for(timeout=30_000)  # its history, in the timeline
                page.screenshot(path=str(shots / "prefect-artifact-of-an-application.png"), full_page=True)
            except Exception:
                page.screenshot(path=str(shots / "prefect-links-FAILED.png"), full_page=True)
                (shots / "prefect-links-FAILED.html").write_text(page.content())
                raise
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


def test_a_sweep_past_the_cap_of_events_sends_the_cap_and_one_summary_and_the_server_drops_nothing(
        prefect_server, database_url, tmp_path: Path):
    """Issue 17: the first sweep after a bulk import moved more applications than the cap of events a
    sweep sends one by one; the server then holds exactly the cap of transition events, one summary
    event standing for the rest, and its log never says it dropped a message."""
    from bench.generate import applications
    from tasks.pipeline.prefect_report import EVENTS_PER_SWEEP, SUMMARY_EVENT

    api_url = prefect_server.api_url
    env = {**os.environ, "PREFECT_API_URL": api_url, "PREFECT_HOME": str(tmp_path / "prefect-client"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "ENDORSE_DATA_DIR": str(tmp_path / "var"),
           "DATABASE_URL": database_url}
    folder = tmp_path / "bulk"
    folder.mkdir()
    for doc in applications(700):  # about 1,500 transitions: past the cap of 1,000
        (folder / f"{doc['id']}.json").write_text(json.dumps(doc))
    _endorse(env, "import", str(folder))
    _endorse(env, "sweep", "--as-of", AS_OF)

    (run,) = api(api_url, "/flow_runs/filter", {"flows": {"name": {"any_": ["sweep"]}},
                                                 "sort": "EXPECTED_START_TIME_DESC", "limit": 1})
    changes, _ = _our_record(database_url)
    assert len(changes) > EVENTS_PER_SWEEP
    summary_filter = {"filter": {"event": {"name": [SUMMARY_EVENT]},
                                 "related": {"id": [f"prefect.flow-run.{run['id']}"]},
                                 "occurred": {"since": (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(),
                                              "until": (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()}},
                      "limit": 5}
    deadline = time.monotonic() + EVENTS_DEADLINE_SECONDS
    while True:
        events, summaries = _events_of_run(api_url, run["id"]), api(api_url, "/events/filter", summary_filter)["events"]
        if (len(events) >= EVENTS_PER_SWEEP and summaries) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert len(events) == EVENTS_PER_SWEEP
    (summary,) = summaries
    payload = summary["payload"]
    assert payload["transitions_sent_as_events"] == EVENTS_PER_SWEEP
    assert payload["transitions_summarized"] == len(changes) - EVENTS_PER_SWEEP
    left = Counter(to for _, _, to in changes) - Counter(e["resource"]["endorse.stage"] for e in events)
    assert payload["stages_entered"] == dict(left)  # what the summary stands for, by stage entered
    log = prefect_server.log_path.read_text(errors="replace")
    assert "queue is full" not in log.lower() and "dropping message" not in log.lower()
