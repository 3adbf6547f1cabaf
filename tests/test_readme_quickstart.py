"""The README's quick start works when pasted in order (issue 20, item 2).

Every command of the first ``sh`` block under "## Quick start" runs here, in the repository root, as
written, with none of the suite's settings in its environment (a newcomer has none). ``make demo``
itself is run (no other test runs it: about a minute; it rewrites ``var/demo`` as it always does).
A command that serves (``make serve``) is started, used as the README says (sign in with the account
``make demo`` printed, open the dashboard), and stopped with Ctrl-C.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time

import httpx
import pytest

from endorse.settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
SERVERS = ("make serve",)


def quick_start_commands() -> list[str]:
    section = README.read_text().split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def _newcomers_environment() -> dict:
    # Under `make test` the suite runs inside make: a pasted command must not inherit its flags either.
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("ENDORSE_", "PREFECT_", "DATABASE_URL", "DO_NOT_TRACK", "PYTEST", "MAKE", "MFLAGS"))}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_quick_start_has_the_commands_a_newcomer_needs():
    commands = quick_start_commands()
    assert commands[0] == "make demo"
    assert any(c.startswith(".venv/bin/endorse --data var/demo show CT-2026-137") for c in commands)
    assert "make serve" in commands


@pytest.mark.xdist_group("readme")
def test_every_quick_start_command_works_pasted_in_order():
    env = _newcomers_environment()
    for command in quick_start_commands():
        if command in SERVERS:
            _serve_and_look_around(command, env)
            continue
        out = subprocess.run(["bash", "-c", command], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                             timeout=900)
        said = out.stdout + out.stderr
        assert out.returncode == 0, f"{command}\n{said[-3000:]}"
        assert "Traceback" not in said and "| INFO" not in said, f"{command}\n{said[-3000:]}"
        if command == "make demo":
            _the_demo_says_how_to_look_around(out.stdout)
        if " show CT-2026-137" in command:
            assert out.stdout.startswith("CT-2026-137 · IMHM-RF · CT-AIMH")


def _the_demo_says_how_to_look_around(stdout: str) -> None:
    tail = stdout.split("How to look around:", 1)[1]
    assert "make serve" in tail and "http://127.0.0.1:8000/coordinator/" in tail
    assert re.search(r"sign in as \S+@\S+ \([A-Z-]+\), password demo-\S+", tail)
    first = re.search(r"open (var/demo/mail/\d+\.eml) first: ", tail)
    assert first and (PROJECT_ROOT / first.group(1)).is_file()
    assert "--data var/demo show CT-2026-137" in tail
    assert (PROJECT_ROOT / "var/demo/report.md").is_file()


def _serve_and_look_around(command: str, env: dict) -> None:
    port = _free_port()  # the README's port 8000 may be taken on a shared machine: make serve PORT=…
    proc = subprocess.Popen(["bash", "-c", command], cwd=PROJECT_ROOT, env={**env, "PORT": str(port)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as http:
            deadline = time.monotonic() + 120
            while True:
                try:
                    http.get("/healthz")
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, proc.stdout.read()
                    assert time.monotonic() < deadline, "make serve did not answer in 2 minutes"
                    time.sleep(0.3)
            accounts = (PROJECT_ROOT / "var/demo/demo-account.txt").read_text()
            password = re.search(r"password for each: (\S+)\)", accounts).group(1)
            email = re.search(r"^\s+CT-AIMH\s+(\S+)$", accounts, re.M).group(1)
            login = http.get("/coordinator/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
            http.post("/coordinator/login", data={"csrf": csrf, "next": "/coordinator/", "email": email,
                                                  "password": password})
            board = http.get("/coordinator/", follow_redirects=True)
            assert board.status_code == 200 and "emails not delivered" in board.text, board.text[:500]
            assert "Connecticut Association for Infant Mental Health" in board.text
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError("make serve did not stop within 15 s of Ctrl-C") from None
