"""Issue 11, item 1: the schedules of prefect.yaml produce runs, and the runs complete.

Against a real `prefect server` child process: (a) prefect.yaml deployed to a process work pool with
one worker, (b) the same deployments served by `endorse serve`. The sweep and the outbox run every
20 s here (a copy of prefect.yaml); the test creates no run: the scheduler must. The scheduled
outbox run must deliver the email the scheduled sweep queued (a rater's request), so a queued
email no longer waits for ever.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from endorse.prefect_server import LocalPrefectServer, stop_process_group
from endorse.settings import PROJECT_ROOT
from endorse.smtp_sink import SmtpSink
from endorse.stack import Child, create_work_pool, deploy_all, worker_command
from tests.integration.prefect_helpers import api, logs_on_failure, short_schedules, wait_for_completed_runs

pytestmark = pytest.mark.prefect_server

INTERVAL_SECONDS = 20
RATER_ASKED = PROJECT_ROOT / "cohort" / "ct-aimh-imhm-rf-rating-requested.json"  # a rater still to be emailed


def _environment(tmp_path: Path, server: LocalPrefectServer, smtp_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PREFECT_API_DATABASE_CONNECTION_URL")}
    env.update(server.client_env())
    env.update({"PREFECT_HOME": str(tmp_path / "prefect-client"), "ENDORSE_DATA_DIR": str(tmp_path / "var"),
                "ENDORSE_SMTP_HOST": "127.0.0.1", "ENDORSE_SMTP_PORT": str(smtp_port)})
    subprocess.run([sys.executable, "-m", "endorse.cli", "import", str(RATER_ASKED)], env=env, cwd=PROJECT_ROOT,
                   check=True, capture_output=True)
    return env


def _scheduled_runs_complete(server: LocalPrefectServer, sink: SmtpSink, logs: list[Path]) -> None:
    runs = wait_for_completed_runs(server.api_url, ["sweep", "deliver-outbox"], auto_scheduled=True, logs=logs)
    assert runs["sweep"]["auto_scheduled"] and runs["deliver-outbox"]["auto_scheduled"]
    deadline = time.monotonic() + 300  # the outbox run after the sweep that queued the request
    while not [m for m in sink.messages() if m["X-Endorse-Role"] == "reference.request"]:
        assert time.monotonic() < deadline, "the scheduled outbox never delivered the rater's request"
        wait_for_completed_runs(server.api_url, ["deliver-outbox"], auto_scheduled=True, logs=logs)
        time.sleep(5)


def test_the_scheduler_runs_sweep_and_outbox_on_a_process_work_pool(tmp_path: Path):
    prefect_file = short_schedules(tmp_path / "prefect.yaml", INTERVAL_SECONDS)
    server = LocalPrefectServer(tmp_path / "prefect-server")
    worker = Child("worker", worker_command("test-worker"), tmp_path / "worker.log")
    with SmtpSink(tmp_path / "mail") as sink, logs_on_failure(server.log_path, worker.log), server:
        env = _environment(tmp_path, server, sink.port)
        create_work_pool(env)
        # ENDORSE_HOME is read on the worker, never filled in when deploying: a wrong one on the
        # deploying machine must not reach the worker (which runs from its installed checkout).
        deploy_all({**env, "ENDORSE_HOME": "/nowhere/on/the/deploying/machine"}, prefect_file)
        stored = api(server.api_url, "/deployments/filter")
        assert {d["name"]: d["pull_steps"] for d in stored}["sweep"] == [{"flows.pull_steps.enter_endorse_home": {}}]
        env.pop("ENDORSE_HOME", None)
        worker.start(env)
        try:
            _scheduled_runs_complete(server, sink, [server.log_path, worker.log])
        finally:
            stop_process_group(worker.proc)


def test_endorse_serve_runs_the_scheduled_sweep_and_outbox(tmp_path: Path):
    prefect_file = short_schedules(tmp_path / "prefect.yaml", INTERVAL_SECONDS)
    server = LocalPrefectServer(tmp_path / "prefect-server")
    serve = Child("serve", [sys.executable, "-m", "endorse.cli", "serve", "--port", "0", "--prefect-file",
                            str(prefect_file)], tmp_path / "serve.log")
    with SmtpSink(tmp_path / "mail") as sink, logs_on_failure(server.log_path, serve.log), server:
        env = _environment(tmp_path, server, sink.port)
        serve.start(env)
        try:
            _scheduled_runs_complete(server, sink, [server.log_path, serve.log])
        finally:
            stop_process_group(serve.proc)


def test_endorse_serve_schedules_in_the_time_zone_of_prefect_yaml():
    """One place for schedules: what `endorse serve` serves is what prefect.yaml declares."""
    import yaml

    from flows.deployments import build_deployments

    declared = {d["name"]: d.get("schedules") or [] for d in
                yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())["deployments"]}
    served = {d.name: d.schedules for d in build_deployments()}
    assert served.keys() == declared.keys()
    for name, schedules in declared.items():
        got = [s.schedule for s in served[name]]
        assert [getattr(s, "cron", None) for s in got] == [s.get("cron") for s in schedules], name
        for s, want in zip(got, schedules):
            if "cron" in want:
                assert s.timezone == want["timezone"] == "America/New_York", name
            else:
                assert s.interval.total_seconds() == want["interval"], name


def test_a_concurrency_limit_in_prefect_yaml_reaches_endorse_serve(tmp_path: Path):
    import yaml

    from flows.deployments import build_deployments

    doc = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    for spec in doc["deployments"]:
        if spec["name"] == "sweep":
            spec["concurrency_limit"] = {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    (tmp_path / "prefect.yaml").write_text(yaml.safe_dump(doc))
    sweep = {d.name: d for d in build_deployments(tmp_path / "prefect.yaml")}["sweep"]
    assert sweep.concurrency_limit == 1
    assert sweep.concurrency_options.collision_strategy == "CANCEL_NEW"


def test_a_prefect_yaml_without_deployments_is_refused_naming_it(tmp_path: Path):
    from flows.deployments import build_deployments

    (tmp_path / "prefect.yaml").write_text("name: endorse\n")
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'prefect.yaml'}: not a prefect.yaml")):
        build_deployments(tmp_path / "prefect.yaml")
