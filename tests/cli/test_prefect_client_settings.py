"""A process that imported Prefect before our Prefect server's address was known still talks to our
server once told (`LocalPrefectServer.use_in_this_process`). Prefect reads its settings once, at import:
a pytest worker that had run other tests forked the simulated years, which then ran their sweeps on a
temporary server of Prefect's own ("Deployment not found"; caught by a fresh clone's `make test`)."""

from __future__ import annotations

import json
import subprocess
import sys

from endorse.settings import PROJECT_ROOT

PROBE = """
import json, os, sys
os.environ.pop("PREFECT_API_URL", None)
import prefect.context
from prefect.settings import get_current_settings
from endorse_cli.prefect_server import LocalPrefectServer

before = get_current_settings().api.url
server = LocalPrefectServer(sys.argv[1], port=4321)  # never started: only its address is used
server.use_in_this_process()
print(json.dumps([before, get_current_settings().api.url]))
"""


def test_a_process_that_imported_prefect_first_talks_to_our_server_once_told(tmp_path):
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, timeout=120, check=True,
                         env={k: v for k, v in __import__("os").environ.items() if k != "PREFECT_API_URL"}
                         | {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_HOME": str(tmp_path / "home")})
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert before is None
    assert after == "http://127.0.0.1:4321/api"
