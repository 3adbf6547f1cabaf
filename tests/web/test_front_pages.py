"""Whoever types the address lands somewhere useful: a front page that sends raters, reviewers and
coordinators to the right place, a page-not-found page for browsers, and a prompt shutdown (issue 20)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from endorse.db import transaction
from endorse.settings import PROJECT_ROOT
from tests.profiles.helpers import rating_request
from tests.web.conftest import make_web_app
from tasks.records import ensure_associations
from endorse.rulebook import default_library

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_the_front_page_points_raters_reviewers_and_coordinators_to_their_place(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        rating_request(s, association="MI-AIMH")
    page = TestClient(make_web_app(sessions)).get("/", headers=BROWSER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Asked to rate an applicant?" in page.text and "link in the email you received" in page.text
    assert "Reviewing exam essays?" in page.text
    assert 'href="/coordinator/"' in page.text
    # The associations that run their Endorsement® here, by their profile's full name; no others.
    assert "Michigan Association for Infant Mental Health" in page.text
    assert "Connecticut" not in page.text


@pytest.mark.parametrize("path", ["/nothing-here", "/coordinator/nope/deeper", "/rate"])
def test_a_browser_gets_a_page_not_found_page_not_json(sessions, path):
    client = TestClient(make_web_app(sessions))
    page = client.get(path, headers=BROWSER)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in page.text and 'href="/"' in page.text
    api = client.get(path, headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_endorse_serve_stops_within_seconds_even_with_a_connection_open(tmp_path, how):
    port = _free_port()
    env = {**os.environ, "ENDORSE_DATA_DIR": str(tmp_path)}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen([str(Path(sys.executable).parent / "endorse"), "serve", "--web-only", "--port", str(port)],
                            env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}")  # keeps its connection open (keep-alive)
        deadline = time.monotonic() + 60
        while True:
            try:
                assert client.get("/healthz").text == "ok"
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else ""
                time.sleep(0.2)
        started = time.monotonic()
        proc.send_signal(how)
        proc.wait(timeout=30)
        assert time.monotonic() - started < 8
        client.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.prefect_server
def test_ctrl_c_stops_endorse_serve_with_its_temporary_prefect_server_within_seconds(tmp_path):
    """Ctrl-C reaches the whole foreground group, the temporary Prefect server included: pausing the
    schedules against it on the way out used to retry for over a minute."""
    port = _free_port()
    env = {**os.environ, "ENDORSE_DATA_DIR": str(tmp_path), "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "endorse"), "serve", "--port", str(port)], env=env,
                            cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 180
        while "being served" not in (tmp_path / "serve.log").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-2000:]
            time.sleep(0.5)
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        proc.wait(timeout=60)
        assert time.monotonic() - started < 15
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
