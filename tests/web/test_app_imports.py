"""The web app does not import Prefect.

Prefect reads its settings (PREFECT_API_URL among them) once, when it is first imported. A web app that
imported it at module level made `endorse serve` read them before the local Prefect server's address
was set, so its deployments went to a temporary server of Prefect's own (caught by a fresh clone's
serve tests). The app reaches Prefect only through flows.after_event, inside the function a web event
calls, and links to the Prefect UI with plain strings (endorse/prefect_links.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from endorse.settings import PROJECT_ROOT

# Every module the app's routes are built from, then the app itself, in a fresh interpreter.
PROBE = """
import json, pkgutil, sys
import web, web.routers
for module in pkgutil.iter_modules(web.routers.__path__, "web.routers."):
    __import__(module.name)
import web.app
print(json.dumps(sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect."))))
"""


def test_importing_the_web_app_and_every_router_loads_no_prefect():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
