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

from endorse.prefect_server import free_port, log_tail, stop_process_group
from endorse.settings import PROJECT_ROOT
from endorse.smtp_sink import SmtpSink
from tests.integration.prefect_helpers import (
    all_logs,
    api,
    deployment_ids,
    logs_on_failure,
    short_schedules,
    wait_for_completed_runs,
)

pytestmark = [pytest.mark.prefect_server, pytest.mark.postgres]

COORDINATOR, PASSWORD = "coordinator@ct-aimh.example.org", "a long enough test password"
TRANSCRIPT_AWAITED = "ct-aimh-imhs-transcript-awaited.json"
READY_DEADLINE_SECONDS = 600


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _endorse(env: dict[str, str], *argv: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "endorse.cli", *argv], env=env, cwd=PROJECT_ROOT, input=stdin,
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
        institution = re.search(r'<option value="([^"]+)">', page.text).group(1)
        r = client.post(f"/coordinator/applications/{application_id}/transcript", follow_redirects=False,
                        data={"csrf": csrf, "institution": institution, "received_on": "2026-11-22", "official": "yes"})
        assert r.status_code == 303, r.text[-500:]


def test_endorse_up_runs_the_whole_stack_and_takes_it_down(postgres_cluster_url, tmp_path: Path):
    from tests.pg_cluster import create_database

    suffix = f"{os.getpid()}"
    app_url = create_database(postgres_cluster_url, f"stack_app_{suffix}")
    prefect_url = create_database(postgres_cluster_url, f"stack_prefect_{suffix}").replace("+psycopg", "+asyncpg")
    home, web_port, prefect_port = tmp_path / "stack", free_port(), free_port()
    prefect_file = short_schedules(tmp_path / "prefect.yaml", 20)
    up_log = tmp_path / "up.log"
    logs = [up_log, home / "prefect-server" / "server.log", home / "logs" / "worker-1.log",
            home / "logs" / "worker-2.log", home / "logs" / "web.log"]

    with SmtpSink(tmp_path / "mail") as sink, logs_on_failure(*logs):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
        env.update({"DATABASE_URL": app_url, "PREFECT_API_DATABASE_CONNECTION_URL": prefect_url,
                    "ENDORSE_DATA_DIR": str(tmp_path / "var"), "ENDORSE_SMTP_PORT": str(sink.port),
                    "ENDORSE_PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}", "PREFECT_HOME": str(tmp_path / "cli")})
        _endorse(env, "import", str(PROJECT_ROOT / "cohort" / TRANSCRIPT_AWAITED))
        application_id = json.loads((PROJECT_ROOT / "cohort" / TRANSCRIPT_AWAITED).read_text())["id"]
        _endorse(env, "add-coordinator", "--association", "CT-AIMH", "--name", "Casey Coordinator", "--email",
                 COORDINATOR, "--password-stdin", "--by", "test", stdin=PASSWORD + "\n")

        with open(up_log, "wb") as out:
            up = subprocess.Popen([sys.executable, "-m", "endorse.cli", "up", "--home", str(home), "--port",
                                   str(web_port), "--prefect-port", str(prefect_port), "--prefect-file",
                                   str(prefect_file)], env=env, cwd=PROJECT_ROOT, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + READY_DEADLINE_SECONDS
            while not (home / "stack.json").exists():
                assert up.poll() is None, f"endorse up exited with {up.returncode}" + all_logs(logs)
                assert time.monotonic() < deadline, "endorse up was not ready in time" + all_logs(logs)
                time.sleep(1)
            status = json.loads((home / "stack.json").read_text())
            api_url, web = status["prefect_api"], status["web"]
            assert httpx.get(f"{web}/healthz").status_code == 200
            workers = api(api_url, "/work_pools/endorse/workers/filter")
            assert len([w for w in workers if w["status"] == "ONLINE"]) == 2
            assert set(deployment_ids(api_url)) == {"sweep", "deliver-outbox", "reconcile-application", "renewal"}

            wait_for_completed_runs(api_url, ["sweep", "deliver-outbox"], auto_scheduled=True, logs=logs)
            _record_transcript_as_a_coordinator(web, application_id)
            run = wait_for_completed_runs(api_url, ["reconcile-application"], auto_scheduled=False,
                                          logs=logs)["reconcile-application"]
            assert run["name"].startswith(f"application-{application_id}-")
            assert run["parameters"] == {"application_id": application_id}
            assert f"application:{application_id}" in run["tags"]
            running = _descendants(up.pid) | {up.pid}
            assert len(running) >= 5  # server, two workers, the web app and its uvicorn workers
        except BaseException:
            stop_process_group(up, grace=60)  # the supervisor takes its children down
            raise

        started = time.monotonic()
        up.send_signal(signal.SIGTERM)
        try:
            code = up.wait(120)
        except subprocess.TimeoutExpired:
            stop_process_group(up, grace=0)
            raise AssertionError("endorse up did not stop within 120 s of SIGTERM" + all_logs(logs)) from None
        took = time.monotonic() - started
    assert code == 0, log_tail(up_log)
    assert "stopped" in up_log.read_text()
    left = sorted(p for p in running if _running(p))
    assert not left, f"left behind: {[Path(f'/proc/{p}/cmdline').read_text() for p in left]}"
    assert not _listening(web_port) and not _listening(prefect_port)
    assert not (home / "stack.json").exists()
    print(f"endorse up stopped in {took:.1f} s")
