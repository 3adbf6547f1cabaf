"""Issue 11, item 4: the first command never times out, and stops promptly.

A fresh local Prefect server (its first start creates its database) comes up on a machine kept busy
by two CPU-burning processes, says how long it has waited while it waits, and stops within seconds
leaving no process behind. SQLite's write-ahead log is folded back into the database file on exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from endorse.prefect_server import LocalPrefectServer, PrefectServerError, api_is_healthy
from tests.integration.prefect_helpers import children_of, group_members, running

pytestmark = pytest.mark.prefect_server

BURN = "while True: pass"


def test_a_fresh_server_starts_on_a_busy_machine_and_stops_promptly(tmp_path: Path):
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(2)]
    heard: list[str] = []
    try:
        server = LocalPrefectServer(tmp_path / "prefect-home", say=heard.append, start_deadline=900)
        started = time.monotonic()
        server.start()
        took = time.monotonic() - started
        try:
            assert api_is_healthy(server.api_url)
            assert server.proc.poll() is None
        finally:
            pgid = server.proc.pid
            before_stop = time.monotonic()
            server.stop()
            stop_took = time.monotonic() - before_stop
    finally:
        for b in burners:
            b.kill()
            b.wait()
    assert (tmp_path / "prefect-home" / "prefect.db").exists()  # its own PREFECT_HOME, not the developer's
    assert heard[-1].startswith("Prefect server ready at ")
    if took > 10:  # progress every few seconds while it waits
        assert any(h.startswith("waiting for the Prefect server") for h in heard), heard
    assert stop_took < 25, f"stopping took {stop_took:.1f} s"
    assert not group_members(pgid), "a process of the server outlived it"
    assert not api_is_healthy(server.api_url)


KILLED_PARENT = r"""
import sys, time
from pathlib import Path
from endorse.prefect_server import LocalPrefectServer
server = LocalPrefectServer(Path(sys.argv[1]), say=lambda m: None).start()
print(server.proc.pid, server.api_url, flush=True)
time.sleep(3600)
"""


def test_a_server_does_not_outlive_a_parent_killed_with_sigkill(tmp_path: Path):
    """A demo, `endorse serve` or `endorse up` killed outright leaves no Prefect server behind."""
    parent = subprocess.Popen([sys.executable, "-c", KILLED_PARENT, str(tmp_path / "prefect-home")],
                              stdout=subprocess.PIPE, text=True)
    try:
        pid, api_url = parent.stdout.readline().split()
        assert running(int(pid)) and api_is_healthy(api_url)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 30
    while running(int(pid)):
        assert time.monotonic() < deadline, "the server outlived its parent"
        time.sleep(0.5)


def test_a_port_already_taken_is_refused_naming_it(tmp_path: Path):
    """Another server on the port would answer the health check in this one's place."""
    home = tmp_path / "prefect-home"
    with LocalPrefectServer(home / "first") as busy:
        with pytest.raises(PrefectServerError, match=f"127.0.0.1:{busy.port} is already in use"):
            LocalPrefectServer(home / "second", port=busy.port).start()


def test_a_server_that_dies_while_starting_says_so_with_its_log(tmp_path: Path):
    from endorse.prefect_server import free_port

    nowhere = f"postgresql+asyncpg://prefect@127.0.0.1:{free_port()}/prefect"  # nothing listens there
    server = LocalPrefectServer(tmp_path / "prefect-home", database_url=nowhere, start_deadline=600)
    with pytest.raises(PrefectServerError) as failed:
        server.start()
    assert "exited" in str(failed.value) and str(server.log_path) in str(failed.value)
    assert server.proc.poll() is not None


def test_closing_the_databases_leaves_the_final_state_in_the_database_file(database_url, tmp_path: Path):
    from endorse.db import close_databases, default_session_factory, transaction
    from models import Person
    from tasks.records import person_for

    sessions = default_session_factory(database_url)
    with transaction(sessions) as s:
        person_for(s, "Ana Ruiz", "aruiz@example.org", association=None)
    close_databases()
    if database_url.startswith("sqlite"):
        db = Path(database_url.split("///", 1)[1])
        assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
        copy = tmp_path / "copy.sqlite3"  # the file alone, as a backup tool or a person would copy it
        shutil.copy(db, copy)
        database_url = f"sqlite:///{copy}"
    with default_session_factory(database_url)() as s:
        assert s.scalars(select(Person.email)).all() == ["aruiz@example.org"]
    close_databases()


def test_endorse_serve_without_a_prefect_api_url_runs_its_own_server_and_stops_it(tmp_path: Path):
    import re
    import signal

    from tests.integration.prefect_helpers import deployment_ids, logs_on_failure

    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "DATABASE_URL")}
    env.update({"ENDORSE_DATA_DIR": str(tmp_path / "var"), "PREFECT_HOME": str(tmp_path / "cli")})
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        serve = subprocess.Popen([sys.executable, "-m", "endorse.cli", "serve", "--port", "0"], env=env,
                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    with logs_on_failure(log, tmp_path / "var" / "prefect-server" / "server.log"):
        try:
            deadline = time.monotonic() + 600
            while not (ready := re.search(r"Prefect server ready at (\S+)", log.read_text())):
                assert serve.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(1)
            api_url = ready.group(1) + "/api"
            while "sweep" not in deployment_ids(api_url):
                assert serve.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(1)
            server_pid = next(int(pid) for pid in children_of(serve.pid))
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(120)
    deadline = time.monotonic() + 30
    while running(server_pid):
        assert time.monotonic() < deadline, "the Prefect server outlived endorse serve"
        time.sleep(0.5)
    assert not api_is_healthy(api_url)

