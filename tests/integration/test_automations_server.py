"""Against a real Prefect server on loopback (issue 11, items 2, 3 and 6):

- the deployments carry their concurrency limits (one run, cancel the new one) as the server stores them;
- `endorse automations apply` creates the automations, changes nothing when applied again, updates by
  name; a sweep run that fails makes the server's trigger run the alert-coordinators deployment with
  that run's name and id (what the alert flow then does is tests/orchestration/test_alerts.py);
- `endorse reconcile --as-of` reaches the reconcile flow run's parameters.

Not tested here (too slow for a test): the proactive "no sweep for 30 minutes" trigger firing; only its
creation on the server is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from endorse.settings import PROJECT_ROOT
from tests.integration.test_prefect_server import prefect_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.prefect_server


def _client(api: str):
    from prefect.client.orchestration import SyncPrefectClient

    return SyncPrefectClient(api)


def _register_deployments(api: str) -> dict:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import build_deployments

    with temporary_settings({PREFECT_API_URL: api}):
        return {d.name: d.apply() for d in build_deployments()}


def _endorse(api: str, tmp_path: Path, *args: str, database_url: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "prefect-client"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "endorse.cli", *args], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)


def _runs_of(api: str, deployment_id) -> list:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with _client(api) as c:
        return c.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))


def test_automations_are_applied_by_name_and_a_failed_sweep_runs_the_alert(prefect_server, tmp_path):  # noqa: F811
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy
    from prefect.states import Failed

    api = prefect_server
    deployments = _register_deployments(api)
    with _client(api) as c:
        for name in ("sweep/sweep", "deliver-outbox/deliver-outbox", "renewal/renewal"):
            d = c.read_deployment_by_name(name)
            assert d.global_concurrency_limit.limit == 1, name
            assert d.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW, name

    first = _endorse(api, tmp_path, "automations", "apply")
    assert first.returncode == 0, first.stderr
    assert [line.split()[0] for line in first.stdout.splitlines()] == ["created", "created"]
    again = _endorse(api, tmp_path, "automations", "apply")
    assert [line.split()[0] for line in again.stdout.splitlines()] == ["unchanged", "unchanged"]
    changed = yaml.safe_load((PROJECT_ROOT / "automations.yaml").read_text())
    changed["automations"][1]["trigger"]["within"] = 3600
    (tmp_path / "automations.yaml").write_text(yaml.safe_dump(changed))
    updated = _endorse(api, tmp_path, "automations", "apply", "--file", str(tmp_path / "automations.yaml"))
    assert [line.split()[0] for line in updated.stdout.splitlines()] == ["unchanged", "updated"]
    back = _endorse(api, tmp_path, "automations", "apply")  # the repository's file again
    assert [line.split()[0] for line in back.stdout.splitlines()] == ["unchanged", "updated"]

    with _client(api) as c:
        autos = {a.name: a for a in c.read_automations() if a.name.startswith("endorse - ")}
        assert len(autos) == 2
        for a in autos.values():
            assert a.enabled and a.actions[0].deployment_id == deployments["alert-coordinators"]
        assert autos["endorse - no sweep completed for twice its interval"].trigger.within.total_seconds() == 1800
        failing = c.create_flow_run_from_deployment(deployments["sweep"], name="sweep-that-fails")
        c.set_flow_run_state(failing.id, Failed(message="test: a sweep fails"), force=True)

    deadline, alerts = time.monotonic() + 120, []
    while time.monotonic() < deadline and not alerts:
        alerts = _runs_of(api, deployments["alert-coordinators"])
        time.sleep(1)
    assert len(alerts) == 1, "the automation did not run the alert deployment within 120 s"
    assert alerts[0].parameters == {"alert": "run-failed", "flow_name": "sweep", "event": "prefect.flow-run.Failed",
                                    "flow_run_name": "sweep-that-fails", "flow_run_id": str(failing.id)}


def test_reconcile_as_of_reaches_the_flow_run_parameters_on_the_server(prefect_server, tmp_path):  # noqa: F811
    api = prefect_server
    deployments = _register_deployments(api)
    database_url = f"sqlite:///{tmp_path / 'endorse.sqlite3'}"
    imported = _endorse(api, tmp_path, "import", str(PROJECT_ROOT / "cohort" / "ct-aimh-imhs-transcript-awaited.json"),
                        database_url=database_url)
    assert imported.returncode == 0, imported.stderr
    run = _endorse(api, tmp_path, "reconcile", "CT-2026-107", "--as-of", "2026-11-22", database_url=database_url)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "reconcile of CT-2026-107 submitted to Prefect"
    (flow_run,) = _runs_of(api, deployments["reconcile-application"])
    assert flow_run.parameters == {"application_id": "CT-2026-107", "as_of": "2026-11-22"}
    assert flow_run.name == "application-CT-2026-107-submitted"
