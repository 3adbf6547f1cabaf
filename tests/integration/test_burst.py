"""Issue 11, item 6: a burst of 12 runs on the SQLite development Prefect server all complete.

Twelve reconciles triggered at once (as twelve coordinator actions would) against `endorse serve` on
a local SQLite Prefect server. The server may answer 503 ("database is locked") while it creates the
runs; the clients retry, and every run must be created and reach Completed. How many 503s it
answered is printed (the README quotes the figure).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from endorse.prefect_server import LocalPrefectServer, stop_process_group
from endorse.settings import PROJECT_ROOT
from tests.integration.prefect_helpers import all_logs, deployment_ids, logs_on_failure, runs_of

pytestmark = pytest.mark.prefect_server

BURST = 12


TRIGGER_AT_ONCE = r"""
import json, sys, threading
from flows.prefect_glue import trigger_reconcile

errors = []

def trigger(application_id):
    try:
        trigger_reconcile(application_id, as_of="2026-11-22")
    except Exception as exc:
        errors.append(f"{application_id}: {exc!r}")

threads = [threading.Thread(target=trigger, args=(i,)) for i in sys.argv[1:]]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(errors))
"""


def test_a_burst_of_twelve_runs_on_the_sqlite_prefect_server_all_complete(tmp_path: Path):
    server = LocalPrefectServer(tmp_path / "prefect-server", extra_env={"PREFECT_API_LOG_RETRYABLE_ERRORS": "true"})
    serve_log = tmp_path / "serve.log"
    with server, logs_on_failure(server.log_path, serve_log):
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update({**server.client_env(), "PREFECT_HOME": str(tmp_path / "client"),
                    "ENDORSE_DATA_DIR": str(tmp_path / "var")})
        subprocess.run([sys.executable, "-m", "endorse.cli", "import", str(PROJECT_ROOT / "cohort")], env=env,
                       check=True, capture_output=True, cwd=PROJECT_ROOT)
        ids = sorted(json.loads(p.read_text())["id"] for p in (PROJECT_ROOT / "cohort").glob("*.json"))[:BURST]
        with open(serve_log, "wb") as out:
            serve = subprocess.Popen([sys.executable, "-m", "endorse.cli", "serve", "--port", "0"], env=env,
                                     cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while "reconcile-application" not in deployment_ids(server.api_url):
                assert serve.poll() is None and time.monotonic() < deadline, "endorse serve did not serve"
                time.sleep(1)
            # In a process of its own, as twelve coordinator actions would come (with the server's settings).
            burst = subprocess.run([sys.executable, "-c", TRIGGER_AT_ONCE, *ids], env=env, cwd=PROJECT_ROOT,
                                   capture_output=True, text=True, timeout=600)
            assert burst.returncode == 0 and burst.stdout.strip() == "[]", burst.stdout + burst.stderr[-3000:]
            reconcile = deployment_ids(server.api_url)["reconcile-application"]
            deadline = time.monotonic() + 600
            while True:
                states = sorted(r["state"]["type"] for r in runs_of(server.api_url, reconcile))
                if len(states) == BURST and set(states) <= {"COMPLETED", "FAILED", "CRASHED"}:
                    break
                assert time.monotonic() < deadline, f"runs: {states}" + all_logs([serve_log])
                time.sleep(2)
        finally:
            stop_process_group(serve)
    assert states == ["COMPLETED"] * BURST
    answered_503 = server.log_path.read_text().count("Encountered retryable exception")
    print(f"{BURST} runs completed; the server answered {answered_503} retryable 503s on the way")
