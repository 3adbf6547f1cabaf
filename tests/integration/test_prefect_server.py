"""Against a real Prefect server on loopback: serve the deployments, trigger a reconcile the way a web
handler does, and check the run's name, tags, state and artifact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from endorse_cli.prefect_server import LocalPrefectServer, stop_process_group
from endorse.settings import PROJECT_ROOT
from tests.integration.prefect_helpers import deployment_ids

pytestmark = pytest.mark.prefect_server


@pytest.fixture
def prefect_server(tmp_path: Path):
    with LocalPrefectServer(tmp_path / "prefect-server") as server:
        yield server.api_url


CHECK = r"""
import asyncio, json, sys
from endorse.prefect_links import artifact_key
from tasks.pipeline.prefect_glue import trigger_reconcile
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

run = trigger_reconcile(sys.argv[1], wait=True, as_of="2026-11-22")  # the cohort's day, whatever today is

async def artifacts():
    async with get_client() as c:
        arts = await c.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key(sys.argv[1])])))
        return [(a.key, a.type, a.data) for a in arts]

print(json.dumps({"name": run.name, "tags": sorted(run.tags), "state": run.state.type.value, "parameters": run.parameters,
                  "artifacts": asyncio.run(artifacts())}))
"""


def test_a_reconcile_triggered_like_a_web_handler_runs_on_the_server(prefect_server, tmp_path: Path):
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "PREFECT_HOME": str(tmp_path / "prefect-client"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "ENDORSE_DATA_DIR": str(tmp_path / "var")}
    env.pop("DATABASE_URL", None)
    cohort_file = PROJECT_ROOT / "cohort" / "ct-aimh-ifs-eligible-01.json"
    subprocess.run([sys.executable, "-m", "endorse_cli.main", "import", str(cohort_file)], env=env, check=True,
                   cwd=PROJECT_ROOT, capture_output=True)
    serve_log = open(tmp_path / "serve.log", "w")
    served = subprocess.Popen([sys.executable, "-m", "endorse_cli.main", "serve"], env=env, cwd=PROJECT_ROOT,
                              stdout=serve_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_deployment(prefect_server, "reconcile-application", 120)
        out = subprocess.run([sys.executable, "-c", CHECK, "CT-2026-102"], env=env, cwd=PROJECT_ROOT,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        run = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        stop_process_group(served)
        serve_log.close()
    assert run["state"] == "COMPLETED"
    assert run["name"] == "application-CT-2026-102-endorsed"  # renamed after the stage it reached
    assert {"application:CT-2026-102", "category:IFS", "association:CT-AIMH", "stage:submitted"} <= set(run["tags"])
    assert run["parameters"] == {"application_id": "CT-2026-102", "as_of": "2026-11-22"}  # no token, no personal data
    (key, kind, data), = run["artifacts"]
    assert key == "application-ct-2026-102" and kind == "markdown"
    assert "| education | ✅ met |" in data and "decision → endorsed" in data
    _find_the_run_in_the_prefect_dashboard(prefect_server.removesuffix("/api"), "CT-2026-102", run["name"])


def _find_the_run_in_the_prefect_dashboard(ui: str, application_id: str, run_name: str) -> None:
    """A coordinator follows the application page's link into the Prefect dashboard (a real browser)
    and finds the application's run by its tag."""
    from playwright.sync_api import sync_playwright

    from endorse.prefect_links import ui_runs_url
    from tests.web.test_browser import CHROMIUM_ARGS

    shots = PROJECT_ROOT / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(ui_runs_url(ui, application_id))
        try:
            page.get_by_text(run_name).first.wait_for(timeout=60_000)
        except Exception:
            page.screenshot(path=str(shots / "prefect-dashboard-FAILED.png"), full_page=True)
            (shots / "prefect-dashboard-FAILED.html").write_text(page.content())
            raise
        page.get_by_text(f"application:{application_id}").first.wait_for(timeout=30_000)
        page.screenshot(path=str(shots / "prefect-dashboard-runs-by-tag.png"), full_page=True)
        browser.close()


def _wait_for_deployment(api: str, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if name in deployment_ids(api):
                return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError(f"deployment {name} was not served within {timeout} s")
