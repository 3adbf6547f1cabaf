"""Issue 11, item 5: the production stack in one command, on loopback.

`endorse up` with the application database and Prefect's own database on (the throwaway)
PostgreSQL: the Prefect server, the process work pool `endorse` with two workers, the deployments of
prefect.yaml (sweep and outbox every 20 s here), the web app under uvicorn workers. The schedules
fire; a coordinator signs in to the web app and records a transcript, and the reconcile it triggers
runs on a worker to Completed; SIGTERM takes everything down, leaving no process and no port behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from endorse.settings import PROJECT_ROOT
from endorse_cli.prefect_server import free_port, log_tail, stop_process_group
from endorse_cli.smtp_sink import SmtpSink
from flows.deployments import declared_deployments
from tests.integration.prefect_helpers import (
    all_logs,
    api,
    deployment_ids,
    descendants,
    logs_on_failure,
    running,
    short_schedules,
    wait_for_completed_runs,
)

pytestmark = [pytest.mark.prefect_server, pytest.mark.postgres]

COORDINATOR, PASSWORD = "coordinator@ct-aimh.example.org", "a long enough test password"
TRANSCRIPT_AWAITED = "ct-aimh-imhs-transcript-awaited.json"
READY_DEADLINE_SECONDS = 600


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _endorse(env: dict[str, str], *argv: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "endorse_cli.main", *argv], env=env, cwd=PROJECT_ROOT, input=stdin,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"endorse {' '.join(argv)}: {done.stdout}{done.stderr}"
    return done.stdout


def _record_transcript_as_a_coordinator(web: str, application_id: str) -> None:
    with httpx.Client(base_url=web, timeout=60, follow_redirects=True) as client:
        page = client.get("/coordinator/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = client.post("/coordinator/login", data={"csrf": csrf, "email": COORDINATOR, "password": PASSWORD})
        assert r.status_code == 200 and r.url.path == "/coordinator/", r.text[-500:]  # signed in
        page = client.get(f"/coordinator/applications/{application_id}")
        assert page.status_code == 200, page.text[-500:]
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        institution = re.search(r'name="institution"><option value="([^"]+)">', page.text).group(1)  # the awaited one
        r = client.post(f"/coordinator/applications/{application_id}/transcript", follow_redirects=False,
                        data={"csrf": csrf, "institution": institution, "received_on": "2026-11-22", "official": "yes"})
        assert r.status_code == 303, r.text[-500:]


class Stack:
    """`endorse up` as a child of the test, on two fresh databases of the throwaway cluster."""

    def __init__(self, cluster_url: str, tmp_path: Path, smtp_port: int, name: str):
        from tests.pg_cluster import create_database

        suffix = f"{name}_{os.getpid()}"
        self.home, self.web_port, self.prefect_port = tmp_path / "stack", free_port(), free_port()
        self.log = tmp_path / "up.log"
        self.logs = [self.log, self.home / "prefect-server" / "server.log", self.home / "logs" / "worker-1.log",
                     self.home / "logs" / "worker-2.log", self.home / "logs" / "web.log"]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
        self.env.update({
            "DATABASE_URL": create_database(cluster_url, f"app_{suffix}"),
            "PREFECT_API_DATABASE_CONNECTION_URL":
                create_database(cluster_url, f"prefect_{suffix}").replace("+psycopg", "+asyncpg"),
            "ENDORSE_DATA_DIR": str(tmp_path / "var"), "ENDORSE_SMTP_PORT": str(smtp_port),
            "ENDORSE_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.web_port}", "PREFECT_HOME": str(tmp_path / "cli")})
        self.prefect_file = short_schedules(tmp_path / "prefect.yaml", 20)
        self.proc: subprocess.Popen | None = None

    def up(self) -> dict:
        """Start it and wait until it says it is ready; its status (URLs, process ids)."""
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "endorse_cli.main", "up", "--home", str(self.home), "--port", str(self.web_port),
                 "--prefect-port", str(self.prefect_port), "--prefect-file", str(self.prefect_file)],
                env=self.env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + READY_DEADLINE_SECONDS
        while not (self.home / "stack.json").exists():
            assert self.proc.poll() is None, f"endorse up exited with {self.proc.returncode}" + all_logs(self.logs)
            assert time.monotonic() < deadline, "endorse up was not ready in time" + all_logs(self.logs)
            time.sleep(1)
        return json.loads((self.home / "stack.json").read_text())

    def wait_exit(self, within: float) -> int:
        try:
            return self.proc.wait(within)
        except subprocess.TimeoutExpired:
            stop_process_group(self.proc, grace=0)
            raise AssertionError(f"endorse up did not stop within {within:.0f} s" + all_logs(self.logs)) from None

    def assert_nothing_left(self, started: set[int]) -> None:
        left = sorted(p for p in started if running(p))
        assert not left, f"left behind: {[Path(f'/proc/{p}/cmdline').read_text() for p in left]}"
        assert not _listening(self.web_port) and not _listening(self.prefect_port)
        assert not (self.home / "stack.json").exists()


def test_endorse_up_runs_the_whole_stack_and_takes_it_down(postgres_cluster_url, tmp_path: Path):
    with SmtpSink(tmp_path / "mail") as sink:
        stack = Stack(postgres_cluster_url, tmp_path, sink.port, "whole")
        with logs_on_failure(*stack.logs):
            _endorse(stack.env, "import", str(PROJECT_ROOT / "cohort" / TRANSCRIPT_AWAITED))
            application_id = json.loads((PROJECT_ROOT / "cohort" / TRANSCRIPT_AWAITED).read_text())["id"]
            _endorse(stack.env, "coordinator", "add", "--association", "CT-AIMH", "--name", "Casey Coordinator",
                     "--email", COORDINATOR, "--password-stdin", "--by", "test", stdin=PASSWORD + "\n")
            try:
                status = stack.up()
                api_url, web = status["prefect_api"], status["web"]
                assert httpx.get(f"{web}/healthz").status_code == 200
                workers = api(api_url, "/work_pools/endorse/workers/filter")
                assert len([w for w in workers if w["status"] == "ONLINE"]) == 2
                # Every deployment prefect.yaml declares, the coordinators' alert included.
                assert set(deployment_ids(api_url)) == {d["name"] for d in declared_deployments()}

                wait_for_completed_runs(api_url, ["sweep", "deliver-outbox"], auto_scheduled=True, logs=stack.logs)
                _record_transcript_as_a_coordinator(web, application_id)
                run = wait_for_completed_runs(api_url, ["reconcile-application"], auto_scheduled=False,
                                              logs=stack.logs)["reconcile-application"]
                assert run["name"].startswith(f"application-{application_id}-")
                assert run["parameters"] == {"application_id": application_id}
                assert f"application:{application_id}" in run["tags"]
                started = descendants(stack.proc.pid) | {stack.proc.pid}
                assert len(started) >= 5  # server, two workers, the web app and its uvicorn workers
            except BaseException:
                if stack.proc is not None:
                    stop_process_group(stack.proc, grace=60)  # the supervisor takes its children down
                raise
            stopping = time.monotonic()
            stack.proc.send_signal(signal.SIGTERM)
            code = stack.wait_exit(120)
            took = time.monotonic() - stopping
    assert code == 0, log_tail(stack.log)
    assert "stopped" in stack.log.read_text()
    stack.assert_nothing_left(started)
    print(f"endorse up stopped in {took:.1f} s")


def test_a_worker_that_dies_takes_the_stack_down_with_exit_1(postgres_cluster_url, tmp_path: Path):
    """A service manager restarts what exits 1: the supervisor must not stay up with a piece missing."""
    with SmtpSink(tmp_path / "mail") as sink:
        stack = Stack(postgres_cluster_url, tmp_path, sink.port, "dies")
        with logs_on_failure(*stack.logs):
            try:
                status = stack.up()
                started = descendants(stack.proc.pid) | {stack.proc.pid}
                os.kill(status["pids"]["worker-1"], signal.SIGKILL)
                code = stack.wait_exit(120)
            except BaseException:
                if stack.proc is not None:
                    stop_process_group(stack.proc, grace=60)
                raise
    assert code == 1
    assert "unhealthy: stopped: worker-1" in stack.log.read_text()
    stack.assert_nothing_left(started)
